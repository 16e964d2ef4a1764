"""The variants of a VCF or BCF file (read with pysam), one row per ALT allele, in input order, each with its status.

`VcfSource.scan()` reads the whole file once before any output exists: a file that is not VCF/BCF (its header
missing), or a record htslib cannot parse, is an InputError naming the file and the line (the record number for
BCF) and what is wrong (too few columns, a POS that is not a number), so nothing is left behind. Plain text, bgzip
and plain gzip are read alike (a plain-gzip file as a stream: it is only ever read from start to end). Every row
gets a status (`settings.STATUSES`); only `ok` and `near_end` rows are scored.
"""
import hashlib
import itertools
import logging
import zlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from dnabert2.common.files import open_text
from dnabert2.common.text import is_int
from dnabert2.errors import InputError, located
from dnabert2.regions.refindex import compression
from dnabert2.tokenizer.dna import IUPAC_DNA
from dnabert2.variants.windows import place

_BASES = frozenset(IUPAC_DNA)
log = logging.getLogger(__name__)


@dataclass
class Variant:
    """One ALT allele of one record, where it lies and whether (and in which window) it is scored."""
    index: int  # the n-th ALT of the file (0-based): the row of an unsharded output
    record: int  # the record's number in the file (1-based)
    alt_index: int  # which ALT of its record (0-based)
    chrom: str
    pos: int  # 1-based, as in the VCF
    id: str
    ref: str  # as written in the file
    alt: str
    status: str
    placement: object = None  # windows.Placement of a scored row
    ref_window: str = None  # the REF window's bases (upper case) of a scored row


class VcfSource:
    """The variant rows of `path` (VCF, bgzipped VCF or BCF) checked against the reference FASTA `ref`.

    `scan()` checks every record and counts the rows and their statuses; iterating yields `Variant`s again,
    lazily, with the REF window of every scored row. `require_sorted` (for --out-vcf, which is tabix-indexed)
    makes an unsorted file an InputError.
    """

    def __init__(self, path, ref=None, settings=None, require_sorted=False, index_dir=None):
        """`ref` None: only the header and the raw records can be read (`records()`), as --out-vcf does."""
        from dnabert2.regions.reference import Reference

        self.path = Path(path)
        if not self.path.is_file():
            raise InputError(f"--vcf {path}: VCF file not found")
        self.settings, self.require_sorted = settings, require_sorted
        self.count = self.fingerprint = None
        self.statuses = Counter()
        self.header_text, self.is_bcf = self._read_header()
        self._header_lines = None if self.is_bcf else _count_header_lines(self.path)
        self.reference = Reference(ref, index_dir=index_dir) if ref is not None else None

    def _open(self):
        import pysam

        pysam.set_verbosity(0)  # htslib's own warnings would bypass the one-line errors
        try:
            if compression(self.path) != "gzip":
                return pysam.VariantFile(str(self.path))
            # plain gzip (not bgzip) cannot be read at random, and pysam asks where it is after the header, which
            # htslib answers only for bgzip; opened from a file handle the file is a stream, read from start to
            # end, which is all this reader does (pysam keeps a copy of the handle)
            with open(self.path, "rb") as fh:
                return pysam.VariantFile(fh)
        except (OSError, ValueError) as e:
            reason = f"cannot read it ({e.strerror})" if getattr(e, "strerror", None) else _header_problem(self.path)
            raise InputError(located(self.path, reason)) from None

    def _read_header(self):
        vf = self._open()
        try:
            return str(vf.header), vf.format == "BCF"
        finally:
            vf.close()

    def where(self, number, reason):
        """`FILE: line N: reason` for record `number` (1-based); `FILE: record N: reason` in a BCF file."""
        if self._header_lines is None:
            return located(self.path, f"record {number}: {reason}")
        return located(self.path, reason, self._header_lines + number)

    def records(self):
        """(record number, pysam record) in file order; InputError naming the line of a record htslib rejects."""
        vf = self._open()
        try:
            records = iter(vf)
            number = 0
            while True:
                try:
                    rec = next(records)
                except StopIteration:
                    return
                except (OSError, ValueError) as e:
                    raise InputError(self.where(number + 1, self._record_problem(number + 1, e))) from None
                number += 1
                yield number, rec
        finally:
            vf.close()

    def _record_problem(self, number, error):
        """What is wrong with the text of record `number` that htslib rejected (its own words when we see nothing)."""
        fallback = f"malformed record, cannot be read ({error})"
        if self._header_lines is None:
            return fallback
        try:
            with open_text(self.path, errors="replace") as fh:
                line = next(itertools.islice(fh, self._header_lines + number - 1, None), None)
        except (OSError, EOFError, zlib.error):
            return fallback
        return fallback if line is None else _line_problem(line) or fallback

    def _variants(self, with_windows):
        index = 0
        order = _SortCheck(self) if self.require_sorted else None
        for number, rec in self.records():
            ref = rec.ref or ""
            _check_letters(self, number, "REF", ref)
            if order is not None:
                order.check(number, rec.chrom, rec.pos)
            for alt_index, alt in enumerate(rec.alts or (".",)):
                v = Variant(index, number, alt_index, rec.chrom, rec.pos, rec.id or ".", ref, alt, "ok")
                self._classify(v, number, with_windows)
                index += 1
                yield v

    def _classify(self, v, number, with_windows):
        """Set the row's status (and its REF window when it is scored and `with_windows`)."""
        if _symbolic(v.alt):
            v.status = "symbolic"
            return
        _check_letters(self, number, "ALT", v.alt)
        lengths = self.reference.lengths
        if v.chrom not in lengths:
            v.status = "unknown_chrom"
            return
        start = v.pos - 1
        if start < 0 or start + len(v.ref) > lengths[v.chrom] or \
                self.reference.fetch(v.chrom, start, start + len(v.ref)).upper() != v.ref.upper():
            v.status = "ref_mismatch"
            return
        if max(len(v.ref), len(v.alt)) - 1 > self.settings.max_indel:
            v.status = "too_long"
            return
        v.placement = place(start, len(v.ref), lengths[v.chrom], self.settings.context, self.settings.window_step)
        v.status = "near_end" if v.placement.clipped else "ok"
        if with_windows:
            v.ref_window = self.reference.fetch(v.chrom, v.placement.start, v.placement.end).upper()

    def scan(self):
        """Check every record, count the rows and their statuses, fingerprint them; InputError on the first bad one."""
        digest = hashlib.sha256()
        for name, length in self.reference.lengths.items():
            digest.update(f"{name}\t{length}\n".encode())
        count = 0
        for v in self._variants(with_windows=False):
            count += 1
            self.statuses[v.status] += 1
            digest.update(f"{v.chrom}\t{v.pos}\t{v.ref}\t{v.alt}\t{v.status}\n".encode())
        if count == 0:
            raise InputError(located(self.path, "no variants in this file (only a header)"))
        self.count, self.fingerprint = count, digest.hexdigest()
        if self.statuses["unknown_chrom"] == count:
            names = ", ".join(list(self.reference.lengths)[:3])
            log.warning("%s: no variant lies on a sequence of the reference %s (it has %s, ...): every row is "
                        "unknown_chrom; are the names spelled alike (chr1 or 1)?", self.path, self.reference.path,
                        names)
        return self

    def __iter__(self):
        return self._variants(with_windows=True)

    def shard_count(self, shard):
        k, n = shard or (0, 1)
        return (self.count - k + n - 1) // n

    def rows(self, shard):
        """The Variants of this shard (every n-th from the k-th), with their REF windows."""
        k, n = shard or (0, 1)
        return (v for v in self if v.index % n == k)

    def describe(self):
        """What the input was, for the output file's attributes."""
        return {"vcf": str(self.path), "ref": str(self.reference.path)}

    def close(self):
        if self.reference is not None:
            self.reference.close()


