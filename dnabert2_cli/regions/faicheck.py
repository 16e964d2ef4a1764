"""Does a FASTA index (.fai, and .gzi for bgzip) still describe its FASTA? Checked cheaply, before it is used.

An index goes stale when the FASTA is rewritten after indexing: re-wrapped to another line length, records added
or removed, recompressed. A stale .fai makes htslib and pyfaidx read the wrong bases without any error, so
`stale_reason` looks at the files themselves: the index must not be older than the FASTA, and for every record
the header must end right before its recorded offset, its first line must hold the recorded number of bases
followed by a line end, and the record must end where the next header (or the end of the file) begins. That is a
few small reads per record; for bgzip the bytes are read through the .gzi (one or two 64 KiB blocks per read).
"""
import bisect
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

HEADER_LOOKBACK = 4096  # bytes searched backwards for a record's header line (longer headers: name not checked)


@dataclass(frozen=True)
class FaiRecord:
    """One line of a .fai: sequence name, length in bases, byte offset of its first base, bases and bytes per line."""
    name: str
    length: int
    offset: int
    line_bases: int
    line_bytes: int


def read_fai(path):
    """The records of a .fai file; ValueError for a line that is not five (or six) numeric columns."""
    records = []
    with open(path) as fh:
        for number, line in enumerate(fh, 1):
            if not line.strip():
                continue
            fields = line.rstrip("\r\n").split("\t")
            if len(fields) not in (5, 6):
                raise ValueError(f"line {number} has {len(fields)} columns, expected 5")
            try:
                length, offset, bases, width = (int(x) for x in fields[1:5])
            except ValueError:
                raise ValueError(f"line {number} has a non-numeric column") from None
            records.append(FaiRecord(fields[0], length, offset, bases, width))
    return records


def stale_reason(fasta, fai, gzi=None):
    """None when `fai` (and `gzi` for a bgzip FASTA) describe `fasta`; else a short reason why they do not."""
    fasta, fai = Path(fasta), Path(fai)
    for index in (fai, gzi):
        if index is not None and Path(index).stat().st_mtime_ns < fasta.stat().st_mtime_ns:
            return f"{Path(index).name} is older than the FASTA"
    try:
        records = read_fai(fai)
    except (OSError, ValueError, UnicodeDecodeError) as e:
        return f"{fai.name} is not a FASTA index ({e})"
    if not records:
        return f"{fai.name} lists no sequences"
    try:
        with (BgzfBytes(fasta, gzi) if gzi is not None else PlainBytes(fasta)) as data:
            for record in records:
                reason = _record_reason(data, record)
                if reason:
                    return f"{fai.name} disagrees with the FASTA at {record.name}: {reason}"
    except (OSError, ValueError, zlib.error) as e:
        return f"{Path(gzi).name if gzi is not None else fai.name} does not match the file ({e})"
    return None


def _record_reason(data, r):
    """Why record `r` does not fit the bytes of the FASTA, or None."""
    if r.length < 0 or r.offset < 1 or r.line_bases < 1 and r.length > 0 or r.line_bytes < r.line_bases:
        return "impossible numbers in the index"
    before = data.read(max(0, r.offset - HEADER_LOOKBACK), min(r.offset, HEADER_LOOKBACK))
    if not before.endswith(b"\n"):
        return "no header line ends right before the recorded offset"
    start = before.rfind(b"\n", 0, len(before) - 1) + 1
    if start > 0 or r.offset <= HEADER_LOOKBACK:  # the whole header line is in view
        header = before[start:].strip()
        if not header.startswith(b">") or header[1:].split(maxsplit=1)[:1] != [r.name.encode()]:
            return f"the line before the recorded offset is not its header ({header[:40].decode(errors='replace')!r})"
    if r.length == 0:
        return None
    first = min(r.length, r.line_bases)
    ending = r.line_bytes - r.line_bases
    line = data.read(r.offset, first + max(ending, 1))
    if any(c in line[:first] for c in b"\r\n>"):
        return f"its first line is shorter than the recorded {r.line_bases} bases"
    if len(line) > first and line[first:first + 1] not in (b"\n", b"\r"):
        return f"its first line is longer than the recorded {r.line_bases} bases"
    full, rest = divmod(r.length, r.line_bases) if r.line_bases else (0, 0)
    end = r.offset + full * r.line_bytes + (rest + ending if rest else 0)
    last, after = data.read(end - 1, 65)[:1], data.read(end, 64)
    rest = after.lstrip(b"\r\n")  # blank lines may follow a record
    if after and (last != b"\n" or rest and not rest.startswith(b">")):
        return "the sequence does not end where the index says (re-wrapped or edited after indexing?)"
    return None


class PlainBytes:
    """Random reads from an uncompressed file."""

    def __init__(self, path):
        self.fh = open(path, "rb")

    def read(self, offset, size):
        self.fh.seek(offset)
        return self.fh.read(size)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.fh.close()


class BgzfBytes:
    """Random reads, in uncompressed offsets, from a bgzip file through its .gzi: the compressed and uncompressed
    offset of every block but the first, as htslib writes it (a block holds at most 64 KiB, compressed or not).
    The last few blocks read are kept decompressed."""

    KEEP = 8  # blocks kept decompressed

    def __init__(self, path, gzi):
        self.fh = open(path, "rb")
        raw = Path(gzi).read_bytes()
        if len(raw) < 8:
            raise ValueError("the .gzi is truncated")
        (count,) = struct.unpack_from("<Q", raw)
        if len(raw) != 8 + 16 * count:
            raise ValueError("the .gzi has the wrong size")
        pairs = [(0, 0)] + [struct.unpack_from("<QQ", raw, 8 + 16 * i) for i in range(count)]
        self.compressed = [c for c, _ in pairs]
        self.uncompressed = [u for _, u in pairs]
        self.blocks = {}

    def read(self, offset, size):
        block = bisect.bisect_right(self.uncompressed, offset) - 1
        skip = offset - self.uncompressed[block]
        out = b""
        while len(out) < skip + size and block < len(self.compressed):  # past the last block: end of file
            out += self._block(block)
            block += 1
        return out[skip:skip + size]

    def _block(self, number):
        """The bytes of one block (a gzip member), decompressed."""
        if number not in self.blocks:
            if len(self.blocks) >= self.KEEP:
                self.blocks.pop(next(iter(self.blocks)))
            self.fh.seek(self.compressed[number])
            member = zlib.decompressobj(zlib.MAX_WBITS | 16)  # one gzip member = one BGZF block (at most 64 KiB)
            data = member.decompress(self.fh.read(1 << 16))
            if not member.eof:
                raise ValueError("a bgzip block is cut short")
            expected_end = self.uncompressed[number + 1] if number + 1 < len(self.uncompressed) else None
            if expected_end is not None and self.uncompressed[number] + len(data) != expected_end:
                raise ValueError("block sizes differ from the .gzi")
            self.blocks[number] = data
        return self.blocks[number]

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.fh.close()
