"""`dnabert2 attribute`: parse options, call `dnabert2.attribute`, print a summary."""
import click

from dnabert2.commands import options
from dnabert2.interpret.settings import BASELINES, DEFAULT_STEPS, MAX_REGION_BP
from dnabert2.regions.settings import DEFAULT_BATCH_TOKENS

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


@click.command("attribute", help=HELP)
@options.region_source_options
@click.option("--index-dir", type=click.Path(file_okay=False, path_type=str), default=None,
              help="Where the index of a --ref in a read-only folder is kept  [default: $DNABERT2_CACHE, else "
                   "~/.cache/dnabert2]")
@click.option("--model", "-m", type=str, required=True,
              help="Model folder: a fine-tuned classifier or regressor (from `dnabert2 finetune`), or a masked-LM "
                   "model (ism then maps each SNV's zero-shot llr).")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=str), default=None,
              help="HDF5 file to write (OUT.partial.h5 until complete)  [default: INPUT.attributions.h5 in the "
                   "current folder]")
@click.option("--method", "methods", multiple=True,
              help="ism, ig, grad-x-input or attention; repeat it (or give a comma list) for several  [default: ig "
                   "for a fine-tuned model, ism for a masked-LM one]")
@click.option("--target", default=None,
              help="The class (name or number) or regression output to explain  [default: the last class of a "
                   "binary classifier, the only output of a regressor]")
@click.option("--baseline", type=click.Choice(BASELINES), default="mask", show_default=True,
              help="ig, grad-x-input: every real token's embedding replaced by [MASK]'s, or by the vocabulary's "
                   "mean embedding.")
@click.option("--steps", type=click.IntRange(min=1), default=DEFAULT_STEPS, show_default=True,
              help="ig: integration steps.")
@click.option("--layer", type=int, default=-1, show_default=True,
              help="attention: the layer whose [CLS] row is read (1..L, or negative from the top).")
@click.option("--rc-average", is_flag=True,
              help="Average each map with the reverse complement's, mapped back onto the region's strand.")
@click.option("--npz", type=click.Path(file_okay=False, path_type=str), default=None,
              help="Also write a folder of the arrays TF-MoDISco reads: ohe.npz and METHOD.npz [regions, 4, length].")
@click.option("--bigwig", type=click.Path(file_okay=False, path_type=str), default=None,
              help="Also write a folder with one bigWig track per method (--bed input).")
@click.option("--plot", type=click.Path(file_okay=False, path_type=str), default=None,
              help="Also write a folder with one PNG per region: the contribution logos of each method.")
@click.option("--batch-tokens", type=int, default=DEFAULT_BATCH_TOKENS, show_default=True,
              help="Padded tokens per model call (lower it when memory is short).")
@click.option("--shard", type=str, default=None,
              help="K/N: attribute every N-th region from K (0-based); join the files with `dnabert2 merge`.")
@click.option("--resume", is_flag=True, help="Continue an interrupted run from OUT.partial.h5.")
@click.option("--force", is_flag=True, help="Overwrite the outputs if they exist.")
@options.model_run_options
def command(fasta, bed, ref, clip, resize, index_dir, model, output, methods, target, baseline, steps, layer,
            rc_average, npz, bigwig, plot, batch_tokens, shard, resume, force, device, precision, threads, verbose,
            quiet):
    from dnabert2.common.runtime import show_progress
    from dnabert2.interpret.run import attribute
    from dnabert2.interpret.summary import format_attribute

    named = output is None and (bed or fasta) is not None
    if named:
        output = options.default_output_name(bed or fasta, "attributions")
    summary = attribute(model=model, output=output, fasta=fasta, bed=bed, ref=ref, clip=clip, resize=resize,
                        index_dir=index_dir, methods=list(methods) or None, target=target, baseline=baseline,
                        steps=steps, layer=layer, rc_average=rc_average, npz=npz, bigwig=bigwig, plot=plot,
                        batch_tokens=batch_tokens, shard=shard, resume=resume, force=force, device=device,
                        precision=precision, threads=threads, show_progress=show_progress(quiet),
                        command_line=options.command_line())
    if not quiet:
        click.echo(format_attribute(summary, named), err=True)
