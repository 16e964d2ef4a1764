"""What a score-variants file holds per row (layout: docs/hdf5.md), and the columns of a finished block.

Rows are variants (`/variants/*`, one per ALT allele of the VCF) or, with --saturate, sites (`/sites/*`, one per
base of every region, with [4] scores per row: the SNV to A, C, G and T on the region's strand). Scores live under
`/scores/*`; a row that is not scored (its status says why) holds NaN, as does a site's own base.
"""
import numpy as np

from dnabert2.regions.h5writer import STRING

BASES = "ACGT"

VARIANT_COLUMNS = {
    "variants/index": ("int64", ()),
    "variants/record": ("int64", ()),
    "variants/alt_index": ("int64", ()),
    "variants/chrom": (STRING, ()),
    "variants/pos": ("int64", ()),
    "variants/id": (STRING, ()),
    "variants/ref": (STRING, ()),
    "variants/alt": (STRING, ()),
    "variants/status": (STRING, ()),
    "variants/window_start": ("int64", ()),
    "variants/window_end": ("int64", ()),
    "variants/n_unknown_tokens": ("int64", ()),
    "variants/n_masked_ref": ("int64", ()),
    "variants/n_masked_alt": ("int64", ()),
}

SITE_COLUMNS = {
    "sites/index": ("int64", ()),
    "sites/region": ("int64", ()),
    "sites/chrom": (STRING, ()),
    "sites/name": (STRING, ()),
    "sites/strand": (STRING, ()),
    "sites/pos": ("int64", ()),
    "sites/offset": ("int64", ()),
    "sites/ref": (STRING, ()),
}


def score_columns(methods, saturate):
    """{dataset: (dtype, tail)} of the methods' scores: one value per variant, or [4] per site."""
    tail = (len(BASES),) if saturate else ()
    columns = {}
    for method in methods:
        columns.update(method.columns(tail))
    return columns


def _empty_scores(score_specs, rows):
    return {name: np.full((rows, *tail), np.nan, dtype=dtype) for name, (dtype, tail) in score_specs.items()}


def variant_block(variants, results, score_specs):
    """The columns of a block of Variants and their Scored results (None where not scored)."""
    n = len(variants)
    cols = {name: np.empty(n, dtype=object if dtype == STRING else dtype) for name, (dtype, _) in
            VARIANT_COLUMNS.items()}
    cols.update(_empty_scores(score_specs, n))
    for i, (v, scored) in enumerate(zip(variants, results)):
        placement = v.placement if scored is not None else None
        for name, value in (("index", v.index), ("record", v.record), ("alt_index", v.alt_index), ("chrom", v.chrom),
                            ("pos", v.pos), ("id", v.id), ("ref", v.ref), ("alt", v.alt), ("status", v.status),
                            ("window_start", placement.start if placement else -1),
                            ("window_end", placement.end if placement else -1),
                            ("n_unknown_tokens", scored.unknown if scored else 0),
                            ("n_masked_ref", scored.masked_ref if scored else 0),
                            ("n_masked_alt", scored.masked_alt if scored else 0)):
            cols[f"variants/{name}"][i] = value
        if scored is not None:
            for name, value in scored.scores.items():
                cols[name][i] = value
    return cols


def site_block(region, index, first_site, sequence, results, score_specs):
    """The columns of every site of one region: `results[i][b]` is the Scored SNV of base i to BASES[b] (or None)."""
    n = len(sequence)
    cols = _empty_scores(score_specs, n)
    for i, per_base in enumerate(results):
        for b, scored in enumerate(per_base):
            if scored is not None:
                for name, value in scored.scores.items():
                    cols[name][i, b] = value
    offsets = np.arange(n, dtype=np.int64)
    genomic = region.start + (n - 1 - offsets if region.strand == "-" else offsets) + 1  # 1-based
    cols.update({
        "sites/index": first_site + offsets, "sites/region": np.full(n, index, dtype=np.int64),
        "sites/chrom": np.full(n, region.chrom, dtype=object), "sites/name": np.full(n, region.name, dtype=object),
        "sites/strand": np.full(n, region.strand, dtype=object), "sites/pos": genomic.astype(np.int64),
        "sites/offset": offsets, "sites/ref": np.asarray(list(sequence), dtype=object),
    })
    return cols


def concat(blocks):
    """One set of columns from several (consecutive rows)."""
    return {name: np.concatenate([b[name] for b in blocks]) for name in blocks[0]}
