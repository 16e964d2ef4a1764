"""Exceptions the library raises; the command line turns them into exit codes.

`InputError` means the user gave something unusable (a missing file, a malformed line, a bad option value):
the CLI prints its message on one line and exits 2. `ModelFolderError` is the InputError of a model folder that
cannot be used as a whole (no config, weights unreadable or at odds with the config, a tokenizer of another size).
`OutputWriteError` means an output could not be written for a reason outside the program (disk full, quota, I/O
error): one line, exit 1. Anything else that escapes is an internal failure (exit 1).
"""


class InputError(ValueError):
    """Bad input or bad usage. The message names the file, line or option and what is wrong with it."""


class ModelFolderError(InputError):
    """A model folder that cannot be loaded; the message names the folder (or its file) and what is wrong."""


class OutputWriteError(OSError):
    """Writing an output failed (disk full, quota, I/O error); the message says what was kept."""


def located(path, reason, line=None):
    """Format a message that names where the problem is: `FILE: line N: reason` (line optional)."""
    where = f"{path}: line {line}" if line is not None else f"{path}"
    return f"{where}: {reason}"
