"""`dnabert2 pretrain`: masked-LM pretraining from FASTA genomes or a prepared corpus (thin shell)."""
import click

from dnabert2.commands import options
from dnabert2.pretraining.settings import DEFAULT_CORPUS, DEFAULT_OUTPUT, PretrainSettings


@click.command(cls=options.GroupedCommand, context_settings={"max_content_width": 110})
@click.argument("extra_genomes", nargs=-1, metavar="[GENOME]...")
@options.settings_options(PretrainSettings)
@options.common_options
def command(extra_genomes, verbose, quiet, **given):
    """Pretrain a DNABERT-2 model with masked-language modelling on genomes.

    Windows are drawn at random from the genomes (N-filtered, both strands), tokenised and masked (15%, 80/10/10)
    in worker processes. The optimiser and schedule follow the paper (AdamW 0.9/0.98, eps 1e-6, weight decay
    1e-5, linear warm-up then linear decay). The output folder is a model folder that every other command and
    transformers load; it also holds log.jsonl, loss_curve.png and the last checkpoints.

    Several GPUs or machines: run the same command under torchrun (DistributedDataParallel; gloo on CPU);
    --batch-size is per process.

    With genomes alone it trains the released architecture (dnabert2-117m) with the released tokenizer into
    dnabert2_pretrained/, printing what it set up and, after the first steps, the time per 1,000 steps.

    \b
    Example:
      dnabert2 pretrain genomes/*.fa
      dnabert2 pretrain genomes/*.fa --tokenizer bpe_4096 --model-config small --max-steps 20000
      dnabert2 pretrain --genome ecoli.fna.gz --tokenizer my_tokenizer --model-config tiny \\
          --max-steps 2000 --batch-size 64 -o my_model
      torchrun --nproc_per_node 4 -m dnabert2 pretrain --genome genomes/*.fa.gz \\
          --tokenizer my_tokenizer --model-config dnabert2-117m -o big_model --resume
      dnabert2 pretrain --prepare --genome genomes/*.fa.gz --tokenizer my_tokenizer --windows 1000000 -o corpus
      dnabert2 pretrain --init DNABERT-2-117M --table GUE/tf/0/train.csv --table GUE/tf/1/train.csv \\
          --batch-size 32 --max-tokens 128 --lr 5e-5 --max-steps 100000 -o further_pretrained
    """
    from dnabert2.common.runtime import show_progress
    from dnabert2.pretraining.run import pretrain

    given["genomes"] = (*given["genomes"], *extra_genomes)
    if not (given["genomes"] or given["corpus"] or given["tables"]):
        _explain_and_exit()
    report = None if quiet else (lambda line: click.echo(line, err=True))
    settings = options.settings_from(PretrainSettings, given, show_progress=show_progress(quiet), report=report)
    settings.output = settings.output or (DEFAULT_CORPUS if settings.prepare else DEFAULT_OUTPUT)
    summary = pretrain(settings=settings)
    if quiet:
        return
    if settings.prepare:
        rows = sum(s["rows"] for s in summary["shards"])
        held = summary["eval"]["rows"] if summary["eval"] else 0
        click.echo(f"wrote {rows} training and {held} held-out windows of {summary['max_tokens']} tokens "
                   f"to {settings.output}", err=True)
    elif summary["rank"] == 0:
        last = summary["last"] or {}
        ev = summary["eval"] or {}
        state = "finished" if summary["finished"] else "stopped (resume with --resume)"
        losses = [f"loss {last['loss']:.4f}"] if "loss" in last else []
        if "eval_loss" in ev:
            losses.append(f"held-out loss {ev['eval_loss']:.4f}")
        click.echo(f"step {summary['step']} {state} on {summary['device']} ({summary['precision']}): "
                   f"{', '.join(losses) or 'no steps run'}; wrote {summary['output']}", err=True)


def _explain_and_exit():
    """`dnabert2 pretrain` without data: say what it needs, with examples, and exit 2."""
    click.echo("dnabert2 pretrain needs training data: genome FASTA files (plain, gzip or bgzip) as arguments,\n"
               "or --corpus DIR (from --prepare), or --table FILE (labelled tables, for further pretraining).\n"
               f"With genomes alone it uses the released DNABERT-2 tokenizer and architecture (117M parameters) and\n"
               f"writes {DEFAULT_OUTPUT}/; it prints the time per 1,000 steps after the first steps.\n"
               "Examples:\n"
               "  dnabert2 pretrain genomes/*.fa\n"
               "  dnabert2 pretrain genome.fa.gz --model-config tiny --max-steps 200 -o quick_model   # minutes on a CPU\n"
               "More: dnabert2 pretrain --help", err=True)
    raise click.exceptions.Exit(2)
