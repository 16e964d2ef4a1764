"""`load_model`: a model folder (ours, the DNABERT-2-117M release, or a hub id) -> (model, tokenizer), eval mode.

The head is chosen from the folder unless asked for: a classifier when the config's `architectures` names one,
else the masked-LM model when the weights hold its head, else the bare encoder.

`check_model_folder` looks at a folder as a whole before anything is loaded, whatever its weight format
(model.safetensors, a sharded index, pytorch_model.bin): config.json present and readable, every weights file
readable to its end, the sizes in config.json (vocabulary, hidden size, layers, feed-forward, labels) equal to the
tensor shapes (read from the file headers, no tensor loaded), and the tokenizer as large as the vocabulary.
Every problem is one `ModelFolderError` naming the folder or file (exit 2).

`load_config` builds the config of a new model (`pretrain --model-config`): a preset sized to the tokenizer, or a
JSON file whose vocabulary must match it.
"""
import json
import re
from dataclasses import dataclass
from pathlib import Path

from dnabert2.common.fields import MODEL, OUTPUTS, RUN, option, settings_of
from dnabert2.common.files import read_json_object
from dnabert2.common.hf import quiet_transformers
from dnabert2.common.runtime import DTYPE_NAMES
from dnabert2.errors import InputError, ModelFolderError, located

TASKS = ("auto", "base", "masked-lm", "classification")
_WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin")


def load_model(path, task="auto", device=None, dtype=None, attention=None):
    """Load a model and its tokenizer.

    path: a model folder written by this package, the released DNABERT-2-117M folder (pytorch_model.bin and its
        remote-code config.json), or a hub id such as `zhihan1996/DNABERT-2-117M` when online.
    task: "auto", "base" (DNABert2Model), "masked-lm" (DNABert2ForMaskedLM) or "classification"
        (DNABert2ForSequenceClassification).
    device: torch device or name ("auto", "cpu", "cuda", "cuda:1"); None means auto (CUDA when present).
    dtype: torch dtype or precision name ("auto", "fp32", "bf16", "fp16"); None means auto (bf16 on CUDA that
        supports it, else float32).
    attention: the attention backend ("sdpa", "eager", "flex", "flash_attention_2"); None or "auto" means chosen
        per call (model/attention.py choose_backend). One that cannot run on `device` is refused here
        (`attention_backend`), before any weight is read.
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
    attention = attention_backend(attention, device)
    check_model_folder(folder)
    if task == "auto":
        task = infer_task(folder)
    cls = {"base": DNABert2Model, "masked-lm": DNABert2ForMaskedLM,
           "classification": DNABert2ForSequenceClassification}[task]
    with quiet_transformers():
        try:
            model, info = cls.from_pretrained(folder, output_loading_info=True, attn_implementation=attention)
        except (OSError, ValueError, KeyError, RuntimeError) as e:
            if isinstance(e, InputError):
                raise
            first = (str(e).strip().splitlines() or [""])[0]
            raise ModelFolderError(located(folder, f"cannot load a DNABERT-2 model ({type(e).__name__}: {first})"))\
                from None
    _check_missing(folder, info["missing_keys"])
    model.to(device=device, dtype=dtype).eval()
    return model, load_tokenizer(folder)


def attention_backend(name, device, grad=False):
    """--attention -> the backend name a model is built with (None for "auto": chosen per call), refused with one
    clear InputError when it cannot run on `device` (`grad`: with gradients, for training)."""
    from dnabert2.model.attention import BACKENDS, can_run
    from dnabert2.model.flex import flex_unavailable

    if name in (None, "auto"):
        return None
    if name not in BACKENDS:
        raise InputError(f"--attention {name!r}: expected auto or one of {', '.join(BACKENDS)}")
    if not can_run(name, device, grad):
        if name == "flash_attention_2":
            why = ("it needs a CUDA GPU" if device.type != "cuda" else
                   "flash-attn is not installed (pip install 'dnabert2[gpu]')")
        else:
            why = flex_unavailable(device.type) or "FlexAttention has no backward pass on the CPU (training)"
        raise InputError(f"--attention {name} cannot run on {device}: {why}")
    return name


def load_config(model_config, tokenizer):
    """DNABert2Config from a preset name or a JSON file; presets take the tokenizer's vocabulary size."""
    from dnabert2.model import PRESETS, DNABert2Config  # imports torch: only when a model is built

    name = model_config or "dnabert2-117m"
    if name in PRESETS:
        return DNABert2Config.from_preset(name, vocab_size=len(tokenizer), pad_token_id=tokenizer.pad_token_id)
    path = Path(name)
    if not path.is_file():
        raise InputError(f"--model-config {name}: neither a preset ({', '.join(PRESETS)}) nor a JSON file")
    data = read_json_object(path, "JSON model config")
    data.pop("model_type", None)
    config = DNABert2Config(**data)
    if config.vocab_size != len(tokenizer):
        raise InputError(located(path, f"vocab_size {config.vocab_size} differs from the tokenizer's "
                                       f"{len(tokenizer)} tokens (set vocab_size to {len(tokenizer)} or use "
                                       "the tokenizer this config was made for)"))
    config.pad_token_id = tokenizer.pad_token_id
    return config


