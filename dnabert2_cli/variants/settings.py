"""The options of one score-variants run (`VariantSettings`, each written once as a field), the row statuses and
the methods."""
from dataclasses import dataclass

from dnabert2.common.fields import INPUTS, MODEL, OUTPUTS, RUN, option
from dnabert2.common.outputs import parse_shard
from dnabert2.common.text import parse_names
from dnabert2.errors import InputError
from dnabert2.regions.settings import RegionRun, RegionSource
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
class VariantSettings(RegionSource, RegionRun):
    """The options of `dnabert2 score-variants` / `dnabert2.score_variants`: the rows (a VCF, or every SNV of
    regions), what is computed and how it batches (stored in the file; --resume and merge check them), the
    outputs."""
    vcf: str = option(None, "Variants: VCF (plain or bgzipped) or BCF; every ALT of a record is its own row.",
                      group=INPUTS, path="file")
    ref: str = option(None, "Reference FASTA for --vcf (and for --bed with --saturate): plain, gzip or bgzip, indexed "
                            "or not (a missing or stale index is built; in a read-only folder it goes to the cache, "
                            "see --index-dir).", group=INPUTS, path="file")
    saturate: bool = option(False, "Instead of --vcf: every SNV at every base of each region of --fasta, or --bed "
                                   "with --ref.", group=INPUTS)
    methods: tuple = option(None, "llr, emb or delta; repeat it (or give a comma list) for several", group=MODEL,
                            name="--method", multiple=True,
                            default_text="llr for a masked-LM model, delta for a fine-tuned one")
    context: int = option(DEFAULT_CONTEXT, "bp of reference around each variant (half on each side of the REF "
                                           "allele).", group=MODEL)
    window_step: int = option(DEFAULT_WINDOW_STEP, "REF windows are centred on a grid this many bp apart (the point "
                                                   "nearest the allele), so nearby variants share one; 0 centres "
                                                   "each window on its allele.", group=MODEL)
    flank_tokens: int = option(DEFAULT_FLANK_TOKENS, "llr: changed tokens are masked with this many neighbours on "
                                                     "each side.", group=MODEL)
    max_indel: int = option(DEFAULT_MAX_INDEL, "Longer alleles (beyond the anchor base) are reported as too_long, "
                                               "not scored.", group=MODEL)
    rc_average: bool = option(False, "Average each score over both strands.", group=MODEL, flag="negatable")
    output: str = option(None, "HDF5 file to write (written as OUT.partial.h5 and renamed when complete)  [default: "
                               "INPUT.scores.h5 in the current folder, INPUT being the --vcf, --bed or --fasta "
                               "file's name without its extensions]", group=OUTPUTS, short="-o", path="file")
    tsv: str = option(None, "Also write a table: chrom, pos, id, ref, alt, status and one column per score ('-': "
                            "to standard output).", group=OUTPUTS, path="file", dash=True)
    out_vcf: str = option(None, "Also write the input VCF with the scores as INFO fields (bgzipped, tabix-indexed; "
                                ".vcf.gz).", group=OUTPUTS, path="file")
    plot: str = option(None, "--saturate: a folder of PNG heatmaps, one per region (needs matplotlib).",
                       group=OUTPUTS, path="dir")
    lookahead: int = option(DEFAULT_BLOCK, "Variants (with --saturate: SNVs of a region) read ahead and scored "
                                           "together.", group=RUN)

    @property
    def kind(self):
        return "saturate" if self.saturate else "score-variants"

    @property
    def block(self):
        return self.lookahead

    @property
    def passes(self):
        return 2 if self.rc_average else 1

    def check(self):
        """Check and complete the options before any input is read (InputError for bad values)."""
        self.methods = parse_names(self.methods, METHODS, "--method")
        for name, value, low in (("--context", self.context, 2), ("--window-step", self.window_step, 0),
                                 ("--flank-tokens", self.flank_tokens, 0),
                                 ("--max-indel", self.max_indel, 0), ("--batch-tokens", self.batch_tokens, 1),
                                 ("--lookahead", self.lookahead, 1)):
            if value is None or value < low:
                raise InputError(f"{name} {value}: must be at least {low}")
        self.shard = parse_shard(self.shard)
        return self
