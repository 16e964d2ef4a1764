"""The options of `dnabert2 attribute` (`AttributeSettings`) and `dnabert2 motifs` (`MotifSettings`), each a field
with its default and its help, and their checks.

A field's `metadata["help"]` is the option's help text; the command line is written from these fields."""
from dataclasses import dataclass, field

from dnabert2.errors import InputError
from dnabert2.regions.settings import DEFAULT_BATCH_TOKENS, parse_shard
from dnabert2.variants.settings import MAX_SATURATE_BP

# ism: in-silico saturation mutagenesis; ig: integrated gradients; grad-x-input: one step of it; attention: the
# [CLS] row of one layer (docs/commands/attribute.md)
METHODS = ("ism", "ig", "grad-x-input", "attention")
GRADIENT_METHODS = ("ig", "grad-x-input")
BASELINES = ("mask", "mean")  # every real token's embedding replaced by [MASK]'s, or by the vocabulary's mean
DEFAULT_STEPS = 64  # integration steps of ig: the attributions add up to f(x) - f(baseline) within 1% (tests)
# every method reads a region as one model input, as score-variants --saturate does (whose engine ism runs on):
# attributions of separate windows would not add up to one prediction
MAX_REGION_BP = MAX_SATURATE_BP
DEFAULT_MAX_SEQLETS = 2000  # per sign, as TF-MoDISco's command line is usually run
DEFAULT_JASPAR = "JASPAR2024"


def _option(default, help):
    """A field that is also a command-line option (its help in the metadata)."""
    return field(default=default, metadata={"help": help})


def _internal(default=None):
    """A field only the Python API sets."""
    return field(default=default, metadata={"internal": True})


@dataclass
class AttributeSettings:
    """Everything one `attribute` run takes; `check()` completes and checks it before any input is read."""
    # where the regions come from (as embed and predict read them)
    fasta: str = _option(None, "FASTA file (plain, gzip or bgzip): each record is a region.")
    bed: str = _option(None, "BED3-BED12 file (gzip allowed; 0-based, half-open; column 6 '-' = reverse "
                             "complement).")
    ref: str = _option(None, "Reference FASTA for --bed (indexed or not; a missing or stale index is built).")
    clip: bool = _option(False, "Clip regions that run past a chromosome end instead of failing.")
    resize: int = _option(None, "Use a window of this many bp centred on each region instead of the region.")
    index_dir: str = _option(None, "Where the index of a --ref in a read-only folder is kept  [default: "
                                   "$DNABERT2_CACHE, else ~/.cache/dnabert2]")
    regions: object = _internal()  # in-memory regions: sequence strings, (name, sequence) pairs or Regions
    # what is explained, and how
    model: object = _option(None, "Model folder: a fine-tuned classifier or regressor (from `dnabert2 finetune`), "
                                  "or a masked-LM model (ism then gives each SNV's llr).")
    methods: tuple = _option(None, "ism, ig, grad-x-input, attention; repeat it (or a comma list) for several  "
                                   "[default: ig for a fine-tuned model, ism for a masked-LM one]")
    target: object = _option(None, "The class (name or number) or regression output to explain  [default: the "
                                   "last class of a binary classifier, the only output of a regressor]")
    baseline: str = _option("mask", "ig and grad-x-input: the reference input, every real token's embedding "
                                     "replaced by [MASK]'s (mask) or by the vocabulary's mean embedding (mean).")
    steps: int = _option(DEFAULT_STEPS, "ig: integration steps (Gauss-Legendre).")
    layer: int = _option(-1, "attention: the layer whose [CLS] row is read, 1..L or negative from the top.")
    rc_average: bool = _option(False, "Average each map with the reverse complement's, mapped back to the "
                                      "region's strand.")
    # outputs
    output: str = _option(None, "HDF5 file to write (OUT.partial.h5 until complete; resumable).")
    npz: str = _option(None, "Also write a folder of .npz arrays TF-MoDISco reads: ohe.npz and METHOD.npz, "
                             "[regions, 4, length] (regions of one length).")
    bigwig: str = _option(None, "Also write a folder with one bigWig track per method (--bed input).")
    plot: str = _option(None, "Also write a folder with one PNG per region: the contribution logos.")
    # run control
    batch_tokens: int = _option(DEFAULT_BATCH_TOKENS, "Padded tokens per model call (lower it when memory is "
                                                       "short).")
    shard: object = _option(None, "K/N: attribute every N-th region from K (0-based); join the files with "
                                  "`dnabert2 merge`.")
    resume: bool = _option(False, "Continue an interrupted run from OUT.partial.h5.")
    force: bool = _option(False, "Overwrite the outputs if they exist.")
    device: str = _option("auto", "auto, cpu, cuda or cuda:N (auto picks CUDA when present).")
    precision: str = _option("auto", "auto, fp32, bf16 or fp16 (auto: bf16 where the device computes it "
                                     "natively, else fp32).")
    threads: int = _option(None, "CPU threads (default: all cores).")
    show_progress: bool = _internal(False)  # a progress bar on stderr
    command_line: str = _internal()  # stored in the file for provenance

    @property
    def passes(self):
        """Strand passes: 2 with --rc-average."""
        return 2 if self.rc_average else 1

    def check(self):
        """Check and complete the options before any input is read (InputError for bad values)."""
        self.methods = parse_methods(self.methods)
        if self.baseline not in BASELINES:
            raise InputError(f"--baseline {self.baseline!r}: expected one of {', '.join(BASELINES)}")
        for name, value in (("--steps", self.steps), ("--batch-tokens", self.batch_tokens)):
            if value is None or value < 1:
                raise InputError(f"{name} {value}: must be at least 1")
        if self.layer == 0:
            raise InputError("--layer 0: the embeddings have no attention; give a layer 1..L or -1 (the last)")
        for name, value in (("--npz", self.npz), ("--bigwig", self.bigwig), ("--plot", self.plot)):
            if value is not None and self.output is None:
                raise InputError(f"{name} is written from the HDF5 file: give -o")
            if value is not None and self.shard is not None:
                raise InputError(f"{name} needs every region: run without --shard (or write it from the merged "
                                 f"file with dnabert2.interpret)")
        if self.bigwig is not None and self.bed is None:
            raise InputError("--bigwig places the scores on the genome: give the regions as --bed with --ref")
        self.shard = parse_shard(self.shard)
        return self


