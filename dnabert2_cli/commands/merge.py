"""`dnabert2 merge`: parse options, call `dnabert2.merge`, print a summary."""
import click

from dnabert2.commands import options


@click.command("merge")
@click.argument("shards", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=str))
@click.option("--output", "-o", required=True, type=click.Path(dir_okay=False, path_type=str),
              help="HDF5 file to write (must not exist unless --force).")
@options.force_option("Overwrite the output if it exists.")
@options.common_options
def command(shards, output, force, verbose, quiet):
    """Join the HDF5 files of `embed`/`predict --shard K/N` runs into one file, rows in input order.

    Every shard 0..N-1 must be given once, complete, and made with the same model, options and input; the
    result equals the file one unsharded run would have written.

    \b
    Example:
      dnabert2 merge out.shard-0-of-2.h5 out.shard-1-of-2.h5 -o out.h5
    """
    from dnabert2.regions.merging import merge

    summary = merge(shards, output, force=force)
    if not quiet:
        click.echo(f"Merged {summary['shards']} shards ({summary['regions']:,} regions) into {summary['output']}",
                   err=True)
