"""The options of `finetune` and `benchmark gue`, each written once as a field (`dnabert2.common.fields`): the parts
both commands share (`StartModel`: the model trained from; `LoraFields`; `RunSize`: batch, seeds and the row caps
of quick runs; `DeviceSettings`) and one settings dataclass per command (`FinetuneSettings`, `GueSettings`) that
the command line is made from and the library runs on; their checks, and the step schedule they imply."""
import math
from dataclasses import dataclass, fields

from dnabert2.common.fields import INPUTS, MODEL, OUTPUTS, RUN, TRAINING, internal, option, split_joined
from dnabert2.common.kernels import PackSettings
from dnabert2.common.runtime import DeviceSettings, KernelSettings
from dnabert2.errors import InputError
from dnabert2.finetuning.lora import LORA_TARGETS, LoraSettings

CLASS_WEIGHTS = ("none", "balanced")
TASKS = ("auto", "classification", "regression", "multilabel")


@dataclass
class StartModel:
    """The model a run fine-tunes: a folder, a hub id, or a preset for a random initialisation."""
    model: str = option(None, "Model to start from: a model folder (from `dnabert2 pretrain`, or the DNABERT-2-117M "
                              "release), a hub id, or a preset (tiny, small, dnabert2-117m) for a random "
                              "initialisation of that architecture with the released tokenizer (a folder of that "
                              "name wins).", group=MODEL,
                        short="-m", default_text="the model shipped in the package: pretrained")

    def check_start_model(self):
        """InputError, before any table is read, for a --model that is neither a preset, nor a path that exists,
        nor a hub id (owner/name)."""
        from pathlib import Path

        from dnabert2.model import PRESETS

        if self.model is None or is_preset(self.model) or Path(self.model).exists() or "/" in str(self.model):
            return
        raise InputError(f"--model {self.model}: neither a model folder nor a preset ({', '.join(PRESETS)})")


@dataclass
class LoraFields:
    """--lora and its settings; `lora_targets` is given as 'Wqkv,wo' and held as a tuple."""
    lora: bool = option(False, "Train LoRA adapters (peft) instead of all weights; pooler and classifier train "
                               "fully.", group=MODEL)
    lora_targets: tuple = option(("Wqkv",), f"Comma-separated modules of every layer to adapt: "
                                            f"{', '.join(LORA_TARGETS)}.", group=MODEL, separator=",")
    lora_r: int = option(8, "LoRA rank.", group=MODEL)
    lora_alpha: int = option(16, "LoRA scaling alpha.", group=MODEL)
    lora_dropout: float = option(0.05, "LoRA dropout.", group=MODEL)

    def __post_init__(self):
        split_joined(self)

    def lora_values(self):
        return LoraSettings(self.lora_targets, self.lora_r, self.lora_alpha, self.lora_dropout)

    def lora_settings(self):
        """The LoRA settings of this run, or None without --lora."""
        return self.lora_values() if self.lora else None

    def check_lora(self):
        """InputError for LoRA values out of range (checked even without --lora, as always), LoRA options without
        --lora, unknown targets or a missing peft."""
        if not isinstance(self.lora, bool):
            raise TypeError(f"lora={self.lora!r}: give True or False, and lora_targets=, lora_r=, lora_alpha=, "
                            "lora_dropout= as keywords of their own")
        self.lora_values().check_values()
        default = next(f.default for f in fields(LoraFields) if f.name == "lora_targets")
        if self.lora_targets != default and not self.lora:
            raise InputError("--lora-targets needs --lora")
        if self.lora:
            self.lora_values().check()


@dataclass
class RunSize:
    """Batch size, seeds and the row caps that shrink a run for a quick test."""
    batch_size: int = option(32, "Examples per optimiser step.", group=TRAINING, minimum=1)
    seeds: int = option(1, "Train this many seeds; metrics.json reports mean and standard deviation.",
                        group=TRAINING, minimum=1)
    seed: int = option(42, "First seed; seeds are SEED, SEED+1, ...", group=TRAINING)
    max_train_rows: int = option(None, "Use a random subset of this many training rows (for quick runs).",
                                 group=INPUTS, minimum=2)
    max_eval_rows: int = option(None, "Use a random subset of this many dev and test rows (for quick runs).",
                                group=INPUTS, minimum=1)

    def check_run_size(self):
        for name, value, least in (("--batch-size", self.batch_size, 1), ("--seeds", self.seeds, 1),
                                   ("--max-train-rows", self.max_train_rows, 2),
                                   ("--max-eval-rows", self.max_eval_rows, 1)):
            if value is not None and value < least:
                raise InputError(f"{name} {value}: must be at least {least}")


