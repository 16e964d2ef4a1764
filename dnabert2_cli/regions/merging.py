"""`dnabert2 merge`: the shard files of one run (`--shard K/N`, or one torchrun rank each) joined into one file.

The shards must be complete and agree on every setting (`h5settings.SETTINGS`); the merged file holds the rows in
input order, as one run without --shard would have written them (layout in docs/hdf5.md).
"""
import json

import numpy as np

from dnabert2.common.fields import settings_of
from dnabert2.errors import InputError
from dnabert2.regions.h5settings import SETTINGS, plain_value, same_attr
from dnabert2.regions.h5writer import STRING, TOKENS, create_dataset
from dnabert2.regions.settings import MergeSettings


INDEX_NAMES = ("regions/index", "variants/index", "sites/index")


def _read_complete(path):
    import h5py

    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise InputError(f"{path}: cannot open it as HDF5 ({e})") from None
    if not bool(f.attrs.get("complete", False)):
        f.close()
        raise InputError(f"{path}: not complete (an interrupted run); finish it with --resume before merging")
    return f


def merge(inputs, output=None, *, settings=None, **options):
    """Join the shard files of one run (`--shard K/N`, K = 0..N-1) into `output`, rows in input order.

    options are the fields of `MergeSettings` (force, block_rows: rows copied at a time); or pass `settings`."""
    from dnabert2.common.files import check_distinct_paths, check_new_output, output_file

    s = settings_of(MergeSettings, settings, options, "merge", output=output)
    output, force, block_rows = s.output, s.force, s.block_rows
    if output is None:
        raise InputError("-o/--output: give the HDF5 file to write")
    if not inputs:
        raise InputError("merge: give the shard files to join")
    check_distinct_paths([("-o", output)], [("shard", path) for path in inputs])
    check_new_output(output, force, what="output file")
    files = [_read_complete(p) for p in inputs]
    try:
        first = files[0]
        shards = {}
        for path, f in zip(inputs, files):
            shard = str(f.attrs.get("shard", ""))
            if "/" not in shard:
                raise InputError(f"{path}: not a shard file (no shard attribute); merge joins outputs of --shard K/N")
            k, n = (int(x) for x in shard.split("/"))
            for key in SETTINGS:
                if not same_attr(f.attrs.get(key), first.attrs.get(key)):
                    raise InputError(f"{path}: {key} = {plain_value(f.attrs.get(key))!r} differs from {inputs[0]} "
                                     f"({plain_value(first.attrs.get(key))!r}); these are not shards of one run")
            if k in shards:
                raise InputError(f"{path}: shard {shard} given twice (also {shards[k][0]})")
            shards[k] = (path, f, n)
        n_shards = {n for _, _, n in shards.values()}
        if len(n_shards) != 1:
            raise InputError(f"merge: the files come from different shardings ({sorted(n_shards)} shards)")
        n_shards = n_shards.pop()
        missing = sorted(set(range(n_shards)) - set(shards))
        if missing:
            raise InputError(f"merge: shard(s) {', '.join(f'{k}/{n_shards}' for k in missing)} missing")
        total = int(first.attrs["n_regions_total"])
        with output_file(output, force=True) as tmp:
            _merge_into(tmp, [shards[k][1] for k in range(n_shards)], total, block_rows)
        return {"output": str(output), "regions": total, "shards": n_shards}
    finally:
        for f in files:
            f.close()


def _row_datasets(f):
    """Names of the per-row datasets (everything with a region axis except /tokens)."""
    names = []
    f.visititems(lambda name, obj: names.append(name) if hasattr(obj, "shape") and not name.startswith(TOKENS)
                 else None)
    return names


def _merge_into(tmp, files, total, block_rows):
    import h5py

    first = files[0]
    # the input position of each row: /regions/index (embed, predict), /variants/index or /sites/index (score-variants)
    indexes = [next(f[name] for name in INDEX_NAMES if name in f)[:] for f in files]
    owner = np.empty(total, dtype=np.int64)  # which shard holds each input row, and where
    position = np.empty(total, dtype=np.int64)
    seen = np.zeros(total, dtype=bool)
    for k, index in enumerate(indexes):
        if seen[index].any():
            raise InputError("merge: two shards hold the same region")
        owner[index], position[index], seen[index] = k, np.arange(len(index)), True
    if not seen.all():
        raise InputError(f"merge: the shards hold {int(seen.sum())} of {total} regions")
    names = _row_datasets(first)
    has_tokens = TOKENS in first
    with h5py.File(tmp, "w") as out:
        for name in names:
            src = first[name]
            dtype = STRING if h5py.check_string_dtype(src.dtype) else src.dtype
            create_dataset(out, name, total, dtype, src.shape[1:])
        if has_tokens:
            create_dataset(out, f"{TOKENS}/offsets", total + 1, "int64", fill=0)
            token_names = [n for n in first[TOKENS] if n != "offsets"]
            for name in token_names:
                src = first[f"{TOKENS}/{name}"]
                create_dataset(out, f"{TOKENS}/{name}", 0, src.dtype, src.shape[1:])
        for key, value in first.attrs.items():
            out.attrs[key] = value
        out.attrs["shard"] = ""
        out.attrs["merged_from"] = json.dumps([f.filename for f in files])
        n_tokens = 0
        for a in range(0, total, block_rows):
            b = min(total, a + block_rows)
            for name in names:
                src_rows = [files[k][name] for k in range(len(files))]
                chunk = None
                for k, src in enumerate(src_rows):
                    mine = np.flatnonzero(owner[a:b] == k)
                    if mine.size == 0:
                        continue
                    lo, hi = position[a + mine[0]], position[a + mine[-1]] + 1
                    values = src[lo:hi]
                    if chunk is None:
                        chunk = np.empty((b - a, *values.shape[1:]), dtype=values.dtype)
                    chunk[mine] = values
                out[name][a:b] = chunk
            if has_tokens:
                n_tokens = _merge_tokens(out, files, owner, position, a, b, token_names, n_tokens)


def _merge_tokens(out, files, owner, position, a, b, token_names, n_tokens):
    offsets = [f[f"{TOKENS}/offsets"] for f in files]
    pieces = {name: [] for name in token_names}
    ends = []
    for i in range(a, b):
        k, j = owner[i], position[i]
        lo, hi = offsets[k][j], offsets[k][j + 1]
        for name in token_names:
            pieces[name].append(files[k][f"{TOKENS}/{name}"][lo:hi])
        n_tokens += hi - lo
        ends.append(n_tokens)
    out[f"{TOKENS}/offsets"][a + 1:b + 1] = ends
    for name in token_names:
        values = np.concatenate(pieces[name])
        dataset = out[f"{TOKENS}/{name}"]
        start = dataset.shape[0]
        dataset.resize(start + len(values), axis=0)
        dataset[start:] = values
    return n_tokens
