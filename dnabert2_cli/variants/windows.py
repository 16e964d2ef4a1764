"""The REF and ALT context windows of a variant, and the strand passes of --rc-average.

A variant's REF window holds its REF allele with `context // 2` bp on each side (clipped at the contig ends: the
`near_end` status); its ALT window is the same stretch with ALT in place of REF. The flanks are equal on both
sides, so the same variant written on the reverse-complemented reference gets the reverse-complemented windows,
and `--rc-average` gives both the same score.
"""
from dataclasses import dataclass

from dnabert2.tokenizer.dna import reverse_complement


@dataclass(frozen=True)
class Placement:
    """Where the REF window of an allele lies on its contig: [start, end), 0-based, and the allele's offset in it."""
    start: int
    end: int
    offset: int  # the allele starts this many bp into the window
    clipped: bool  # a flank was cut by a contig end


def place(allele_start, allele_length, contig_length, context):
    """The Placement of the window around an allele at [allele_start, allele_start + allele_length)."""
    half = context // 2
    start, end = allele_start - half, allele_start + allele_length + half
    clipped = start < 0 or end > contig_length
    start, end = max(start, 0), min(end, contig_length)
    return Placement(start, end, allele_start - start, clipped)


def alt_window(ref_window, offset, ref_length, alt):
    """The ALT window: the REF window with `alt` in place of the REF allele at `offset`."""
    return ref_window[:offset] + alt + ref_window[offset + ref_length:]


def strand_passes(ref_window, alt_window, passes):
    """[(REF, ALT)] as read on the given strand, then (with passes = 2) on the other one."""
    pairs = [(ref_window, alt_window)]
    if passes == 2:
        pairs.append((reverse_complement(ref_window), reverse_complement(alt_window)))
    return pairs
