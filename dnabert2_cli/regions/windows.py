"""Cutting regions into model-sized windows, and grouping windows into look-ahead blocks.

A region of L bp is tiled from its 5' end (on its own strand) into windows of `window` bp that start every
`stride` bp; the last window stops at the region's end, so it may be shorter, and no window starts after the
region is covered. With stride = window (the default) every base lies in exactly one window.

Blocks are the unit of look-ahead: consecutive windows of consecutive regions, up to `lookahead` windows each,
cut without looking at any sequence. They depend only on the region lengths and the options, never on what is
already done, so a resumed run batches exactly as an uninterrupted one did.
"""
from dataclasses import dataclass

from dnabert2.errors import InputError

DEFAULT_WINDOW = 2000  # bp; about 400 tokens of the DNABERT-2 tokenizer on human DNA (docs/commands/embed.md)
DEFAULT_LOOKAHEAD = 1024  # windows sorted by length together
FIRST_BLOCK = 32  # windows in the first block (blocks then double up to the look-ahead)


def check_tiling(window, stride):
    """The stride to use (= window when None); InputError for values that cannot tile."""
    if window is None or window < 1:
        raise InputError(f"--window {window}: must be at least 1 bp")
    if stride is None:
        stride = window
    if stride < 1 or stride > window:
        raise InputError(f"--stride {stride}: must be between 1 and --window ({window}) so that windows cover "
                         f"every base")
    return stride


def tile(length, window, stride):
    """[(offset, size)] of the windows covering [0, length)."""
    out = []
    offset = 0
    while True:
        size = min(window, length - offset)
        out.append((offset, size))
        if offset + size >= length:
            return out
        offset += stride


def count_windows(length, window, stride):
    """len(tile(length, window, stride)) without building the list."""
    if length <= window:
        return 1
    return -(-(length - window) // stride) + 1


@dataclass
class Window:
    """One model input: a piece of region `row` (its position among this run's regions)."""
    row: int
    strand_pass: int  # 0: the region as given; 1: its reverse complement (--rc-average)
    offset: int  # bp from the start of the (oriented) region sequence
    size: int  # bp
    last: bool  # the region's last window of its last pass
    region: object = None


def windows_of(row, region, window, stride, passes=1):
    """The windows of one region, pass by pass."""
    pieces = tile(region.length, window, stride)
    for strand_pass in range(passes):
        for number, (offset, size) in enumerate(pieces, 1):
            last = strand_pass == passes - 1 and number == len(pieces)
            yield Window(row, strand_pass, offset, size, last, region)


def blocks(rows, window, stride, passes=1, lookahead=DEFAULT_LOOKAHEAD, first=FIRST_BLOCK):
    """Group the windows of (row, region) pairs into lists of windows, in input order.

    The first block holds `first` windows so the model starts early; each next one twice as many, up to
    `lookahead`.
    """
    block = []
    size = min(first, lookahead)
    for row, region in rows:
        for w in windows_of(row, region, window, stride, passes):
            block.append(w)
            if len(block) >= size:
                yield block
                block = []
                size = min(2 * size, lookahead)
    if block:
        yield block
