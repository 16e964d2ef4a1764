"""Option decorators shared by several commands, written once: every command imports its shared options from
here, never from another command."""
import logging
import sys

import click

from dnabert2.finetuning.lora import LORA_DEFAULTS, LORA_TARGETS
from dnabert2.regions.settings import DEFAULT_BATCH_TOKENS, DEFAULT_LOOKAHEAD, DEFAULT_WINDOW


# set by -v on any command; read by the group when it reports an error
VERBOSE = 0


def _setup_logging(ctx, param, value):
    global VERBOSE
    VERBOSE = value
    level = logging.WARNING
    if value >= 2:
        level = logging.DEBUG
    elif value == 1:
        level = logging.INFO
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr, force=True)
    return value


def common_options(f):
    """-v/--verbose (repeatable) and --quiet, on every command."""
    f = click.option("--quiet", "-q", is_flag=True, help="No progress bar or summary on stderr.")(f)
    f = click.option("--verbose", "-v", count=True, callback=_setup_logging, expose_value=True,
                     help="Log more (-v info, -vv debug); also prints tracebacks on errors.")(f)
    return f


def device_options(f):
    """--device and --precision, for commands that run the model."""
    f = click.option("--precision", type=click.Choice(["auto", "fp32", "bf16", "fp16"]), default="auto",
                     show_default=True, help="Numeric precision of the model (auto: bf16 on a GPU or CPU that computes it natively "
                          "(CPU: AMX or AVX512-BF16), else fp32; the summary names the one used).")(f)
    f = click.option("--device", default="auto", show_default=True,
                     help="auto, cpu, cuda or cuda:N (auto picks CUDA when present).")(f)
    return f


def force_option(help="Replace the output folder if it exists."):
    return click.option("--force", is_flag=True, help=help)


def model_run_options(f):
    """--device, --precision, --threads, -v and --quiet: every command that runs the model."""
    return common_options(threads_option(device_options(f)))


def threads_option(f):
    return click.option("--threads", type=click.IntRange(min=1), default=None,
                        help="CPU threads for reading and tokenising (default: all cores).")(f)


def command_line():
    """The running command as the user typed it (`dnabert2 embed ...`), for provenance in output files."""
    import shlex

    ctx = click.get_current_context(silent=True)
    argv = ctx.meta.get("dnabert2.argv") if ctx is not None else None
    if argv is None:
        argv = sys.argv[1:]
    return shlex.join(["dnabert2", *argv])


def _stack(f, decorators):
    for decorator in reversed(decorators):
        f = decorator(f)
    return f


def region_source_options(f):
    """--fasta | --bed with --ref, --clip, --resize: where regions come from (embed, predict, score-variants)."""
    return _stack(f, [
        click.option("--fasta", type=click.Path(dir_okay=False, path_type=str),
                     help="FASTA file (plain, gzip or bgzip): each record is a region."),
        click.option("--bed", type=click.Path(dir_okay=False, path_type=str),
                     help="BED3-BED12 file (gzip allowed; 0-based, half-open; column 6 '-' = reverse complement)."),
        click.option("--ref", type=click.Path(dir_okay=False, path_type=str),
                     help="Reference FASTA for --bed: plain, gzip or bgzip, indexed or not (a missing or stale index "
                          "is built; in a read-only folder it goes to the cache, see --index-dir)."),
        click.option("--clip", is_flag=True, help="Clip regions that run past a chromosome end instead of failing."),
        click.option("--resize", type=int, default=None,
                     help="Use a window of this many bp centred on each region instead of the region."),
    ])


def region_input_options(f=None, *, model_defaults=False):
    """region_source_options, --index-dir, --window, --stride, --rc-average (embed, predict).

    model_defaults (predict): --window and --rc-average/--no-rc-average default to None, the model's own
    (`regions.loading.predict_defaults`). Use as `@region_input_options` or
    `@region_input_options(model_defaults=True)`.
    """
    if f is None:
        return lambda g: region_input_options(g, model_defaults=model_defaults)
    window_help = "Window length in bp; longer regions are tiled and their windows combined."
    rc_help = "Average the region's and its reverse complement's outputs."
    if model_defaults:
        carried = "from the model's config.json (task_specific_params.predict; the shipped promoter classifier's"
        window = click.option("--window", type=int, default=None,
                              help=f"{window_help}  [default: {carried}: 300), else {DEFAULT_WINDOW}]")
        rc_average = click.option("--rc-average/--no-rc-average", default=None,
                                  help=f"{rc_help}  [default: {carried}: on), else off]")
    else:
        window = click.option("--window", type=int, default=DEFAULT_WINDOW, show_default=True, help=window_help)
        rc_average = click.option("--rc-average", is_flag=True, help=rc_help)
    return region_source_options(_stack(f, [
        click.option("--index-dir", type=click.Path(file_okay=False, path_type=str), default=None,
                     help="Where the index of a --ref in a read-only folder (and the bgzip copy of a gzip --ref) is "
                          "kept  [default: $DNABERT2_CACHE, else ~/.cache/dnabert2]"),
        window,
        click.option("--stride", type=int, default=None, help="Step between windows in bp (default: --window)."),
        rc_average,
    ]))


