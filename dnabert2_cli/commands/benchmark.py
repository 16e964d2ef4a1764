"""`dnabert2 benchmark gue` and `benchmark tokenizers`: parse options, call the library, print the result table."""
import click

from dnabert2.commands import options
from dnabert2.finetuning.settings import GueSettings
from dnabert2.studies.tokenizer_study import StudySettings


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
