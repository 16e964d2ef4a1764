"""`dnabert2 score-variants`: parse options, call `dnabert2.score_variants`, print a summary."""
import click

from dnabert2.commands import options
from dnabert2.variants.settings import DEFAULT_CONTEXT, DEFAULT_FLANK_TOKENS, DEFAULT_MAX_INDEL
from dnabert2.variants.windows import DEFAULT_WINDOW_STEP


@click.command("score-variants")
@click.option("--vcf", type=click.Path(dir_okay=False, path_type=str),
              help="Variants: VCF (plain or bgzipped) or BCF; every ALT of a record is its own row.")
@options.region_source_options
@click.option("--index-dir", type=click.Path(file_okay=False, path_type=str), default=None,
              help="Where the index of a --ref in a read-only folder is kept  [default: $DNABERT2_CACHE, else "
                   "~/.cache/dnabert2]")
@click.option("--saturate", is_flag=True,
              help="Instead of --vcf: every SNV at every base of each region of --fasta, or --bed with --ref.")
@options.region_run_options(default_output="scores")
@click.option("--method", "methods", multiple=True,
              help="llr, emb or delta; repeat it (or give a comma list) for several [default: llr for a masked-LM "
                   "model, delta for a fine-tuned one].")
@click.option("--context", type=int, default=DEFAULT_CONTEXT, show_default=True,
              help="bp of reference around each variant (half on each side of the REF allele).")
@click.option("--window-step", type=int, default=DEFAULT_WINDOW_STEP, show_default=True,
              help="REF windows are centred on a grid this many bp apart (the point nearest the allele), so nearby "
                   "variants share one; 0 centres each window on its allele.")
@click.option("--flank-tokens", type=int, default=DEFAULT_FLANK_TOKENS, show_default=True,
              help="llr: changed tokens are masked with this many neighbours on each side.")
@click.option("--max-indel", type=int, default=DEFAULT_MAX_INDEL, show_default=True,
              help="Longer alleles (beyond the anchor base) are reported as too_long, not scored.")
@click.option("--rc-average", is_flag=True, help="Average each score over both strands.")
@click.option("--tsv", type=click.Path(dir_okay=False, path_type=str), default=None,
              help="Also write a table: chrom, pos, id, ref, alt, status and one column per score.")
@click.option("--out-vcf", type=click.Path(dir_okay=False, path_type=str), default=None,
              help="Also write the input VCF with the scores as INFO fields (bgzipped, tabix-indexed; .vcf.gz).")
@click.option("--plot", type=click.Path(file_okay=False, path_type=str), default=None,
              help="--saturate: a folder of PNG heatmaps, one per region (needs matplotlib).")
@options.model_run_options
def command(vcf, fasta, bed, ref, clip, resize, index_dir, saturate, model, output, batch_tokens, lookahead, shard,
            resume, force, methods, context, window_step, flank_tokens, max_indel, rc_average, tsv, out_vcf, plot, device, precision,
            threads, verbose, quiet):
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
    from dnabert2.common.runtime import show_progress
    from dnabert2.shipped import model_path
    from dnabert2.variants.run import score_variants
    from dnabert2.variants.summary import format_summary

    model = model or str(model_path("pretrained"))  # no --model: the shipped masked-LM model
    named = output is None and (vcf or bed or fasta) is not None
    if named:
        output = options.default_output_name(vcf or bed or fasta, "scores")
    summary = score_variants(vcf, ref=ref, fasta=fasta, bed=bed, saturate=saturate, clip=clip, resize=resize,
                             index_dir=index_dir,
                             model=model, output=output, tsv=tsv, out_vcf=out_vcf, plot=plot,
                             methods=list(methods) or None, context=context, window_step=window_step,
                             flank_tokens=flank_tokens,
                             max_indel=max_indel, rc_average=rc_average, batch_tokens=batch_tokens,
                             lookahead=lookahead, device=device, precision=precision, shard=shard, resume=resume,
                             force=force, threads=threads, show_progress=show_progress(quiet),
                             command_line=options.command_line())
    if not quiet:
        click.echo(format_summary(summary, named), err=True)
