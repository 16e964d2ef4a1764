"""The `dnabert2` command group.

Commands live one per module in `dnabert2.commands` and are imported only when invoked, so `dnabert2 --help`
stays fast. Every command is thin: it parses options, calls one library function and leaves error handling to
the group, which maps `InputError` to exit 2, Ctrl-C to 130 and anything unexpected to exit 1 (traceback with -v).
The mapping lives in `LazyGroup.invoke`, so in-process tests with `CliRunner` see the same exit codes as users.
"""
import importlib
import traceback

import click

from dnabert2 import __version__
from dnabert2.commands import options
from dnabert2.errors import InputError, OutputWriteError

# name -> (module in dnabert2.commands, one-line summary shown by `dnabert2 --help`)
COMMANDS = {
    "vocab": ("vocab", "Learn a BPE vocabulary (tokenizer folder) from FASTA genomes."),
    "embed": ("embed", "Embed regions (FASTA, or BED + reference) into HDF5: one vector per region."),
    "predict": ("predict", "Predict classes or values of regions with a fine-tuned model, into HDF5 (and TSV/BED)."),
    "merge": ("merge", "Join the HDF5 files of sharded embed/predict runs into one, in input order."),
    "score-variants": ("score_variants", "Score variants (VCF + reference) or every SNV of regions with a model."),
    "attribute": ("attribute", "Per-base attributions of regions (ism, integrated gradients, attention) into HDF5."),
    "motifs": ("motifs", "Motifs from attributions: TF-MoDISco patterns matched to JASPAR, with logos and a report."),
    "finetune": ("finetune", "Fine-tune a model on labelled sequence tables (classification, regression, multi-label)."),
    "benchmark": ("benchmark", "Benchmarks: `benchmark gue` runs the GUE protocol and compares with the paper."),
    "convert": ("convert", "Convert the DNABERT-2-117M release (or any model folder) into a clean safetensors folder."),
    "pretrain": ("pretrain", "Pretrain a model with masked-language modelling on genomes (CPU to multi-GPU)."),
}


class BadInput(click.ClickException):
    """Bad usage or bad input: one line on stderr, exit 2."""
    exit_code = 2


class InternalError(click.ClickException):
    """An unexpected failure: one line on stderr (traceback with -v), exit 1."""
    exit_code = 1

    def format_message(self):
        return f"internal error: {self.message}"


class LazyGroup(click.Group):
    """A click group whose sub-commands are imported on first use."""

    def list_commands(self, ctx):
        return list(COMMANDS)

    def get_command(self, ctx, name):
        if name not in COMMANDS:
            return None
        module = importlib.import_module(f"dnabert2.commands.{COMMANDS[name][0]}")
        return module.command

    def parse_args(self, ctx, args):
        ctx.meta["dnabert2.argv"] = list(args)  # the command line as typed, for provenance (options.command_line)
        return super().parse_args(ctx, args)

    def invoke(self, ctx):
        """Run the sub-command; map library exceptions to exit codes (2 bad input, 1 internal, 130 Ctrl-C)."""
        try:
            return super().invoke(ctx)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except InputError as e:
            if options.VERBOSE:
                traceback.print_exc()
            raise BadInput(str(e)) from None
        except OutputWriteError as e:  # disk full, quota: one line saying what was kept, exit 1
            raise click.ClickException(str(e)) from None
        except KeyboardInterrupt:
            click.echo("Interrupted.", err=True)
            raise click.exceptions.Exit(130) from None
        except Exception as e:
            if options.VERBOSE:
                traceback.print_exc()
            raise InternalError(f"{type(e).__name__}: {e} (run with -v for the traceback)") from None

    def format_commands(self, ctx, formatter):
        rows = [(name, summary) for name, (_, summary) in COMMANDS.items()]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.version_option(__version__, prog_name="dnabert2")
def cli():
    """DNABERT-2 genome language model: vocabularies, pretraining, fine-tuning and embeddings.

    \b
    Example:
      dnabert2 vocab genomes/*.fa --size 4096
      dnabert2 pretrain genomes/*.fa --tokenizer bpe_4096
      dnabert2 predict --bed promoters.bed --ref hg38.fa
    """


# Start-up (bench/startup.py): importing torch and the transformers base classes leaves about 380,000 objects to
# the cyclic garbage collector, which runs nearly a thousand collections while they load and walks them all once
# more at exit. The command line collects less often (young generation every 10,000 allocations instead of 700)
# and skips the final walk (gc.freeze): cycles are still collected during a run; nothing else changes. Python
# callers of `dnabert2` keep their own settings: this is the console entry point only.
GC_THRESHOLDS = (10_000, 50, 100)


def main(argv=None):
    """Console entry point (`dnabert2`)."""
    import gc

    gc.set_threshold(*GC_THRESHOLDS)
    try:
        cli.main(args=argv, prog_name="dnabert2")
    finally:
        gc.freeze()  # the objects left at exit are not walked once more
