"""`Region`: one row of the output, where it lies and how its sequence is read; and the small helpers that make one.

A `Region` lies at [start, end) (0-based, half-open) on its strand and carries its name and either the reference
it is read from (BED input) or its sequence (FASTA records, in-memory sequences). `Region.fetch(offset, length,
reverse)` returns a piece of the region's sequence *as oriented on its strand* (a `-` region reads as the reverse
complement of the reference), upper-cased; windows are cut from that oriented sequence.
"""
from dataclasses import dataclass

from dnabert2.errors import InputError


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
    """The name of a BED region without one: `chr2:100-200(+)`."""
    return f"{chrom}:{start}-{end}({strand})"


def resized(start, end, size):
    """Coordinates of a `size` bp window centred on [start, end)."""
    centre = start + (end - start) // 2
    new_start = centre - size // 2
    return new_start, new_start + size


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
