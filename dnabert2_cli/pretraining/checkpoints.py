"""Pretraining checkpoints: written atomically, the last K kept, the newest complete one found on resume.

A checkpoint is `OUT/checkpoints/step-NNNNNNNN/`: a model folder (config.json, model.safetensors, tokenizer
files) that `dnabert2.load_model` loads as it is, plus `trainer_state.pt` (optimiser, scheduler, loss scaler,
RNG states; plain tensors and numbers, read with `torch.load(weights_only=True)`) and `trainer_state.json`
(step and data position, for people and scripts). It is built under `.step-NNNNNNNN.tmp` and renamed into place
only when every file is written and flushed, so a process killed at any moment leaves either the complete new
checkpoint or none, and the previous ones untouched. Old checkpoints are renamed away before they are deleted.
"""
import json
import os
import re
import shutil
from pathlib import Path

from dnabert2.common.models import quiet_transformers_progress

CHECKPOINTS = "checkpoints"
_NAME = re.compile(r"^step-(\d{8})$")


def checkpoint_dirs(out):
    """Complete checkpoints in `out`, oldest first, as (step, path)."""
    root = Path(out) / CHECKPOINTS
    if not root.is_dir():
        return []
    found = []
    for p in root.iterdir():
        m = _NAME.match(p.name)
        if m and (p / "trainer_state.pt").is_file() and (p / "model.safetensors").is_file():
            found.append((int(m.group(1)), p))
    return sorted(found)


def latest_checkpoint(out):
    """(step, path) of the newest complete checkpoint, or None."""
    found = checkpoint_dirs(out)
    return found[-1] if found else None


def remove_partial(out):
    """Remove temporary folders left by a process killed while writing a checkpoint."""
    root = Path(out) / CHECKPOINTS
    if root.is_dir():
        for p in root.iterdir():
            if p.name.startswith(".") and (p.name.endswith(".tmp") or p.name.endswith(".old")):
                shutil.rmtree(p, ignore_errors=True)


def _fsync_tree(folder):
    for p in Path(folder).iterdir():
        if p.is_file():
            fd = os.open(p, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
    _fsync_dir(folder)


def _fsync_dir(folder):
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def save_model_folder(folder, model, tokenizer):
    """model.save_pretrained + tokenizer.save_pretrained: a folder `dnabert2.load_model` loads."""
    with quiet_transformers_progress():
        model.save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)


def save_checkpoint(out, step, model, tokenizer, trainer_state, info, keep):
    """Write checkpoint `step` atomically, then delete all but the newest `keep` checkpoints. Returns its path."""
    import torch

    root = Path(out) / CHECKPOINTS
    root.mkdir(parents=True, exist_ok=True)
    final = root / f"step-{step:08d}"
    tmp = root / f".step-{step:08d}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    save_model_folder(tmp, model, tokenizer)
    torch.save(trainer_state, tmp / "trainer_state.pt")
    (tmp / "trainer_state.json").write_text(json.dumps({"step": step, **info}, indent=1) + "\n")
    _fsync_tree(tmp)
    if final.exists():
        old = root / f".step-{step:08d}.old"
        os.replace(final, old)
        os.replace(tmp, final)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, final)
    _fsync_dir(root)
    for _, path in checkpoint_dirs(out)[:-keep] if keep > 0 else []:
        trash = root / f".{path.name}.old"
        os.replace(path, trash)
        shutil.rmtree(trash, ignore_errors=True)
    return final


def load_trainer_state(path):
    """The trainer state of checkpoint folder `path` (tensors and numbers only)."""
    import torch

    return torch.load(Path(path) / "trainer_state.pt", map_location="cpu", weights_only=True)
