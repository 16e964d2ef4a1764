"""`dnabert2 convert`: parse options, call `dnabert2.convert_model`, print a short summary."""
import click

from dnabert2.commands import options
from dnabert2.common.models import ConvertSettings


@click.command("convert", cls=options.GroupedCommand)
@click.argument("source", type=str)
@options.settings_options(ConvertSettings)
@options.common_options
def command(source, verbose, quiet, **given):
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

    summary = convert_model(source, settings=options.settings_from(ConvertSettings, given))
    if not quiet:
        click.echo(f"{summary['class']} ({summary['parameters']:,} parameters, {summary['dtype']}) from {source}",
                   err=True)
        click.echo(f"Wrote {summary['output']}/ ({', '.join(summary['files'])})", err=True)
