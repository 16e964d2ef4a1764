"""Pretraining checkpoints and the final model: written atomically, the last K kept, the newest found on resume.

A checkpoint is `OUT/checkpoints/step-NNNNNNNN/`: a model folder (config.json, model.safetensors, tokenizer
files) that `dnabert2.load_model` loads as it is, plus `trainer_state.pt` (optimiser, scheduler, loss scaler,
every rank's RNG states; plain tensors and numbers, read with `torch.load(weights_only=True)`) and
`trainer_state.json` (step and data position, for people and scripts). It is built in a hidden temporary folder
beside it and renamed into place only when every file is written and flushed, so a process killed at any moment
leaves either the complete new checkpoint or none, and the previous ones untouched. Old checkpoints are renamed
away before they are deleted; `remove_partial` clears what a killed process left.
"""
import json
import re
import shutil
import tempfile
from pathlib import Path

from dnabert2.common.files import remove_tree, replace_path, staged_dir
from dnabert2.common.hf import quiet_transformers

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
    """Remove the temporaries a killed process leaves: of checkpoints being written or deleted (in
    `checkpoints/`) and of the final model, log, run file and loss curve being replaced (in `out`)."""
    for folder in (Path(out), Path(out) / CHECKPOINTS):
        if not folder.is_dir():
            continue
        for p in folder.iterdir():
            if not _is_temporary(p.name):
                continue
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p, ignore_errors=True)
            else:
                p.unlink(missing_ok=True)


def _is_temporary(name):
    """Names of `common.files`' temporaries: `.NAME.X.tmp` (folders), `.NAME.X.tmp.SUFFIX` (files), `.NAME.X.old`."""
    return name.startswith(".") and (name.endswith((".tmp", ".old")) or ".tmp." in name)


def save_model_folder(folder, model, tokenizer):
    """model.save_pretrained + tokenizer.save_pretrained: a folder `dnabert2.load_model` loads."""
    with quiet_transformers():
        model.save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)


def save_final_model(out, model, tokenizer):
    """Write the final model folder files into the run folder `out` (each file renamed into place)."""
    with tempfile.TemporaryDirectory(prefix=".final.", suffix=".tmp", dir=out) as tmp:
        save_model_folder(tmp, model, tokenizer)
        for f in Path(tmp).iterdir():
            replace_path(f, Path(out) / f.name)


def save_checkpoint(out, step, model, tokenizer, trainer_state, info, keep):
    """Write checkpoint `step` atomically, then delete all but the newest `keep` checkpoints. Returns its path."""
    import torch

    root = Path(out) / CHECKPOINTS
    root.mkdir(parents=True, exist_ok=True)
    final = root / f"step-{step:08d}"
    with staged_dir(final, fsync=True) as tmp:
        save_model_folder(tmp, model, tokenizer)
        torch.save(trainer_state, tmp / "trainer_state.pt")
        (tmp / "trainer_state.json").write_text(json.dumps({"step": step, **info}, indent=1) + "\n")
    for _, path in checkpoint_dirs(out)[:-keep] if keep > 0 else []:
        remove_tree(path)
    return final


def load_trainer_state(path):
    """The trainer state of checkpoint folder `path` (tensors and numbers only)."""
    import torch

    return torch.load(Path(path) / "trainer_state.pt", map_location="cpu", weights_only=True)


def rank_rng_states(device, world_size):
    """Every rank's torch RNG states (CPU, and CUDA on a GPU) in rank order, on every rank (a collective)."""
    import torch

    state = {"cpu": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    if world_size == 1:
        return [state]
    import torch.distributed as dist

    states = [None] * world_size
    dist.all_gather_object(states, state)
    return states


def restore_rng_state(state, device):
    """Put back one rank's RNG states (from `rank_rng_states`)."""
    import torch

    torch.set_rng_state(state["cpu"])
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)
