"""The HDF5 file of `embed` and `predict` (layout in spec/hdf5.md): written batch by batch, resumable, mergeable.

A run writes `OUT.partial.h5` beside `OUT`: every dataset is created at its final number of rows (chunked,
gzip-compressed, resizable along the region axis), rows are written in input order a block at a time, each
block is flushed to disk and then marked in `/done`. Finishing sets the root attribute `complete` and renames the
file to `OUT`. A run killed at any point leaves a partial file whose `done` rows are final; `resume` reopens it
and says from which row to go on. `merge` joins the files of `--shard K/N` runs into one in input order.

The writer knows nothing about models: it takes named numpy columns and appends per-token arrays.
"""
import json
import os
import time
from pathlib import Path

import numpy as np

from dnabert2 import __version__
from dnabert2.errors import InputError

STRING = "str"  # column dtype marker for variable-length UTF-8 strings
CHUNK_BYTES = 1 << 18  # about 256 KiB per chunk before compression
TOKENS = "tokens"

# root attributes that must agree for --resume to continue a file and for merge to join shards
SETTINGS = ("kind", "model_weights_sha256", "tokenizer_sha256", "pooling", "layer", "window", "stride", "resize",
            "clip", "rc_average", "precision", "half_output", "batch_tokens", "lookahead", "input_fingerprint",
            "n_regions_total", "label_names", "problem_type")


def partial_path(path):
    """`out.h5` -> `out.partial.h5`: where an unfinished run writes."""
    path = Path(path)
    return path.with_name(f"{path.stem}.partial{path.suffix or '.h5'}")


def _attr(value):
    if value is None:
        return ""
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(value)
    return value


def _h5dtype(dtype):
    import h5py

    return h5py.string_dtype("utf-8") if dtype == STRING else np.dtype(dtype)


