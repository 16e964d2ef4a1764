"""Uniform weight averaging ("model soup") of model folders fine-tuned from the same starting weights.

    python scripts/shipped/average.py OUT_DIR RUN_DIR [RUN_DIR ...]

Every folder must hold the same config.json, and model.safetensors files with the same tensor names, shapes and
dtypes; floating-point tensors are averaged (in float64, then cast back to their dtype), any other tensor must be
equal in every folder. OUT_DIR gets the averaged model.safetensors and copies of the first folder's config.json
and tokenizer files: a model folder like the runs', ready for `dnabert2 convert` or `dnabert2 predict`.
"""
if __package__ in (None, ""):  # run as a file: make the repository root importable
    import sys as _sys
    from pathlib import Path as _Path
    _sys.path.insert(0, str(_Path(__file__).resolve().parents[2]))

import json
import shutil
from pathlib import Path

from dnabert2.errors import InputError, located

WEIGHTS = "model.safetensors"
CONFIG = "config.json"
# copied from the first folder next to the averaged weights (tokenizer files must be identical in every folder)
COPIED = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt")


def average_weights(folders, out):
    """Average the model.safetensors of `folders` (one or more; the average of one is its copy) into
    OUT/model.safetensors, copy config.json and the tokenizer files; returns {"folders": [...], "tensors": count,
    "parameters": count}. Raises InputError when the folders differ in config, tensor names, shapes or dtypes (or
    in a non-float tensor or a tokenizer file)."""
    import torch
    from safetensors import safe_open
    from safetensors.torch import save_file

    folders = [Path(f) for f in folders]
    if not folders:
        raise InputError("averaging needs at least one model folder")
    for folder in folders:
        for name in (CONFIG, WEIGHTS):
            if not (folder / name).is_file():
                raise InputError(located(folder / name, "not found (expected a model folder)"))
    first = folders[0]
    config = json.loads((first / CONFIG).read_text())
    for folder in folders[1:]:
        other = json.loads((folder / CONFIG).read_text())
        if other != config:
            keys = sorted(k for k in set(config) | set(other) if config.get(k) != other.get(k))
            raise InputError(located(folder / CONFIG, f"differs from {first / CONFIG} in {', '.join(keys)}: "
                                     "only runs of the same architecture and labels can be averaged"))
    for name in COPIED:
        present = [(folder / name).is_file() for folder in folders]
        if any(present) and not all(present):
            raise InputError(located(folders[present.index(not present[0])] / name,
                                     "present in some model folders only"))
        if all(present) and any((f / name).read_bytes() != (first / name).read_bytes() for f in folders[1:]):
            raise InputError(f"{name} differs between the model folders: they do not share one tokenizer")

    handles = [safe_open(str(folder / WEIGHTS), framework="pt") for folder in folders]
    keys = sorted(handles[0].keys())
    metadata = handles[0].metadata()
    for folder, handle in zip(folders[1:], handles[1:]):
        other = sorted(handle.keys())
        if other != keys:
            missing, extra = sorted(set(keys) - set(other)), sorted(set(other) - set(keys))
            raise InputError(located(folder / WEIGHTS, f"tensor names differ from {first / WEIGHTS}: missing "
                                     f"{missing[:5] or 'none'}, extra {extra[:5] or 'none'}"))
    averaged, parameters = {}, 0
    for key in keys:
        tensors = [handle.get_tensor(key) for handle in handles]
        for folder, tensor in zip(folders[1:], tensors[1:]):
            if tensor.shape != tensors[0].shape or tensor.dtype != tensors[0].dtype:
                raise InputError(located(folder / WEIGHTS, f"tensor {key} is {tensor.dtype} {tuple(tensor.shape)}, "
                                         f"{first / WEIGHTS} has {tensors[0].dtype} {tuple(tensors[0].shape)}"))
        if tensors[0].is_floating_point():
            total = torch.zeros(tensors[0].shape, dtype=torch.float64)
            for tensor in tensors:
                total += tensor.to(torch.float64)
            averaged[key] = (total / len(tensors)).to(tensors[0].dtype).contiguous()
        else:
            if any(not torch.equal(tensor, tensors[0]) for tensor in tensors[1:]):
                raise InputError(f"non-float tensor {key} differs between the model folders; it cannot be averaged")
            averaged[key] = tensors[0].contiguous()
        parameters += tensors[0].numel()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    save_file(averaged, str(out / WEIGHTS), metadata=metadata)
    shutil.copyfile(first / CONFIG, out / CONFIG)
    for name in COPIED:
        if (first / name).is_file():
            shutil.copyfile(first / name, out / name)
    return {"folders": [str(f) for f in folders], "tensors": len(keys), "parameters": parameters}


def main(argv=None):
    import argparse

    from scripts.shipped import print_record

    parser = argparse.ArgumentParser(prog="python scripts/shipped/average.py", description=__doc__.split("\n")[0])
    parser.add_argument("out", help="folder for the averaged model")
    parser.add_argument("folders", nargs="+", help="model folders to average (same config, names and shapes)")
    args = parser.parse_args(argv)
    print_record(lambda: average_weights(args.folders, args.out))


if __name__ == "__main__":
    main()