def _check_missing(folder, missing):
    """ModelFolderError when the weights lack tensors the model needs (a new pooler or classifier is expected)."""
    from dnabert2.model.checkpoint import NEWLY_INITIALISED

    wrong = sorted(k for k in missing if not any(re.search(pattern, k) for pattern, _ in NEWLY_INITIALISED))
    if wrong:
        raise ModelFolderError(located(folder, f"the weights lack {len(wrong)} tensors of this model, e.g. "
                                               f"{', '.join(wrong[:3])} (damaged, or another model's weights?)"))


def infer_task(folder):
    """"classification", "masked-lm" or "base" for a model folder (see the module docstring)."""
    config = read_config(folder)
    if any("SequenceClassification" in name for name in config.get("architectures") or []):
        return "classification"
    if any(key.startswith("cls.predictions.") for key in weight_names(folder)):
        return "masked-lm"
    return "base"


def read_config(folder):
    """The folder's config.json as a dict; ModelFolderError when it is missing or not a JSON object."""
    path = Path(folder) / "config.json"
    if not path.is_file():
        raise ModelFolderError(located(folder, "no config.json in this folder (not a model folder)"))
    try:
        return read_json_object(path, what="model config")
    except InputError as e:
        raise ModelFolderError(str(e)) from None


def weight_names(folder):
    """Tensor names in the folder's weights file, read without loading the tensors."""
    return list(weight_shapes(folder))


def weight_shapes(folder):
    """{tensor name: shape} of the folder's weights, read from the file headers (no tensor is loaded);
    ModelFolderError for missing, empty, truncated or unreadable weights."""
    folder = Path(folder)
    safe, index, pickle = (folder / name for name in _WEIGHT_FILES)
    if safe.is_file():
        return _safetensors_shapes(safe)
    if index.is_file():
        shapes = {}
        for shard in sorted(set(_index_map(index).values())):
            if not (folder / shard).is_file():
                raise ModelFolderError(located(index, f"names the weights file {shard}, which is not in the folder"))
            shapes.update(_safetensors_shapes(folder / shard))
        return shapes
    if pickle.is_file():
        from dnabert2.model.checkpoint import read_release_state_dict

        return {name: tuple(t.shape) for name, t in read_release_state_dict(pickle, mmap=True).items()}
    raise ModelFolderError(located(folder, f"no model weights here (expected one of {', '.join(_WEIGHT_FILES)})"))


def _safetensors_shapes(path):
    from safetensors import safe_open

    if path.stat().st_size == 0:
        raise ModelFolderError(located(path, "empty weights file (0 bytes)"))
    try:
        with safe_open(str(path), framework="np") as f:  # reads the header only; numpy: no torch import
            return {name: tuple(f.get_slice(name).get_shape()) for name in f.keys()}
    except Exception as e:  # SafetensorError (a plain Exception) for truncated or damaged files
        reason = str(e).replace("Error while deserializing header: ", "")
        raise ModelFolderError(located(path, f"not a readable safetensors file, truncated or damaged ({reason})")) \
            from None


def _index_map(index):
    try:
        weight_map = json.loads(index.read_text()).get("weight_map")
    except (OSError, ValueError, AttributeError) as e:
        raise ModelFolderError(located(index, f"not a readable weights index ({e})")) from None
    if not isinstance(weight_map, dict) or not weight_map:
        raise ModelFolderError(located(index, "holds no weight_map"))
    return weight_map


# tensor name ending -> the config sizes its shape is made of, in order (factors: 3 x hidden for q, k and v
# together, 2 x intermediate for the GEGLU's gate and value)
_SHAPES = {
    "embeddings.word_embeddings.weight": (("vocab_size", 1), ("hidden_size", 1)),
    "embeddings.token_type_embeddings.weight": (("type_vocab_size", 1), ("hidden_size", 1)),
    "attention.self.Wqkv.weight": (("hidden_size", 3), ("hidden_size", 1)),
    "mlp.gated_layers.weight": (("intermediate_size", 2), ("hidden_size", 1)),
    "mlp.wo.weight": (("hidden_size", 1), ("intermediate_size", 1)),
    "cls.predictions.decoder.bias": (("vocab_size", 1),),
    "classifier.weight": (("num_labels", 1), ("hidden_size", 1)),
}
_SIZES = ("vocab_size", "hidden_size", "num_hidden_layers", "intermediate_size", "type_vocab_size")
_LAYER = re.compile(r"(?:^|\.)encoder\.layer\.(\d+)\.")


