"""The model of an embed, predict or score-variants run: --device and --precision resolved (one GPU per torchrun
rank), the model folder, hub id or in-memory (model, tokenizer) pair loaded for the run's task with its attention
backend (--attention) and compiled encoder (--compile), whether its model calls are packed, and the predict options
a model carries in its config."""
import os
from dataclasses import dataclass
from pathlib import Path

from dnabert2.errors import InputError, located

# the predict options a model's config may carry (task_specific_params["predict"]) and their types
PREDICT_DEFAULTS = {"window": int, "rc_average": bool}


@dataclass
class LoadedModel:
    """The model of one run, its tokenizer, where it came from and where it runs."""
    net: object
    tokenizer: object
    folder: object  # the folder or hub id it was loaded from; None for an in-memory model
    device: object  # torch.device
    dtype: object  # torch dtype
    attention: str = None  # the attention backend its forward passes use (choose_backend's pick for "auto")
    packed: bool = False  # model calls are packed: rows laid end to end, batches cut by real tokens
    compiled: bool = False  # its encoder layers are compiled (--compile)


def require_model(model):
    """InputError when no model was given (checked before anything else is read)."""
    if model is None:
        raise InputError("--model: give a model folder (one written by `dnabert2 finetune`/`pretrain`, or the "
                         "DNABERT-2-117M release folder)")


def predict_defaults(model):
    """The predict options a model carries in its config, `task_specific_params["predict"]` (the shipped promoter
    classifier's config.json: {"window": 300, "rc_average": true}, the window length it was trained on and both
    strands), as {option: value}; {} for a model without them or a hub id (its config is read when it loads).
    InputError for an unreadable config.json, an unknown option or a bad value."""
    if isinstance(model, (tuple, list)):
        params, where = getattr(model[0].config, "task_specific_params", None), "the model's config"
    elif isinstance(model, (str, os.PathLike)) and Path(model).is_dir():
        from dnabert2.common.models import read_config

        params, where = read_config(model).get("task_specific_params"), Path(model) / "config.json"
    else:
        return {}
    carried = params.get("predict") if isinstance(params, dict) else None
    if carried is None:
        return {}
    if not isinstance(carried, dict):
        raise InputError(located(where, 'task_specific_params "predict" must be an object of predict options'))
    for key, value in carried.items():
        kind = PREDICT_DEFAULTS.get(key)
        if kind is None:
            raise InputError(located(where, f'task_specific_params "predict": unknown option "{key}" (known: '
                                            f'{", ".join(PREDICT_DEFAULTS)})'))
        if type(value) is not kind or (kind is int and value < 1):
            expected = "a whole number of bp, at least 1" if kind is int else "true or false"
            raise InputError(located(where, f'task_specific_params "predict": "{key}" is {value!r}, expected '
                                            f'{expected}'))
    return dict(carried)


def device_and_dtype(device, precision):
    """--device and --precision as torch objects; under torchrun, device "auto" is the rank's own GPU."""
    from dnabert2.common.runtime import resolve_device, resolve_dtype, torchrun

    run = torchrun()
    if (device or "auto") == "auto" and run.distributed:
        import torch

        if torch.cuda.is_available():
            device = f"cuda:{run.local_rank}"
    device = resolve_device(device)
    return device, resolve_dtype(precision, device)


def load(model, task, device, dtype, kernel=None):
    """A LoadedModel from a folder path, a hub id, or a (model, tokenizer) pair; task "base", "classification" or
    "auto". `kernel`: the run's settings (KernelSettings' --attention and --compile, RegionRun's `pack`; None: the
    automatic backend, nothing compiled or packed, as `attribute` runs). A pair keeps its own attention backend
    unless --attention names one."""
    from dnabert2.common.models import attention_backend

    require_model(model)
    attention = attention_backend(kernel.attention if kernel else None, device)
    if isinstance(model, (tuple, list)):
        net, tokenizer = model
        if attention is not None:
            net.set_attn_implementation(attention)
        net, folder = net.to(device=device, dtype=dtype).eval(), None
    else:
        from dnabert2.common.hf import quiet_transformers
        from dnabert2.common.models import load_model

        if task == "classification":
            _check_classifier_folder(model)
        with quiet_transformers(logs=True):  # no load report: embed never uses the pooler a masked-LM folder lacks
            net, tokenizer = load_model(model, task=task, device=device, dtype=dtype, attention=attention)
        folder = model
    return _with_kernels(LoadedModel(net, tokenizer, folder, device, dtype), kernel)


def _with_kernels(loaded, kernel):
    """The backend the model's forward passes will use, whether calls are packed, and the compiled encoder."""
    from dnabert2.common.kernels import packs
    from dnabert2.model import compile_encoder
    from dnabert2.model.attention import choose_backend

    loaded.attention = choose_backend(loaded.net.config._attn_implementation, loaded.device, loaded.dtype)
    if kernel is None:
        return loaded
    loaded.packed = packs(kernel.pack, loaded.attention)
    if kernel.compile:
        compile_encoder(loaded.net)
        loaded.compiled = True
    return loaded


def check_model(model, task):
    """A model folder checked as a whole before any input is read (`common.models.check_model_folder`); predict
    also needs a fine-tuned one. A hub id or an in-memory model is checked when it loads."""
    if isinstance(model, (str, os.PathLike)) and Path(model).is_dir():
        from dnabert2.common.models import check_model_folder

        check_model_folder(model)
        if task == "classification":
            _check_classifier_folder(model)


def check_batch_memory(settings, loaded, longest_bp):
    """InputError when one model call (--batch-tokens padded tokens, or real ones packed; windows of up to --window
    bp, as long as the longest region) would need more memory than the device has left after loading the model."""
    from dnabert2.common.memory import ModelSize, check_fits, inference_bytes

    # tokens of the longest window: at most one per base, plus [CLS] and [SEP]
    length = min(settings.window, longest_bp or settings.window) + 2
    tokens = max(settings.batch_tokens, length)
    size = ModelSize.of(loaded.net.config, loaded.dtype, loaded.device, loaded.attention)
    what = "real" if loaded.packed else "padded"
    check_fits(inference_bytes(size, tokens, length), f"one model call ({tokens} {what} tokens)",
               f"--batch-tokens (now {settings.batch_tokens}) or --window (now {settings.window})", loaded.device)


def check_layer(layer, config):
    """InputError when --layer names no hidden layer of the model."""
    layers = config.num_hidden_layers
    if not -(layers + 1) <= layer <= layers:
        raise InputError(f"--layer {layer}: this model has {layers} layers; give 0 (embeddings) to "
                         f"{layers}, or -1 (last) to -{layers + 1}")


def _check_classifier_folder(path):
    import json

    config = Path(path) / "config.json"
    if not config.is_file():
        return
    try:
        architectures = json.loads(config.read_text()).get("architectures") or []
    except (OSError, ValueError) as e:
        raise InputError(f"--model {path}: cannot read config.json ({e})") from None
    if not any("SequenceClassification" in a for a in architectures):
        raise InputError(f"--model {path}: not a fine-tuned classification or regression model (config.json "
                         f"architectures: {architectures or 'none'}); predict needs a folder written by "
                         f"`dnabert2 finetune`")
