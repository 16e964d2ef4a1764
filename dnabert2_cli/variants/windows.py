"""The REF and ALT context windows of a variant, and the strand passes of --rc-average.

A variant's REF window is `context // 2 * 2` bp plus its REF allele long, as if centred on the allele, but its
centre sits on a grid every `step` bp (`--window-step`, default 32), the grid point nearest the allele's centre:
nearby variants with REF alleles of one length share one REF window (and so its masked copies), and each flank
keeps at least `context // 2 - step / 2` bp. The grid is laid symmetrically about the contig's middle (its
points are the middle plus whole steps; the window is one base longer where that needs it to end on whole
bases, and ties go towards the middle), so the same variant written on the reverse-complemented reference gets
the reverse-complemented windows and `--rc-average` gives both the same score. A step above `context // 2` is
taken as `context // 2`; step 0 centres every window on its allele. Windows are clipped at the contig ends (the
`near_end` status). The ALT window is the same stretch with ALT in place of REF.
"""
from dataclasses import dataclass

from dnabert2.tokenizer.dna import reverse_complement

DEFAULT_WINDOW_STEP = 32  # bp between the centres of REF windows (--window-step; 0: centred on each allele)


@dataclass(frozen=True)
class Placement:
    """Where the REF window of an allele lies on its contig: [start, end), 0-based, and the allele's offset in it."""
    start: int
    end: int
    offset: int  # the allele starts this many bp into the window
    clipped: bool  # a flank was cut by a contig end


def place(allele_start, allele_length, contig_length, context, step=DEFAULT_WINDOW_STEP):
    """The Placement of the REF window of an allele at [allele_start, allele_start + allele_length) (module
    docstring)."""
    half = context // 2
    step = min(step, half)
    if step <= 0:
        start, length = allele_start - half, 2 * half + allele_length
    else:
        length = 2 * half + allele_length
        length += (contig_length - length) % 2  # the window's middle then lies on the grid
        twice_offset = 2 * allele_start + allele_length - contig_length  # 2 x (allele middle - contig middle)
        steps = (abs(twice_offset) + step - 1) // (2 * step)  # the nearest grid point, ties towards the middle
        start = (contig_length - length) // 2 + (steps if twice_offset > 0 else -steps) * step
    end = start + length
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
