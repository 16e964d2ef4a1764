"""Reading numbers out of the text fields of user files (BED columns, table labels)."""
import re

_INT = re.compile(r"\s*[+-]?\d+\s*")
_NUMBER = re.compile(r"\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*")


def is_int(text):
    """Whether `text` is a whole number written in decimal digits (an optional sign, surrounding spaces)."""
    return _INT.fullmatch(text) is not None


def is_number(text):
    """Whether `text` is a number written in decimal: a whole number, a decimal fraction or scientific notation
    (`20000`, `20000.0`, `2e4`); words such as `nan` or `inf` are not."""
    return _NUMBER.fullmatch(text) is not None
