"""LoRA through peft: which modules of every encoder layer it adapts, and their checks (the options and their
defaults are the fields of `settings.LoraFields`).

The attention's fused `Wqkv` is the default target (the original script's `query,value` do not exist in this
model); the classifier and pooler stay fully trainable.
"""
from dataclasses import dataclass

from dnabert2.errors import InputError

# LoRA target name -> the module path inside every encoder layer
LORA_TARGETS = {"Wqkv": "attention.self.Wqkv", "dense": "attention.output.dense",
                "gated_layers": "mlp.gated_layers", "wo": "mlp.wo"}


@dataclass(frozen=True)
class LoraSettings:
    """The LoRA of one run (`--lora-targets`, `--lora-r`, `--lora-alpha`, `--lora-dropout`), from
    `settings.LoraFields.lora_settings()`."""
    targets: tuple
    r: int
    alpha: int
    dropout: float

    def __post_init__(self):
        object.__setattr__(self, "targets", tuple(self.targets))  # a list from the Python API

    def check_values(self):
        """InputError for a rank, alpha or dropout out of range (checked even when LoRA is off, as always)."""
        if self.r <= 0:
            raise InputError(f"--lora-r {self.r}: must be positive")
        if self.alpha <= 0:
            raise InputError(f"--lora-alpha {self.alpha}: must be positive")
        if not 0 <= self.dropout < 1:
            raise InputError(f"--lora-dropout {self.dropout}: must be in [0, 1)")

    def check(self):
        """InputError for bad values, unknown targets or a missing peft, before any data is read."""
        self.check_values()
        unknown = [t for t in self.targets if t not in LORA_TARGETS]
        if unknown or not self.targets:
            raise InputError(f"--lora-targets {','.join(unknown) or '(none)'}: expected some of "
                             f"{', '.join(LORA_TARGETS)}")
        try:
            import peft  # noqa: F401
        except ImportError:
            raise InputError("--lora needs the peft package: pip install 'dnabert2[lora]'") from None


def apply_lora(model, settings):
    """Wrap `model` with peft LoRA on the chosen encoder modules; the pooler and classifier stay fully trainable."""
    from peft import LoraConfig, get_peft_model

    from dnabert2.common.hf import no_peft_future_warnings

    settings.check()
    modules = "|".join(LORA_TARGETS[t].replace(".", r"\.") for t in settings.targets)
    pattern = r".*encoder\.layer\.\d+\.(" + modules + ")"
    config = LoraConfig(r=settings.r, lora_alpha=settings.alpha, lora_dropout=settings.dropout,
                        target_modules=pattern, bias="none", modules_to_save=["classifier", "pooler"])
    with no_peft_future_warnings():
        return get_peft_model(model, config)
