"""The HDF5 file of `embed` and `predict` (layout in docs/hdf5.md): written batch by batch, resumable.

A run writes `OUT.partial.h5` beside `OUT`: every dataset is created at its final number of rows (chunked,
gzip-compressed, resizable along the region axis), rows are written in input order a block at a time, each
block is flushed to disk and then marked in `/done`. Finishing sets the root attribute `complete` and renames the
file to `OUT`. A run killed at any point leaves a partial file whose `done` rows are final; `resume` reopens it
and says from which row to go on (`merging.merge` joins the files of `--shard K/N` runs into one).

The writer knows nothing about models: it takes named numpy columns and appends per-token arrays.
"""
import json
import os
import time
from pathlib import Path

import numpy as np

from dnabert2 import __version__
from dnabert2.common.files import check_writable_parent
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


def shard_output(path, shard):
    """`out.h5` -> `out.shard-2-of-4.h5`: the file of one torchrun rank."""
    path = Path(path)
    return path.with_name(f"{path.stem}.shard-{shard[0]}-of-{shard[1]}{path.suffix or '.h5'}")


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


def create_dataset(f, name, rows, dtype, tail=(), fill=None):
    """A dataset of `rows` rows of shape `tail`, resizable along the rows, chunked and (except /done) compressed."""
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


def same_attr(a, b):
    """Whether two attribute values are equal once unwrapped (numpy scalars, bytes)."""
    return _plain(a) == _plain(b)


def _put_rows(datasets, offsets, start, columns, token_ends):
    """Rows start.. of each column into `datasets` (name -> dataset or array), token ends into `offsets`; -> rows."""
    n = len(next(iter(columns.values())))
    for name, values in columns.items():
        datasets[name][start:start + n] = values
    if token_ends is not None:
        offsets[start + 1:start + 1 + n] = token_ends
    return n


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
                create_dataset(f, name, rows, dtype, tail)
            create_dataset(f, "done", rows, bool, fill=False)
            if token_columns:
                offsets = create_dataset(f, f"{TOKENS}/offsets", rows + 1, "int64", fill=0)
                offsets.attrs["meaning"] = "tokens of row i are rows offsets[i]:offsets[i+1] of the /tokens datasets"
                for name, (dtype, tail) in token_columns.items():
                    create_dataset(f, f"{TOKENS}/{name}", 0, dtype, tail)
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
            if key in attrs and not same_attr(f.attrs.get(key), _attr(attrs[key])):
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
        n = _put_rows(self.f, self.f.get(f"{TOKENS}/offsets"), start, columns, token_ends)
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

    @property
    def n_tokens(self):
        """Per-token rows appended so far."""
        return int(sum(len(part) for part in self.tokens["ids"]))

    def append_tokens(self, arrays):
        for name, values in arrays.items():
            self.tokens[name].append(np.asarray(values))

    def write_rows(self, start, columns, token_ends=None):
        _put_rows(self.columns, self.offsets, start, columns, token_ends)

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
    check_writable_parent(path)
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
