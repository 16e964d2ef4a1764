"""`dnabert2 finetune`: parse options, call `dnabert2.finetune`, print the test (or dev) metrics."""
import click

from dnabert2.commands import options
from dnabert2.finetuning.settings import FinetuneSettings


@click.command("finetune", cls=options.GroupedCommand)
@options.settings_options(FinetuneSettings)
@options.common_options
def command(verbose, quiet, **given):
    """Fine-tune a model on labelled sequences (classification, regression or multi-label).

    Tables are CSV or TSV with a header: sequence,label or sequence_a,sequence_b,label (pairs), one label
    column per label for multi-label, float labels for regression. Labels may be names (kept as the model's
    label names). Every row is checked; errors name the file and line. Paper defaults: AdamW lr 3e-5, batch 32,
    50 warm-up steps, weight decay 0.01, best checkpoint by dev loss. The output folder is a model folder that
    `dnabert2 predict` reads, plus metrics.json, predictions.tsv, training_record.json and training_curve.png.
    While it trains, the run keeps its state at every dev evaluation in OUT.partial/; after a crash or a kill,
    the same command with --resume continues from there and ends with the same results.

    \b
    Example:
      dnabert2 finetune --data GUE/prom/prom_core_tata --model DNABERT-2-117M -o tata_model --max-tokens 20
      dnabert2 finetune --train train.tsv --dev dev.tsv --test test.tsv --model my_model -o out --lora --seeds 3
      dnabert2 finetune --data GUE/tf/0 --model tiny -o smoke --max-steps 40 --threads 1
    """
    from dnabert2.finetuning.run import finetune

    settings = options.settings_from(FinetuneSettings, given, quiet=quiet)
    summary = finetune(settings=settings)
    if quiet:
        return
    split = summary["predictions_split"]
    several = len(summary["seeds"]) > 1
    scores = ", ".join(f"{name} {value:.4f}" + (f" +- {summary[split + '_std'][name]:.4f}" if several else "")
                       for name, value in summary[split].items() if name != "loss")
    if summary["resumed"] is not None:
        click.echo(f"Resumed seed {summary['resumed']['seed']} at step {summary['resumed']['step']}", err=True)
    click.echo(f"{summary['task']} ({len(summary['labels'])} label(s)) from {model_named(settings.model, summary)}, "
               f"{summary['rows']['train']} training rows, {summary['steps']} steps, max length "
               f"{summary['max_length']} tokens, {len(summary['seeds'])} seed(s) on {summary['device']} "
               f"({summary['precision']}){kernels_said(settings, summary)}", err=True)
    click.echo(f"{split}: {scores}", err=True)
    click.echo(f"Wrote {settings.output}/ (model, metrics.json, predictions.tsv)", err=True)


def kernels_said(settings, summary):
    """'; attention flex, packed batches, compiled in 21.3 s' when the run asked for any of them, else ''."""
    if settings.attention == "auto" and not summary["packed"] and not settings.compile:
        return ""
    said = f"; attention {summary['attention']}, {'packed' if summary['packed'] else 'padded'} batches"
    if summary["compile_s"] is not None:
        said += f", compiled (first step {summary['compile_s']:.1f} s)"
    return said


def model_named(given, summary):
    """How the summary names the model trained from: the shipped one, a random preset, or the folder or id."""
    from dnabert2.finetuning.settings import is_preset

    if given is None:
        return f"the shipped pretrained model ({summary['model']})"
    if is_preset(given):
        return f"a random {given} model"
    return summary["model"]