def region_run_options(f=None, *, default_output=None):
    """--model, -o, batching, --shard, --resume, --force (embed, predict, score-variants).

    default_output: the suffix of the output named after the input when -o is not given (`default_output_name`),
    e.g. "embeddings"; None: -o is required. Use as `@region_run_options` or `@region_run_options(default_output=...)`.
    """
    if f is None:
        return lambda g: region_run_options(g, default_output=default_output)
    if default_output is None:
        output = click.option("--output", "-o", required=True, type=click.Path(dir_okay=False, path_type=str),
                              help="HDF5 file to write (written as OUT.partial.h5 and renamed when complete).")
    else:
        output = click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=str), default=None,
                              help="HDF5 file to write (written as OUT.partial.h5 and renamed when complete)  "
                                   f"[default: INPUT.{default_output}.h5 in the current folder, INPUT being the "
                                   "--bed or --fasta file's name without its extensions]")
    return _stack(f, [
        click.option("--model", "-m", type=str, default=None,
                     help="Model folder (from `dnabert2 pretrain`/`finetune`, or the DNABERT-2-117M release); default: "
                          "the model shipped in the package (embed, score-variants: pretrained; predict: promoter "
                          "classifier)."),
        output,
        click.option("--batch-tokens", type=int, default=DEFAULT_BATCH_TOKENS, show_default=True,
                     help="Padded tokens per model call (lower it when memory is short)."),
        click.option("--lookahead", type=int, default=DEFAULT_LOOKAHEAD, show_default=True,
                     help="Windows read ahead and sorted by length together."),
        click.option("--shard", type=str, default=None,
                     help="K/N: process every N-th region from K (0-based); join the files with `dnabert2 merge`."),
        click.option("--resume", is_flag=True, help="Continue an interrupted run from OUT.partial.h5."),
        click.option("--force", is_flag=True, help="Overwrite OUT (and any partial file) if it exists."),
    ])


# extensions dropped from an input's name to name its output (after .gz, .bgz)
INPUT_EXTENSIONS = (".bed", ".fa", ".fasta", ".fas", ".fna", ".ffn", ".txt", ".tsv", ".vcf")


def default_output_name(path, suffix):
    """The output named after an input file, in the current folder: `data/promoters.bed.gz` -> `promoters.SUFFIX.h5`."""
    from pathlib import Path

    name = Path(path).name
    for compressed in (".gz", ".bgz", ".bgzf"):
        if name.lower().endswith(compressed):
            name = name[:-len(compressed)]
            break
    for extension in INPUT_EXTENSIONS:
        if name.lower().endswith(extension) and len(name) > len(extension):
            name = name[:-len(extension)]
            break
    return f"{name}.{suffix}.h5"


def lora_options(f):
    """--lora and its settings (finetune, benchmark gue); defaults from `dnabert2.finetuning.lora`."""
    return _stack(f, [
        click.option("--lora", is_flag=True,
                     help="Train LoRA adapters (peft) instead of all weights; pooler and classifier train fully."),
        click.option("--lora-targets", default=",".join(LORA_DEFAULTS.targets), show_default=True,
                     help=f"Comma-separated modules of every layer to adapt: {', '.join(LORA_TARGETS)}."),
        click.option("--lora-r", type=int, default=LORA_DEFAULTS.r, show_default=True, help="LoRA rank."),
        click.option("--lora-alpha", type=int, default=LORA_DEFAULTS.alpha, show_default=True,
                     help="LoRA scaling alpha."),
        click.option("--lora-dropout", type=float, default=LORA_DEFAULTS.dropout, show_default=True,
                     help="LoRA dropout."),
    ])


def lora_targets(text):
    """'Wqkv, dense' -> ['Wqkv', 'dense']."""
    return [t.strip() for t in text.split(",") if t.strip()]


def run_size_options(f):
    """Batch size, seeds and the knobs that shrink a run (finetune, benchmark gue)."""
    return _stack(f, [
        click.option("--batch-size", type=click.IntRange(min=1), default=32, show_default=True,
                     help="Examples per optimiser step."),
        click.option("--seeds", type=click.IntRange(min=1), default=1, show_default=True,
                     help="Train this many seeds; metrics.json reports mean and standard deviation."),
        click.option("--seed", type=int, default=42, show_default=True,
                     help="First seed; seeds are SEED, SEED+1, ..."),
        click.option("--max-train-rows", type=click.IntRange(min=2), default=None,
                     help="Use a random subset of this many training rows (for quick runs)."),
        click.option("--max-eval-rows", type=click.IntRange(min=1), default=None,
                     help="Use a random subset of this many dev and test rows (for quick runs)."),
    ])
