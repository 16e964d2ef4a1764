"""Reading BED files: every line checked against the reference before any work starts.

`read_bed` yields the regions of a BED3..BED12 file (plain or gzip) in file order; a malformed line, a chromosome
the reference lacks or a region past a chromosome end is an InputError naming the line, so nothing is written.
A first line is a header only when its start and end columns are not numbers of any kind: `chr2 20000.0 20300.0`
is a data line with coordinates that are not whole numbers (an error), never a header. Bytes that are not UTF-8
(in a name, say) are an error naming the line, not silently replaced.
"""
from pathlib import Path

from dnabert2.common.files import open_text
from dnabert2.common.text import is_int, is_number
from dnabert2.errors import InputError, located
from dnabert2.regions.region import Region, default_name, resized

STRANDS = {"+": "+", "-": "-", ".": "+"}


class _BadLine(Exception):
    """What is wrong with one line (read_bed adds the file and line number)."""


def read_bed(path, reference, clip=False, resize=None):
    """Yield (line number, Region) for every region of a BED3..BED12 file, checking each line against `reference`.

    Skips blank lines, `#` comments, `track`/`browser` lines and a header line (a first line whose start and
    end columns are not numbers of any kind). Raises InputError naming the line for anything malformed.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"--bed {path}: BED file not found")
    seen_data = False
    try:
        with open_text(path, errors="surrogateescape") as fh:
            for number, line in enumerate(fh, 1):
                line = line.rstrip("\r\n")
                if not line.strip() or line.startswith("#"):
                    continue
                fields = line.split("\t") if "\t" in line else line.split()
                if fields[0] in ("track", "browser"):
                    continue
                try:
                    _check_text(line)
                    if not seen_data and _is_header(fields):
                        seen_data = True  # a column header such as `chrom start end name`
                        continue
                    seen_data = True
                    region = parse_bed_fields(fields, reference, clip, resize)
                except _BadLine as e:
                    raise InputError(located(path, str(e), number)) from None
                yield number, region
    except (OSError, EOFError) as e:
        raise InputError(located(path, f"cannot read it ({e})")) from None


def parse_bed_fields(fields, reference, clip=False, resize=None):
    """The Region of one BED line split into its columns; `_BadLine` saying what is wrong otherwise."""
    if len(fields) < 3:
        raise _BadLine(f"expected at least 3 tab-separated columns (chrom, start, end), found {len(fields)}")
    chrom = fields[0]
    start, end = _coordinates(fields[1], fields[2])
    strand = _strand(fields)
    start, end = _placed(chrom, start, end, reference, clip, resize)
    name = fields[3] if len(fields) >= 4 and fields[3] not in ("", ".") else default_name(chrom, start, end, strand)
    return Region(chrom, start, end, name, strand, reference=reference)


def _is_header(fields):
    """A column header such as `chrom start end name`: start and end are not numbers of any kind."""
    return len(fields) >= 3 and not is_number(fields[1]) and not is_number(fields[2])


def _check_text(line):
    """`_BadLine` for bytes that are not UTF-8 (read as surrogates by errors="surrogateescape")."""
    for column, char in enumerate(line, 1):
        if "\udc80" <= char <= "\udcff":
            raise _BadLine(f"byte 0x{ord(char) - 0xdc00:02x} at column {column} is not UTF-8 text (save the file "
                           "as UTF-8, or ASCII)")


def _coordinates(start_text, end_text):
    coords = []
    for what, text in (("start", start_text), ("end", end_text)):
        if is_int(text):
            coords.append(int(text))
        elif is_number(text):
            raise _BadLine(f"{what} {text!r} is not a whole number (BED coordinates are integers)")
        else:
            raise _BadLine(f"{what} {text!r} is not an integer")
    start, end = coords
    if start < 0 or end < 0:
        raise _BadLine(f"negative coordinate (start {start}, end {end})")
    if end < start:
        raise _BadLine(f"end ({end}) is before start ({start})")
    if end == start:
        raise _BadLine(f"empty region (start = end = {start})")
    return start, end


def _strand(fields):
    if len(fields) < 6:
        return "+"
    if fields[5] not in STRANDS:
        raise _BadLine(f"strand (column 6) is {fields[5]!r}; expected +, - or .")
    return STRANDS[fields[5]]


def _placed(chrom, start, end, reference, clip, resize):
    """The coordinates after --resize and --clip, checked against the chromosome's length."""
    lengths = reference.lengths
    if chrom not in lengths:
        names = ", ".join(list(lengths)[:5]) + (", ..." if len(lengths) > 5 else "")
        raise _BadLine(f"chromosome {chrom!r} is not in the reference {reference.path} (it has {names})")
    size = lengths[chrom]
    if resize is not None:
        start, end = resized(start, end, resize)
    if start < 0 or end > size:
        if not clip:
            raise _BadLine(f"region {chrom}:{start}-{end} is past the end of {chrom} ({size} bp)"
                           f"{' after --resize' if resize is not None else ''}; use --clip to clip it")
        start, end = max(start, 0), min(end, size)
        if end <= start:
            raise _BadLine(f"region starts at or past the end of {chrom} ({size} bp); nothing is left after clipping")
    return start, end
