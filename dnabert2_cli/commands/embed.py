"""`dnabert2 embed`: parse options, call `dnabert2.embed`, print a summary."""
import click

from dnabert2.commands import options


@click.command("embed")
@options.region_input_options
@options.region_run_options
@click.option("--pooling", type=click.Choice(["mean", "max", "cls", "none"]), default="mean", show_default=True,
              help="mean/max over real tokens (no [CLS], [SEP], padding), the [CLS] vector, or none: every token.")
@click.option("--layer", type=int, default=-1, show_default=True,
              help="Hidden layer to pool: 0 = embeddings output, 1..L, or negative from the top (-1 = last).")
@click.option("--half-output", is_flag=True, help="Store vectors as float16 (half the file size).")
@options.model_run_options
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
    from dnabert2.regions.run import embed
    from dnabert2.regions.summary import format_summary
    from dnabert2.common.runtime import show_progress
    from dnabert2.shipped import DEFAULT_FOR, model_path

    model = model or str(model_path(DEFAULT_FOR["embed"]))  # no --model: the shipped one
    summary = embed(model=model, output=output, fasta=fasta, bed=bed, ref=ref, clip=clip, window=window,
                    stride=stride, resize=resize, pooling=pooling, layer=layer, rc_average=rc_average,
                    half_output=half_output, batch_tokens=batch_tokens, lookahead=lookahead, device=device,
                    precision=precision, shard=shard, resume=resume, force=force, threads=threads,
                    show_progress=show_progress(quiet), command_line=options.command_line())
    if not quiet:
        click.echo(format_summary("Embedded", summary), err=True)
