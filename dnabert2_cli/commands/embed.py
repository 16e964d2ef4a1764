"""`dnabert2 embed`: parse options, call `dnabert2.embed`, print a summary.

Also defines the option groups `embed` and `predict` share (regions in, run control), written once here.
"""

import click

from dnabert2.commands import options
from dnabert2.regions.pipeline import DEFAULT_BATCH_TOKENS
from dnabert2.regions.windows import DEFAULT_LOOKAHEAD, DEFAULT_WINDOW


def region_input_options(f):
    """--fasta | --bed with --ref, --clip, --window, --stride, --resize, --rc-average."""
    decorators = [
        click.option("--fasta", type=click.Path(dir_okay=False, path_type=str),
                     help="FASTA file (plain, gzip or bgzip): each record is a region."),
        click.option("--bed", type=click.Path(dir_okay=False, path_type=str),
                     help="BED3-BED12 file (gzip allowed; 0-based, half-open; column 6 '-' = reverse complement)."),
        click.option("--ref", type=click.Path(dir_okay=False, path_type=str),
                     help="Reference FASTA for --bed (plain or bgzip; indexed when it has no .fai)."),
        click.option("--clip", is_flag=True, help="Clip regions that run past a chromosome end instead of failing."),
        click.option("--window", type=int, default=DEFAULT_WINDOW, show_default=True,
                     help="Window length in bp; longer regions are tiled and their windows combined."),
        click.option("--stride", type=int, default=None, help="Step between windows in bp (default: --window)."),
        click.option("--resize", type=int, default=None,
                     help="Use a window of this many bp centred on each region instead of the region."),
        click.option("--rc-average", is_flag=True, help="Average the region's and its reverse complement's outputs."),
    ]
    for decorator in reversed(decorators):
        f = decorator(f)
    return f


def run_options(f):
    """--model, -o, batching, --shard, --resume, --force."""
    decorators = [
        click.option("--model", "-m", type=str, default=None,
                     help="Model folder (from `dnabert2 pretrain`/`finetune`, or the DNABERT-2-117M release); default: "
                          "the model shipped in the package (embed: pretrained, predict: promoter classifier)."),
        click.option("--output", "-o", required=True, type=click.Path(dir_okay=False, path_type=str),
                     help="HDF5 file to write (written as OUT.partial.h5 and renamed when complete)."),
        click.option("--batch-tokens", type=int, default=DEFAULT_BATCH_TOKENS, show_default=True,
                     help="Padded tokens per model call (lower it when memory is short)."),
        click.option("--lookahead", type=int, default=DEFAULT_LOOKAHEAD, show_default=True,
                     help="Windows read ahead and sorted by length together."),
        click.option("--shard", type=str, default=None,
                     help="K/N: process every N-th region from K (0-based); join the files with `dnabert2 merge`."),
        click.option("--resume", is_flag=True, help="Continue an interrupted run from OUT.partial.h5."),
        click.option("--force", is_flag=True, help="Overwrite OUT (and any partial file) if it exists."),
    ]
    for decorator in reversed(decorators):
        f = decorator(f)
    return f


def print_summary(verb, summary):
    model_share = summary["model_seconds"] / max(summary["seconds"], 1e-9)
    resumed = f", resumed at row {summary['resumed_from_row']:,}" if summary.get("resumed_from_row") else ""
    click.echo(f"{verb} {summary['regions']:,} regions ({summary['bp']:,} bp, {summary['windows']:,} windows, "
               f"{summary['tokens']:,} tokens, {summary['unknown_tokens']:,} [UNK]) in {summary['seconds']:.1f} s"
               f"{resumed}: {summary['regions_per_s']:,.1f} regions/s, {summary['bp_per_s']:,.0f} bp/s, "
               f"model {100 * model_share:.0f}% of the time", err=True)
    click.echo(f"Wrote {summary['output']}" + (f" and {summary['table']}" if summary.get("table") else ""), err=True)


@click.command("embed")
@region_input_options
@run_options
@click.option("--pooling", type=click.Choice(["mean", "max", "cls", "none"]), default="mean", show_default=True,
              help="mean/max over real tokens (no [CLS], [SEP], padding), the [CLS] vector, or none: every token.")
@click.option("--layer", type=int, default=-1, show_default=True,
              help="Hidden layer to pool: 0 = embeddings output, 1..L, or negative from the top (-1 = last).")
@click.option("--half-output", is_flag=True, help="Store vectors as float16 (half the file size).")
@options.device_options
@options.threads_option
@options.common_options
def command(fasta, bed, ref, clip, window, stride, resize, rc_average, model, output, batch_tokens, lookahead,
            shard, resume, force, pooling, layer, half_output, device, precision, threads, verbose, quiet):
    """Embed genomic regions (FASTA records, or BED + reference) into an HDF5 file: one vector per region.

    A region longer than --window is tiled into windows; its vector is the token-weighted mean of its
    windows' vectors (max over them for --pooling max). Soft-masked bases are upper-cased; N and other
    non-ACGT letters become [UNK] tokens, counted per region. Rows keep the input order. Under torchrun each
    rank embeds its share of the regions into OUT.shard-RANK-of-WORLD.h5; join them with `dnabert2 merge`.

    \b
    Example:
      dnabert2 embed --bed promoters.bed --ref hg38.fa.gz --model my_model -o promoters.h5
      dnabert2 embed --fasta reads.fa --model my_model --pooling none --window 1000 -o tokens.h5
    """
    from dnabert2.regions.pipeline import embed
    from dnabert2.shipped import DEFAULT_FOR, model_path

    model = model or str(model_path(DEFAULT_FOR["embed"]))  # no --model: the shipped one
    summary = embed(model=model, output=output, fasta=fasta, bed=bed, ref=ref, clip=clip, window=window,
                    stride=stride, resize=resize, pooling=pooling, layer=layer, rc_average=rc_average,
                    half_output=half_output, batch_tokens=batch_tokens, lookahead=lookahead, device=device,
                    precision=precision, shard=shard, resume=resume, force=force, threads=threads,
                    show_progress=options.show_progress(quiet), command_line=options.command_line())
    if not quiet:
        print_summary("Embedded", summary)
