"""`dnabert2 score-variants`: parse options, call `dnabert2.score_variants`, print a summary."""
import click

from dnabert2.commands import options
from dnabert2.variants.settings import VariantSettings


@click.command("score-variants", cls=options.GroupedCommand)
@options.settings_options(VariantSettings)
@options.common_options
def command(verbose, quiet, **given):
    """Score variants with a DNABERT-2 model: VCF/BCF + reference, or every SNV of regions (--saturate).

    Methods: llr (zero-shot: the tokens a variant changes are masked one at a time in the REF and ALT windows;
    sum log p(ALT) - sum log p(REF)), emb (cosine and L2 distance of the windows' mean embeddings) and delta
    (ALT minus REF prediction of a fine-tuned model, per class). Every row gets a status: ok, near_end
    (context clipped by a contig end; scored), ref_mismatch, unknown_chrom, symbolic, too_long (not scored).
    Rows keep the input order; the HDF5 file is resumable like embed's. Without -o it is named after the
    input, in the current folder (variants.vcf.gz -> variants.scores.h5).

    \b
    Example:
      dnabert2 score-variants --vcf clinvar.vcf.gz --ref hg38.fa.gz --tsv scores.tsv --out-vcf scored.vcf.gz
      dnabert2 score-variants --saturate --fasta enhancer.fa -o map.h5 --plot maps/
    """
    from dnabert2.variants.run import score_variants
    from dnabert2.variants.summary import format_summary

    settings, named = options.region_settings(VariantSettings, given, quiet, "score-variants", "scores")
    summary = score_variants(settings=settings)
    if not quiet:
        click.echo(format_summary(summary, named), err=True)
