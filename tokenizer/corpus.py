"""Turning FASTA streams into a BPE training corpus: pure A/C/G/T fragments of bounded length, sampled to a budget.

BPE treats every fragment as one "word"; whole chromosomes as words make training slow and memory-hungry, so each
run of A/C/G/T (the sequence between N and other codes, upper-cased) is cut into consecutive fragments of at most
`fragment_length` letters. Runs shorter than `min_run_length` are dropped. The cut points depend only on the
sequence, never on how the file was read in chunks.

`BudgetSample` keeps a reproducible random subset of fragments whose total length stays within a budget, in
memory bounded by that budget however long the stream: every fragment draws a priority from a seeded generator
and the sample is the longest run of lowest priorities that fits (a bottom-k sample measured in bases).
"""
import heapq
import re

from ..errors import InputError

_RUN = re.compile("[ACGT]+")


def check_fragmenting(fragment_length, min_run_length):
    """InputError unless 1 <= min_run_length <= fragment_length (named as `dnabert2 vocab`'s options)."""
    if fragment_length < 1:
        raise InputError(f"--fragment-length {fragment_length}: must be at least 1")
    if not 1 <= min_run_length <= fragment_length:
        raise InputError(f"--min-run-length {min_run_length}: must be between 1 and --fragment-length "
                         f"({fragment_length})")


def fragments(chunks, fragment_length=1000, min_run_length=20):
    """Fragments `(source, fragment)` from a stream of `(source, chunk, first)` (first: a record starts here).

    `source` is passed through from the chunk each fragment ends in (e.g. the file it came from). Chunks of one
    record are joined seamlessly, so a run crossing a chunk border is cut as if the record were read whole.
    """
    check_fragmenting(fragment_length, min_run_length)
    carry = ""  # the unfinished A/C/G/T run at the end of the last chunk, shorter than fragment_length
    carried_long = False  # that run already gave full fragments (so it is long enough to keep)
    source = None
    for chunk_source, chunk, first in chunks:
        if first:
            if carry and (carried_long or len(carry) >= min_run_length):
                yield source, carry
            carry, carried_long = "", False
        source = chunk_source
        text = carry + chunk.upper()
        open_start = None
        for match in _RUN.finditer(text):
            start, end = match.span()
            continued = start == 0 and carried_long
            if end == len(text):  # the run may go on in the next chunk
                open_start = start
                break
            if continued or end - start >= min_run_length:
                for i in range(start, end, fragment_length):
                    yield source, text[i:min(i + fragment_length, end)]
            carried_long = False
        if open_start is None:
            carry, carried_long = "", False
            continue
        whole = (len(text) - open_start) // fragment_length * fragment_length
        for i in range(open_start, open_start + whole, fragment_length):
            yield source, text[i:i + fragment_length]
        carried_long = whole > 0 or (open_start == 0 and carried_long)
        carry = text[open_start + whole:]
    if carry and (carried_long or len(carry) >= min_run_length):
        yield source, carry


class BudgetSample:
    """The lowest-priority items whose lengths add up to at most `budget` (a bottom-k sample in bases).

    `add(priority, index, item)` in any order; `items()` gives the kept items ordered by `index`. The kept set is
    exactly "sort everything seen by priority, take the longest prefix that fits", whatever the stream order.
    """

    def __init__(self, budget):
        if budget < 0:
            raise ValueError(f"budget ({budget}) must not be negative")
        self.budget = budget
        self.total = 0
        self._heap = []  # (-priority, index, item): the largest priority on top
        self._threshold = float("inf")  # priorities at or above this can never be kept

    def add(self, priority, index, item):
        if priority >= self._threshold:
            return
        heapq.heappush(self._heap, (-priority, index, item))
        self.total += len(item)
        while self.total > self.budget:
            neg_priority, _, dropped = heapq.heappop(self._heap)
            self.total -= len(dropped)
            self._threshold = -neg_priority

    def __len__(self):
        return len(self._heap)

    def items(self):
        return [item for _, _, item in sorted(self._heap, key=lambda entry: entry[1])]
