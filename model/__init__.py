"""The DNABERT-2 encoder in plain PyTorch on the transformers base classes.

`DNABert2Config` (presets `dnabert2-117m`, `small`, `tiny`), `DNABert2Model`, `DNABert2ForMaskedLM` and
`DNABert2ForSequenceClassification` load folders this package writes and the DNABERT-2-117M release folder.
Names are imported on first use, so `dnabert2.model.config` can be read without building the models module;
`pack_sequences`, `pack_padded` and `unpack` make and read packed batches (sequences laid end to end, no padding);
`compile_encoder(model)` compiles the encoder layers in place (torch.compile, dynamic token count);
`register_auto_classes()` makes the transformers Auto classes know `model_type` "dnabert2" (`import dnabert2`
arranges that for you).
"""
from importlib import import_module

# public name -> module in this package that defines it
_LAZY = {
    "DNABert2Config": ".config",
    "PRESETS": ".config",
    "DNABert2PreTrainedModel": ".modeling",
    "DNABert2Model": ".modeling",
    "DNABert2ForMaskedLM": ".modeling",
    "DNABert2ForSequenceClassification": ".modeling",
    "alibi_slopes": ".alibi",
    "load_release_folder": ".checkpoint",
    "pack_sequences": ".packing",
    "pack_padded": ".packing",
    "unpack": ".packing",
    "compile_encoder": ".compiled",
}

__all__ = [*_LAZY, "register_auto_classes", "register_auto_config"]


def __getattr__(name):
    if name in _LAZY:
        return getattr(import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module 'dnabert2.model' has no attribute {name!r}")


def register_auto_config():
    """AutoConfig knows "dnabert2" (needs only the config module)."""
    from transformers import AutoConfig

    from .config import DNABert2Config

    AutoConfig.register(DNABert2Config.model_type, DNABert2Config, exist_ok=True)


def register_auto_classes():
    """AutoConfig, AutoModel, AutoModelForMaskedLM and AutoModelForSequenceClassification know "dnabert2"."""
    from transformers import AutoModel, AutoModelForMaskedLM, AutoModelForSequenceClassification

    from .config import DNABert2Config
    from .modeling import DNABert2ForMaskedLM, DNABert2ForSequenceClassification, DNABert2Model

    register_auto_config()
    AutoModel.register(DNABert2Config, DNABert2Model, exist_ok=True)
    AutoModelForMaskedLM.register(DNABert2Config, DNABert2ForMaskedLM, exist_ok=True)
    AutoModelForSequenceClassification.register(DNABert2Config, DNABert2ForSequenceClassification, exist_ok=True)
