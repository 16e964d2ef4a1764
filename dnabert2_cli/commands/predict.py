"""`dnabert2 predict`: parse options, call `dnabert2.predict`, print a summary."""

import click

from dnabert2.commands import options


@click.command("predict")
@options.region_input_options
@options.region_run_options
@click.option("--tsv", type=click.Path(dir_okay=False, path_type=str), default=None,
              help="Also write a table of the predictions (a BED6+ file when the name ends in .bed).")
@options.model_run_options
def command(fasta, bed, ref, clip, window, stride, resize, rc_average, model, output, batch_tokens, lookahead,
            shard, resume, force, tsv, device, precision, threads, verbose, quiet):
    """Predict classes (or values) of genomic regions with a fine-tuned model folder, into an HDF5 file.

    Writes /probabilities and /labels (attribute label_names) for a classifier, /values for a regression
    model, one row per region in input order. A region longer than --window gets the token-weighted mean of
    its windows' probabilities (or values). --tsv adds a table: chrom, start, end, name, strand, label and
    one column per class; a .bed name gives BED6 with score = 1000 x the top probability.

    \b
    Example:
      dnabert2 predict --bed promoters.bed --ref hg38.fa.gz --model finetuned/ -o calls.h5 --tsv calls.bed
    """
    from dnabert2.common.runtime import show_progress
    from dnabert2.regions.run import predict
    from dnabert2.regions.summary import format_summary
    from dnabert2.shipped import DEFAULT_FOR, model_path

    model = model or str(model_path(DEFAULT_FOR["predict"]))  # no --model: the shipped one
    summary = predict(model=model, output=output, tsv=tsv, fasta=fasta, bed=bed, ref=ref, clip=clip, window=window,
                      stride=stride, resize=resize, rc_average=rc_average, batch_tokens=batch_tokens,
                      lookahead=lookahead, device=device, precision=precision, shard=shard, resume=resume,
                      force=force, threads=threads, show_progress=show_progress(quiet),
                      command_line=options.command_line())
    if not quiet:
        click.echo(format_summary("Predicted", summary), err=True)
