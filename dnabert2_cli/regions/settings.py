"""The options of `embed`, `predict` and `merge`, each written once as a field (`dnabert2.common.fields`): the parts
every region command shares (`RegionSource`: where regions come from; `Tiling`: windows and strands; `RegionRun`:
model, output and run control) and one settings dataclass per command (`EmbedSettings`, `PredictSettings`,
`MergeSettings`) that the command line is made from and the library runs on."""
from dataclasses import dataclass
from typing import ClassVar

from dnabert2.common.fields import INPUTS, MODEL, OUTPUTS, RUN, internal, option
from dnabert2.common.runtime import DeviceSettings, KernelSettings
from dnabert2.common.outputs import parse_shard
from dnabert2.errors import InputError
from dnabert2.regions.windows import DEFAULT_LOOKAHEAD, DEFAULT_WINDOW, check_tiling

# mean: over the real tokens; mean-all: over every token, [CLS] and [SEP] included (the DNABERT-2 release README's
# recipe); max: over the real tokens; cls: the [CLS] vector; none: every real token's vector; per-base (embed
# --per-base): for every base, the vector of the token covering it (docs/commands/embed.md)
POOLINGS = ("mean", "mean-all", "max", "cls", "none", "per-base")
UNPOOLED = ("none", "per-base")  # vectors go to /tokens, row by row
DEFAULT_BATCH_TOKENS = 16384  # padded tokens per model call (real tokens in a packed one)
NONE_LOOKAHEAD = 128  # --pooling none keeps a block's token vectors in memory: fewer windows per block
PER_BASE_LOOKAHEAD = 16  # --per-base keeps a block's base vectors (about 5 per token): fewer still


WINDOW_HELP = "Window length in bp; longer regions are tiled and their windows combined."
RC_AVERAGE_HELP = "Average the region's and its reverse complement's outputs."
# the model each command runs when --model is not given (dnabert2.shipped)
MODEL_HELP = ("Model folder (from `dnabert2 pretrain`/`finetune`, or the DNABERT-2-117M release)  [default: the "
              "model shipped in the package: {shipped}]")


def _output_help(suffix):
    return ("HDF5 file to write (written as OUT.partial.h5 and renamed when complete)  [default: "
            f"INPUT.{suffix}.h5 in the current folder, INPUT being the input file's name without its extensions]")


@dataclass
class RegionSource:
    """Where regions come from: `regions` (in memory, Python API), `fasta`, or `bed` with `ref` (exactly one)."""
    fasta: str = option(None, "FASTA file (plain, gzip or bgzip): each record is a region.", group=INPUTS,
                        path="file")
    bed: str = option(None, "BED3-BED12 file (gzip allowed; 0-based, half-open; column 6 '-' = reverse complement).",
                      group=INPUTS, path="file")
    ref: str = option(None, "Reference FASTA for --bed: plain, gzip or bgzip, indexed or not (a missing or stale "
                            "index is built; in a read-only folder it goes to the cache, see --index-dir).",
                      group=INPUTS, path="file")
    clip: bool = option(False, "Clip regions that run past a chromosome end instead of failing.", group=INPUTS)
    resize: int = option(None, "Use a window of this many bp centred on each region instead of the region.",
                         group=INPUTS)
    index_dir: str = option(None, "Where the index of a --ref in a read-only folder (and the bgzip copy of a gzip "
                                  "--ref) is kept", group=INPUTS, path="dir",
                            default_text="$DNABERT2_CACHE, else ~/.cache/dnabert2")
    regions: object = internal()  # sequence strings, (name, sequence) pairs or Regions (Python API)


@dataclass
class Tiling:
    """How a region is cut into windows for the model, and whether both strands are read."""
    window: int = option(DEFAULT_WINDOW, WINDOW_HELP, group=INPUTS)
    stride: int = option(None, "Step between windows in bp (default: --window).", group=INPUTS)
    rc_average: bool = option(False, RC_AVERAGE_HELP, group=INPUTS, flag="negatable")


@dataclass
class RunControl(DeviceSettings):
    """How a run over regions batches, shards, resumes and overwrites (embed, predict, score-variants, attribute)."""
    batch_tokens: int = option(DEFAULT_BATCH_TOKENS, "Tokens per model call: padded ones (rows x longest row), or "
                                                     "real ones where calls are packed (--attention flex or "
                                                     "flash_attention_2); lower it when memory is short.", group=RUN)
    shard: str = option(None, "K/N: process every N-th region from K (0-based); join the files with `dnabert2 "
                              "merge`.", group=RUN)
    resume: bool = option(False, "Continue an interrupted run from OUT.partial.h5.", group=RUN)
    force: bool = option(False, "Overwrite OUT (and any partial file) if it exists.", group=RUN)
    show_progress: bool = internal(False)
    command_line: str = internal()  # stored in the file for provenance


