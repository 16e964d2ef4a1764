"""Options written once (`dnabert2.common.fields`, `dnabert2.commands.options`): every command's click options are
its settings dataclass's fields, with the same defaults; no command or library entry takes more than a dozen
parameters; an option's old spelling still works, with a notice, and never together with the new one."""
import dataclasses
import inspect
import json
from dataclasses import dataclass

import click
import pytest
from click.testing import CliRunner

import dnabert2
from dnabert2.cli import COMMANDS, cli
from dnabert2.commands import options
from dnabert2.common.fields import INPUTS, build, option, settings_of

MAX_PARAMETERS = 12
COMMON = {"verbose", "quiet", "help"}  # -v, -q, -h on every command (commands.options.common_options)


def _commands():
    """(name, click command) of every command, benchmark's sub-commands included."""
    ctx = click.Context(cli)
    found = []
    for name in COMMANDS:
        command = cli.get_command(ctx, name)
        if isinstance(command, click.Group):
            found += [(f"{name} {sub}", command.commands[sub]) for sub in sorted(command.commands)]
        else:
            found.append((name, command))
    return found


COMMAND_NAMES = [name for name, _ in _commands()]
ENTRIES = [name for name in dnabert2.__all__ if callable(getattr(dnabert2, name, None))
           and not isinstance(getattr(dnabert2, name), type)]


def _command(name):
    return dict(_commands())[name]


def _field_default(f):
    if f.default is not dataclasses.MISSING:
        return f.default
    return f.default_factory()


def _default_problems(name, command):
    """What breaks "each option once" on `command`: an option that is not a field of the settings dataclasses its
    options are made from, or whose click default differs from the field's."""
    classes = {p.settings for p in command.params if getattr(p, "settings", None) is not None}
    if not classes:
        return [f"{name}: no option is generated from a settings dataclass (options.settings_options)"]
    fields = {f.name: f for cls in classes for f in dataclasses.fields(cls)}
    problems = []
    for param in command.params:
        if isinstance(param, click.Argument) or param.name in COMMON:
            continue
        if param.hidden:  # an old spelling: an alias of a field, no default of its own
            if param.default is not None or not any(param.opts[0] in f.metadata["option"].aliases
                                                    for f in fields.values() if f.metadata.get("option")):
                problems.append(f"{name} {param.opts[0]}: hidden, yet not the alias of a field")
            continue
        field = fields.get(param.name)
        if field is None or field.metadata.get("option") is None:
            problems.append(f"{name} {param.opts[0]}: not an option field of {', '.join(c.__name__ for c in classes)}")
            continue
        given, default = param.default, _field_default(field)
        if param.required:
            given = None  # click keeps no default for a required option
        if param.multiple:  # a repeatable option given no times is () on the command line, None or () as a field
            given, default = tuple(given or ()), tuple(default or ())
        separator = field.metadata["option"].separator
        if separator is not None and default is not None:  # a tuple field written as joined text ('Wqkv,dense')
            default = separator.join(default)
        if given != default:
            problems.append(f"{name} {param.opts[0]}: click's default {given!r}, the field's {default!r}")
    return problems


@pytest.mark.parametrize("name", COMMAND_NAMES)
def test_every_option_is_a_settings_field_with_its_default(name):
    assert _default_problems(name, _command(name)) == []


def test_the_default_check_catches_a_hand_written_option():
    """A click option written by hand beside the generated ones: caught when its default differs from the field's,
    or when it is no field at all."""
    from dnabert2.vocab import VocabSettings

    def command_with(*hand_written):
        def callback(**given):
            pass
        for decorator in hand_written:
            callback = decorator(callback)
        return click.command(cls=options.GroupedCommand)(
            options.settings_options(VocabSettings, skip=("seed",))(options.common_options(callback)))

    assert _default_problems("vocab", command_with(click.option("--seed", type=int, default=0))) == []
    assert _default_problems("vocab", command_with(click.option("--seed", type=int, default=7))) == [
        "vocab --seed: click's default 7, the field's 0"]
    assert _default_problems("vocab", command_with(click.option("--colour", default="red"))) == [
        "vocab --colour: not an option field of VocabSettings"]


