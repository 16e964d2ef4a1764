"""The options of one embed or predict run as typed objects: `RegionSettings` (those that shape its numbers, with their
defaults and their check), `RegionInputs` (where the regions come from) and `Job` (model, output, run control)."""
from dataclasses import dataclass

from dnabert2.common.outputs import parse_shard
from dnabert2.errors import InputError
from dnabert2.regions.windows import DEFAULT_LOOKAHEAD, DEFAULT_WINDOW, check_tiling

# mean: over the real tokens; mean-all: over every token, [CLS] and [SEP] included (the DNABERT-2 release README's
# recipe); max: over the real tokens; cls: the [CLS] vector; none: every real token's vector; per-base (embed
# --per-base): for every base, the vector of the token covering it (docs/commands/embed.md)
POOLINGS = ("mean", "mean-all", "max", "cls", "none", "per-base")
UNPOOLED = ("none", "per-base")  # vectors go to /tokens, row by row
DEFAULT_BATCH_TOKENS = 16384  # padded tokens per model call
NONE_LOOKAHEAD = 128  # --pooling none keeps a block's token vectors in memory: fewer windows per block
PER_BASE_LOOKAHEAD = 16  # --per-base keeps a block's base vectors (about 5 per token): fewer still


@dataclass
class RegionSettings:
    """The options of one run that shape its numbers (stored in the file; --resume and merge check them)."""
    kind: str  # "embed" or "predict"
    pooling: str = "mean"
    layer: int = -1
    window: int = DEFAULT_WINDOW
    stride: int = None
    resize: int = None
    clip: bool = False
    rc_average: bool = False
    half_output: bool = False
    batch_tokens: int = DEFAULT_BATCH_TOKENS
    lookahead: int = DEFAULT_LOOKAHEAD
    shard: tuple = None  # (k, n)

    def check(self):
        """Check and complete the options before any input is read (InputError for bad values)."""
        if self.pooling not in POOLINGS:
            raise InputError(f"--pooling {self.pooling!r}: expected one of {', '.join(POOLINGS)}")
        self.stride = check_tiling(self.window, self.stride)
        unpooled = self.kind == "embed" and self.pooling in UNPOOLED
        what = "--per-base" if self.pooling == "per-base" else "--pooling none"
        if self.rc_average and unpooled:
            raise InputError(f"--rc-average cannot be combined with {what} (per-token vectors of the two "
                             "strands do not line up); pool the vectors or drop --rc-average")
        if self.pooling == "per-base" and self.stride != self.window:
            raise InputError(f"--per-base gives every base one vector: windows must not overlap (--stride "
                             f"{self.stride} is below --window {self.window}); drop --stride")
        if self.batch_tokens < 1:
            raise InputError(f"--batch-tokens {self.batch_tokens}: must be at least 1")
        if self.lookahead < 1:
            raise InputError(f"--lookahead {self.lookahead}: must be at least 1 window")
        if unpooled:
            self.lookahead = min(self.lookahead, PER_BASE_LOOKAHEAD if self.pooling == "per-base" else NONE_LOOKAHEAD)
        self.shard = parse_shard(self.shard)


@dataclass(frozen=True)
class RegionInputs:
    """Where the regions come from: `regions` (in memory), `fasta`, or `bed` with `ref` (exactly one way)."""
    regions: object = None  # sequence strings, (name, sequence) pairs or Regions
    fasta: str = None
    bed: str = None
    ref: str = None
    index_dir: str = None  # where a reference's index goes when its folder is read-only (None: the cache)


@dataclass(frozen=True)
class Job:
    """What one run uses and where it writes: the model, the output, device and precision, and run control."""
    model: object = None  # a model folder, a hub id, or a (model, tokenizer) pair
    output: object = None  # the .h5 path; None: the arrays are returned
    device: str = "auto"
    precision: str = "auto"
    resume: bool = False
    force: bool = False
    threads: int = None
    show_progress: bool = False
    command_line: str = None  # stored in the file for provenance
