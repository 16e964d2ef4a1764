"""`dnabert2 convert`: parse options, call `dnabert2.convert_model`, print a short summary."""
import click

from dnabert2.commands import options


@click.command("convert")
@click.argument("source", type=str)
@click.option("--output", "-o", required=True, type=click.Path(file_okay=False, path_type=str),
              help="Model folder to write (must not exist unless --force).")
@click.option("--task", type=click.Choice(["auto", "base", "masked-lm", "classification"]), default="auto",
              show_default=True,
              help="Model head to keep (auto: a classifier if the config names one, else masked-LM if its "
                   "weights are there, else the bare encoder).")
@click.option("--precision", type=click.Choice(["fp32", "bf16", "fp16"]), default="fp32", show_default=True,
              help="Precision of the written weights.")
@options.force_option()
@options.common_options
def command(source, output, task, precision, force, verbose, quiet):
    """Convert a DNABERT-2 checkpoint into a clean model folder.

    SOURCE is the DNABERT-2-117M release folder as downloaded (pytorch_model.bin and a config.json that points
    at remote code), a hub id when online, or any model folder. The output holds config.json (model_type
    dnabert2, no remote code), model.safetensors and the tokenizer files copied unchanged; every dnabert2
    command and transformers' Auto classes (after `import dnabert2`) load it. The pickle is read with
    weights_only=True: no code from it runs.

    \b
    Example:
      dnabert2 convert DNABERT-2-117M/ -o dnabert2-117m
      dnabert2 convert zhihan1996/DNABERT-2-117M -o dnabert2-117m --precision bf16
    """
    from dnabert2.common.models import convert_model

    summary = convert_model(source, output, task=task, precision=precision, force=force)
    if not quiet:
        click.echo(f"{summary['class']} ({summary['parameters']:,} parameters, {summary['dtype']}) from {source}",
                   err=True)
        click.echo(f"Wrote {output}/ ({', '.join(summary['files'])})", err=True)
