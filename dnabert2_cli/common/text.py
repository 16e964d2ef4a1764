"""Reading numbers out of the text fields of user files (BED columns, table labels)."""
import re

_INT = re.compile(r"\s*[+-]?\d+\s*")


def is_int(text):
    """Whether `text` is a whole number written in decimal digits (an optional sign, surrounding spaces)."""
    return _INT.fullmatch(text) is not None