def check_model_folder(folder):
    """ModelFolderError unless `folder` is a usable model folder as a whole (see the module docstring)."""
    folder = Path(folder)
    sizes = _config_sizes(folder)
    shapes = weight_shapes(folder)
    weights = next((name for name in _WEIGHT_FILES if (folder / name).is_file()), "the weights")
    if not any(name.endswith("embeddings.word_embeddings.weight") for name in shapes):
        raise ModelFolderError(located(folder / weights, "holds no word embeddings: not DNABERT-2 weights"))
    for ending, name in ((e, n) for e in _SHAPES for n in shapes if n.endswith(e)):
        expected, shape = tuple(sizes[key] * factor for key, factor in _SHAPES[ending]), shapes[name]
        if tuple(shape) != expected:
            said = ", ".join(dict.fromkeys(f"{key} {sizes[key]}" for key, _ in _SHAPES[ending]))
            raise ModelFolderError(located(folder, f"config.json does not fit {weights}: {name} has shape "
                                                   f"{_shape(shape)}, the config ({said}) implies {_shape(expected)}"))
    layers = {int(m.group(1)) for m in map(_LAYER.search, shapes) if m}
    if len(layers) != sizes["num_hidden_layers"]:
        raise ModelFolderError(located(folder, f"config.json says num_hidden_layers {sizes['num_hidden_layers']}, "
                                               f"{weights} holds {len(layers)} layers"))
    _check_tokenizer_size(folder, sizes["vocab_size"])


def _shape(shape):
    return " x ".join(str(n) for n in shape)


def _config_sizes(folder):
    """The sizes config.json sets (defaults for the keys it lacks), each a positive whole number."""
    config = read_config(folder)
    sizes = {}
    for key in _SIZES:
        value = config[key] if key in config else _default(key)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ModelFolderError(located(folder / "config.json", f"{key} is {value!r}, expected a positive whole "
                                                                   "number"))
        sizes[key] = value
    labels = config.get("id2label")
    sizes["num_labels"] = len(labels) if isinstance(labels, dict) and labels else config.get("num_labels", 2)
    return sizes


def _default(key):
    import inspect

    from dnabert2.model import DNABert2Config

    return inspect.signature(DNABert2Config.__init__).parameters[key].default


def _check_tokenizer_size(folder, vocab_size):
    """ModelFolderError when the folder's tokenizer.json has another number of tokens than the model's vocabulary
    (a larger one makes ids the embedding table lacks: an IndexError halfway through a run)."""
    path = folder / "tokenizer.json"
    if not path.is_file():
        raise ModelFolderError(located(folder, "no tokenizer.json in this folder (a model folder carries its "
                                               "tokenizer)"))
    try:
        data = json.loads(path.read_text())
        ids = list((data.get("model") or {}).get("vocab", {}).values())
        ids += [token["id"] for token in data.get("added_tokens") or []]
        size = max(ids) + 1 if ids else 0
    except (OSError, ValueError, AttributeError, KeyError, TypeError) as e:
        raise ModelFolderError(located(path, f"not a readable tokenizer file ({type(e).__name__}: {e})")) from None
    if size != vocab_size:
        raise ModelFolderError(located(folder, f"the tokenizer has {size} tokens but the model's vocabulary has "
                                               f"{vocab_size} (config.json vocab_size): they do not belong together"))


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


@dataclass
class ConvertSettings:
    """The options of `dnabert2 convert` / `dnabert2.convert_model`."""
    output: str = option(None, "Model folder to write (must not exist unless --force).", group=OUTPUTS, short="-o",
                         path="dir", required=True)
    task: str = option("auto", "Model head to keep (auto: a classifier if the config names one, else masked-LM if "
                               "its weights are there, else the bare encoder).", group=MODEL, choices=TASKS)
    precision: str = option("fp32", "Precision of the written weights.", group=OUTPUTS, choices=tuple(DTYPE_NAMES))
    force: bool = option(False, "Replace the output folder if it exists.", group=RUN)


def convert_model(source, output=None, *, settings=None, **options):
    """Write `source` (the release folder, a hub id, or any model folder) as a clean model folder `output`: our
    config.json (model_type "dnabert2", no remote code), model.safetensors and the source's tokenizer files.

    options are the fields of `ConvertSettings` (task, precision, force); or pass `settings`. Returns a summary
    dict: class, task, parameters, dtype, output, files.
    """
    import shutil

    import torch

    from dnabert2.common.files import check_new_output, output_dir

    s = settings_of(ConvertSettings, settings, options, "convert_model", output=output)
    output, task, precision, force = s.output, s.task, s.precision, s.force
    if output is None:
        raise InputError("-o/--output: give the model folder to write")
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