@dataclass
class TableInputs:
    """The labelled tables of a fine-tuning run: a folder of them, or each one named."""
    data: str = option(None, "Folder holding train, dev and optionally test .csv/.tsv tables.", group=INPUTS,
                       path="dir")
    train: str = option(None, "Training table.", group=INPUTS, path="file")
    dev: str = option(None, "Validation table (evaluated every --eval-every steps; picks the best checkpoint).",
                      group=INPUTS, path="file")
    test: str = option(None, "Test table.", group=INPUTS, path="file")
    task: str = option("auto", "auto: several label columns -> multilabel, integers or names -> classification, "
                               "other numbers -> regression.", group=INPUTS, choices=TASKS)


@dataclass
class FinetuneSettings(LoraFields, StartModel, RunSize, TableInputs, PackSettings, KernelSettings, DeviceSettings):
    """The options of `dnabert2 finetune` / `dnabert2.finetune`, checked before any data is read. (A dataclass
    lists the fields of its last base first: the bases are in the reverse of the order --help shows them.)"""
    output: str = option(None, "Output folder (required): a model folder plus metrics.json, predictions.tsv (must "
                               "not exist unless --force; built in OUT.partial/ while training, see --resume).",
                         group=OUTPUTS, short="-o", path="dir")
    epochs: float = option(None, "Passes over the training data (default 3).", group=TRAINING)
    max_steps: int = option(None, "Stop after this many optimiser steps (with --epochs: whichever comes first).",
                            group=TRAINING, minimum=1)
    lr: float = option(3e-5, "Peak learning rate (AdamW).", group=TRAINING)
    warmup_steps: int = option(50, "Linear warm-up steps, then linear decay to 0.", group=TRAINING, minimum=0)
    weight_decay: float = option(0.01, "AdamW weight decay.", group=TRAINING)
    max_grad_norm: float = option(1.0, "Gradient clipping norm (the Python API's None: no clipping).",
                                  group=TRAINING)
    eval_every: int = option(200, "Evaluate on dev every N steps (and at the end).", group=TRAINING, minimum=1)
    select_metric: str = option("loss", "Keep the checkpoint with the best dev value of: loss, accuracy, f1, mcc, "
                                        "precision, recall (regression: pearson, spearman, r2, mse).",
                                group=TRAINING)
    patience: int = option(None, "Stop early after this many evaluations without dev improvement.", group=TRAINING,
                           minimum=1)
    class_weights_mode: str = option("none", "balanced: weight the loss by inverse class frequency.",
                                     group=TRAINING, choices=CLASS_WEIGHTS, name="--class-weights")
    max_tokens: int = option(None, "Max tokens per example, [CLS] and [SEP] included (default: the longest "
                                   "training example).", group=TRAINING, minimum=3, aliases=("--max-length",))
    save_adapter: bool = option(False, "With --lora: save the adapter (adapter/) instead of merged weights.",
                                group=OUTPUTS)
    resume: bool = option(False, "Continue an interrupted run from OUT.partial/ (the seed and step of its last "
                                 "evaluation).", group=RUN)
    force: bool = option(False, "Replace the output folder (and any partial run) if it exists.", group=RUN)
    save_model: bool = internal(True)   # False: metrics and predictions only (benchmark runs)
    checkpoint: bool = internal(True)   # False: no OUT.partial/ to resume from (benchmark runs)
    quiet: bool = internal(True)        # no progress bar

    def check(self):
        """InputError for an option out of range or options that contradict each other."""
        if self.output is None:
            raise InputError("-o/--output: give the output folder")
        checks = [
            (self.epochs is not None and self.epochs <= 0, f"--epochs {self.epochs}: must be positive"),
            (self.max_steps is not None and self.max_steps <= 0, f"--max-steps {self.max_steps}: must be positive"),
            (not self.lr > 0, f"--lr {self.lr}: must be positive"),
            (self.warmup_steps < 0, f"--warmup-steps {self.warmup_steps}: must be 0 or more"),
            (self.weight_decay < 0, f"--weight-decay {self.weight_decay}: must be 0 or more"),
            (self.max_grad_norm is not None and not self.max_grad_norm > 0,
             f"--max-grad-norm {self.max_grad_norm}: must be positive"),
            (self.eval_every <= 0, f"--eval-every {self.eval_every}: must be positive"),
            (self.patience is not None and self.patience <= 0, f"--patience {self.patience}: must be positive"),
            (self.max_tokens is not None and self.max_tokens < 3,
             f"--max-tokens {self.max_tokens}: must be at least 3 tokens"),
            (self.class_weights_mode not in (None, *CLASS_WEIGHTS),
             f"--class-weights {self.class_weights_mode!r}: expected none or balanced"),
            (self.resume and self.force, "--resume and --force contradict each other: give one"),
        ]
        for bad, message in checks:
            if bad:
                raise InputError(message)
        self.check_run_size()
        self.check_lora()
        self.check_start_model()
        if self.save_adapter and not self.lora:
            raise InputError("--save-adapter needs --lora")
        if self.save_adapter and is_preset(self.model):
            raise InputError(f"--save-adapter with --model {self.model}: an adapter needs its base model to load, "
                             "and a preset is a random initialisation that is not saved; drop --save-adapter (the "
                             "merged weights are saved)")

    def clip_norm(self):
        """The gradient clipping norm (no clipping: infinity)."""
        return float("inf") if self.max_grad_norm is None else self.max_grad_norm

    def schedule(self, train_rows):
        """(total optimiser steps, epochs to loop over) for this many training rows."""
        steps_per_epoch = math.ceil(train_rows / self.batch_size)
        if self.max_steps is not None and self.epochs is None:
            return self.max_steps, math.ceil(self.max_steps / steps_per_epoch)
        epochs = 3 if self.epochs is None else self.epochs
        epoch_steps = math.ceil(epochs * steps_per_epoch)
        total = epoch_steps if self.max_steps is None else min(self.max_steps, epoch_steps)
        return total, math.ceil(epochs)


