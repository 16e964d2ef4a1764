"""Reading numbers out of the text fields of user files (BED columns, table labels), and lists of names out of
options."""
import re

from dnabert2.errors import InputError

_INT = re.compile(r"\s*[+-]?\d+\s*")
_NUMBER = re.compile(r"\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*")


def is_int(text):
    """Whether `text` is a whole number written in decimal digits (an optional sign, surrounding spaces)."""
    return _INT.fullmatch(text) is not None


def is_number(text):
    """Whether `text` is a number written in decimal: a whole number, a decimal fraction or scientific notation
    (`20000`, `20000.0`, `2e4`); words such as `nan` or `inf` are not."""
    return _NUMBER.fullmatch(text) is not None


def parse_names(given, known, option):
    """None, 'a,b' or ['a', 'b,c'] -> a tuple of the names in `known`, in the order given, each once (None stays
    None, and so does an empty list); InputError naming `option` for an unknown name."""
    if given is None:
        return None
    if isinstance(given, str):
        given = [given]
    names = []
    for item in given:
        for name in str(item).split(","):
            name = name.strip().lower()
            if not name:
                continue
            if name not in known:
                raise InputError(f"{option} {name!r}: expected one of {', '.join(known)}")
            if name not in names:
                names.append(name)
    return tuple(names) or None
