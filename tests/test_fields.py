"""The options-once mechanism (dnabert2.common.fields, dnabert2.commands.options) on a made-up settings class:
defaults, help groups, negatable flags, hidden old spellings, and the Python API's keyword check."""
import warnings
from dataclasses import dataclass

import click
import pytest
from click.testing import CliRunner

from dnabert2.commands import options
from dnabert2.common.fields import INPUTS, OUTPUTS, RUN, build, internal, option


@dataclass
class Made:
    size: int = option(8, "How many.", group=INPUTS, minimum=1, aliases=("--count",))
    name: str = option("x", "A name.", group=OUTPUTS, short="-n")
    both: bool = option(None, "Both strands.", group=INPUTS, flag="negatable")
    loud: bool = option(False, "Say more.", group=RUN)
    tags: tuple = option((), "Repeatable.", group=INPUTS, multiple=True)
    hook: object = internal()


@click.command("made", cls=options.GroupedCommand)
@options.settings_options(Made)
def made(**given):
    click.echo(repr(options.settings_from(Made, given, hook="set")))


def run(*args):
    return CliRunner().invoke(made, list(args))


def test_defaults_come_from_the_fields():
    assert run().output.strip() == "Made(size=8, name='x', both=None, loud=False, tags=(), hook='set')"
    assert "size=3, name='y', both=False, loud=True, tags=('a', 'b')" in run("--size", "3", "-n", "y", "--no-both",
                                                                             "--loud", "--tags", "a", "--tags",
                                                                             "b").output


def test_help_lists_options_under_their_groups_in_order():
    text = run("--help").output
    assert text.index("Inputs:") < text.index("Outputs:") < text.index("Run control:")
    assert "--both / --no-both" in text and "[default: 8; x>=1]" in text and "--count" not in text  # alias hidden


def test_an_old_spelling_works_with_a_notice_and_not_beside_the_new_one():
    result = CliRunner().invoke(made, ["--count", "5"])
    assert result.exit_code == 0 and "size=5" in result.output
    assert "Note: --count is now --size; the old name still works." in result.output
    result = CliRunner().invoke(made, ["--count", "5", "--size", "6"])
    assert result.exit_code == 2 and "--count is the old name of --size: give one of them" in result.output


def test_ranges_and_choices_are_checked_by_the_command_line():
    assert run("--size", "0").exit_code == 2


def test_build_takes_keywords_old_names_with_a_warning_and_refuses_unknown_ones():
    assert build(Made, {"size": 2}, "made").size == 2
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert build(Made, {"count": 4}, "made").size == 4
    assert any("made(count=...) is now size=..." in str(w.message) for w in caught)
    with pytest.raises(TypeError, match="made\\(\\) got an unexpected keyword argument 'sise'; it takes: both, "):
        build(Made, {"sise": 1}, "made")


def test_a_mutable_default_is_refused():
    with pytest.raises(TypeError, match="tuple"):
        option([], "no")
