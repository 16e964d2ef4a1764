"""`load_model`: a model folder (ours, the DNABERT-2-117M release, or a hub id) -> (model, tokenizer), eval mode.

The head is chosen from the folder unless asked for: a classifier when the config's `architectures` names one,
else the masked-LM model when the weights hold its head, else the bare encoder.
"""
import json
from pathlib import Path

from dnabert2.common.files import read_json_object
from dnabert2.common.hf import quiet_transformers
from dnabert2.errors import InputError, located

TASKS = ("auto", "base", "masked-lm", "classification")
_WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin")


def load_model(path, task="auto", device=None, dtype=None):
    """Load a model and its tokenizer.

    path: a model folder written by this package, the released DNABERT-2-117M folder (pytorch_model.bin and its
        remote-code config.json), or a hub id such as `zhihan1996/DNABERT-2-117M` when online.
    task: "auto", "base" (DNABert2Model), "masked-lm" (DNABert2ForMaskedLM) or "classification"
        (DNABert2ForSequenceClassification).
    device: torch device or name ("auto", "cpu", "cuda", "cuda:1"); None means auto (CUDA when present).
    dtype: torch dtype or precision name ("auto", "fp32", "bf16", "fp16"); None means auto (bf16 on CUDA that
        supports it, else float32).
    """
    import torch

    from dnabert2.common.runtime import resolve_device, resolve_dtype
    from dnabert2.model import DNABert2ForMaskedLM, DNABert2ForSequenceClassification, DNABert2Model
    from dnabert2.tokenizer import load_tokenizer

    if task not in TASKS:
        raise InputError(f"task {task!r}: expected one of {', '.join(TASKS)}")
    folder = _local_folder(path)
    device = device if isinstance(device, torch.device) else resolve_device(device or "auto")
    if not isinstance(dtype, torch.dtype):
        dtype = resolve_dtype(dtype or "auto", device)
    if task == "auto":
        task = infer_task(folder)
    cls = {"base": DNABert2Model, "masked-lm": DNABert2ForMaskedLM,
           "classification": DNABert2ForSequenceClassification}[task]
    with quiet_transformers():
        try:
            model = cls.from_pretrained(folder)
        except (OSError, ValueError, KeyError) as e:
            if isinstance(e, InputError):
                raise
            raise InputError(located(folder, f"cannot load a DNABERT-2 model ({type(e).__name__}: {e})")) from None
    model.to(device=device, dtype=dtype).eval()
    return model, load_tokenizer(folder)


def infer_task(folder):
    """"classification", "masked-lm" or "base" for a model folder (see the module docstring)."""
    config = read_config(folder)
    if any("SequenceClassification" in name for name in config.get("architectures") or []):
        return "classification"
    if any(key.startswith("cls.predictions.") for key in weight_names(folder)):
        return "masked-lm"
    return "base"


def read_config(folder):
    path = Path(folder) / "config.json"
    if not path.is_file():
        raise InputError(located(folder, "no config.json in this folder (not a model folder)"))
    return read_json_object(path)


def weight_names(folder):
    """Tensor names in the folder's weights file, read without loading the tensors."""
    folder = Path(folder)
    safe, index, pickle = (folder / name for name in _WEIGHT_FILES)
    if safe.is_file():
        from safetensors import safe_open

        with safe_open(str(safe), framework="pt") as f:
            return list(f.keys())
    if index.is_file():
        return list(json.loads(index.read_text()).get("weight_map", {}))
    if pickle.is_file():
        from dnabert2.model.checkpoint import read_release_state_dict

        return list(read_release_state_dict(pickle, mmap=True))
    raise InputError(located(folder, f"no model weights here (expected one of {', '.join(_WEIGHT_FILES)})"))


def _local_folder(path):
    """The local folder for `path`, downloading a hub id's config, weights and tokenizer files when needed."""
    folder = Path(path)
    if folder.is_dir():
        return folder
    if folder.exists():
        raise InputError(located(folder, "expected a model folder, not a file"))
    text = str(path)
    if text.count("/") != 1 or text.startswith((".", "/", "~")):
        raise InputError(located(folder, "no such model folder"))
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(text, allow_patterns=["*.json", "*.safetensors", "pytorch_model.bin", "*.txt"]))
    except Exception as e:  # offline, unknown repository, gated: all for the user to fix
        raise InputError(f"{text}: not a local folder, and the hub gave no model ({type(e).__name__})") from None


# tokenizer files a model folder may carry; convert copies those present, byte for byte
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt")


def convert_model(source, output, task="auto", precision="fp32", force=False):
    """Write `source` (the release folder, a hub id, or any model folder) as a clean model folder: our config.json
    (model_type "dnabert2", no remote code), model.safetensors and the source's tokenizer files.

    Returns a summary dict: class, task, parameters, dtype, output, files.
    """
    import shutil

    import torch

    from dnabert2.common.files import check_new_output, output_dir
    from dnabert2.common.runtime import DTYPE_NAMES

    if precision not in DTYPE_NAMES:
        raise InputError(f"--precision {precision!r}: expected one of {', '.join(DTYPE_NAMES)}")
    check_new_output(output, force)
    folder = _local_folder(source)
    if not (folder / "tokenizer.json").is_file():
        raise InputError(located(folder, "no tokenizer.json in this folder (a model folder carries its tokenizer)"))
    dtype = getattr(torch, DTYPE_NAMES[precision])
    task = infer_task(folder) if task == "auto" else task
    model, _ = load_model(folder, task=task, device="cpu", dtype=dtype)
    with output_dir(output, force) as tmp:
        with quiet_transformers():
            model.save_pretrained(tmp)
        for name in TOKENIZER_FILES:
            if (folder / name).is_file():
                shutil.copyfile(folder / name, tmp / name)
        files = sorted(p.name for p in tmp.iterdir())
    return {
        "class": type(model).__name__,
        "task": task,
        "parameters": sum(p.numel() for p in model.parameters()),
        "dtype": DTYPE_NAMES[precision],
        "output": str(output),
        "files": files,
    }