@dataclass
class RegionRun(KernelSettings, RunControl):
    """The model of a run, how it computes (--attention, --compile), its output, and how far it reads ahead (embed,
    predict, score-variants)."""
    model: str = option(None, MODEL_HELP.format(shipped="pretrained"), group=MODEL, short="-m")
    output: str = option(None, _output_help("embeddings"), group=OUTPUTS, short="-o", path="file")
    lookahead: int = option(DEFAULT_LOOKAHEAD, "Windows read ahead and sorted by length together.", group=RUN)
    # packed model calls (rows laid end to end, batches of --batch-tokens real tokens): None where the attention
    # backend works on the token matrix (flex, flash_attention_2), True or False to force it (tests, bench)
    pack: bool = internal()


@dataclass
class EmbedSettings(RegionSource, Tiling, RegionRun):
    """The options of `dnabert2 embed` / `dnabert2.embed`."""
    kind: ClassVar[str] = "embed"
    pooling: str = option("mean", "mean: over the real tokens (no [CLS], [SEP], padding); mean-all: over all "
                                  "tokens, [CLS] and [SEP] included (the DNABERT-2 README's recipe); max: over the "
                                  "real tokens; cls: the [CLS] vector; none: every real token's vector.",
                          group=OUTPUTS, choices=POOLINGS[:-1])
    layer: int = option(-1, "Hidden layer to pool: 0 = embeddings output, 1..L, or negative from the top "
                            "(-1 = last).", group=MODEL)
    half_output: bool = option(False, "Store vectors as float16 (half the file size).", group=OUTPUTS)
    per_base: bool = option(False, "Instead of pooling: one vector per base (the covering token's), under /tokens; "
                                   "see docs/hdf5.md.", group=OUTPUTS)

    def check(self):
        if self.per_base and self.pooling not in ("mean", "per-base"):
            raise InputError(f"--per-base writes every base's vector: it takes no --pooling ({self.pooling})")
        if self.per_base:
            self.pooling = "per-base"
        check_region_settings(self)


@dataclass
class PredictSettings(RegionSource, Tiling, RegionRun):
    """The options of `dnabert2 predict` / `dnabert2.predict`. --window and --rc-average left as None take the
    model's own (`loading.predict_defaults`), else DEFAULT_WINDOW and one strand."""
    kind: ClassVar[str] = "predict"
    pooling: ClassVar[str] = "mean"  # predict reads the classifier's head on the last layer, stores float32
    layer: ClassVar[int] = -1
    half_output: ClassVar[bool] = False
    window: int = option(None, WINDOW_HELP, group=INPUTS,
                         default_text="from the model's config.json (task_specific_params.predict; the shipped "
                                      f"promoter classifier's: 300), else {DEFAULT_WINDOW}")
    rc_average: bool = option(None, RC_AVERAGE_HELP,
                              group=INPUTS, flag="negatable",
                              default_text="from the model's config.json (task_specific_params.predict; the shipped "
                                           "promoter classifier's: on), else off")
    model: str = option(None, MODEL_HELP.format(shipped="the promoter classifier"), group=MODEL, short="-m")
    output: str = option(None, _output_help("predictions"), group=OUTPUTS, short="-o", path="file")
    tsv: str = option(None, "Also write a table of the predictions (a BED6+ file when the name ends in .bed; '-': "
                            "to standard output, for a pipe).", group=OUTPUTS, path="file", dash=True)

    def check(self):
        check_region_settings(self)


@dataclass
class MergeSettings:
    """The options of `dnabert2 merge` / `dnabert2.merge`."""
    output: str = option(None, "HDF5 file to write (must not exist unless --force).", group=OUTPUTS, short="-o",
                         path="file", required=True)
    force: bool = option(False, "Overwrite the output if it exists.", group=RUN)
    block_rows: int = internal(65536)  # rows copied at a time


def check_region_settings(s):
    """Check and complete the options of an embed or predict run before any input is read (InputError)."""
    if s.pooling not in POOLINGS:
        raise InputError(f"--pooling {s.pooling!r}: expected one of {', '.join(POOLINGS)}")
    s.stride = check_tiling(s.window, s.stride)
    unpooled = s.kind == "embed" and s.pooling in UNPOOLED
    what = "--per-base" if s.pooling == "per-base" else "--pooling none"
    if s.rc_average and unpooled:
        raise InputError(f"--rc-average cannot be combined with {what} (per-token vectors of the two "
                         "strands do not line up); pool the vectors or drop --rc-average")
    if s.pooling == "per-base" and s.stride != s.window:
        raise InputError(f"--per-base gives every base one vector: windows must not overlap (--stride "
                         f"{s.stride} is below --window {s.window}); drop --stride")
    if s.batch_tokens < 1:
        raise InputError(f"--batch-tokens {s.batch_tokens}: must be at least 1")
    if s.lookahead < 1:
        raise InputError(f"--lookahead {s.lookahead}: must be at least 1 window")
    if unpooled:
        s.lookahead = min(s.lookahead, PER_BASE_LOOKAHEAD if s.pooling == "per-base" else NONE_LOOKAHEAD)
    s.shard = parse_shard(s.shard)
