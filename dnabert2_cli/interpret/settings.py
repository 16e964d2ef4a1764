"""The options of `dnabert2 attribute` (`AttributeSettings`) and `dnabert2 motifs` (`MotifSettings`), each a field
written once with its default and its help (`dnabert2.common.fields`), and their checks; the command lines are
made from these fields."""
from dataclasses import dataclass

from dnabert2.common.fields import INPUTS, MODEL, OUTPUTS, RUN, internal, option
from dnabert2.common.outputs import parse_shard
from dnabert2.common.text import parse_names
from dnabert2.errors import InputError
from dnabert2.regions.settings import RegionSource, RunControl
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


@dataclass
class AttributeSettings(RegionSource, RunControl):
    """Everything one `attribute` run takes; `check()` completes and checks it before any input is read."""
    model: str = option(None, "Model folder: a fine-tuned classifier or regressor (from `dnabert2 finetune`), or a "
                              "masked-LM model (ism then gives each SNV's llr).", group=MODEL, short="-m",
                        required=True)
    methods: tuple = option(None, "ism, ig, grad-x-input or attention; repeat it (or give a comma list) for several",
                            group=MODEL, name="--method", multiple=True,
                            default_text="ig for a fine-tuned model, ism for a masked-LM one")
    target: str = option(None, "The class (name or number) or regression output to explain", group=MODEL,
                         default_text="the last class of a binary classifier, the only output of a regressor")
    baseline: str = option("mask", "ig and grad-x-input: the reference input, every real token's embedding replaced "
                                   "by [MASK]'s (mask) or by the vocabulary's mean embedding (mean).", group=MODEL,
                           choices=BASELINES)
    steps: int = option(DEFAULT_STEPS, "ig: integration steps (Gauss-Legendre).", group=MODEL, minimum=1)
    layer: int = option(-1, "attention: the layer whose [CLS] row is read, 1..L or negative from the top.",
                        group=MODEL)
    rc_average: bool = option(False, "Average each map with the reverse complement's, mapped back to the region's "
                                     "strand.", group=INPUTS, flag="negatable")
    output: str = option(None, "HDF5 file to write (OUT.partial.h5 until complete; resumable)", group=OUTPUTS,
                         short="-o", path="file",
                         default_text="INPUT.attributions.h5 in the current folder, INPUT being the input file's "
                                      "name without its extensions")
    npz: str = option(None, "Also write a folder of .npz arrays TF-MoDISco reads: ohe.npz and METHOD.npz, "
                            "[regions, 4, length] (regions of one length).", group=OUTPUTS, path="dir")
    bigwig: str = option(None, "Also write a folder with one bigWig track per method (--bed input).", group=OUTPUTS,
                         path="dir")
    plot: str = option(None, "Also write a folder with one PNG per region: the contribution logos.", group=OUTPUTS,
                       path="dir")

    @property
    def passes(self):
        """Strand passes: 2 with --rc-average."""
        return 2 if self.rc_average else 1

    def check(self):
        """Check and complete the options before any input is read (InputError for bad values)."""
        self.methods = parse_names(self.methods, METHODS, "--method")
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


def dataset_name(method):
    """The prefix of a method's datasets: grad-x-input -> grad_x_input."""
    return method.replace("-", "_")


@dataclass
class MotifSettings:
    """Everything one `motifs` run takes."""
    attributions: str = internal()  # the HDF5 file of `dnabert2 attribute` (the command's argument)
    output: str = option(None, "Output folder: patterns.tsv, patterns.meme, logos/, report.html, modisco.h5",
                         group=OUTPUTS, short="-o", path="dir",
                         default_text="INPUT.motifs in the current folder, INPUT being the file's name without "
                                      ".attributions.h5")
    method: str = option(None, "Whose contributions TF-MoDISco reads", group=INPUTS,
                         default_text="ism when the file has it, else its first method")
    max_seqlets: int = option(DEFAULT_MAX_SEQLETS, "Seqlets clustered per sign (positive, negative), at most.",
                              group=MODEL, minimum=1)
    min_seqlets: int = option(100, "A sign's seqlets are clustered only when there are more than this many "
                                   "(TF-MoDISco's min_metacluster_size).", group=MODEL, minimum=1)
    seqlet_width: int = option(21, "Width of the seqlet cores in bp (TF-MoDISco's sliding_window_size).",
                               group=MODEL, minimum=3)
    flank: int = option(10, "bp added on each side of a seqlet core.", group=MODEL, minimum=1)
    leiden_runs: int = option(2, "Leiden clusterings with different seeds (TF-MoDISco's n_leiden_runs).",
                              group=MODEL, minimum=1)
    jaspar: str = option(DEFAULT_JASPAR, "The JASPAR release pyjaspar ships offline (JASPAR2014 ... JASPAR2026).",
                         group=MODEL)
    tax_group: str = option("vertebrates", "JASPAR CORE taxonomic group to match against (e.g. vertebrates, "
                                           "insects, plants, fungi, nematodes, urochordates).", group=MODEL)
    matches: int = option(3, "Best JASPAR matches reported per pattern.", group=OUTPUTS, minimum=1)
    force: bool = option(False, "Replace the output folder if it exists.", group=RUN)

    def check(self):
        for name, value, low in (("--max-seqlets", self.max_seqlets, 1), ("--min-seqlets", self.min_seqlets, 1),
                                 ("--seqlet-width", self.seqlet_width, 3), ("--flank", self.flank, 1),
                                 ("--leiden-runs", self.leiden_runs, 1), ("--matches", self.matches, 1)):
            if value is None or value < low:
                raise InputError(f"{name} {value}: must be at least {low}")
        return self