def parse_methods(methods):
    """None, 'ism,ig' or ['ism', 'ig'] -> a tuple of known method names in the order given (None stays None)."""
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


def dataset_name(method):
    """The prefix of a method's datasets: grad-x-input -> grad_x_input."""
    return method.replace("-", "_")


@dataclass
class MotifSettings:
    """Everything one `motifs` run takes."""
    attributions: str = _internal()  # the HDF5 file of `dnabert2 attribute` (the command's argument)
    output: str = _option(None, "Output folder: patterns.tsv, patterns.meme, logos/, report.html, modisco.h5.")
    method: str = _option(None, "Whose contributions to read  [default: ism when the file has it, else its "
                                "first method]")
    max_seqlets: int = _option(DEFAULT_MAX_SEQLETS, "Seqlets clustered per sign (positive, negative), at most.")
    min_seqlets: int = _option(100, "A sign's seqlets are clustered only when there are more than this many "
                                    "(TF-MoDISco's min_metacluster_size).")
    seqlet_width: int = _option(21, "Width of the seqlet cores in bp (TF-MoDISco's sliding_window_size).")
    flank: int = _option(10, "bp added on each side of a seqlet core.")
    leiden_runs: int = _option(2, "Leiden clusterings with different seeds (TF-MoDISco's n_leiden_runs).")
    jaspar: str = _option(DEFAULT_JASPAR, "The JASPAR release pyjaspar ships offline (JASPAR2014 ... JASPAR2026).")
    tax_group: str = _option("vertebrates", "JASPAR CORE taxonomic group to match against (e.g. vertebrates, "
                                            "insects, plants, fungi, nematodes, urochordates).")
    matches: int = _option(3, "Best JASPAR matches reported per pattern.")
    force: bool = _option(False, "Replace the output folder if it exists.")

    def check(self):
        for name, value, low in (("--max-seqlets", self.max_seqlets, 1), ("--min-seqlets", self.min_seqlets, 1),
                                 ("--seqlet-width", self.seqlet_width, 3), ("--flank", self.flank, 1),
                                 ("--leiden-runs", self.leiden_runs, 1), ("--matches", self.matches, 1)):
            if value is None or value < low:
                raise InputError(f"{name} {value}: must be at least {low}")
        return self
