"""`dnabert2 embed`: parse options, call `dnabert2.embed`, print a summary."""
import click

from dnabert2.commands import options
from dnabert2.regions.settings import EmbedSettings


@click.command("embed", cls=options.GroupedCommand)
@options.settings_options(EmbedSettings)
@options.common_options
def command(verbose, quiet, **given):
    """Embed genomic regions (FASTA records, or BED + reference) into an HDF5 file: one vector per region.

    Without -o the file is named after the input, in the current folder (promoters.bed ->
    promoters.embeddings.h5). A region longer than --window is tiled into windows; its vector is the
    token-weighted mean of its windows' vectors (weighted by real tokens; by all tokens for mean-all; max over
    them for --pooling max). Soft-masked bases are upper-cased; N and other non-ACGT letters become [UNK]
    tokens, counted per region. Rows keep the input order. Under torchrun each rank embeds its share of the
    regions into OUT.shard-RANK-of-WORLD.h5; join them with `dnabert2 merge`.

    \b
    Example:
      dnabert2 embed --bed promoters.bed --ref hg38.fa
      dnabert2 embed --fasta reads.fa --model my_model --pooling mean-all --window 1000 -o reads.h5
    """
    from dnabert2.regions.run import embed
    from dnabert2.regions.summary import format_summary

    settings, named = options.region_settings(EmbedSettings, given, quiet, "embed", "embeddings")
    summary = embed(settings=settings)
    if not quiet:
        click.echo(format_summary("Embedded", summary, named), err=True)
