"""The options of one `pretrain` run (`PretrainSettings`): each option's default and help written once, as a field
(`dnabert2.common.fields`), and their check.

The fields are the keyword arguments of `dnabert2.pretrain` and the options of `dnabert2 pretrain` (generated from
them); see docs/commands/pretrain.md for what each one does.
"""
from dataclasses import dataclass

from dnabert2.common.fields import INPUTS, MODEL, OUTPUTS, RUN, TRAINING, internal, option
from dnabert2.common.kernels import PackSettings
from dnabert2.common.runtime import DeviceSettings, KernelSettings
from dnabert2.errors import InputError

DEFAULT_OUTPUT = "dnabert2_pretrained"  # the output folder when -o is not given
DEFAULT_CORPUS = "dnabert2_corpus"  # the same with --prepare
# options that must be whole numbers of at least 1
_AT_LEAST_ONE = ("batch_size", "grad_accum", "max_steps", "max_tokens", "save_every", "log_every", "windows")


@dataclass
class PretrainSettings(PackSettings, KernelSettings, DeviceSettings):
    """Everything `pretrain` was asked to do; `check()` refuses bad values before anything is read or written."""
    # inputs: genomes, a prepared corpus or tables (exactly one), and the held-out share
    genomes: list = option((), "Genome FASTA (plain, gzip or bgzip); repeat, or list several after it.",
                           group=INPUTS, name="--genome", metavar="FASTA", multiple=True)
    genome_weights: list = option(None, "Sampling weight per --genome file, in order (default: by usable length).",
                                  group=INPUTS, metavar="W1,W2,...")
    corpus: str = option(None, "Train on a corpus made with --prepare instead.", group=INPUTS, path="dir")
    tables: list = option((), "Further pretraining: train on the sequences of this labelled table (any finetune "
                              "layout); repeat.", group=INPUTS, name="--table", metavar="TABLE", multiple=True)
    heldout_fraction: float = option(0.01, "Share of each genome's bases held out for evaluation.", group=INPUTS,
                                     aliases=("--eval-fraction",))
    eval_samples: int = option(512, "Held-out windows evaluated.", group=INPUTS, minimum=1)
    max_tokens: int = option(128, "Tokens per window, [CLS] and [SEP] included.", group=INPUTS)
    # the model
    tokenizer: str = option(None, "Tokenizer folder", group=MODEL, path="any",
                            default_text="that of --init or --corpus, else the released DNABERT-2 tokenizer")
    model_config: str = option(None, "Architecture of a new model: a preset or a config JSON", group=MODEL,
                               metavar="dnabert2-117m|small|tiny|FILE.json", default_text="dnabert2-117m")
    init: str = option(None, "Start from this model folder instead of random weights.", group=MODEL, path="any")
    # training
    mlm_probability: float = option(0.15, "Share of tokens chosen to predict.", group=TRAINING)
    mask_fraction: float = option(0.8, "Of those: replaced by [MASK].", group=TRAINING)
    random_fraction: float = option(0.1, "Of those: replaced by a random token.", group=TRAINING)
    batch_size: int = option(32, "Windows per micro-batch per device.", group=TRAINING)
    grad_accum: int = option(1, "Micro-batches per optimiser step.", group=TRAINING)
    max_steps: int = option(10000, "Optimiser steps in the whole run.", group=TRAINING)
    lr: float = option(5e-4, "Peak learning rate.", group=TRAINING)
    warmup_steps: int = option(None, "Linear warm-up steps", group=TRAINING, default_text="6% of --max-steps")
    weight_decay: float = option(1e-5, "AdamW weight decay.", group=TRAINING)
    max_grad_norm: float = option(1.0, "Gradient clipping norm.", group=TRAINING)  # None: no clipping
    eval_every: int = option(500, "Held-out loss every N steps (0: never).", group=TRAINING)
    seed: int = option(42, "Seed for initialisation, data and masking.", group=TRAINING)
    # outputs
    output: str = option(None, "Output folder (model, log, checkpoints)", group=OUTPUTS, short="-o", path="any",
                         default_text=f"{DEFAULT_OUTPUT} ({DEFAULT_CORPUS} with --prepare) in the current folder")
    prepare: bool = option(False, "Only tokenise --windows genome windows into a corpus folder (-o).", group=OUTPUTS)
    windows: int = option(100_000, "With --prepare: training windows to write.", group=OUTPUTS, minimum=1)
    save_every: int = option(1000, "Checkpoint every N steps.", group=OUTPUTS)
    keep_checkpoints: int = option(3, "Checkpoints kept (newest).", group=OUTPUTS)
    log_every: int = option(10, "Write a log.jsonl record every N steps.", group=OUTPUTS)
    # run control (and --device, --precision, --threads from DeviceSettings, --attention, --compile from
    # KernelSettings, --pack from PackSettings)
    resume: bool = option(False, "Continue the run in the output folder from its newest checkpoint.", group=RUN)
    stop_at_step: int = option(None, "Checkpoint and stop after this step, resumable later (for jobs with a time "
                                     "limit).", group=RUN)
    force: bool = option(False, "Replace an existing output folder.", group=RUN)
    num_workers: int = option(2, "DataLoader worker processes tokenising and masking (0: in the main process).",
                              group=RUN, name="--workers")
    gradient_checkpointing: bool = option(False, "Recompute activations in backward to save memory.", group=RUN)
    show_progress: bool = internal(False)
    report: object = internal()  # a function given each line to show the user; None: logged at INFO

    def __post_init__(self):
        self.genomes = [str(g) for g in (self.genomes or [])]
        self.tables = [str(t) for t in (self.tables or [])]
        if isinstance(self.genome_weights, str):  # the command line's "W1,W2,..."
            self.genome_weights = parse_weights(self.genome_weights)

    def say(self, line):
        """Tell the user `line` (through `report`, else the log)."""
        if self.report is not None:
            self.report(line)
        else:
            import logging

            logging.getLogger("dnabert2.pretrain").info(line)

    @property
    def warmup(self):
        """Warm-up steps: --warmup-steps, or 6% of max_steps (30k of 500k in the paper)."""
        return self.warmup_steps if self.warmup_steps is not None else int(round(0.06 * self.max_steps))

    @property
    def end_step(self):
        """The step this invocation stops at: max_steps, or --stop-at-step when that comes first."""
        return min(self.max_steps, self.stop_at_step or self.max_steps)

    @property
    def max_norm(self):
        """The gradient-norm clipping threshold (infinite: the norm is measured, nothing clipped)."""
        return self.max_grad_norm if self.max_grad_norm is not None else float("inf")

    def global_batch(self, world_size):
        """Windows per optimisation step over all ranks."""
        return self.batch_size * self.grad_accum * world_size

    def check(self):
        """InputError naming the option for values that cannot work; nothing is read or written before."""
        if self.output is None:
            raise InputError("-o/--output: give the output folder")
        self._check_numbers()
        self._check_sources()
        try:
            from dnabert2.pretraining.masking import MaskingConfig
            MaskingConfig(mask_token_id=4, special_ids=(0, 1, 2, 3, 4), vocab_size=8,
                          mlm_probability=self.mlm_probability, mask_fraction=self.mask_fraction,
                          random_fraction=self.random_fraction)
        except ValueError as e:
            raise InputError(f"--mlm-probability/--mask-fraction/--random-fraction: {e}") from None

    def _check_numbers(self):
        for name in _AT_LEAST_ONE:
            value = getattr(self, name)
            if value is None or value < 1:
                raise InputError(f"--{name.replace('_', '-')}: must be at least 1 (got {value})")
        if self.max_tokens < 3:
            raise InputError(f"--max-tokens: must be at least 3 ([CLS], one token, [SEP]); got {self.max_tokens}")
        if self.lr <= 0:
            raise InputError(f"--lr: must be positive (got {self.lr})")
        if self.warmup_steps is not None and self.warmup_steps < 0:
            raise InputError(f"--warmup-steps: must be 0 or more (got {self.warmup_steps})")
        if not 0 <= self.heldout_fraction < 1:
            raise InputError(f"--heldout-fraction: must be in [0, 1) (got {self.heldout_fraction})")
        if self.eval_every < 0 or self.keep_checkpoints < 1 or self.num_workers < 0:
            raise InputError("--eval-every and --workers must be 0 or more, --keep-checkpoints at least 1")
        if self.max_grad_norm is not None and self.max_grad_norm <= 0:
            raise InputError(f"--max-grad-norm: must be positive (got {self.max_grad_norm})")
        if self.stop_at_step is not None and self.stop_at_step < 1:
            raise InputError(f"--stop-at-step: must be at least 1 (got {self.stop_at_step})")

    def _check_sources(self):
        given = [name for name, value in (("--genome", self.genomes), ("--corpus", self.corpus is not None),
                                          ("--table", self.tables)) if value]
        if not given:
            raise InputError("give --genome FASTA (one or more), --corpus DIR (from `dnabert2 pretrain --prepare`) "
                             "or --table TABLE (one or more)")
        if len(given) > 1:
            raise InputError(f"give one of {' or '.join(given)}, not several")
        if self.genome_weights is not None and not self.genomes:
            raise InputError("--genome-weights applies to --genome files only")
        if self.init is not None and self.model_config is not None:
            raise InputError("give either --model-config (a new model) or --init (continue from a model), not both")
        if self.prepare and not self.genomes:
            raise InputError("--prepare reads --genome files; " + ("--table trains on the tables directly"
                                                                   if self.tables else "--corpus is prepared already"))


def parse_weights(text):
    """'1,3' -> [1.0, 3.0] (--genome-weights)."""
    try:
        return [float(w) for w in text.split(",")]
    except ValueError:
        raise InputError(f"--genome-weights {text!r}: expected comma-separated numbers, one per --genome "
                         "file") from None
