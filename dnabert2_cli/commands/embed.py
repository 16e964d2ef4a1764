"""`dnabert2 embed`: parse options, call `dnabert2.embed`, print a summary."""
import click

from dnabert2.commands import options


@click.command("embed")
@options.region_input_options
@options.region_run_options(default_output="embeddings")
@click.option("--pooling", type=click.Choice(["mean", "mean-all", "max", "cls", "none"]), default="mean",
              show_default=True,
              help="mean: over the real tokens (no [CLS], [SEP], padding); mean-all: over all tokens, [CLS] and [SEP] "
                   "included (the DNABERT-2 README's recipe); max: over the real tokens; cls: the [CLS] vector; "
                   "none: every real token's vector.")
@click.option("--layer", type=int, default=-1, show_default=True,
              help="Hidden layer to pool: 0 = embeddings output, 1..L, or negative from the top (-1 = last).")
@click.option("--half-output", is_flag=True, help="Store vectors as float16 (half the file size).")
@click.option("--per-base", is_flag=True,
              help="Instead of pooling: one vector per base (the covering token's), under /tokens; see docs/hdf5.md.")
@options.model_run_options
def command(fasta, bed, ref, clip, resize, index_dir, window, stride, rc_average, model, output, batch_tokens,
            lookahead, shard, resume, force, pooling, layer, half_output, per_base, device, precision, threads, verbose,
            quiet):
    """Embed genomic regions (FASTA records, or BED + reference) into an HDF5 file: one vector per region.

    Without -o the file is named after the input, in the current folder (promoters.bed ->
    promoters.embeddings.h5). A region longer than --window is tiled into windows; its vector is the
    token-weighted mean of its windows' vectors (weighted by real tokens; by all tokens for mean-all; max over
    them for --pooling max). Soft-masked bases are upper-cased; N and other non-ACGT letters become [UNK]
    tokens, counted per region. Rows keep the input order. Under torchrun each rank embeds its share of the
    regions into OUT.shard-RANK-of-WORLD.h5; join them with `dnabert2 merge`.

    \b
    Example:
      dnabert2 embed --bed promoters.bed --ref hg38.fa
      dnabert2 embed --fasta reads.fa --model my_model --pooling mean-all --window 1000 -o reads.h5
    """
    from dnabert2.common.runtime import show_progress
    from dnabert2.regions.run import embed
    from dnabert2.regions.summary import format_summary
    from dnabert2.shipped import DEFAULT_FOR, model_path

    model = model or str(model_path(DEFAULT_FOR["embed"]))  # no --model: the shipped one
    if per_base:
        if pooling != "mean":
            raise click.UsageError(f"--per-base writes every base's vector: it takes no --pooling ({pooling})")
        pooling = "per-base"
    named = output is None and (bed or fasta) is not None
    if named:
        output = options.default_output_name(bed or fasta, "embeddings")
    summary = embed(model=model, output=output, fasta=fasta, bed=bed, ref=ref, clip=clip, window=window,
                    stride=stride, resize=resize, pooling=pooling, layer=layer, rc_average=rc_average,
                    half_output=half_output, batch_tokens=batch_tokens, lookahead=lookahead, device=device,
                    precision=precision, shard=shard, resume=resume, force=force, threads=threads,
                    show_progress=show_progress(quiet), command_line=options.command_line(), index_dir=index_dir)
    if not quiet:
        click.echo(format_summary("Embedded", summary, named), err=True)
