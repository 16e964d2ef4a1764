"""`dnabert2 motifs`: parse options, call `dnabert2.motifs`, print a summary."""
import click

from dnabert2.commands import options
from dnabert2.interpret.settings import MotifSettings


@click.command("motifs", cls=options.GroupedCommand)
@click.argument("attributions", type=click.Path(dir_okay=False, path_type=str))
@options.settings_options(MotifSettings)
@options.common_options
def command(attributions, verbose, quiet, **given):
    """Motifs the model uses: TF-MoDISco patterns of an attribute file, matched to JASPAR with TOMTOM.

    Reads the hypothetical contributions of one method of a `dnabert2 attribute` file (ism: all four bases;
    ig, grad-x-input, attention: the observed base), runs TF-MoDISco (modisco-lite) and compares every
    pattern with the JASPAR CORE motifs pyjaspar ships (memelite's TOMTOM; q-values over the motifs compared).
    Writes patterns.tsv, patterns.meme, logos/ (each pattern and its best match), report.html (one
    self-contained page) and modisco.h5.

    \b
    Example:
      dnabert2 motifs peaks.attributions.h5 -o peaks_motifs/
      dnabert2 motifs peaks.attributions.h5 --method ig --tax-group insects --min-seqlets 50
    """
    from dnabert2.interpret.motifs import motifs
    from dnabert2.interpret.summary import format_motifs

    summary = motifs(settings=options.settings_from(MotifSettings, given, attributions=attributions))
    if not quiet:
        click.echo(format_motifs(summary), err=True)
