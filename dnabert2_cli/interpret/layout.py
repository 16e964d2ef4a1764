"""What an attribute file holds (docs/hdf5.md), how one region's maps become its rows, and how they are read back.

Per region (the `/regions` columns of embed, plus the target's values); per base, under `/tokens` as `embed
--per-base` lays them out (rows `offsets[i]:offsets[i+1]` are region i's bases, 5' to 3' on its strand): the
one-hot base, the token covering it, and per method its scores, contributions and hypothetical contributions.
"""
import numpy as np

from dnabert2.interpret.settings import dataset_name
from dnabert2.regions.h5writer import TOKENS
from dnabert2.regions.heads import REGION_COLUMNS

VALUE_COLUMNS = {
    "target_value": ("float32", ()),  # the target's value for the region (NaN for a masked-LM model)
    "baseline_value": ("float32", ()),  # ig / grad-x-input: its value at the baseline (NaN otherwise)
    "ig_gap": ("float32", ()),  # ig: sum of the attributions - (target_value - baseline_value) (NaN otherwise)
}


def region_columns():
    return {**REGION_COLUMNS, **VALUE_COLUMNS}


def base_columns(methods):
    """The per-base datasets under /tokens: {name: (dtype, tail)}."""
    columns = {"ids": ("int32", ()), "start": ("int64", ()), "end": ("int64", ()), "one_hot": ("uint8", (4,))}
    for method in methods:
        name = dataset_name(method)
        columns.update({f"{name}_scores": ("float32", ()), f"{name}_contributions": ("float32", (4,)),
                        f"{name}_hypothetical": ("float32", (4,))})
        if method == "ism":
            columns["ism_delta"] = ("float32", (4,))
    return columns


def base_rows(maps):
    """One region's per-base rows: {name: array} for `base_columns`."""
    rows = {"ids": maps.token_ids.astype(np.int32), "start": maps.token_start, "end": maps.token_end,
            "one_hot": maps.one_hot}
    for method, found in maps.maps.items():
        name = dataset_name(method)
        rows[f"{name}_scores"] = found.scores.astype(np.float32)
        rows[f"{name}_contributions"] = (maps.one_hot * found.hypothetical).astype(np.float32)
        rows[f"{name}_hypothetical"] = found.hypothetical.astype(np.float32)
        if found.delta is not None:
            rows["ism_delta"] = found.delta.astype(np.float32)
    return rows


def value_row(maps):
    """One region's VALUE_COLUMNS: {name: [1] array}."""
    return {name: np.asarray([getattr(maps, name)], dtype=np.float32) for name in VALUE_COLUMNS}


def methods_of(f):
    """The methods an attribute file holds, in the order of the run."""
    import json

    return tuple(json.loads(f.attrs["methods"]))


def region_bounds(f):
    """[(lo, hi)] of every region's rows under /tokens."""
    offsets = f[f"{TOKENS}/offsets"][:]
    return list(zip(offsets[:-1].tolist(), offsets[1:].tolist()))


def read_region(f, lo, hi, method, what):
    """A region's per-base `what` (scores, contributions, hypothetical, delta) of `method`, rows lo:hi."""
    name = "ism_delta" if what == "delta" else f"{dataset_name(method)}_{what}"
    return f[f"{TOKENS}/{name}"][lo:hi]