@pytest.mark.parametrize("name", COMMAND_NAMES)
def test_no_command_function_takes_more_than_a_dozen_parameters(name):
    count = len(inspect.signature(_command(name).callback).parameters)  # **given counts as one
    assert count <= MAX_PARAMETERS, f"{name}: the command function takes {count} parameters"


@pytest.mark.parametrize("name", ENTRIES)
def test_no_library_entry_takes_more_than_a_dozen_parameters(name):
    count = len(inspect.signature(getattr(dnabert2, name)).parameters)
    assert count <= MAX_PARAMETERS, f"dnabert2.{name} takes {count} parameters"


def test_the_entries_checked_include_every_command_s_library_function():
    from dnabert2.studies.tokenizer_study import tokenizer_study

    assert {"train_vocab", "embed", "predict", "merge", "score_variants", "finetune", "benchmark_gue", "pretrain",
            "convert_model"} <= set(ENTRIES)
    assert len(inspect.signature(tokenizer_study).parameters) <= MAX_PARAMETERS


@dataclass
class _Demo:
    """A settings dataclass with a renamed option, to test the mechanism on its own."""
    heldout_fraction: float = option(0.01, "Share held out.", group=INPUTS, aliases=("--eval-fraction",))
    seed: int = option(42, "Seed.")


@click.command(cls=options.GroupedCommand)
@options.settings_options(_Demo)
def _demo(**given):
    click.echo(json.dumps(dataclasses.asdict(options.settings_from(_Demo, given))))


@pytest.mark.parametrize("args, value, notice", [
    ([], 0.01, False),
    (["--heldout-fraction", "0.2"], 0.2, False),
    (["--eval-fraction", "0.3"], 0.3, True),
])
def test_an_old_spelling_still_works_with_a_notice(args, value, notice):
    result = CliRunner().invoke(_demo, args)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"heldout_fraction": value, "seed": 42}
    assert ("Note: --eval-fraction is now --heldout-fraction; the old name still works." in result.stderr) == notice
    assert "--eval-fraction" not in CliRunner().invoke(_demo, ["--help"]).output  # hidden


def test_old_and_new_spelling_together_are_refused():
    result = CliRunner().invoke(_demo, ["--eval-fraction", "0.3", "--heldout-fraction", "0.2"])
    assert result.exit_code == 2
    assert "--eval-fraction is the old name of --heldout-fraction: give one of them" in result.output


def test_pretrain_eval_fraction_is_heldout_fraction(run_cli, shared, tmp_path):
    genome = shared("genomes", "sars_cov_2", "NC_045512.2.fasta")
    old = run_cli("pretrain", genome, "--eval-fraction", "1.5", "-o", tmp_path / "out")
    assert old.exit_code == 2
    assert old.stderr.splitlines() == ["Note: --eval-fraction is now --heldout-fraction; the old name still works.",
                                       "Error: --heldout-fraction: must be in [0, 1) (got 1.5)"]
    both = run_cli("pretrain", genome, "--eval-fraction", "0.1", "--heldout-fraction", "0.1", "-o", tmp_path / "o")
    assert both.exit_code == 2 and "give one of them" in both.output
    assert not (tmp_path / "out").exists() and not (tmp_path / "o").exists()


def test_pretrain_old_keyword_warns_and_is_the_new_one():
    from dnabert2.pretraining.settings import PretrainSettings

    with pytest.warns(DeprecationWarning, match=r"pretrain\(eval_fraction=...\) is now heldout_fraction="):
        settings = build(PretrainSettings, {"eval_fraction": 0.2}, "pretrain")
    assert settings.heldout_fraction == 0.2


def test_settings_or_keywords_not_both():
    from dnabert2.vocab import VocabSettings

    settings = settings_of(VocabSettings, None, {"seed": 3}, "train_vocab", output="tok", size=None)
    assert (settings.seed, settings.output, settings.size) == (3, "tok", VocabSettings().size)
    copy = settings_of(VocabSettings, settings, {}, "train_vocab")
    assert copy == settings and copy is not settings
    with pytest.raises(TypeError, match=r"train_vocab\(\): give settings or keyword options \(seed\), not both"):
        settings_of(VocabSettings, settings, {"seed": 4}, "train_vocab")
    with pytest.raises(TypeError, match="unexpected keyword argument 'sizes'"):
        dnabert2.train_vocab(["g.fa"], "tok", sizes=4096)
