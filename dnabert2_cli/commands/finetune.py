"""`dnabert2 finetune`: parse options, call `dnabert2.finetune`, print the test (or dev) metrics."""
import click

from dnabert2.commands import options


@click.command("finetune")
@click.option("--model", "-m", "model", required=True,
              help="Model folder (ours or the DNABERT-2-117M release) or hub id to start from.")
@click.option("--data", type=click.Path(file_okay=False, path_type=str), default=None,
              help="Folder holding train, dev and optionally test .csv/.tsv tables.")
@click.option("--train", type=click.Path(dir_okay=False, path_type=str), default=None, help="Training table.")
@click.option("--dev", type=click.Path(dir_okay=False, path_type=str), default=None,
              help="Validation table (evaluated every --eval-every steps; picks the best checkpoint).")
@click.option("--test", type=click.Path(dir_okay=False, path_type=str), default=None, help="Test table.")
@click.option("--output", "-o", required=True, type=click.Path(file_okay=False, path_type=str),
              help="Output folder: model folder plus metrics.json, predictions.tsv (must not exist unless --force).")
@click.option("--task", type=click.Choice(["auto", "classification", "regression", "multilabel"]), default="auto",
              show_default=True, help="auto: several label columns -> multilabel, integers or names -> "
                                      "classification, other numbers -> regression.")
@click.option("--epochs", type=float, default=None, help="Passes over the training data (default 3).")
@click.option("--max-steps", type=click.IntRange(min=1), default=None,
              help="Stop after this many optimiser steps (with --epochs: whichever comes first).")
@click.option("--lr", type=float, default=3e-5, show_default=True, help="Peak learning rate (AdamW).")
@click.option("--warmup-steps", type=click.IntRange(min=0), default=50, show_default=True,
              help="Linear warm-up steps, then linear decay to 0.")
@click.option("--weight-decay", type=float, default=0.01, show_default=True, help="AdamW weight decay.")
@click.option("--eval-every", type=click.IntRange(min=1), default=200, show_default=True,
              help="Evaluate on dev every N steps (and at the end).")
@click.option("--select-metric", default="loss", show_default=True,
              help="Keep the checkpoint with the best dev value of: loss, accuracy, f1, mcc, precision, recall "
                   "(regression: pearson, spearman, r2, mse).")
@click.option("--patience", type=click.IntRange(min=1), default=None,
              help="Stop early after this many evaluations without dev improvement.")
@click.option("--class-weights", "class_weights_mode", type=click.Choice(["none", "balanced"]), default="none",
              show_default=True, help="balanced: weight the loss by inverse class frequency.")
@click.option("--max-length", type=click.IntRange(min=3), default=None,
              help="Max tokens per example (default: the longest training example).")
@options.lora_options
@click.option("--save-adapter", is_flag=True, help="With --lora: save the adapter (adapter/) instead of merged weights.")
@options.run_size_options
@options.force_option()
@options.model_run_options
def command(model, data, train, dev, test, output, task, epochs, max_steps, lr, warmup_steps, weight_decay,
            eval_every, select_metric, patience, class_weights_mode, max_length, lora, lora_targets, lora_r,
            lora_alpha, lora_dropout, save_adapter, batch_size, seeds, seed, max_train_rows, max_eval_rows, force,
            device, precision, threads, verbose, quiet):
    """Fine-tune a model on labelled sequences (classification, regression or multi-label).

    Tables are CSV or TSV with a header: sequence,label or sequence_a,sequence_b,label (pairs), one label
    column per label for multi-label, float labels for regression. Labels may be names (kept as the model's
    label names). Every row is checked; errors name the file and line. Paper defaults: AdamW lr 3e-5, batch 32,
    50 warm-up steps, weight decay 0.01, best checkpoint by dev loss. The output folder is a model folder that
    `dnabert2 predict` reads, plus metrics.json, predictions.tsv, training_record.json and training_curve.png.

    \b
    Example:
      dnabert2 finetune --data GUE/prom/prom_core_tata --model DNABERT-2-117M -o tata_model --max-length 20
      dnabert2 finetune --train train.tsv --dev dev.tsv --test test.tsv --model my_model -o out --lora --seeds 3
    """
    from dnabert2.finetuning.run import finetune

    summary = finetune(output, model=model, train=train, dev=dev, test=test, data=data, task=task,
                       epochs=epochs, max_steps=max_steps, batch_size=batch_size, lr=lr, warmup_steps=warmup_steps,
                       weight_decay=weight_decay, eval_every=eval_every, select_metric=select_metric,
                       patience=patience, class_weights_mode=class_weights_mode, max_length=max_length, lora=lora,
                       lora_targets=options.lora_targets(lora_targets), lora_r=lora_r,
                       lora_alpha=lora_alpha, lora_dropout=lora_dropout, save_adapter=save_adapter, seeds=seeds,
                       seed=seed, max_train_rows=max_train_rows, max_eval_rows=max_eval_rows, device=device,
                       precision=precision, threads=threads, force=force, quiet=quiet)
    if quiet:
        return
    split = summary["predictions_split"]
    scores = ", ".join(f"{name} {value:.4f}" + (f" +- {summary[split + '_std'][name]:.4f}" if len(summary["seeds"]) > 1
                                                else "")
                       for name, value in summary[split].items() if name != "loss")
    click.echo(f"{summary['task']} ({len(summary['labels'])} label(s)), {summary['rows']['train']} training rows, "
               f"{summary['steps']} steps, max length {summary['max_length']} tokens, "
               f"{len(summary['seeds'])} seed(s) on {summary['device']} ({summary['precision']})", err=True)
    click.echo(f"{split}: {scores}", err=True)
    click.echo(f"Wrote {output}/ (model, metrics.json, predictions.tsv)", err=True)
