"""Genomic regions from a BED file plus a reference genome, or from the records of a FASTA file.

A `Region` is one row of the output: where it lies (0-based, half-open), its strand and name, and either the
reference it is read from or, for FASTA input, its sequence. `Region.fetch(offset, length, reverse)` returns a
piece of the region's sequence *as oriented on its strand* (a `-` region reads as the reverse complement of the
reference), upper-cased; windows are cut from that oriented sequence.

BED input is checked line by line before any work starts (`read_bed`), so a bad line is reported with its line
number and nothing is written. The reference is opened with pysam (bgzip with .fai/.gzi, or plain FASTA) or, when
pysam is not installed, with pyfaidx; it is indexed when it has no index.
"""
import gzip
import hashlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from dnabert2.errors import InputError, located

log = logging.getLogger(__name__)

STRANDS = {"+": "+", "-": "-", ".": "+"}


@dataclass(frozen=True)
class Region:
    """One region to embed. `sequence` is set for FASTA records; BED regions read from `reference`."""
    chrom: str
    start: int  # 0-based, inclusive
    end: int  # exclusive
    name: str
    strand: str = "+"  # "+" or "-"
    sequence: str = None  # the record's sequence (FASTA input), already cut to start..end
    reference: object = None  # a Reference (BED input)
    index: int = None  # position in the input (set by the pipeline)

    @property
    def length(self):
        return self.end - self.start

    def fetch(self, offset=0, length=None, reverse=False):
        """Upper-cased bases [offset, offset+length) of the region read 5'->3' on its strand.

        With `reverse`, of the reverse complement of that oriented sequence instead (used by --rc-average).
        """
        from dnabert2.tokenizer.dna import reverse_complement

        n = self.length
        if length is None:
            length = n - offset
        if offset < 0 or length < 0 or offset + length > n:
            raise ValueError(f"window {offset}+{length} outside region of {n} bp")
        minus = (self.strand == "-") != reverse
        # genomic (forward-strand) coordinates of the piece, relative to the region start
        lo, hi = (n - offset - length, n - offset) if minus else (offset, offset + length)
        if self.sequence is not None:
            piece = self.sequence[lo:hi]
        else:
            piece = self.reference.fetch(self.chrom, self.start + lo, self.start + hi)
        piece = piece.upper()
        return reverse_complement(piece) if minus else piece


def default_name(chrom, start, end, strand):
    return f"{chrom}:{start}-{end}({strand})"


def resized(start, end, size):
    """Coordinates of a `size` bp window centred on [start, end)."""
    centre = start + (end - start) // 2
    new_start = centre - size // 2
    return new_start, new_start + size


class Reference:
    """Random access to a reference FASTA: pysam.FastaFile, or pyfaidx when pysam is missing."""

    def __init__(self, path, backend="auto"):
        self.path = Path(path)
        if not self.path.is_file():
            raise InputError(f"--ref {path}: reference FASTA not found")
        if backend == "auto":
            try:
                import pysam  # noqa: F401
                backend = "pysam"
            except ImportError:
                backend = "pyfaidx"
        self.backend = backend
        self._prepare_index()
        self._open()

    def _compression(self):
        with open(self.path, "rb") as fh:
            head = fh.read(18)
        if head[:2] != b"\x1f\x8b":
            return "plain"
        # a BGZF block carries the extra subfield 'BC' (RFC 1952 FEXTRA, see the SAM spec section 4.1)
        if len(head) >= 14 and head[3] & 4 and head[12:14] == b"BC":
            return "bgzip"
        return "gzip"

    def _prepare_index(self):
        compression = self._compression()
        if compression == "gzip":
            raise InputError(f"--ref {self.path}: gzip-compressed but not with bgzip, so it cannot be read at random; "
                             f"recompress it with `bgzip` (from htslib) or decompress it")
        needed = [Path(f"{self.path}.fai")] + ([Path(f"{self.path}.gzi")] if compression == "bgzip" else [])
        missing = [p for p in needed if not p.exists()]
        if not missing:
            return
        folder = self.path.resolve().parent
        if not os.access(folder, os.W_OK):
            raise InputError(f"--ref {self.path}: has no index ({', '.join(p.name for p in missing)}) and its folder "
                             f"{folder} is read-only; index it with `samtools faidx {self.path}` where you can write, "
                             f"or copy it to a writable folder")
        log.warning("indexing the reference %s (no %s found)", self.path, ", ".join(p.name for p in missing))

    def _open(self):
        try:
            if self.backend == "pysam":
                import pysam
                self._fasta = pysam.FastaFile(str(self.path))
                self.lengths = dict(zip(self._fasta.references, self._fasta.lengths))
            else:
                import pyfaidx
                self._fasta = pyfaidx.Fasta(str(self.path), as_raw=True, sequence_always_upper=False,
                                            read_long_names=False, rebuild=False)
                self.lengths = {name: len(record) for name, record in self._fasta.items()}
        except (OSError, ValueError, RuntimeError) as e:
            if isinstance(e, InputError):
                raise
            raise InputError(f"--ref {self.path}: cannot read it as an indexed FASTA ({e})") from None
        if not self.lengths:
            raise InputError(f"--ref {self.path}: no sequences in the reference")

    def fetch(self, chrom, start, end):
        if self.backend == "pysam":
            return self._fasta.fetch(chrom, start, end)
        return self._fasta[chrom][start:end]

    def close(self):
        self._fasta.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _open_text(path):
    with open(path, "rb") as fh:
        magic = fh.read(2)
    if magic == b"\x1f\x8b":
        return gzip.open(path, "rt", encoding="utf-8", errors="replace")
    return open(path, encoding="utf-8", errors="replace")


