"""`dnabert2 attribute`: parse options, call `dnabert2.attribute`, print a summary."""
import click

from dnabert2.commands import options
from dnabert2.interpret.settings import MAX_REGION_BP, AttributeSettings

HELP = """Per-base attributions of regions for a fine-tuned model's prediction, into an HDF5 file.

    Methods: ism (in-silico saturation mutagenesis: the change of the target's log-odds for every SNV, through
    the score-variants engine; with a masked-LM model each SNV's llr), ig (integrated gradients on the token
    embeddings, each token's share spread equally over the bases it covers), grad-x-input (its one-step
    version) and attention (the [CLS] row of --layer, head mean). Regions come as in embed and predict, each read
    as one model input of at most {cap:,} bp (--resize cuts them). Without -o the file is named after the input
    (peaks.bed -> peaks.attributions.h5). Layout: docs/hdf5.md; `dnabert2 motifs` reads it.

    \b
    Example:
      dnabert2 attribute --fasta peaks.fa --model finetuned/ --method ig --method ism --plot logos/
      dnabert2 attribute --bed peaks.bed --ref hg38.fa --model finetuned/ --bigwig tracks/ --rc-average
    """.format(cap=MAX_REGION_BP)


@click.command("attribute", help=HELP, cls=options.GroupedCommand)
@options.settings_options(AttributeSettings)
@options.common_options
def command(verbose, quiet, **given):
    from dnabert2.interpret.run import attribute
    from dnabert2.interpret.summary import format_attribute

    settings, named = options.region_settings(AttributeSettings, given, quiet, "attribute", "attributions")
    summary = attribute(settings=settings)
    if not quiet:
        click.echo(format_attribute(summary, named), err=True)