@dataclass
class GueInputs:
    """Where the GUE datasets are, and which of them to run."""
    data: str = option(None, "The GUE folder (or any part of it; required): every folder holding train/dev/test "
                             "tables is a dataset.", group=INPUTS, path="dir")
    tasks: tuple = option(None, "Comma-separated glob patterns on dataset names, e.g. 'prom/*,tf/0' (default: all).",
                          group=INPUTS, separator=",")


@dataclass
class GueSettings(LoraFields, StartModel, RunSize, GueInputs, PackSettings, KernelSettings, DeviceSettings):
    """The options of `dnabert2 benchmark gue` / `dnabert2.benchmark_gue`."""
    output: str = option(None, "Folder for results.tsv, results.json and runs/ (required; must not exist unless "
                               "--force).",
                         group=OUTPUTS, short="-o", path="dir")
    max_steps: int = option(None, "Cap every dataset's steps (for smoke tests; the paper's epochs apply otherwise).",
                            group=TRAINING, minimum=1)
    keep_models: bool = option(False, "Save each fine-tuned model under runs/ (large).", group=OUTPUTS)
    force: bool = option(False, "Replace the output folder if it exists.", group=RUN)
    quiet: bool = internal(True)

    def check(self):
        if self.data is None:
            raise InputError("--data: give the GUE folder")
        if self.output is None:
            raise InputError("-o/--output: give the output folder")
        if self.max_steps is not None and self.max_steps <= 0:
            raise InputError(f"--max-steps {self.max_steps}: must be positive")
        self.check_run_size()
        self.check_lora()
        self.check_start_model()


def is_preset(model):
    """Whether `model` names an architecture preset of `dnabert2.model` (tiny, small, dnabert2-117m), for a random
    initialisation. A folder of that name in the current folder wins (`dnabert2 convert DNABERT-2-117M -o
    dnabert2-117m` makes one), so that a converted model is never silently replaced by random weights; the
    summary line names which was used."""
    from pathlib import Path

    from dnabert2.model import PRESETS

    return isinstance(model, str) and model in PRESETS and not Path(model).exists()


def shared_options(settings, *parts):
    """{field: value} of the fields of the shared `parts` (e.g. RunSize, LoraFields) in `settings`: what a
    benchmark hands on to each of its fine-tuning runs."""
    return {f.name: getattr(settings, f.name) for part in parts for f in fields(part)}
