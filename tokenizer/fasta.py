"""Streaming FASTA reading: plain, gzip or bgzip files (detected from their first bytes), many files in a row.

`read_fasta(paths)` yields whole records `(name, sequence)`; `read_fasta_chunks(paths)` yields each record in
pieces of about `chunk_size` letters, so a record of any size is read in bounded memory. Sequence letters are
returned as written (soft-masked lower case kept); line breaks and trailing white space are removed. Anything
that is not FASTA raises `InputError` naming the file, the line and what is wrong.

GenBank and EMBL flat files (as NCBI and ENA ship genomes, e.g. `*.gbff.gz`), told by their first line, are read
too, through Biopython (`flatfile.py`): their records come out the same way, named by accession.version.
"""
import gzip
import os
import re
import zlib
from pathlib import Path

from ..errors import InputError, located
from .flatfile import flatfile_chunks, flatfile_format

_GZIP_MAGIC = b"\x1f\x8b"
# compressions we do not read, by their first bytes, so the message can say what the file is
_OTHER_COMPRESSION = {b"BZh": "bzip2", b"\xfd7zXZ": "xz", b"\x28\xb5\x2f\xfd": "zstd", b"PK\x03\x04": "zip"}
# sequence lines hold letters (IUPAC codes, any case) and the gap/stop symbols - . *
_NOT_SEQUENCE = re.compile(rb"[^A-Za-z.*\-]")


def _as_paths(paths):
    if isinstance(paths, (str, os.PathLike)):
        return [Path(paths)]
    return [Path(p) for p in paths]


def open_binary(path):
    """Binary stream of the file's content; gzip (and bgzip, a series of gzip members) by magic number."""
    with open(path, "rb") as fh:
        magic = fh.read(2)
    if magic == _GZIP_MAGIC:
        return gzip.open(path, "rb")
    return open(path, "rb")


def _is_binary(data):
    if b"\x00" in data:
        return True
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


def check_fasta(path):
    """Fail early (before long work) when `path` is missing, empty, or does not start like a FASTA (or GenBank or
    EMBL) file. Returns the format: "fasta", "genbank" or "embl"."""
    path = Path(path)
    if not path.exists():
        raise InputError(located(path, "no such file"))
    if path.is_dir():
        raise InputError(located(path, "is a folder, not a FASTA file"))
    if path.stat().st_size == 0:
        raise InputError(located(path, "empty file"))
    with open(path, "rb") as fh:
        start = fh.read(8)
    for magic, kind in _OTHER_COMPRESSION.items():
        if start.startswith(magic):
            raise InputError(located(path, f"{kind}-compressed; give plain, gzip or bgzip FASTA "
                                     "(decompress it first)"))
    try:
        with open_binary(path) as fh:
            for lineno, line in enumerate(fh, 1):
                if _is_binary(line[:4096]):
                    raise InputError(located(path, "binary data, not a FASTA file", lineno))
                if not line.strip():
                    continue
                if line.startswith(b">"):
                    return "fasta"
                flat = flatfile_format(line)
                if flat is not None:
                    return flat
                raise InputError(located(path, "not a FASTA file (expected a '>' header line, found "
                                         f"{_preview(line)})", lineno))
    except (OSError, EOFError, zlib.error) as e:
        raise InputError(located(path, f"cannot read ({_gzip_reason(e)})")) from None
    raise InputError(located(path, "empty file (no FASTA records)"))


def _preview(line, width=30):
    text = line.decode("utf-8", errors="replace").rstrip("\r\n")
    return repr(text[:width] + ("..." if len(text) > width else ""))


def _gzip_reason(error):
    if isinstance(error, (EOFError, zlib.error, gzip.BadGzipFile)):
        return f"corrupt or truncated gzip data: {error}"
    return str(error)


def _header_name(line, path, lineno):
    if _is_binary(line):
        raise InputError(located(path, "binary data, not a FASTA file", lineno))
    words = line[1:].decode("utf-8").split()
    if not words:
        raise InputError(located(path, "FASTA header without a name", lineno))
    return words[0]


def _checked(parts, first_line, path):
    """Join sequence lines (bytes) into one str, or raise naming the first line with a bad character."""
    data = b"".join(parts)
    bad = _NOT_SEQUENCE.search(data)
    if bad:
        offset, lineno = bad.start(), first_line
        for part in parts:
            if offset < len(part):
                break
            offset -= len(part)
            lineno += 1
        char = bad.group()
        if _is_binary(char) or char[0] < 0x20 or char[0] > 0x7e:
            raise InputError(located(path, "binary data, not a FASTA file", lineno))
        raise InputError(located(path, f"invalid character {char.decode()!r} in sequence line "
                                 f"(column {offset + 1}); expected IUPAC letters", lineno))
    return data.decode("ascii")


def _file_chunks(path, chunk_size):
    """(name, chunk, first) for one file already checked with check_fasta; see read_fasta_chunks."""
    name = None
    parts, size, first, part_line = [], 0, True, 0
    try:
        with open_binary(path) as fh:
            for lineno, line in enumerate(fh, 1):
                if line.startswith(b">"):
                    if name is not None and (parts or first):
                        yield name, _checked(parts, part_line, path), first
                    name = _header_name(line, path, lineno)
                    parts, size, first, part_line = [], 0, True, lineno + 1
                    continue
                line = line.rstrip()
                if name is None:
                    if not line:
                        continue
                    raise InputError(located(path, "sequence before the first '>' header line", lineno))
                if not parts:
                    part_line = lineno
                parts.append(line)
                size += len(line)
                if size >= chunk_size:
                    yield name, _checked(parts, part_line, path), first
                    parts, size, first = [], 0, False
            if name is not None and (parts or first):
                yield name, _checked(parts, part_line, path), first
    except (EOFError, zlib.error, gzip.BadGzipFile) as e:
        raise InputError(located(path, f"cannot read ({_gzip_reason(e)})")) from None


def read_fasta_chunks(paths, chunk_size=1 << 20, with_path=False):
    """Stream FASTA records in pieces: `(name, chunk, first)`, `first` True on a record's first piece.

    Pieces of one record come in order and joined give the whole sequence; each holds whole lines, about
    `chunk_size` letters (a record with no sequence yields one empty piece). With `with_path` the file's path is
    prepended: `(path, name, chunk, first)`. Every file is checked (exists, not empty, FASTA) before it is read.
    """
    paths = _as_paths(paths)
    formats = [check_fasta(path) for path in paths]
    for path, form in zip(paths, formats):
        chunks = _file_chunks(path, chunk_size) if form == "fasta" else flatfile_chunks(path, form, chunk_size)
        for name, chunk, first in chunks:
            yield (path, name, chunk, first) if with_path else (name, chunk, first)


def read_fasta(paths):
    """Stream whole FASTA records `(name, sequence)` from one path or a list of paths (plain, gzip or bgzip).

    `name` is the header's first word; the sequence keeps its case. Raises InputError for a missing, empty or
    non-FASTA file, naming the file and line.
    """
    name, parts = None, []
    for chunk_name, chunk, first in read_fasta_chunks(paths):
        if first and name is not None:
            yield name, "".join(parts)
            parts = []
        name = chunk_name
        parts.append(chunk)
    if name is not None:
        yield name, "".join(parts)
