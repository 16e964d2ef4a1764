"""Loading the DNABERT-2-117M release folder as downloaded (config.json with remote-code keys, pytorch_model.bin).

Our parameter names are the release's, so the only renames are for layouts other tools wrote (listed as data in
`KEY_RENAMES`) and the `bert.` prefix, present in head checkpoints and absent from a bare encoder's. What the
checkpoint lacks (the release has no pooler; a new classifier) is initialised as usual and named in one log line.
"""
import logging
import re
from pathlib import Path

import torch

from dnabert2.errors import InputError, ModelFolderError

from .config import DNABert2Config

logger = logging.getLogger(__name__)

RELEASE_WEIGHTS = "pytorch_model.bin"
SAFE_WEIGHTS = ("model.safetensors", "model.safetensors.index.json")
BASE_PREFIX = "bert."

# foreign key pattern -> ours, applied in order to every key
KEY_RENAMES = {
    r"^cls\.predictions\.bias$": "cls.predictions.decoder.bias",  # transformers' BertForMaskedLM keeps the bias here
    r"\.LayerNorm\.gamma$": ".LayerNorm.weight",  # TensorFlow-era LayerNorm names
    r"\.LayerNorm\.beta$": ".LayerNorm.bias",
    r"^(base_model\.model\.|model\.|module\.)": "",  # wrappers: PEFT, DistributedDataParallel
}

# missing keys that are expected from the release and only reported: (pattern, what it is)
NEWLY_INITIALISED = ((r"(^|\.)pooler\.", "pooler"), (r"^classifier\.", "classifier"))

# keyword arguments of from_pretrained that make no sense for a pickle read into CPU memory
UNSUPPORTED = ("device_map", "quantization_config", "tp_plan", "gguf_file", "from_tf", "from_flax", "subfolder")


def is_release_folder(path):
    """A local folder with pytorch_model.bin and no safetensors weights."""
    try:
        folder = Path(path)
        return folder.is_dir() and (folder / RELEASE_WEIGHTS).is_file() and not any(
            (folder / name).is_file() for name in SAFE_WEIGHTS)
    except (TypeError, OSError):
        return False


def read_release_state_dict(path, mmap=False):
    """The tensors of pytorch_model.bin, read with weights_only=True (no code runs), keys renamed to ours.
    mmap=True maps the file instead of reading it (for a look at the names); old non-zip pickles are read whole."""
    try:
        try:
            state = torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)
        except RuntimeError:
            if not mmap:
                raise
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # unpickling errors of every kind: the file is not a plain tensor checkpoint
        raise ModelFolderError(f"{path}: {_unreadable(e)}") from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ModelFolderError(f"{path}: expected a dict of named tensors")
    return {rename_key(key): value for key, value in state.items()}


def _unreadable(error):
    """One line for a pickle torch.load(weights_only=True) refused or could not read (torch's own text is ~8 lines
    and suggests weights_only=False, which would run the file's code)."""
    text = str(error)
    refused = re.search(r"GLOBAL ([\w.]+)", text)
    if refused:
        return (f"refused: this pickle calls {refused.group(1)}, so loading it could run code (only plain tensor "
                f"checkpoints are read, with weights_only=True)")
    boilerplate = ("Weights only load failed", "Please file an issue", "Check the documentation")
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.startswith(boilerplate)]
    reason = lines[0].split(". ")[0] if lines else type(error).__name__
    return f"not a readable PyTorch weights file, truncated or damaged ({reason})"


def rename_key(key):
    for pattern, replacement in KEY_RENAMES.items():
        key = re.sub(pattern, replacement, key)
    return key


def match_prefix(state, model_keys):
    """Add or strip `bert.` so the checkpoint's names meet the model's; drop head tensors a bare encoder lacks."""
    model_has_prefix = any(k.startswith(BASE_PREFIX) for k in model_keys)
    state_has_prefix = any(k.startswith(BASE_PREFIX) for k in state)
    if model_has_prefix and not state_has_prefix:
        return {(BASE_PREFIX + k if BASE_PREFIX + k in model_keys else k): v for k, v in state.items()}
    if state_has_prefix and not model_has_prefix:
        return {k[len(BASE_PREFIX):]: v for k, v in state.items() if k.startswith(BASE_PREFIX)}
    return state


def load_release_folder(cls, folder, config=None, dtype="auto", torch_dtype=None, attn_implementation=None,
                        output_loading_info=False, **kwargs):
    """Build `cls` from a release-layout folder; kwargs that are not loader options override config fields."""
    folder = Path(folder)
    for name in UNSUPPORTED:
        if kwargs.pop(name, None) is not None:
            raise InputError(f"{folder}: {name} is not supported for a pytorch_model.bin folder "
                             f"(convert it first: dnabert2 convert {folder} -o DIR)")
    for name in ("cache_dir", "local_files_only", "revision", "token", "trust_remote_code", "use_safetensors",
                 "low_cpu_mem_usage", "force_download", "proxies"):
        kwargs.pop(name, None)
    if config is None:
        config = DNABert2Config.from_pretrained(folder, **kwargs)
    elif kwargs:
        config.update(kwargs)
    if attn_implementation is not None:
        config._attn_implementation = attn_implementation
    weights = folder / RELEASE_WEIGHTS
    state = read_release_state_dict(weights)

    model = cls(config)
    model_keys = set(model.state_dict())
    state = match_prefix(state, model_keys)
    tied = set(getattr(model, "all_tied_weights_keys", None) or getattr(model, "_tied_weights_keys", None) or {})
    for key in tied:
        state.pop(key, None)  # the release stores the tied decoder weight too; it is the word embedding matrix
    try:
        result = model.load_state_dict(state, strict=False)
    except RuntimeError as e:
        first = str(e).strip().splitlines()[-1].strip()
        raise InputError(f"{weights}: does not fit this config ({first})") from None
    missing = sorted(set(result.missing_keys) - tied)
    unexpected = sorted(result.unexpected_keys)
    expected_missing = [k for k in missing if any(re.search(p, k) for p, _ in NEWLY_INITIALISED)]
    wrong = sorted(set(missing) - set(expected_missing))
    if wrong:
        raise InputError(f"{weights}: {len(wrong)} weights of {cls.__name__} are missing, e.g. {', '.join(wrong[:3])} "
                         "(is config.json the one that came with these weights?)")
    if expected_missing:
        parts = sorted({what for k in expected_missing for p, what in NEWLY_INITIALISED if re.search(p, k)})
        logger.warning("%s has no %s weights: initialised randomly (%s)", weights, " or ".join(parts),
                       ", ".join(expected_missing))
    if unexpected:
        logger.warning("%s: ignored %d tensors %s has no place for (%s)", weights, len(unexpected), cls.__name__,
                       ", ".join(unexpected[:4]) + (", ..." if len(unexpected) > 4 else ""))
    model.tie_weights()
    dtype = torch_dtype if torch_dtype is not None else dtype
    if isinstance(dtype, str):
        dtype = getattr(config, "dtype", None) if dtype == "auto" else getattr(torch, dtype)
    if isinstance(dtype, str):
        dtype = getattr(torch, dtype)
    if isinstance(dtype, torch.dtype) and dtype != torch.float32:
        model.to(dtype)
    model.eval()
    if output_loading_info:
        return model, {"missing_keys": missing, "unexpected_keys": unexpected, "mismatched_keys": [],
                       "error_msgs": []}
    return model
