"""`dnabert2 predict`: parse options, call `dnabert2.predict`, print a summary."""

import click

from dnabert2.commands import options


@click.command("predict")
@options.region_input_options(model_defaults=True)
@options.region_run_options(default_output="predictions")
@click.option("--tsv", type=click.Path(dir_okay=False, allow_dash=True, path_type=str), default=None,
              help="Also write a table of the predictions (a BED6+ file when the name ends in .bed; '-': to standard "
                   "output, for a pipe).")
@options.model_run_options
def command(fasta, bed, ref, clip, resize, index_dir, window, stride, rc_average, model, output, batch_tokens,
            lookahead, shard, resume, force, tsv, device, precision, threads, verbose, quiet):
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
    from dnabert2.common.runtime import show_progress
    from dnabert2.regions.run import predict
    from dnabert2.regions.summary import format_summary
    from dnabert2.shipped import DEFAULT_FOR, model_path

    model = model or str(model_path(DEFAULT_FOR["predict"]))  # no --model: the shipped one
    named = output is None and (bed or fasta) is not None
    if named:
        output = options.default_output_name(bed or fasta, "predictions")
    summary = predict(model=model, output=output, tsv=tsv, fasta=fasta, bed=bed, ref=ref, clip=clip, window=window,
                      stride=stride, resize=resize, rc_average=rc_average, batch_tokens=batch_tokens,
                      lookahead=lookahead, device=device, precision=precision, shard=shard, resume=resume,
                      force=force, threads=threads, show_progress=show_progress(quiet),
                      command_line=options.command_line(), index_dir=index_dir)
    if not quiet:
        click.echo(format_summary("Predicted", summary, named), err=True)
