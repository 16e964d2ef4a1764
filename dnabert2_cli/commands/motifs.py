"""`dnabert2 motifs`: parse options, call `dnabert2.motifs`, print a summary."""
import click

from dnabert2.commands import options
from dnabert2.interpret.settings import MotifSettings

DEFAULTS = MotifSettings()


@click.command("motifs")
@click.argument("attributions", type=click.Path(dir_okay=False, path_type=str))
@click.option("--output", "-o", type=click.Path(file_okay=False, path_type=str), default=None,
              help="Output folder  [default: INPUT.motifs in the current folder, INPUT being the file's name without "
                   ".attributions.h5]")
@click.option("--method", default=None,
              help="Whose contributions TF-MoDISco reads  [default: ism when the file has it, else its first method]")
@click.option("--max-seqlets", type=click.IntRange(min=1), default=DEFAULTS.max_seqlets, show_default=True,
              help="Seqlets clustered per sign (positive, negative), at most.")
@click.option("--min-seqlets", type=click.IntRange(min=1), default=DEFAULTS.min_seqlets, show_default=True,
              help="A sign's seqlets are clustered only when there are more than this many.")
@click.option("--seqlet-width", type=click.IntRange(min=3), default=DEFAULTS.seqlet_width, show_default=True,
              help="Width of the seqlet cores in bp.")
@click.option("--flank", type=click.IntRange(min=1), default=DEFAULTS.flank, show_default=True,
              help="bp added on each side of a seqlet core.")
@click.option("--leiden-runs", type=click.IntRange(min=1), default=DEFAULTS.leiden_runs, show_default=True,
              help="Leiden clusterings with different seeds.")
@click.option("--jaspar", default=DEFAULTS.jaspar, show_default=True,
              help="The JASPAR release pyjaspar ships offline (JASPAR2014 ... JASPAR2026).")
@click.option("--tax-group", default=DEFAULTS.tax_group, show_default=True,
              help="JASPAR CORE taxonomic group: vertebrates, plants, insects, nematodes, fungi, urochordates.")
@click.option("--matches", type=click.IntRange(min=1), default=DEFAULTS.matches, show_default=True,
              help="Best JASPAR matches reported per pattern.")
@click.option("--force", is_flag=True, help="Replace the output folder if it exists.")
@options.common_options
def command(attributions, output, method, max_seqlets, min_seqlets, seqlet_width, flank, leiden_runs, jaspar,
            tax_group, matches, force, verbose, quiet):
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

    summary = motifs(attributions, output=output, method=method, max_seqlets=max_seqlets, min_seqlets=min_seqlets,
                     seqlet_width=seqlet_width, flank=flank, leiden_runs=leiden_runs, jaspar=jaspar,
                     tax_group=tax_group, matches=matches, force=force)
    if not quiet:
        click.echo(format_motifs(summary), err=True)
