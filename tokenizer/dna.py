"""DNA text handling: upper-casing soft-masked sequence, pure A/C/G/T pieces, IUPAC reverse complement.

Genomes mark repeats in lower case ("soft masking") and unknown or ambiguous bases with N and the other IUPAC
codes. DNABERT-2's vocabulary holds only A, C, G and T, so sequence is upper-cased before tokenising and, for
training a vocabulary, split at every letter that is not A/C/G/T.
"""
import re

from ..errors import InputError

IUPAC_DNA = "ACGTNRYSWKMBDHV"  # the IUPAC DNA letters (upper case), allowed in sequences users give
# IUPAC nucleotide codes (with RNA's U, which pairs with A) and their complements; gap symbols map to themselves.
_IUPAC = "ACGTURYKMSWBDHVN"
_IUPAC_COMPLEMENT = "TGCAAYRMKSWVHDBN"
_GAPS = "-.*"
_COMPLEMENT = str.maketrans(_IUPAC + _IUPAC.lower() + _GAPS, _IUPAC_COMPLEMENT + _IUPAC_COMPLEMENT.lower() + _GAPS)
_NOT_IUPAC = re.compile(f"[^{_IUPAC}{_IUPAC.lower()}{re.escape(_GAPS)}]")


def upper(seq):
    """The sequence in upper case (soft-masked repeats become ordinary bases)."""
    return seq.upper()


def reverse_complement(seq):
    """Reverse complement with IUPAC codes (R<->Y, K<->M, B<->V, D<->H; S, W, N and gaps unchanged), case kept.

    Raises InputError for a letter that is not an IUPAC nucleotide code, naming it and its position.
    """
    bad = _NOT_IUPAC.search(seq)
    if bad:
        raise InputError(f"cannot reverse-complement {bad.group()!r} at position {bad.start()}: "
                         "not an IUPAC nucleotide code")
    return seq.translate(_COMPLEMENT)[::-1]


def _run_pattern(min_length):
    if min_length < 1:
        raise ValueError(f"min_length ({min_length}) must be at least 1")
    return re.compile(f"[ACGT]{{{int(min_length)},}}")


def acgt_spans(seq, min_length=1):
    """`(start, end)` of every maximal run of A/C/G/T (after upper-casing) at least `min_length` long."""
    return [m.span() for m in _run_pattern(min_length).finditer(seq.upper())]


def acgt_runs(seq, min_length=1):
    """The maximal pieces of pure A/C/G/T in the upper-cased sequence, at least `min_length` long.

    Everything else (N, other IUPAC codes, gaps) separates pieces, so no piece holds such a letter.
    """
    return _run_pattern(min_length).findall(seq.upper())
