"""The HDF5 file of `embed` and `predict` (layout in docs/hdf5.md): written batch by batch, resumable.

A run writes `OUT.partial.h5` beside `OUT`: every dataset is created at its final number of rows (chunked,
gzip-compressed, resizable along the region axis), rows are written in input order a block at a time, each
block is flushed to disk and then marked in `/done`. Finishing sets the root attribute `complete` and renames the
file to `OUT`. A run killed at any point leaves a partial file whose `done` rows are final, except that HDF5 is
not crash-safe: the kill may tear the chunks it was writing, which may hold finished rows too. So `resume` never
writes into the old file: it rebuilds it from the finished rows that read back (`h5rebuild`, renamed over it in
one step), computes again those of a torn chunk, and says from which row to go on (`merging.merge` joins the
files of `--shard K/N` runs into one).

A full disk stops the run with `OutputWriteError` (exit 1) before HDF5 meets it: each block is written only when
the disk has room for its bytes plus `ROOM_MARGIN`, so the file is closed cleanly with every finished row kept for
`--resume`. A write that fails anyway (another process filled the disk, quota, I/O error) is caught too: the room
the run's lock file held back (`RESERVE_BYTES`) is given back so that HDF5 can close the file, and the partial file
is kept only when it reopens and its finished rows read back, else it is removed. HDF5 does not always recover
from a failed write, so that second path is best effort; the first is the one a run that fills the disk takes.

The writer knows nothing about models: it takes named numpy columns and appends per-token arrays.
"""
import os
import re
import time
from pathlib import Path

import numpy as np

from dnabert2 import __version__
from dnabert2.common.outputs import partial_path
from dnabert2.errors import InputError, OutputWriteError
from dnabert2.regions import h5rebuild
from dnabert2.regions.h5settings import attr_value, resume_differences

STRING = "str"  # column dtype marker for variable-length UTF-8 strings
# room held back in the run's lock file: HDF5 needs some to close a file after a write failed for lack of space
# (the chunk caches, 1 MiB per dataset, and the metadata); without it the close fails and the process crashes
RESERVE_BYTES = 32 << 20
# free space a block of rows must leave beyond its own bytes (HDF5 metadata, chunks rewritten elsewhere)
ROOM_MARGIN = 16 << 20
CHUNK_BYTES = 1 << 18  # about 256 KiB per chunk before compression
TOKENS = "tokens"

def _h5dtype(dtype):
    import h5py

    return h5py.string_dtype("utf-8") if dtype == STRING else np.dtype(dtype)


