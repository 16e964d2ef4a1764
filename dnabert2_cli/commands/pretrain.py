"""`dnabert2 pretrain`: masked-LM pretraining from FASTA genomes or a prepared corpus (thin shell)."""
import click

from dnabert2.commands import options

DEFAULT_OUTPUT = "dnabert2_pretrained"  # the output folder when -o is not given
DEFAULT_CORPUS = "dnabert2_corpus"  # the same with --prepare


def _weights(ctx, param, value):
    if value is None:
        return None
    try:
        return [float(w) for w in value.split(",")]
    except ValueError:
        raise click.BadParameter(f"{value!r}: expected comma-separated numbers, one per --genome file") from None


@click.command(context_settings={"max_content_width": 110})
@click.argument("extra_genomes", nargs=-1, metavar="[GENOME]...")
@click.option("--genome", "genomes", multiple=True, metavar="FASTA",
              help="Genome FASTA (plain, gzip or bgzip); repeat, or list several after it.")
@click.option("--genome-weights", callback=_weights, metavar="W1,W2,...",
              help="Sampling weight per --genome file, in order (default: by usable length).")
@click.option("--corpus", type=click.Path(file_okay=False), help="Train on a corpus made with --prepare instead.")
@click.option("--table", "tables", multiple=True, metavar="TABLE",
              help="Further pretraining: train on the sequences of this labelled table (any finetune layout); repeat.")
@click.option("--prepare", is_flag=True, help="Only tokenise --windows genome windows into a corpus folder (-o).")
@click.option("--windows", type=click.IntRange(min=1), default=100_000, show_default=True,
              help="With --prepare: training windows to write.")
@click.option("--tokenizer", type=click.Path(),
              help="Tokenizer folder  [default: that of --init or --corpus, else the released DNABERT-2 tokenizer]")
@click.option("-o", "--output", type=click.Path(), default=None,
              help=f"Output folder (model, log, checkpoints)  [default: {DEFAULT_OUTPUT} ({DEFAULT_CORPUS} with "
                   "--prepare) in the current folder]")
@click.option("--model-config", metavar="dnabert2-117m|small|tiny|FILE.json",
              help="Architecture of a new model: a preset or a config JSON  [default: dnabert2-117m]")
@click.option("--init", type=click.Path(), help="Start from this model folder instead of random weights.")
@click.option("--max-tokens", type=int, default=128, show_default=True, help="Tokens per window, [CLS] and [SEP] included.")
@click.option("--mlm-probability", type=float, default=0.15, show_default=True, help="Share of tokens chosen to predict.")
@click.option("--mask-fraction", type=float, default=0.8, show_default=True, help="Of those: replaced by [MASK].")
@click.option("--random-fraction", type=float, default=0.1, show_default=True, help="Of those: replaced by a random token.")
@click.option("--batch-size", type=int, default=32, show_default=True, help="Windows per micro-batch per device.")
@click.option("--grad-accum", type=int, default=1, show_default=True, help="Micro-batches per optimiser step.")
@click.option("--max-steps", type=int, default=10000, show_default=True, help="Optimiser steps in the whole run.")
@click.option("--lr", type=float, default=5e-4, show_default=True, help="Peak learning rate.")
@click.option("--warmup-steps", type=int, default=None, help="Linear warm-up steps  [default: 6% of --max-steps]")
@click.option("--weight-decay", type=float, default=1e-5, show_default=True, help="AdamW weight decay.")
@click.option("--max-grad-norm", type=float, default=1.0, show_default=True, help="Gradient clipping norm.")
@click.option("--gradient-checkpointing", is_flag=True, help="Recompute activations in backward to save memory.")
@click.option("--save-every", type=int, default=1000, show_default=True, help="Checkpoint every N steps.")
@click.option("--keep-checkpoints", type=int, default=3, show_default=True, help="Checkpoints kept (newest).")
@click.option("--eval-every", type=int, default=500, show_default=True, help="Held-out loss every N steps (0: never).")
@click.option("--eval-fraction", type=float, default=0.01, show_default=True,
              help="Share of each genome's bases held out for evaluation.")
@click.option("--eval-samples", type=click.IntRange(min=1), default=512, show_default=True,
              help="Held-out windows evaluated.")
@click.option("--log-every", type=int, default=10, show_default=True, help="Write a log.jsonl record every N steps.")
@click.option("--seed", type=int, default=42, show_default=True, help="Seed for initialisation, data and masking.")
@click.option("--workers", "num_workers", type=int, default=2, show_default=True,
              help="DataLoader worker processes tokenising and masking (0: in the main process).")
@click.option("--resume", is_flag=True, help="Continue the run in the output folder from its newest checkpoint.")
@click.option("--stop-at-step", type=int, default=None,
              help="Checkpoint and stop after this step, resumable later (for jobs with a time limit).")
@options.force_option("Replace an existing output folder.")
@options.model_run_options
def command(extra_genomes, genomes, prepare, windows, quiet, verbose, **kwargs):
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
    from dnabert2.pretraining.run import pretrain
    from dnabert2.pretraining.corpus import prepare_corpus
    from dnabert2.common.runtime import show_progress
    from dnabert2.tokenizer import load_tokenizer

    all_genomes = [*genomes, *extra_genomes]
    if not (all_genomes or kwargs["corpus"] or kwargs["tables"]):
        _explain_and_exit()
    progress = show_progress(quiet)
    if prepare:
        from dnabert2.pretraining.settings import PretrainSettings
        from dnabert2.pretraining.setup import tokenizer_source

        if kwargs["tables"]:
            raise click.UsageError("--prepare reads --genome files; --table trains on the tables directly")
        kwargs["output"] = kwargs["output"] or DEFAULT_CORPUS
        tokenizer = load_tokenizer(tokenizer_source(PretrainSettings(tokenizer=kwargs["tokenizer"])))
        meta = prepare_corpus(all_genomes, tokenizer, kwargs["output"], windows=windows,
                              max_tokens=kwargs["max_tokens"], seed=kwargs["seed"],
                              genome_weights=kwargs["genome_weights"], eval_fraction=kwargs["eval_fraction"],
                              eval_samples=kwargs["eval_samples"], num_workers=kwargs["num_workers"],
                              force=kwargs["force"], progress=progress)
        if not quiet:
            rows = sum(s["rows"] for s in meta["shards"])
            held = meta["eval"]["rows"] if meta["eval"] else 0
            click.echo(f"wrote {rows} training and {held} held-out windows of {meta['max_tokens']} tokens "
                       f"to {kwargs['output']}", err=True)
        return
    kwargs["output"] = kwargs["output"] or DEFAULT_OUTPUT
    report = None if quiet else (lambda line: click.echo(line, err=True))
    summary = pretrain(all_genomes, show_progress=progress, report=report, **kwargs)
    if not quiet and summary["rank"] == 0:
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