def _count_header_lines(path):
    """Lines before the first record of a text VCF (plain or gzip), so that record n lies on line header + n."""
    count = 0
    try:
        with open_text(path, errors="replace") as fh:
            for line in fh:
                if not line.startswith("#"):
                    break
                count += 1
    except (OSError, EOFError) as e:
        raise InputError(located(path, f"cannot read it ({e})")) from None
    return count


def _line_problem(line):
    """What makes a VCF record line unreadable, in words (None when its columns and POS look right)."""
    text = line.rstrip("\r\n")
    if not text.strip():
        return "an empty line; a VCF has no empty lines (remove it)"
    fields = text.split("\t")
    if len(fields) < 8:
        spaces = "; this line has spaces between them" if " " in text.strip() else ""
        return (f"{len(fields)} column{'s' if len(fields) > 1 else ''}, a VCF record needs at least 8 (CHROM POS ID "
                f"REF ALT QUAL FILTER INFO, separated by tabs{spaces})")
    pos = fields[1]
    if not is_int(pos):
        return f"POS {pos!r} is not a whole number"
    if int(pos) < 0:
        return f"POS {pos!r} is negative"
    return None


_NO_CHROM_LINE = ("the VCF header has no #CHROM line: the line of column names (#CHROM POS ID REF ALT QUAL FILTER "
                 "INFO) must end the header, before the first record")


def _header_problem(path):
    """Why htslib cannot read the header of `path`, in words (the ##fileformat or #CHROM line missing)."""
    try:
        with open_text(path, errors="replace") as fh:
            first = fh.readline(4096)
            if first.startswith("BCF"):
                return "not a readable BCF file (htslib cannot read its header)"
            if not first.startswith("##fileformat="):
                if first.startswith("#"):
                    return "the VCF header has no ##fileformat line: a VCF begins with ##fileformat=VCFv4.2 (or " \
                           "the version it follows)"
                return "not a VCF file: the header is missing (a VCF begins with the line ##fileformat=VCFv4.2, " \
                       "and its header ends with the #CHROM line of column names)"
            for line in fh:
                if line.startswith("#CHROM"):
                    break
                if not line.startswith("#"):
                    return _NO_CHROM_LINE
            else:
                return _NO_CHROM_LINE
    except (OSError, EOFError, zlib.error):
        pass
    return "not a VCF or BCF file (htslib cannot read its header)"


def _symbolic(alt):
    """A symbolic ALT (<DEL>, <*>), the spanning deletion *, a breakend, or no ALT at all (.)."""
    return alt in (".", "*") or alt.startswith(("<", ".")) or alt.endswith(".") or "[" in alt or "]" in alt


def _check_letters(source, number, what, allele):
    bad = sorted({c for c in allele.upper() if c not in _BASES})
    if not allele or bad:
        reason = "is empty" if not allele else f"holds {', '.join(repr(c) for c in bad)}, not DNA letters"
        raise InputError(source.where(number, f"{what} allele {allele!r} {reason}"))


class _SortCheck:
    """InputError at the first record out of order (a contig seen before, or a position going back)."""

    def __init__(self, source):
        self.source, self.last, self.done = source, None, set()

    def check(self, number, chrom, pos):
        if self.last is not None and chrom != self.last[0]:
            self.done.add(self.last[0])
        if chrom in self.done or (self.last is not None and chrom == self.last[0] and pos < self.last[1]):
            raise InputError(self.source.where(
                number, f"{chrom}:{pos} comes after {self.last[0]}:{self.last[1]}; --out-vcf writes a tabix-indexed "
                        f"VCF, which needs the input sorted by position (sort it with `bcftools sort`)"))
        self.last = (chrom, pos)