def _chunk_rows(dtype, tail):
    itemsize = 16 if dtype == STRING else np.dtype(dtype).itemsize
    per_row = itemsize * int(np.prod(tail, dtype=np.int64) if tail else 1)
    return int(max(1, min(1 << 16, CHUNK_BYTES // max(per_row, 1))))


def _create(f, name, rows, dtype, tail=(), fill=None):
    kwargs = {"compression": "gzip", "compression_opts": 4, "shuffle": dtype != STRING}
    if dtype == bool or name == "done":
        kwargs = {}
    return f.create_dataset(name, shape=(rows, *tail), maxshape=(None, *tail), dtype=_h5dtype(dtype),
                            chunks=(min(max(rows, 1), _chunk_rows(dtype, tail)), *tail), fillvalue=fill, **kwargs)


def _plain(value):
    """An attribute value as a plain Python value (numpy scalars and bytes unwrapped)."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bytes):
        value = value.decode()
    return value


def _same(a, b):
    return _plain(a) == _plain(b)


class H5Writer:
    """Rows of one run into `OUT.partial.h5`; `finish()` marks it complete and renames it to `OUT`.

    columns: {dataset name: (dtype or STRING, shape after the row axis)}, every one of `rows` rows.
    token_columns: the same for the per-token datasets under /tokens (--pooling none), grown as tokens arrive.
    """

    def __init__(self, path, h5file, first_pending):
        self.path = Path(path)
        self.partial = partial_path(path)
        self.f = h5file
        self.first_pending = first_pending  # rows before this one are done
        self.rows = h5file["done"].shape[0]
        self.n_tokens = int(h5file[f"{TOKENS}/offsets"][first_pending]) if TOKENS in h5file else 0

    @classmethod
    def create(cls, path, rows, columns, attrs, token_columns=None):
        import h5py

        partial = partial_path(path)
        f = h5py.File(partial, "w")
        try:
            for name, (dtype, tail) in columns.items():
                _create(f, name, rows, dtype, tail)
            _create(f, "done", rows, bool, fill=False)
            if token_columns:
                offsets = _create(f, f"{TOKENS}/offsets", rows + 1, "int64", fill=0)
                offsets.attrs["meaning"] = "tokens of row i are rows offsets[i]:offsets[i+1] of the /tokens datasets"
                for name, (dtype, tail) in token_columns.items():
                    _create(f, f"{TOKENS}/{name}", 0, dtype, tail)
            for key, value in attrs.items():
                f.attrs[key] = _attr(value)
            f.attrs["package_version"] = __version__
            f.attrs["created"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            f.attrs["complete"] = False
            f.flush()
        except BaseException:
            f.close()
            partial.unlink(missing_ok=True)
            raise
        return cls(path, f, 0)

    @classmethod
    def resume(cls, path, attrs):
        """Reopen `OUT.partial.h5`; InputError when it was made with other settings or input."""
        import h5py

        partial = partial_path(path)
        try:
            f = h5py.File(partial, "r+")
        except OSError as e:
            raise InputError(f"{partial}: cannot resume from this partial file, it is damaged ({e}); "
                             f"start over with --force") from None
        for key in (*SETTINGS, "shard"):
            if key in attrs and not _same(f.attrs.get(key), _attr(attrs[key])):
                stored = _plain(f.attrs.get(key))
                f.close()
                raise InputError(f"{partial}: cannot resume: it was made with {key} = {stored!r}, this run has "
                                 f"{_attr(attrs[key])!r} (give the same options and input, or start over with --force)")
        done = f["done"][:]
        pending = np.flatnonzero(~done)
        first = int(pending[0]) if pending.size else len(done)
        writer = cls(path, f, first)
        if TOKENS in f:  # drop tokens appended after the last finished row
            for name, dataset in f[TOKENS].items():
                if name != "offsets":
                    dataset.resize(writer.n_tokens, axis=0)
        f.attrs["resumed"] = int(f.attrs.get("resumed", 0)) + 1
        return writer

    def append_tokens(self, arrays):
        """Append per-token rows (same length for every /tokens dataset), in input order."""
        n = len(next(iter(arrays.values())))
        for name, values in arrays.items():
            dataset = self.f[f"{TOKENS}/{name}"]
            dataset.resize(self.n_tokens + n, axis=0)
            dataset[self.n_tokens:self.n_tokens + n] = values
        self.n_tokens += n

    def write_rows(self, start, columns, token_ends=None):
        """Write rows start.. of every column, flush, then mark them done (so `done` never runs ahead of data)."""
        n = len(next(iter(columns.values())))
        for name, values in columns.items():
            self.f[name][start:start + n] = values
        if token_ends is not None:
            self.f[f"{TOKENS}/offsets"][start + 1:start + 1 + n] = token_ends
        self.f.flush()
        self.f["done"][start:start + n] = True
        self.f.flush()

    def finish(self, attrs=None):
        """Mark the file complete and rename it into place; returns the final path."""
        if not self.f["done"][:].all():
            raise RuntimeError(f"{self.partial}: finish() with rows not done")
        for key, value in (attrs or {}).items():
            self.f.attrs[key] = _attr(value)
        self.f.attrs["complete"] = True
        self.f.close()
        os.replace(self.partial, self.path)
        return self.path

    def close(self):
        if self.f.id.valid:
            self.f.close()


class MemoryWriter:
    """The same interface as H5Writer, collecting numpy arrays (the library call without an output path)."""

    def __init__(self, rows, columns, token_columns=None):
        self.rows = rows
        self.first_pending = 0
        self.columns = {}
        for name, (dtype, tail) in columns.items():
            self.columns[name] = np.empty((rows, *tail), dtype=object if dtype == STRING else dtype)
        self.tokens = {name: [] for name in (token_columns or {})}
        self.offsets = np.zeros(rows + 1, dtype=np.int64) if token_columns else None

    def append_tokens(self, arrays):
        for name, values in arrays.items():
            self.tokens[name].append(np.asarray(values))

    def write_rows(self, start, columns, token_ends=None):
        n = len(next(iter(columns.values())))
        for name, values in columns.items():
            self.columns[name][start:start + n] = values
        if token_ends is not None:
            self.offsets[start + 1:start + 1 + n] = token_ends

    def result(self):
        """{name: array}: /-separated dataset names as keys, e.g. 'embeddings', 'regions/chrom', 'tokens/vectors'."""
        out = dict(self.columns)
        if self.offsets is not None:
            out[f"{TOKENS}/offsets"] = self.offsets
            for name, parts in self.tokens.items():
                out[f"{TOKENS}/{name}"] = np.concatenate(parts) if parts else np.empty((0,))
        return out

    def close(self):
        pass


def check_output(path, resume, force):
    """Before any work: what to do about OUT and OUT.partial.h5 -> "new" or "resume"."""
    path = Path(path)
    partial = partial_path(path)
    parent = path.resolve().parent
    if not parent.is_dir():
        raise InputError(f"{path}: parent folder {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise InputError(f"{path}: parent folder {parent} is not writable")
    if resume and force:
        raise InputError("--resume and --force contradict each other: give one")
    if force:
        return "new"
    if resume:
        if partial.exists():
            return "resume"
        if path.exists():
            raise InputError(f"{path}: already complete, nothing to resume (use --force to compute it again)")
        raise InputError(f"{path}: nothing to resume ({partial} does not exist); run without --resume")
    if path.exists():
        raise InputError(f"{path}: output file already exists (use --force to overwrite it)")
    if partial.exists():
        raise InputError(f"{partial}: an interrupted run of this output exists; continue it with --resume or "
                         f"start over with --force")
    return "new"


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


def merge(inputs, output, force=False, block_rows=65536):
    """Join the shard files of one run (`--shard K/N`, K = 0..N-1) into `output`, rows in input order."""
    from dnabert2.common.files import check_new_output, output_file

    if not inputs:
        raise InputError("merge: give the shard files to join")
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
                if not _same(f.attrs.get(key), first.attrs.get(key)):
                    raise InputError(f"{path}: {key} = {f.attrs.get(key)!r} differs from {inputs[0]} "
                                     f"({first.attrs.get(key)!r}); these are not shards of one run")
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
    indexes = [f["regions/index"][:] for f in files]
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
            _create(out, name, total, dtype, src.shape[1:])
        if has_tokens:
            _create(out, f"{TOKENS}/offsets", total + 1, "int64", fill=0)
            token_names = [n for n in first[TOKENS] if n != "offsets"]
            for name in token_names:
                src = first[f"{TOKENS}/{name}"]
                _create(out, f"{TOKENS}/{name}", 0, src.dtype, src.shape[1:])
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
