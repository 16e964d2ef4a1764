"""The regions of one run, in input order: from a BED file plus a reference, the records of a FASTA file, or a list.

`RegionSource.scan()` checks and counts the whole input before anything is written; iterating it then yields the
regions again, lazily. `shard_rows` picks the regions of one `--shard K/N` run.
"""
import hashlib
from dataclasses import replace
from pathlib import Path

from dnabert2.errors import InputError
from dnabert2.regions.bed import read_bed
from dnabert2.regions.reference import Reference
from dnabert2.regions.region import Region, as_region, resized


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


def check_input_file(option, path, what):
    """InputError unless `path` is a file the run can read twice (a check, then the run): missing, a folder, an
    empty device such as /dev/null, or a pipe each get their own message."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{option} {path}: {what} not found")
    if path.is_dir():
        raise InputError(f"{option} {path}: is a folder, not a {what}")
    if path.is_file():
        return
    if path.is_char_device():
        with open(path, "rb") as fh:
            if not fh.read(1):
                raise InputError(f"{option} {path}: the file is empty (no regions)")
    raise InputError(f"{option} {path}: not a regular file (a pipe or a device); the input is read twice, to check "
                     f"it and then to run, so save it to a file first")


class RegionSource:
    """The regions of one run: `--fasta FILE`, or `--bed FILE --ref GENOME`, or an in-memory list.

    `scan()` walks the input once without keeping it (checks every line, counts regions, fingerprints the input);
    iterating yields the regions again in input order, lazily, so memory does not grow with their number.
    """

    def __init__(self, fasta=None, bed=None, ref=None, regions=None, clip=False, resize=None, index_dir=None):
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
        if fasta is not None:
            check_input_file("--fasta", fasta, "FASTA file")
        if bed is not None:
            check_input_file("--bed", bed, "BED file")
        self.fasta, self.bed, self.clip, self.resize = fasta, bed, clip, resize
        self._list = [as_region(item, i) for i, item in enumerate(regions, 1)] if regions is not None else None
        self.reference = Reference(ref, index_dir=index_dir) if bed is not None else None
        self.count = None
        self.fingerprint = None
        self.total_bp = None
        self.longest_bp = None

    def _numbered(self):
        if self._list is not None:
            return enumerate(self._list, 1)
        if self.bed is not None:
            return read_bed(self.bed, self.reference, self.clip, self.resize)
        return fasta_regions(self.fasta, self.resize)

    def scan(self):
        """Check the whole input, count its regions and fingerprint it; InputError on the first bad line."""
        digest = hashlib.sha256()
        count = total = longest = 0
        for _, region in self._numbered():
            count += 1
            total += region.length
            longest = max(longest, region.length)
            digest.update(f"{region.chrom}\t{region.start}\t{region.end}\t{region.strand}\t{region.name}\n".encode())
            if region.sequence is not None:
                digest.update(region.sequence.encode())
        if count == 0:
            where = self.bed or self.fasta or "regions"
            raise InputError(f"{where}: no regions found (the input is empty)")
        self.count, self.total_bp, self.fingerprint = count, total, digest.hexdigest()
        self.longest_bp = longest
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


def shard_rows(source, shard):
    """(row, region) for the regions of this shard; rows count from 0 within the shard, region.index in the input."""
    k, n = shard or (0, 1)
    row = 0
    for index, region in enumerate(source):
        if index % n == k:
            yield row, replace(region, index=index)
            row += 1
