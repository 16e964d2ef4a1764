"""The options of one `pretrain` run (`PretrainSettings`), their defaults and their check.

The fields are the keyword arguments of `dnabert2.pretrain` (and the options of `dnabert2 pretrain`); see
docs/commands/pretrain.md for what each one does.
"""
from dataclasses import dataclass

from dnabert2.errors import InputError

# options that must be whole numbers of at least 1
_AT_LEAST_ONE = ("batch_size", "grad_accum", "max_steps", "max_tokens", "save_every", "log_every")


@dataclass
class PretrainSettings:
    """Everything `pretrain` was asked to do; `check()` refuses bad values before anything is read or written."""
    genomes: list = ()            # FASTA paths (made a list of str); or corpus
    output: str = None
    tokenizer: str = None
    corpus: str = None
    tables: list = ()             # labelled tables whose sequences are the training data (further pretraining)
    model_config: str = None      # a preset name or a JSON config file
    init: str = None              # a model folder to continue from
    genome_weights: list = None
    max_tokens: int = 128
    mlm_probability: float = 0.15
    mask_fraction: float = 0.8
    random_fraction: float = 0.1
    batch_size: int = 32          # per device and micro-batch
    grad_accum: int = 1
    max_steps: int = 10000
    lr: float = 5e-4
    warmup_steps: int = None      # None: 6% of max_steps
    weight_decay: float = 1e-5
    max_grad_norm: float = 1.0    # None: no clipping
    precision: str = "auto"
    device: str = "auto"
    gradient_checkpointing: bool = False
    save_every: int = 1000
    keep_checkpoints: int = 3
    eval_every: int = 500
    eval_fraction: float = 0.01
    eval_samples: int = 512
    log_every: int = 10
    seed: int = 42
    num_workers: int = 2
    threads: int = None
    resume: bool = False
    force: bool = False
    stop_at_step: int = None
    show_progress: bool = False
    report: object = None         # a function given each line to show the user; None: logged at INFO

    def __post_init__(self):
        self.genomes = [str(g) for g in (self.genomes or [])]
        self.tables = [str(t) for t in (self.tables or [])]

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
        if not 0 <= self.eval_fraction < 1:
            raise InputError(f"--eval-fraction: must be in [0, 1) (got {self.eval_fraction})")
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
