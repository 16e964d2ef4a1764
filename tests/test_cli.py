"""The command group itself: version, help with an example on every command, exit codes."""
import click
import pytest

from dnabert2 import __version__
from dnabert2.cli import COMMANDS, LazyGroup, cli
from dnabert2.errors import InputError


def test_version(run_cli):
    result = run_cli("--version")
    assert result.exit_code == 0
    assert __version__ in result.output


def test_group_help_lists_every_command(run_cli):
    result = run_cli("--help")
    assert result.exit_code == 0
    assert "Example:" in result.output
    for name in COMMANDS:
        assert name in result.output


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_has_help_with_example(run_cli, name):
    result = run_cli(name, "--help")
    assert result.exit_code == 0, result.output
    assert "Example:" in result.output
    assert f"dnabert2 {name}" in result.output.split("Example:")[1]


def _group_with(failure):
    @click.group(cls=LazyGroup)
    def group():
        pass

    @group.command()
    def boom():
        raise failure

    return group


@pytest.mark.parametrize("failure, code, text", [
    (InputError("genome.fa: line 3: not FASTA"), 2, "Error: genome.fa: line 3: not FASTA"),
    (RuntimeError("kaput"), 1, "internal error: RuntimeError: kaput"),
    (KeyboardInterrupt(), 130, "Interrupted."),
])
def test_exceptions_map_to_exit_codes(failure, code, text, monkeypatch):
    from click.testing import CliRunner

    monkeypatch.setattr(LazyGroup, "list_commands", click.Group.list_commands)
    monkeypatch.setattr(LazyGroup, "get_command", click.Group.get_command)
    result = CliRunner().invoke(_group_with(failure), ["boom"])
    assert result.exit_code == code
    assert text in result.output
    assert "Traceback" not in result.output