def _chunk_rows(dtype, tail):
    itemsize = 16 if dtype == STRING else np.dtype(dtype).itemsize
    per_row = itemsize * int(np.prod(tail, dtype=np.int64) if tail else 1)
    return int(max(1, min(1 << 16, CHUNK_BYTES // max(per_row, 1))))


def create_dataset(f, name, rows, dtype, tail=(), fill=None):
    """A dataset of `rows` rows of shape `tail`, resizable along the rows, chunked and (except /done) compressed.
    One created empty (the /tokens datasets, grown as rows arrive) gets chunks of the full size, not of one row."""
    kwargs = {"compression": "gzip", "compression_opts": 4, "shuffle": dtype != STRING}
    if dtype == bool or name == "done":
        kwargs = {}
    chunk = _chunk_rows(dtype, tail) if rows == 0 else min(rows, _chunk_rows(dtype, tail))
    return f.create_dataset(name, shape=(rows, *tail), maxshape=(None, *tail), dtype=_h5dtype(dtype),
                            chunks=(chunk, *tail), fillvalue=fill, **kwargs)


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

    def __init__(self, path, h5file, first_pending, reserve=None):
        self.path = Path(path)
        self.partial = partial_path(path)
        self.f = h5file
        self.reserve = reserve  # the run's OutputLock: its room is given back when a write fails
        # every dataset opened once and kept open: a temporary handle closed while the disk is full would flush
        # (and fail) inside h5py's garbage collection, before the reserve is given back, damaging the library's state
        self.datasets = {}
        h5file.visititems(self._keep_dataset)
        self.first_pending = first_pending  # rows before this one are done
        self.rows = h5file["done"].shape[0]
        self.n_tokens = int(h5file[f"{TOKENS}/offsets"][first_pending]) if TOKENS in h5file else 0

    def _keep_dataset(self, name, obj):
        if hasattr(obj, "shape"):
            self.datasets[name] = obj  # returns None: visititems goes on

    @classmethod
    def create(cls, path, rows, columns, attrs, token_columns=None, reserve=None):
        import h5py

        partial = partial_path(path)
        h5rebuild.remove_leftovers(partial)  # of a killed --resume (the caller holds the output's lock)
        try:
            f = h5py.File(partial, "w")
        except OSError as e:
            partial.unlink(missing_ok=True)
            raise OutputWriteError(f"{partial}: cannot create it ({write_error_reason(e)}); nothing was written") \
                from None
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
                f.attrs[key] = attr_value(value)
            f.attrs["package_version"] = __version__
            f.attrs["created"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            f.attrs["complete"] = False
            f.flush()
        except (OSError, RuntimeError) as e:
            _close_after_failure(f, reserve)
            partial.unlink(missing_ok=True)
            raise OutputWriteError(f"{partial}: cannot write it ({write_error_reason(e)}); nothing was kept") \
                from None
        except BaseException:
            f.close()
            partial.unlink(missing_ok=True)
            raise
        return cls(path, f, 0, reserve)

    @classmethod
    def resume(cls, path, attrs, reserve=None):
        """Reopen `OUT.partial.h5` rebuilt from its finished rows (`h5rebuild`: chunks the kill was writing may be
        torn); InputError when it was made with other settings or input, or is damaged. Finished rows in a torn
        chunk are computed again (a warning says which)."""
        import h5py

        partial = partial_path(path)
        try:
            with h5py.File(partial, "r") as f:
                differences = resume_differences(f.attrs, attrs)
                done = f["done"][:]
        except (OSError, KeyError) as e:
            raise _damaged(partial, write_error_reason(e)) from None
        if differences:
            raise InputError(f"{partial}: cannot resume: {differences} (give the same options and input, or start "
                             f"over with --force)")
        pending = np.flatnonzero(~done)
        first = int(pending[0]) if pending.size else len(done)
        while True:
            try:
                n_tokens = _tokens_before(partial, first)
                h5rebuild.rebuild(partial, lambda name, length: _rows_to_keep(name, length, first, n_tokens),
                                  write_error_reason)
                break
            except h5rebuild.Unreadable as torn:
                first = _trusted_rows(partial, torn, first)
        try:
            f = h5py.File(partial, "r+")
            f.attrs["resumed"] = int(f.attrs.get("resumed", 0)) + 1
        except (OSError, RuntimeError) as e:
            raise OutputWriteError(f"{partial}: cannot reopen it to resume ({write_error_reason(e)})") from None
        return cls(path, f, first, reserve)

    def append_tokens(self, arrays):
        """Append per-token rows (same length for every /tokens dataset), in input order."""
        n = len(next(iter(arrays.values())))
        self._check_room(sum(_nbytes(values) for values in arrays.values()))
        try:
            for name, values in arrays.items():
                dataset = self.datasets[f"{TOKENS}/{name}"]
                dataset.resize(self.n_tokens + n, axis=0)
                dataset[self.n_tokens:self.n_tokens + n] = values
        except (OSError, RuntimeError) as e:
            raise self._write_failed(e) from None
        self.n_tokens += n

    def write_rows(self, start, columns, token_ends=None):
        """Write rows start.. of every column, flush, then mark them done (so `done` never runs ahead of data)."""
        self._check_room(sum(_nbytes(values) for values in columns.values()))
        try:
            n = _put_rows(self.datasets, self.datasets.get(f"{TOKENS}/offsets"), start, columns, token_ends)
            self.f.flush()
            self.datasets["done"][start:start + n] = True
            self.f.flush()
        except (OSError, RuntimeError) as e:
            raise self._write_failed(e) from None

    def finish(self, attrs=None):
        """Mark the file complete and rename it into place; returns the final path."""
        if not self.datasets["done"][:].all():
            raise RuntimeError(f"{self.partial}: finish() with rows not done")
        try:
            for key, value in (attrs or {}).items():
                self.f.attrs[key] = attr_value(value)
            self.f.attrs["complete"] = True
            self.f.close()
        except (OSError, RuntimeError) as e:
            raise self._write_failed(e) from None
        os.replace(self.partial, self.path)
        return self.path

    def _check_room(self, nbytes):
        """Stop (OutputWriteError, the file closed cleanly) when the disk lacks room for `nbytes` more."""
        try:
            stat = os.statvfs(self.partial.resolve().parent)
        except OSError:
            return
        free = stat.f_bavail * stat.f_frsize
        if free < nbytes + ROOM_MARGIN:
            raise self._stopped(f"no space left on device: {free >> 20} MiB free, the next rows need about "
                                f"{(nbytes + ROOM_MARGIN + (1 << 20) - 1) >> 20} MiB")

    def _write_failed(self, error):
        """After a failed write: close the file, keep the partial only if `--resume` can use it; the error to raise."""
        return self._stopped(f"writing failed ({write_error_reason(error)})")

    def _stopped(self, reason):
        """Close the file (the reserve given back first), keep the partial only if `--resume` can use it; -> the
        OutputWriteError to raise, saying what was kept."""
        _close_after_failure(self.f, self.reserve)
        done = readable_done_rows(self.partial)
        if not done:
            self.partial.unlink(missing_ok=True)
            return OutputWriteError(f"{self.path}: {reason}; no finished rows could be kept, the partial file is "
                                    f"removed")
        return OutputWriteError(f"{self.path}: {reason}; the {done} rows finished are kept in {self.partial}: make "
                                f"room and continue with --resume")

    def close(self):
        if self.f.id.valid:
            self.f.close()


def _damaged(partial, reason):
    return InputError(f"{partial}: cannot resume from this partial file, it is damaged ({reason}); start over with "
                      f"--force")


def _tokens_before(partial, first):
    """Per-token rows of the rows before `first` of a partial file (0 without /tokens); Unreadable when its
    /tokens/offsets there do not read back."""
    import h5py

    with h5py.File(partial, "r") as f:
        if TOKENS not in f or not first:
            return 0
        offsets = f[f"{TOKENS}/offsets"]
        try:
            return int(offsets[first])
        except (OSError, RuntimeError) as e:
            raise h5rebuild.Unreadable(f"{TOKENS}/offsets", first - first % offsets.chunks[0],
                                       write_error_reason(e)) from None


def _trusted_rows(partial, torn, first):
    """Rows of a partial file still trusted (fewer than `first`) when the rows of `torn` (h5rebuild.Unreadable)
    do not read back: those before the torn chunk and, for a per-token dataset, before the first row with tokens in
    it. InputError when none is lost (nothing left to drop). Warns which finished rows are computed again."""
    import logging

    import h5py

    if torn.name == f"{TOKENS}/offsets":  # row i's tokens end at offsets[i + 1]
        trusted = max(0, torn.row - 1)
    elif torn.name.startswith(f"{TOKENS}/"):
        try:
            with h5py.File(partial, "r") as f:
                offsets = f[f"{TOKENS}/offsets"][:first + 1]
        except (OSError, RuntimeError) as e:
            raise _damaged(partial, write_error_reason(e)) from None
        trusted = int(np.searchsorted(offsets, torn.row, side="right")) - 1
    else:
        trusted = torn.row
    if trusted >= first:
        raise _damaged(partial, f"/{torn.name} from row {torn.row}: {torn.reason}")
    logging.getLogger(__name__).warning("%s: the interruption damaged /%s from row %d (%s): finished rows %d-%d are "
                                        "computed again", partial, torn.name, torn.row, torn.reason, trusted,
                                        first - 1)
    return trusted


def _rows_to_keep(name, length, first, n_tokens):
    """(length, rows kept) of dataset `name` of `length` rows in a resumed file: a per-region dataset keeps its
    length and the rows before `first` (/tokens/offsets: one more, the end of the last); a per-token one is cut
    to the tokens of those rows (tokens appended after the last finished row are dropped)."""
    if name == f"{TOKENS}/offsets":  # with no row kept, offsets[0] is the fill value 0
        return length, first + 1 if first else 0
    if name.startswith(f"{TOKENS}/"):
        return n_tokens, n_tokens
    return length, first


def _nbytes(values):
    """Bytes a column takes on disk before compression (strings: their UTF-8 length plus the heap's overhead)."""
    values = np.asarray(values)
    if values.dtype == object:
        return sum(len(str(v).encode()) + 16 for v in values.ravel())
    return values.nbytes


def _close_after_failure(f, reserve):
    """Close an HDF5 file whose last write failed: first give back the lock's reserved room, so that HDF5 can flush
    what it holds and close (a file it cannot close crashes the interpreter at exit)."""
    if reserve is not None:
        reserve.free_reserve()
    try:
        if f.id.valid:
            f.close()
    except Exception:  # noqa: BLE001 - the file is judged by readable_done_rows next
        pass


def write_error_reason(error):
    """The cause of a failed write in a few words (HDF5 buries it in a long message)."""
    text = str(error)
    found = re.search(r"error message = '([^']+)'", text)
    if found:
        return found.group(1)
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return (text.splitlines() or [type(error).__name__])[0]


def readable_done_rows(partial):
    """How many rows of a partial file are marked done and read back (the last done row of every dataset and its
    tokens); 0 when the file cannot be opened or read."""
    import h5py

    try:
        with h5py.File(partial, "r") as f:
            done = f["done"][:]
            if not done.any():
                return 0
            last = int(np.flatnonzero(done)[-1])
            names = []
            f.visititems(lambda name, obj: names.append(name) if isinstance(obj, h5py.Dataset) else None)
            for name in names:
                if not name.startswith(f"{TOKENS}/"):
                    f[name][last]
            if TOKENS in f:
                lo, hi = (int(x) for x in f[f"{TOKENS}/offsets"][last:last + 2])
                for name in f[TOKENS]:
                    if name != "offsets":
                        f[f"{TOKENS}/{name}"][lo:hi]
            return int(done.sum())
    except Exception:  # noqa: BLE001 - any failure to read means --resume cannot use the file
        return 0


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


class Finishing:
    """`with Finishing(writer, mode):` write the rows; then the file is finished (renamed into place). Bad input
    (InputError) removes the partial file of a new run ("new"); a failed write (OutputWriteError) has closed it
    already and says what it kept; anything else (Ctrl-C, a crash) closes it with its finished rows, for --resume."""

    def __init__(self, writer, mode):
        self.writer, self.mode = writer, mode

    def __enter__(self):
        return self.writer

    def __exit__(self, kind, error, traceback):
        if kind is None:
            self.writer.finish()
        elif not issubclass(kind, OutputWriteError):
            self.writer.close()
            if issubclass(kind, InputError):
                if self.mode == "new":
                    self.writer.partial.unlink(missing_ok=True)
            else:
                import logging

                logging.getLogger(__name__).warning("stopped; the rows finished so far are kept in %s: continue "
                                                    "with --resume", self.writer.partial)
        return False
