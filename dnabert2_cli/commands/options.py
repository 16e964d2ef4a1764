"""Option decorators shared by several commands, written once (see docs/architecture.md)."""
import logging
import sys

import click


# set by -v on any command; read by the group when it reports an error
VERBOSE = 0


def _setup_logging(ctx, param, value):
    global VERBOSE
    VERBOSE = value
    level = logging.WARNING
    if value >= 2:
        level = logging.DEBUG
    elif value == 1:
        level = logging.INFO
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr, force=True)
    return value


def common_options(f):
    """-v/--verbose (repeatable) and --quiet, on every command."""
    f = click.option("--quiet", "-q", is_flag=True, help="No progress bar or summary on stderr.")(f)
    f = click.option("--verbose", "-v", count=True, callback=_setup_logging, expose_value=True,
                     help="Log more (-v info, -vv debug); also prints tracebacks on errors.")(f)
    return f


def device_options(f):
    """--device and --precision, for commands that run the model."""
    f = click.option("--precision", type=click.Choice(["auto", "fp32", "bf16", "fp16"]), default="auto",
                     show_default=True, help="Numeric precision of the model (auto: bf16 on CUDA if supported, else fp32).")(f)
    f = click.option("--device", default="auto", show_default=True,
                     help="auto, cpu, cuda or cuda:N (auto picks CUDA when present).")(f)
    return f


def threads_option(f):
    return click.option("--threads", type=click.IntRange(min=1), default=None,
                        help="CPU threads for reading and tokenising (default: all cores).")(f)


def command_line():
    """The running command as the user typed it (`dnabert2 embed ...`), for provenance in output files."""
    import shlex

    ctx = click.get_current_context(silent=True)
    argv = ctx.meta.get("dnabert2.argv") if ctx is not None else None
    if argv is None:
        argv = sys.argv[1:]
    return shlex.join(["dnabert2", *argv])


def show_progress(quiet):
    """A progress bar only when not --quiet and stderr is a terminal."""
    return (not quiet) and sys.stderr.isatty()
