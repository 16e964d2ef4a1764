"""The options of one score-variants run that shape its numbers (`VariantSettings`), the row statuses and the
methods, with their defaults and their check."""
from dataclasses import dataclass

from dnabert2.common.outputs import parse_shard
from dnabert2.errors import InputError
from dnabert2.regions.settings import DEFAULT_BATCH_TOKENS
from dnabert2.regions.windows import DEFAULT_LOOKAHEAD
from dnabert2.variants.windows import DEFAULT_WINDOW_STEP

METHODS = ("llr", "emb", "delta")
# why a row is (not) scored; every row gets one
STATUSES = ("ok", "near_end", "ref_mismatch", "unknown_chrom", "symbolic", "too_long")
SCORED = ("ok", "near_end")
DEFAULT_CONTEXT = 300  # bp of REF around the allele: half on each side (about 60 tokens of the released vocabulary)
DEFAULT_FLANK_TOKENS = 1
DEFAULT_MAX_INDEL = 50
DEFAULT_BLOCK = DEFAULT_LOOKAHEAD  # variants (or SNVs of a region, with --saturate) batched together
MAX_SATURATE_BP = 10_000  # --saturate scores every SNV of a region in one window of the whole region


@dataclass
class VariantSettings:
    """What one run computes and how it batches (stored in the file; --resume and merge check them)."""
    methods: tuple = None  # None: llr for a masked-LM folder, delta for a fine-tuned one (settled at load)
    context: int = DEFAULT_CONTEXT
    window_step: int = DEFAULT_WINDOW_STEP
    flank_tokens: int = DEFAULT_FLANK_TOKENS
    max_indel: int = DEFAULT_MAX_INDEL
    rc_average: bool = False
    saturate: bool = False
    batch_tokens: int = DEFAULT_BATCH_TOKENS
    block: int = DEFAULT_BLOCK
    shard: tuple = None  # (k, n)

    @property
    def kind(self):
        return "saturate" if self.saturate else "score-variants"

    @property
    def passes(self):
        return 2 if self.rc_average else 1

    def check(self):
        """Check and complete the options before any input is read (InputError for bad values)."""
        self.methods = parse_methods(self.methods)
        for name, value, low in (("--context", self.context, 2), ("--window-step", self.window_step, 0),
                                 ("--flank-tokens", self.flank_tokens, 0),
                                 ("--max-indel", self.max_indel, 0), ("--batch-tokens", self.batch_tokens, 1),
                                 ("--lookahead", self.block, 1)):
            if value is None or value < low:
                raise InputError(f"{name} {value}: must be at least {low}")
        self.shard = parse_shard(self.shard)
        return self


def parse_methods(methods):
    """None, 'llr,emb' or ['llr', 'emb'] -> a tuple of known method names in the order given (None stays None)."""
    if methods is None:
        return None
    if isinstance(methods, str):
        methods = [methods]
    names = []
    for item in methods:
        for name in str(item).split(","):
            name = name.strip().lower()
            if not name:
                continue
            if name not in METHODS:
                raise InputError(f"--method {name!r}: expected one of {', '.join(METHODS)}")
            if name not in names:
                names.append(name)
    return tuple(names) or None
