"""The classifier being fine-tuned: built from a model folder's encoder under a fresh head, saved as a model folder
or a peft adapter, and loaded back (`load_finetuned`)."""
import json
import random
from pathlib import Path

import numpy as np

from dnabert2.finetuning.tasks import PROBLEM_TYPES

ADAPTER_FOLDER = "adapter"
# the shipped model whose tokenizer (the released DNABERT-2 BPE) a --model preset is built with
RELEASED_TOKENIZER = "pretrained"


def set_seed(seed):
    """Seed Python's, numpy's and torch's random generators."""
    import torch

    random.seed(seed)
    np.random.seed(seed % (2 ** 32))
    torch.manual_seed(seed)


def _load_encoder_model(model_path):
    """The bare encoder and tokenizer of `model_path`, in float32 on the CPU."""
    from dnabert2.common.hf import quiet_transformers
    from dnabert2.common.models import load_model

    # a masked-LM folder lacks the pooler and has an unused head: expected here, so its load report stays quiet
    with quiet_transformers(logs=True):
        return load_model(model_path, task="base", device="cpu", dtype="fp32")


def build_classifier(model_path, data, seed, device):
    """The encoder from `model_path` under a fresh head for this task (head initialised from `seed`); a preset name
    (`settings.is_preset`) gives a random initialisation of that architecture (from `seed`) with the released
    tokenizer."""
    import copy

    from dnabert2.finetuning.settings import is_preset
    from dnabert2.model import DNABert2Config, DNABert2ForSequenceClassification

    set_seed(seed)
    if is_preset(model_path):
        from dnabert2.shipped import model_path as shipped_path
        from dnabert2.tokenizer import load_tokenizer

        encoder = None
        tokenizer = load_tokenizer(shipped_path(RELEASED_TOKENIZER))
        config = DNABert2Config.from_preset(model_path, vocab_size=len(tokenizer),
                                            pad_token_id=tokenizer.pad_token_id)
    else:
        # float32 weights on the CPU first: training runs mixed precision through autocast, never in bf16 weights
        encoder, tokenizer = _load_encoder_model(model_path)
        config = copy.deepcopy(encoder.config)
    config.num_labels = 1 if data.task == "regression" else len(data.label_names)
    config.problem_type = PROBLEM_TYPES[data.task]
    config.id2label = {i: name for i, name in enumerate(data.label_names)}
    config.label2id = {name: i for i, name in enumerate(data.label_names)}
    config.architectures = ["DNABert2ForSequenceClassification"]
    set_seed(seed)
    model = DNABert2ForSequenceClassification(config)
    if encoder is not None:
        copy_encoder(model, encoder)
        del encoder
    return model.to(device), tokenizer


def copy_encoder(model, encoder):
    """Copy the encoder's weights into model.bert; only a pooler may be missing (it then stays as initialised)."""
    missing, unexpected = model.bert.load_state_dict(encoder.state_dict(), strict=False)
    wrong = [k for k in missing if not k.startswith("pooler.")] + list(unexpected)
    if wrong:
        raise RuntimeError(f"encoder weights do not fit the classifier: {', '.join(wrong[:5])}")


def save_classifier(model, tokenizer, folder, lora, save_adapter, base_model):
    """Merged: a plain model folder. Adapter: folder/adapter/ (peft files and the head's config.json)."""
    from dnabert2.common.hf import no_peft_future_warnings, quiet_transformers

    with quiet_transformers(logs=True):
        if lora and save_adapter:
            adapter = folder / ADAPTER_FOLDER
            model.save_pretrained(adapter)
            model.get_base_model().config.save_pretrained(adapter)
            _point_adapter_at(adapter, base_model)
        else:
            if lora:
                with no_peft_future_warnings():
                    model = model.merge_and_unload()
            model.save_pretrained(folder)
        tokenizer.save_pretrained(folder)


def _point_adapter_at(adapter, base_model):
    path = adapter / "adapter_config.json"
    config = json.loads(path.read_text())
    config["base_model_name_or_path"] = base_model
    path.write_text(json.dumps(config, indent=2) + "\n")


def load_finetuned(path, device=None):
    """(model, tokenizer) from a fine-tuning output: a merged model folder, or one holding adapter/."""
    from dnabert2.common.hf import no_peft_future_warnings, quiet_transformers
    from dnabert2.common.models import load_model

    path = Path(path)
    adapter = path / ADAPTER_FOLDER
    if not adapter.is_dir():
        with quiet_transformers(logs=True):
            return load_model(path, task="classification", device=device, dtype="fp32")
    from peft import PeftModel

    from dnabert2.model import DNABert2Config, DNABert2ForSequenceClassification
    from dnabert2.tokenizer import load_tokenizer

    base_model = json.loads((adapter / "adapter_config.json").read_text())["base_model_name_or_path"]
    encoder, _ = _load_encoder_model(base_model)
    tokenizer = load_tokenizer(path)
    model = DNABert2ForSequenceClassification(DNABert2Config.from_pretrained(adapter))
    copy_encoder(model, encoder)
    with no_peft_future_warnings():
        model = PeftModel.from_pretrained(model, adapter).merge_and_unload().eval()
    if device is not None:
        model = model.to(device)
    return model, tokenizer
