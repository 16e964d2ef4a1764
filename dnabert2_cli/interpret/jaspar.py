"""Patterns against JASPAR: the motif database pyjaspar ships offline, compared with TOMTOM (memelite).

Each pattern's trimmed position probability matrix is compared with every motif of the chosen release, collection
CORE, taxonomic group `--tax-group`, latest version of each. memelite's TOMTOM gives the p-value of the best
alignment of a pattern and a motif on either strand (with its offset and strand); the q-values are
Benjamini-Hochberg over the motifs a pattern was compared with, as MEME's tomtom reports them per query.
"""
from dataclasses import dataclass

import numpy as np

from dnabert2.errors import InputError


@dataclass(frozen=True)
class Motif:
    matrix_id: str
    name: str
    ppm: np.ndarray  # [width, 4], columns A, C, G, T


@dataclass(frozen=True)
class Match:
    motif: Motif
    p_value: float
    q_value: float
    offset: int  # where the motif starts relative to the pattern
    reverse: bool  # the motif's reverse complement is what matched

    @property
    def oriented_ppm(self):
        """The motif as it lies along the pattern (reverse-complemented when that strand matched)."""
        return self.motif.ppm[::-1, ::-1] if self.reverse else self.motif.ppm


def load_motifs(release, tax_group):
    """[Motif] of JASPAR `release`, CORE collection, `tax_group`; InputError for an unknown release or group."""
    import warnings

    import pyjaspar

    if release not in pyjaspar.jaspar_releases:
        raise InputError(f"--jaspar {release}: pyjaspar ships {', '.join(sorted(pyjaspar.jaspar_releases))}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Biopython's notes about the JASPAR format
        records = pyjaspar.jaspardb(release=release).fetch_motifs(collection="CORE", tax_group=[tax_group])
    if not records:
        raise InputError(f"--tax-group {tax_group}: {release} CORE has no motifs of that group (groups: "
                         f"vertebrates, plants, insects, nematodes, fungi, urochordates)")
    motifs = []
    for record in records:
        counts = np.array([record.counts[base] for base in "ACGT"], dtype=np.float64).T  # [width, 4]
        motifs.append(Motif(record.matrix_id, record.name, counts / counts.sum(1, keepdims=True)))
    return motifs


def benjamini_hochberg(p_values):
    """q-values of one query's p-values (Benjamini-Hochberg, monotone)."""
    p = np.asarray(p_values, dtype=np.float64)
    order = np.argsort(p)
    ranked = p[order] * len(p) / np.arange(1, len(p) + 1)
    q = np.minimum.accumulate(ranked[::-1])[::-1]
    out = np.empty_like(q)
    out[order] = np.minimum(q, 1.0)
    return out


def best_matches(ppms, motifs, n):
    """For each query PPM [width, 4], its `n` best Matches by p-value."""
    from memelite import tomtom

    p, _, offsets, _, strands = tomtom([np.asarray(q, dtype=np.float64).T for q in ppms],
                                       [m.ppm.T for m in motifs])  # [Q, T] each
    out = []
    for row in range(len(ppms)):
        q = benjamini_hochberg(p[row])
        best = np.argsort(p[row], kind="stable")[:n]
        out.append([Match(motifs[j], float(p[row, j]), float(q[j]), int(offsets[row, j]), bool(strands[row, j]))
                    for j in best])
    return out
