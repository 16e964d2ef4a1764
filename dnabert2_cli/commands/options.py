"""The command line made from the settings dataclasses (`dnabert2.common.fields`): `settings_options` makes a
command's click options from the fields, `GroupedCommand` lists them in groups in --help, `settings_from` turns the
parsed options back into the dataclass; plus what every command shares (-v/-q, the command line for provenance,
output names after the input). Commands import from here, never from each other."""
import logging
import sys

import click

from dnabert2.common.fields import GROUPS, RUN, option_fields, option_name


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


class GroupedOption(click.Option):
    """A click option that knows the `--help` group it is listed under and the settings dataclass it was made
    from (`settings`, None for a hand-written option; tests/test_options.py reads it)."""

    def __init__(self, *args, group=None, settings=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.group = group or RUN
        self.settings = settings


class GroupedCommand(click.Command):
    """A command whose `--help` lists its options in groups (inputs, model, training, outputs, run control), so
    thirty options read as a few short lists."""

    def format_options(self, ctx, formatter):
        sections = {}
        for param in self.get_params(ctx):
            record = param.get_help_record(ctx)
            if record is not None and not isinstance(param, click.Argument):
                sections.setdefault(getattr(param, "group", RUN), []).append(record)
        for name in [*GROUPS, *sorted(set(sections) - set(GROUPS))]:
            if name in sections:
                with formatter.section(name):
                    formatter.write_dl(sections[name])


def settings_options(cls, skip=()):
    """The click options of every option field of the settings dataclass `cls` (`dnabert2.common.fields`), with
    their defaults, help, choices and ranges taken from the fields; old spellings become hidden aliases.
    `skip`: fields the command declares itself (e.g. a positional argument)."""
    def decorate(f):
        params = []
        for field, how, kind in option_fields(cls):
            if field.name in skip:
                continue
            params.append(_click_option(cls, field, how, kind))
            params += [_alias_option(field, how, kind, alias) for alias in how.aliases]
        return _stack(f, params)
    return decorate


def settings_from(cls, given, **internal):
    """The settings dataclass `cls` from a command's parsed options (`given`, as click passes them; the option
    fields are taken out of it), resolving old spellings with a one-line notice; `internal` sets fields that are
    not options (progress, command line)."""
    ctx = click.get_current_context()
    values = {}
    for field, how, _ in option_fields(cls):
        if field.name not in given:
            continue
        value = given.pop(field.name)
        for alias in how.aliases:
            old = given.pop(_alias_dest(field, alias), None)
            if old is None or old == ():
                continue
            name = option_name(field, how)
            if ctx.get_parameter_source(field.name) == click.core.ParameterSource.COMMANDLINE:
                raise click.UsageError(f"{alias} is the old name of {name}: give one of them")
            click.echo(f"Note: {alias} is now {name}; the old name still works.", err=True)
            value = old
        values[field.name] = tuple(value) if how.multiple else value
    return cls(**values, **internal)


def _click_option(cls, field, how, kind):
    name = option_name(field, how)
    decls = [name, *([how.short] if how.short else []), field.name]
    help_text = how.help + (f"  [default: {how.default_text}]" if how.default_text else "")
    extra = dict(cls=GroupedOption, group=how.group, settings=cls, help=help_text, metavar=how.metavar,
                 required=how.required)
    if kind is bool and how.flag == "negatable":
        decls[0] = f"{name}/--no-{name[2:]}"
        return click.option(*decls, default=field.default, show_default=how.default_text is None, **extra)
    if kind is bool:
        return click.option(*decls, is_flag=True, default=bool(field.default), **extra)
    default = field.default
    if how.separator is not None and default is not None:  # the field's tuple, as the command line writes it
        default = how.separator.join(default)
    if not how.required:  # (a default, even None, would count as given: click asks for a required option unset)
        extra["default"] = default
    return click.option(*decls, type=_click_type(how, kind), multiple=how.multiple,
                        show_default=how.default_text is None and default not in (None, ()), **extra)


def _alias_option(field, how, kind, alias):
    return click.option(alias, _alias_dest(field, alias), type=_click_type(how, kind), default=None,
                        multiple=how.multiple, hidden=True)


def _alias_dest(field, alias):
    return f"{field.name}__as__{alias.lstrip('-').replace('-', '_')}"


def _click_type(how, kind):
    if how.choices:
        return click.Choice(how.choices)
    if how.path:
        return click.Path(dir_okay=how.path != "file", file_okay=how.path != "dir", allow_dash=how.dash,
                          path_type=str)
    if how.minimum is not None:
        return (click.IntRange if kind is int else click.FloatRange)(min=how.minimum)
    if how.above is not None:
        return click.FloatRange(min=how.above, min_open=True)
    return kind if kind in (int, float, str) else str


def common_options(f):
    """-v/--verbose (repeatable) and --quiet, on every command."""
    f = click.option("--quiet", "-q", is_flag=True, help="No progress bar or summary on stderr.")(f)
    f = click.option("--verbose", "-v", count=True, callback=_setup_logging, expose_value=True,
                     help="Log more (-v info, -vv debug); also prints tracebacks on errors.")(f)
    return f


def command_line():
    """The running command as the user typed it (`dnabert2 embed ...`), for provenance in output files."""
    import shlex

    ctx = click.get_current_context(silent=True)
    argv = ctx.meta.get("dnabert2.argv") if ctx is not None else None
    if argv is None:
        argv = sys.argv[1:]
    return shlex.join(["dnabert2", *argv])


def _stack(f, decorators):
    for decorator in reversed(decorators):
        f = decorator(f)
    return f


def region_settings(cls, given, quiet, command, suffix):
    """The settings of a region command (embed, predict, score-variants) from its options, with the shipped model
    when --model is not given and the output named after the input when -o is not; returns (settings, named)."""
    from dnabert2.common.runtime import show_progress
    from dnabert2.shipped import DEFAULT_FOR, model_path

    settings = settings_from(cls, given, show_progress=show_progress(quiet), command_line=command_line())
    if settings.model is None:
        settings.model = str(model_path(DEFAULT_FOR[command]))
    source = getattr(settings, "vcf", None) or settings.bed or settings.fasta
    named = settings.output is None and source is not None
    if named:
        settings.output = default_output_name(source, suffix)
    return settings, named


# extensions dropped from an input's name to name its output (after .gz, .bgz)
INPUT_EXTENSIONS = (".bed", ".fa", ".fasta", ".fas", ".fna", ".ffn", ".txt", ".tsv", ".vcf")


def default_output_name(path, suffix):
    """The output named after an input file, in the current folder: `data/promoters.bed.gz` -> `promoters.SUFFIX.h5`."""
    from pathlib import Path

    name = Path(path).name
    for compressed in (".gz", ".bgz", ".bgzf"):
        if name.lower().endswith(compressed):
            name = name[:-len(compressed)]
            break
    for extension in INPUT_EXTENSIONS:
        if name.lower().endswith(extension) and len(name) > len(extension):
            name = name[:-len(extension)]
            break
    return f"{name}.{suffix}.h5"
