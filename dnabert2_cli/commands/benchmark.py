"""`dnabert2 benchmark gue` and `benchmark tokenizers`: parse options, call the library, print the result table."""
import click

from dnabert2.commands import options
from dnabert2.finetuning.settings import GueSettings
from dnabert2.studies.tokenizer_study import DEFAULT_TOKENIZERS, StudySettings


@click.group("benchmark")
def command():
    """Benchmarks of a model on public datasets, and the paper's tokenizer study.

    \b
    Example:
      dnabert2 benchmark gue --data GUE --model DNABERT-2-117M -o gue_results
      dnabert2 benchmark tokenizers genome.fa.gz --tasks GUE/tf/0 -o tokenizer_study
    """


@command.command("gue", cls=options.GroupedCommand)
@options.settings_options(GueSettings)
@options.common_options
def gue(verbose, quiet, **given):
    """Run the GUE fine-tuning protocol of the DNABERT-2 paper on every dataset folder found.

    Per-task max tokens, epochs and evaluation interval follow the paper's scripts (batch 32, lr 3e-5, best
    checkpoint by dev loss); the table shows our test score (MCC x 100; Covid: macro F1 x 100, mean +- std over
    seeds) beside the paper's DNABERT-2 number. Folders without a train table are listed as skipped.

    \b
    Example:
      dnabert2 benchmark gue --data GUE --model DNABERT-2-117M -o gue_results --seeds 3
      dnabert2 benchmark gue --data GUE --model my_model -o smoke --tasks 'tf/*' --max-train-rows 256 --max-steps 20
    """
    from dnabert2.finetuning.gue import benchmark_gue, format_table

    settings = options.settings_from(GueSettings, given, quiet=quiet)
    rows = benchmark_gue(settings=settings)
    click.echo(format_table(rows))
    if not quiet:
        click.echo(f"Wrote {settings.output}/ (results.tsv, results.json, runs/)", err=True)


_INT, _POSITIVE = click.IntRange(min=1), click.FloatRange(min=0, min_open=True)
# the study's budget: (option, StudySettings field, type, help); defaults are the fields' defaults
_BUDGET = [
    ("--vocab-max-bases", "vocab_max_bases", _INT, "Bases sampled from the genomes to learn each BPE vocabulary."),
    ("--model-config", "model_config", str,
     "Model of every pretraining run: a preset (dnabert2-117m, small, tiny) or a config JSON."),
    ("--pretrain-steps", "pretrain_steps", _INT, "Pretraining steps per tokenizer (the same budget for each)."),
    ("--pretrain-batch", "pretrain_batch", _INT, "Windows per pretraining step."),
    ("--max-tokens", "max_tokens", click.IntRange(min=3), "Tokens per pretraining window, [CLS] and [SEP] included."),
    ("--pretrain-lr", "pretrain_lr", _POSITIVE, "Peak pretraining learning rate."),
    ("--finetune-max-steps", "finetune_max_steps", _INT,
     "Cap on fine-tuning steps per task and seed (the paper's epochs otherwise)."),
    ("--finetune-batch", "finetune_batch", _INT, "Fine-tuning batch size."),
    ("--finetune-lr", "finetune_lr", _POSITIVE,
     "Fine-tuning learning rate (the paper's 3e-5 suits the 117M model, not a tiny one)."),
    ("--finetune-eval-every", "finetune_eval_every", _INT, "Dev evaluation interval (best checkpoint by dev loss)."),
    ("--max-train-rows", "max_train_rows", click.IntRange(min=2), "Random training rows per task."),
    ("--max-eval-rows", "max_eval_rows", _INT, "Random dev and test rows per task."),
    ("--seeds", "seeds", _INT, "Fine-tuning seeds per task (mean and std reported)."),
    ("--seed", "seed", int, "Seed of sampling, pretraining and the first fine-tuning run."),
    ("--baseline", "baseline", str, "Tokenizer of the untrained (random-weights) baseline model: default "
     "bpe:4096 when listed, else the first; 'none': no baseline."),
]


def _budget_options(f):
    for flag, name, kind, text in reversed(_BUDGET):
        f = click.option(flag, name, type=kind, default=getattr(StudySettings, name), show_default=True,
                         help=text)(f)
    return f


@command.command("tokenizers")
@click.argument("genomes", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=str))
@click.option("--tasks", "tasks", multiple=True, required=True, type=click.Path(file_okay=False, path_type=str),
              help="Task folder with train/dev/test tables (e.g. GUE/tf/0); repeat for more tasks.")
@click.option("--output", "-o", required=True, type=click.Path(file_okay=False, path_type=str),
              help="Study folder (tokenizers/, models/, finetune/, vocab.tsv, results.tsv, results.json).")
@click.option("--tokenizers", "tokenizer_list", default=",".join(DEFAULT_TOKENIZERS), show_default=True,
              help="Comma-separated: bpe:SIZE, kmer:K (overlapping), kmer:K:K (non-overlapping).")
@_budget_options
@click.option("--resume", is_flag=True, help="Continue a study in --output, reusing every finished piece.")
@options.force_option()
@options.model_run_options
def tokenizers(genomes, tasks, output, tokenizer_list, resume, force, device, precision, threads, verbose, quiet,
               **budget):
    """Compare tokenizers (BPE sizes, k-mers) as the paper's Figure 3 and Table 3/10 do, on your genomes.

    For each tokenizer: its vocabulary statistics (mean token length, held-out nt per token), a model pretrained
    from scratch on GENOMES with the same budget (steps x batch x tokens), and fine-tuning on every --tasks folder
    (MCC x 100, mean +- std over seeds), printed beside the paper's numbers and an untrained model's (baseline).
    The defaults are a laptop-scale run (about an hour on one CPU thread); raise --model-config, --pretrain-steps
    and the row caps on GPUs.

    \b
    Example:
      dnabert2 benchmark tokenizers genomes/*.fa.gz --tasks GUE/tf/0 --tasks GUE/mouse/0 -o tokenizer_study
      dnabert2 benchmark tokenizers genome.fa --tasks GUE/tf/0 --tokenizers bpe:4096,kmer:6 \\
          --model-config dnabert2-117m --pretrain-steps 20000 --max-train-rows 100000 -o big_study
    """
    from dnabert2.studies.tokenizer_report import format_tables
    from dnabert2.studies.tokenizer_study import tokenizer_study

    settings = StudySettings(tokenizers=tuple(t for t in tokenizer_list.split(",") if t.strip()), **budget)
    say = None if quiet else (lambda message: click.echo(message, err=True))
    result = tokenizer_study(genomes, tasks, output, settings, device=device, precision=precision, threads=threads,
                             resume=resume, force=force, progress=say)
    click.echo(format_tables(result["vocab"], result["tasks"], result["names"]))
    if not quiet:
        click.echo(f"Wrote {output}/ (vocab.tsv, results.tsv, results.json); {result['seconds']:.0f} s", err=True)
