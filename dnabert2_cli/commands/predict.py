"""`dnabert2 predict`: parse options, call `dnabert2.predict`, print a summary."""
import click

from dnabert2.commands import options
from dnabert2.regions.settings import PredictSettings


@click.command("predict", cls=options.GroupedCommand)
@options.settings_options(PredictSettings)
@options.common_options
def command(verbose, quiet, **given):
    """Predict classes (or values) of genomic regions with a fine-tuned model folder, into an HDF5 file.

    Without --model the promoter classifier shipped in the package is used; without -o the file is named
    after the input, in the current folder (promoters.bed -> promoters.predictions.h5). Writes
    /probabilities and /labels (attribute label_names) for a classifier, /values for a regression model, one
    row per region in input order. A region longer than --window gets the token-weighted mean of its windows'
    probabilities (or values); a model can carry its own --window and --rc-average in its config.json (the
    shipped classifier: 300 bp windows, both strands), which apply unless given here. --tsv adds a table:
    chrom, start, end, name, strand, label and one column per class; a .bed name gives BED6 with score = 1000 x
    the top probability; the name '-' sends the table to standard output (progress and summary stay on standard
    error).

    \b
    Example:
      dnabert2 predict --bed promoters.bed --ref hg38.fa
      dnabert2 predict --bed promoters.bed --ref hg38.fa --tsv - | sort -k8,8gr | head
      dnabert2 predict --fasta seqs.fa --model finetuned/ -o calls.h5 --tsv calls.bed
    """
    from dnabert2.regions.run import predict
    from dnabert2.regions.summary import format_summary

    settings, named = options.region_settings(PredictSettings, given, quiet, "predict", "predictions")
    summary = predict(settings=settings)
    if not quiet:
        click.echo(format_summary("Predicted", summary, named), err=True)
