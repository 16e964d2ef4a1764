"""The options of a fine-tuning run (`FinetuneSettings`): their defaults, their checks, and the step schedule they imply."""
import math
from dataclasses import dataclass

from dnabert2.errors import InputError
from dnabert2.finetuning.lora import LORA_DEFAULTS, LoraSettings


@dataclass
class FinetuneSettings:
    """The options of a fine-tuning run (see `finetune`), checked before any data is read."""
    epochs: float = None             # passes over train; None with max_steps None means 3
    max_steps: int = None            # optimiser steps; with epochs, whichever ends first
    batch_size: int = 32
    lr: float = 3e-5                 # peak learning rate after the warm-up
    warmup_steps: int = 50
    weight_decay: float = 0.01
    eval_every: int = 200            # dev evaluation interval in steps (and at the end)
    select_metric: str = "loss"      # dev metric that picks the checkpoint (loss: lowest, others: highest, mse lowest)
    patience: int = None             # stop after this many evaluations without improvement
    class_weights_mode: str = "none"  # none | balanced
    max_length: int = None           # tokens per example; None: the longest training example
    lora: bool = False
    lora_targets: tuple = LORA_DEFAULTS.targets
    lora_r: int = LORA_DEFAULTS.r
    lora_alpha: int = LORA_DEFAULTS.alpha
    lora_dropout: float = LORA_DEFAULTS.dropout
    save_adapter: bool = False       # with lora: write the adapter instead of merged weights
    seeds: int = 1                   # runs with seeds seed, seed + 1, ...
    seed: int = 42
    max_train_rows: int = None       # random subsets for quick runs
    max_eval_rows: int = None
    save_model: bool = True          # False: metrics and predictions only (benchmark runs)

    def check(self):
        checks = [
            (self.epochs is not None and self.epochs <= 0, f"--epochs {self.epochs}: must be positive"),
            (self.max_steps is not None and self.max_steps <= 0, f"--max-steps {self.max_steps}: must be positive"),
            (self.batch_size <= 0, f"--batch-size {self.batch_size}: must be positive"),
            (not self.lr > 0, f"--lr {self.lr}: must be positive"),
            (self.warmup_steps < 0, f"--warmup-steps {self.warmup_steps}: must be 0 or more"),
            (self.weight_decay < 0, f"--weight-decay {self.weight_decay}: must be 0 or more"),
            (self.eval_every <= 0, f"--eval-every {self.eval_every}: must be positive"),
            (self.patience is not None and self.patience <= 0, f"--patience {self.patience}: must be positive"),
            (self.seeds <= 0, f"--seeds {self.seeds}: must be positive"),
            (self.max_length is not None and self.max_length < 3,
             f"--max-length {self.max_length}: must be at least 3 tokens"),
            (self.class_weights_mode not in (None, "none", "balanced"),
             f"--class-weights {self.class_weights_mode!r}: expected none or balanced"),
        ]
        for bad, message in checks:
            if bad:
                raise InputError(message)
        self._lora_values().check_values()
        if self.save_adapter and not self.lora:
            raise InputError("--save-adapter needs --lora")
        if self.lora:
            self._lora_values().check()

    def _lora_values(self):
        return LoraSettings(self.lora_targets, self.lora_r, self.lora_alpha, self.lora_dropout)

    def lora_settings(self):
        """The LoRA settings of this run, or None without --lora."""
        return self._lora_values() if self.lora else None

    def schedule(self, train_rows):
        """(total optimiser steps, epochs to loop over) for this many training rows."""
        steps_per_epoch = math.ceil(train_rows / self.batch_size)
        if self.max_steps is not None and self.epochs is None:
            return self.max_steps, math.ceil(self.max_steps / steps_per_epoch)
        epochs = 3 if self.epochs is None else self.epochs
        epoch_steps = math.ceil(epochs * steps_per_epoch)
        total = epoch_steps if self.max_steps is None else min(self.max_steps, epoch_steps)
        return total, math.ceil(epochs)


def lora_fields(lora):
    """None or LoraSettings (or, as the Python API always took, a dict of its fields) -> the flat `FinetuneSettings`
    fields that `finetune` takes: lora, lora_targets, lora_r, lora_alpha, lora_dropout."""
    if not lora:
        return {"lora": False}
    if isinstance(lora, dict):
        lora = LoraSettings(**lora)
    return {"lora": True, "lora_targets": list(lora.targets), "lora_r": lora.r, "lora_alpha": lora.alpha,
            "lora_dropout": lora.dropout}
