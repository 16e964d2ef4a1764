"""From tokens to bases, and between the strands: one-hot sequences, token scores spread over the bases each token
covers, and a map of the reverse complement turned back onto the region's strand.

A BPE token covers 1 to about 12 bases. A token's attribution is shared equally by its bases (`share`), so the
bases of a region add up to what its tokens add up to (integrated gradients' completeness carries over); an
attention weight is a weight, not a share, so every base gets the whole weight of the token covering it (`copy`),
as DNABERT-viz drew k-mer attention onto bases.
"""
import numpy as np

BASES = "ACGT"
_INDEX = np.full(256, -1, dtype=np.int64)
for _i, _b in enumerate(BASES):
    _INDEX[ord(_b)] = _i


def one_hot(sequence):
    """[length, 4] uint8, columns A, C, G, T; a row of zeros for N or any other letter."""
    codes = _INDEX[np.frombuffer(sequence.upper().encode("ascii", "replace"), dtype=np.uint8)]  # [L]
    out = np.zeros((len(sequence), len(BASES)), dtype=np.uint8)
    known = codes >= 0
    out[np.flatnonzero(known), codes[known]] = 1
    return out


def spread(token_scores, offsets, length, how="share"):
    """Per-base scores [length] from per-token scores [n] and the tokens' bp offsets [n, 2] (start, end).

    share: each base gets its token's score divided by the token's length; copy: each base gets the whole score.
    Bases no token covers (none with the tokenizers here) get 0."""
    offsets = np.asarray(offsets, dtype=np.int64).reshape(-1, 2)
    scores = np.asarray(token_scores, dtype=np.float64)
    widths = offsets[:, 1] - offsets[:, 0]  # [n]
    per_base = scores / np.maximum(widths, 1) if how == "share" else scores
    out = np.zeros(length, dtype=np.float64)
    out[_covered(offsets)] = np.repeat(per_base, widths)
    return out


def token_spans(offsets, ids, length):
    """(id, start, end) of the token covering each base: three [length] arrays (-1 where none does)."""
    offsets = np.asarray(offsets, dtype=np.int64).reshape(-1, 2)
    widths = offsets[:, 1] - offsets[:, 0]
    where = _covered(offsets)
    columns = []
    for values in (np.asarray(ids, dtype=np.int64), offsets[:, 0], offsets[:, 1]):
        column = np.full(length, -1, dtype=np.int64)
        column[where] = np.repeat(values, widths)
        columns.append(column)
    return tuple(columns)


def _covered(offsets):
    """The base positions the tokens cover, token after token."""
    return np.concatenate([np.arange(a, b) for a, b in offsets]) if len(offsets) else np.zeros(0, np.int64)


def mirror(values):
    """A map of the reverse complement as a map of the forward strand: positions reversed, and for [length, 4]
    matrices the bases complemented too (A<->T, C<->G: the columns A, C, G, T reversed)."""
    values = np.asarray(values)
    return values[::-1, ::-1] if values.ndim == 2 else values[::-1]
