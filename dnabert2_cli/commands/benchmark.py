"""`dnabert2 benchmark gue` and `benchmark tokenizers`: parse options, call the library, print the result table."""
import click

from dnabert2.commands import options
from dnabert2.studies.tokenizer_study import StudySettings


@click.group("benchmark")
def command():
    """Benchmarks of a model on public datasets, and the paper's tokenizer study.

    \b
    Example:
      dnabert2 benchmark gue --data GUE --model DNABERT-2-117M -o gue_results
      dnabert2 benchmark tokenizers genome.fa.gz --tasks GUE/tf/0 -o tokenizer_study
    """


@command.command("gue")
@click.option("--data", required=True, type=click.Path(file_okay=False, path_type=str),
              help="The GUE folder (or any part of it); every folder holding train/dev/test tables is a dataset.")
@click.option("--model", "-m", "model", required=True, help="Model folder or hub id to fine-tune on each dataset.")
@click.option("--output", "-o", required=True, type=click.Path(file_okay=False, path_type=str),
              help="Folder for results.tsv, results.json and runs/ (must not exist unless --force).")
@click.option("--tasks", default=None,
              help="Comma-separated glob patterns on dataset names, e.g. 'prom/*,tf/0' (default: all).")
@click.option("--max-steps", type=click.IntRange(min=1), default=None,
              help="Cap every dataset's steps (for smoke tests; the paper's epochs apply otherwise).")
@click.option("--keep-models", is_flag=True, help="Save each fine-tuned model under runs/ (large).")
@options.lora_options
@options.run_size_options
@options.force_option()
@options.model_run_options
def gue(data, model, output, tasks, max_steps, keep_models, lora, lora_targets, lora_r, lora_alpha, lora_dropout,
        batch_size, seeds, seed, max_train_rows, max_eval_rows, force, device, precision, threads, verbose, quiet):
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
    from dnabert2.finetuning.lora import LORA_DEFAULTS

    if lora_targets != ",".join(LORA_DEFAULTS.targets) and not lora:
        raise click.UsageError("--lora-targets needs --lora")
    rows = benchmark_gue(data, model, output, tasks=[t.strip() for t in tasks.split(",")] if tasks else None,
                         seeds=seeds, seed=seed, max_train_rows=max_train_rows, max_eval_rows=max_eval_rows,
                         max_steps=max_steps, batch_size=batch_size,
                         lora=({"targets": options.lora_targets(lora_targets), "r": lora_r,
                                "alpha": lora_alpha, "dropout": lora_dropout} if lora else None),
                         keep_models=keep_models, device=device, precision=precision, threads=threads, force=force,
                         quiet=quiet)
    click.echo(format_table(rows))
    if not quiet:
        click.echo(f"Wrote {output}/ (results.tsv, results.json, runs/)", err=True)


@command.command("tokenizers", cls=options.GroupedCommand)
@click.argument("genomes", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=str))
@options.settings_options(StudySettings)
@options.common_options
def tokenizers(genomes, verbose, quiet, **given):
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

    say = None if quiet else (lambda message: click.echo(message, err=True))
    settings = options.settings_from(StudySettings, given, progress=say)
    result = tokenizer_study(genomes, settings=settings)
    click.echo(format_tables(result["vocab"], result["tasks"], result["names"]))
    if not quiet:
        click.echo(f"Wrote {settings.output}/ (vocab.tsv, results.tsv, results.json); {result['seconds']:.0f} s",
                   err=True)
