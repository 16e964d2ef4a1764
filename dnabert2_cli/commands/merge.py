"""`dnabert2 merge`: parse options, call `dnabert2.merge`, print a summary."""
import click

from dnabert2.commands import options
from dnabert2.regions.settings import MergeSettings


@click.command("merge", cls=options.GroupedCommand)
@click.argument("shards", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=str))
@options.settings_options(MergeSettings)
@options.common_options
def command(shards, verbose, quiet, **given):
    """Join the HDF5 files of `embed`/`predict --shard K/N` runs into one file, rows in input order.

    Every shard 0..N-1 must be given once, complete, and made with the same model, options and input; the
    result equals the file one unsharded run would have written.

    \b
    Example:
      dnabert2 merge out.shard-0-of-2.h5 out.shard-1-of-2.h5 -o out.h5
    """
    from dnabert2.regions.merging import merge

    summary = merge(shards, settings=options.settings_from(MergeSettings, given))
    if not quiet:
        click.echo(f"Merged {summary['shards']} shards ({summary['regions']:,} regions) into {summary['output']}",
                   err=True)