def _is_int(text):
    try:
        int(text)
        return True
    except ValueError:
        return False


def read_bed(path, reference, clip=False, resize=None):
    """Yield (line number, Region) for every region of a BED3..BED12 file, checking each line against `reference`.

    Skips blank lines, `#` comments, `track`/`browser` lines and a header line (a first line whose start and
    end columns are not numbers). Raises InputError naming the line for anything malformed.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"--bed {path}: BED file not found")
    lengths = reference.lengths
    seen_data = False
    try:
        with _open_text(path) as fh:
            for number, line in enumerate(fh, 1):
                line = line.rstrip("\r\n")
                if not line.strip() or line.startswith("#"):
                    continue
                fields = line.split("\t") if "\t" in line else line.split()
                if fields[0] in ("track", "browser"):
                    continue
                if not seen_data and len(fields) >= 3 and not _is_int(fields[1]) and not _is_int(fields[2]):
                    seen_data = True  # a column header such as `chrom start end name`
                    continue
                seen_data = True
                yield number, _parse_bed_line(path, number, fields, lengths, clip, resize, reference)
    except UnicodeDecodeError as e:
        raise InputError(located(path, f"not a text BED file ({e})")) from None
    except (OSError, EOFError) as e:
        raise InputError(located(path, f"cannot read it ({e})")) from None


def _parse_bed_line(path, number, fields, lengths, clip, resize, reference):
    def bad(reason):
        return InputError(located(path, reason, number))

    if len(fields) < 3:
        raise bad(f"expected at least 3 tab-separated columns (chrom, start, end), found {len(fields)}")
    chrom, start_text, end_text = fields[0], fields[1], fields[2]
    coords = []
    for what, text in (("start", start_text), ("end", end_text)):
        try:
            coords.append(int(text))
        except ValueError:
            raise bad(f"{what} {text!r} is not an integer") from None
    start, end = coords
    if start < 0 or end < 0:
        raise bad(f"negative coordinate (start {start}, end {end})")
    if end < start:
        raise bad(f"end ({end}) is before start ({start})")
    if end == start:
        raise bad(f"empty region (start = end = {start})")
    strand = "+"
    if len(fields) >= 6:
        if fields[5] not in STRANDS:
            raise bad(f"strand (column 6) is {fields[5]!r}; expected +, - or .")
        strand = STRANDS[fields[5]]
    if chrom not in lengths:
        names = ", ".join(list(lengths)[:5]) + (", ..." if len(lengths) > 5 else "")
        raise bad(f"chromosome {chrom!r} is not in the reference {reference.path} (it has {names})")
    size = lengths[chrom]
    if resize is not None:
        start, end = resized(start, end, resize)
    if start < 0 or end > size:
        if not clip:
            raise bad(f"region {chrom}:{start}-{end} is past the end of {chrom} ({size} bp)"
                      f"{' after --resize' if resize is not None else ''}; use --clip to clip it")
        start, end = max(start, 0), min(end, size)
        if end <= start:
            raise bad(f"region starts at or past the end of {chrom} ({size} bp); nothing is left after clipping")
    name = fields[3] if len(fields) >= 4 and fields[3] not in ("", ".") else default_name(chrom, start, end, strand)
    return Region(chrom, start, end, name, strand, reference=reference)


def as_region(item, number):
    """A Region from what a notebook user passes: a Region, a sequence string, or a (name, sequence) pair."""
    if isinstance(item, Region):
        return item
    if isinstance(item, str):
        name, sequence = f"seq{number}", item
    elif isinstance(item, (tuple, list)) and len(item) == 2 and all(isinstance(x, str) for x in item):
        name, sequence = item
    else:
        raise InputError(f"regions: item {number} is a {type(item).__name__}; expected a sequence string, "
                         f"a (name, sequence) pair or a Region")
    if not sequence:
        raise InputError(f"regions: item {number} ({name}) is an empty sequence")
    return Region(name, 0, len(sequence), name, "+", sequence=sequence)


def fasta_regions(path, resize=None):
    """Yield (record number, Region) for every record of a FASTA file (plain, gzip or bgzip)."""
    from dnabert2.tokenizer.fasta import read_fasta

    path = Path(path)
    for number, (name, sequence) in enumerate(read_fasta([path]), 1):
        if not sequence:
            raise InputError(f"--fasta {path}: record {number} ({name}) has no sequence")
        start, end = 0, len(sequence)
        if resize is not None:
            if len(sequence) < resize:
                raise InputError(f"--fasta {path}: record {number} ({name}) is {len(sequence)} bp, shorter than "
                                 f"--resize {resize}")
            start, end = resized(0, len(sequence), resize)
            sequence = sequence[start:end]
        yield number, Region(name, start, end, name, "+", sequence=sequence)


class RegionSource:
    """The regions of one run: `--fasta FILE`, or `--bed FILE --ref GENOME`, or an in-memory list.

    `scan()` walks the input once without keeping it (checks every line, counts regions, fingerprints the input);
    iterating yields the regions again in input order, lazily, so memory does not grow with their number.
    """

    def __init__(self, fasta=None, bed=None, ref=None, regions=None, clip=False, resize=None):
        given = [x is not None for x in (fasta, bed, regions)]
        if sum(given) == 0:
            raise InputError("no regions: give --fasta FILE, or --bed FILE with --ref GENOME")
        if sum(given) > 1:
            raise InputError("give regions one way only: --fasta FILE or --bed FILE --ref GENOME")
        if bed is not None and ref is None:
            raise InputError(f"--bed {bed}: a BED file needs the reference genome; give it with --ref GENOME.fa")
        if fasta is not None and ref is not None:
            raise InputError("--ref is only used with --bed; --fasta records carry their own sequence")
        if resize is not None and resize < 1:
            raise InputError(f"--resize {resize}: must be at least 1 bp")
        if fasta is not None and not Path(fasta).is_file():
            raise InputError(f"--fasta {fasta}: FASTA file not found")
        if bed is not None and not Path(bed).is_file():
            raise InputError(f"--bed {bed}: BED file not found")
        self.fasta, self.bed, self.clip, self.resize = fasta, bed, clip, resize
        self._list = [as_region(item, i) for i, item in enumerate(regions, 1)] if regions is not None else None
        self.reference = Reference(ref) if bed is not None else None
        self.count = None
        self.fingerprint = None
        self.total_bp = None

    def _numbered(self):
        if self._list is not None:
            return enumerate(self._list, 1)
        if self.bed is not None:
            return read_bed(self.bed, self.reference, self.clip, self.resize)
        return fasta_regions(self.fasta, self.resize)

    def scan(self):
        """Check the whole input, count its regions and fingerprint it; InputError on the first bad line."""
        digest = hashlib.sha256()
        count = total = 0
        for _, region in self._numbered():
            count += 1
            total += region.length
            digest.update(f"{region.chrom}\t{region.start}\t{region.end}\t{region.strand}\t{region.name}\n".encode())
            if region.sequence is not None:
                digest.update(region.sequence.encode())
        if count == 0:
            where = self.bed or self.fasta or "regions"
            raise InputError(f"{where}: no regions found (the input is empty)")
        self.count, self.total_bp, self.fingerprint = count, total, digest.hexdigest()
        return self

    def __iter__(self):
        for _, region in self._numbered():
            yield region

    def describe(self):
        """What the input was, for the output file's attributes."""
        if self.bed is not None:
            return {"bed": str(self.bed), "ref": str(self.reference.path)}
        if self.fasta is not None:
            return {"fasta": str(self.fasta)}
        return {"regions": "in-memory"}

    def close(self):
        if self.reference is not None:
            self.reference.close()
