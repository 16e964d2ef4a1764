"""Exceptions the library raises; the command line turns them into exit codes.

`InputError` means the user gave something unusable (a missing file, a malformed line, a bad option value):
the CLI prints its message on one line and exits 2. Anything else that escapes is an internal failure (exit 1).
"""


class InputError(ValueError):
    """Bad input or bad usage. The message names the file, line or option and what is wrong with it."""


def located(path, reason, line=None):
    """Format a message that names where the problem is: `FILE: line N: reason` (line optional)."""
    where = f"{path}: line {line}" if line is not None else f"{path}"
    return f"{where}: {reason}"
