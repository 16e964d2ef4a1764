"""`--resume` of an HDF5 output: the partial file rebuilt from its finished rows, never written into in place.

HDF5 is not crash-safe: a run killed while it flushed a compressed chunk (or updated a chunk index) can leave that
chunk torn, and writing into it again makes HDF5 read it back first, which fails (`filter returned failure during
read`). Only the rows before the first pending one are known good, so `rebuild` copies just those, a few chunks at
a time, into a new file made like the old one (every group and dataset with its dtype, chunks, compression, fill
value, maximum shape and attributes) under a staged name beside it (`common.files.staged_file`), flushes it to
disk and renames it over the partial file. A kill at any point leaves either the old partial file or the new one,
both resumable, and at worst a staged leftover that the next run of the output removes (`remove_leftovers`).
"""
import os

from dnabert2.common.files import fsync_dir, fsync_file, staged_file, staged_file_leftovers
from dnabert2.errors import OutputWriteError

COPY_BYTES = 16 << 20  # about this many uncompressed bytes of one dataset read and written at a time


def remove_leftovers(partial):
    """Remove the staged files a killed `rebuild` of `partial` left (the caller holds the output's lock)."""
    for p in staged_file_leftovers(partial):
        p.unlink(missing_ok=True)


class Unreadable(Exception):
    """Rows from `row` (the first of a chunk) of dataset `name` of the old file do not read back (`reason`)."""

    def __init__(self, name, row, reason):
        super().__init__(f"/{name} from row {row}: {reason}")
        self.name, self.row, self.reason = name, row, reason


def rebuild(partial, keep_rows, reason):
    """Replace the HDF5 file `partial` by a copy holding only the rows known good: keep_rows(name, length) is
    (length of the copy, rows copied from the start) of the dataset at path `name` of `length` rows. Unreadable
    when some of those rows do not read back (the kill tore a chunk that also held finished rows), OutputWriteError
    when the copy cannot be written: either way the file is unchanged and no staged file is left. `reason` words
    an HDF5 error in a few words."""
    import h5py

    remove_leftovers(partial)
    with staged_file(partial) as tmp:
        try:
            with h5py.File(partial, "r") as src, h5py.File(tmp, "w") as dst:
                _copy_attrs(src, dst)
                src.visititems(lambda name, obj: _copy_node(name, obj, dst, keep_rows, partial, reason))
            fsync_file(tmp)
        except OutputWriteError:
            raise
        except (OSError, RuntimeError) as e:
            raise OutputWriteError(f"{partial}: cannot rebuild it to resume (writing a copy failed: {reason(e)}); "
                                   f"the partial file is unchanged") from None
    fsync_dir(partial.resolve().parent)


def _copy_node(name, obj, dst, keep_rows, partial, reason):
    """Group or dataset `name` of the old file into `dst`: made alike, the rows keep_rows says copied."""
    import h5py

    if isinstance(obj, h5py.Group):
        _copy_attrs(obj, dst.require_group(name))
        return None
    length, rows = keep_rows(name, obj.shape[0])
    out = dst.create_dataset_like(name, obj, shape=(length, *obj.shape[1:]), maxshape=obj.maxshape)
    _copy_attrs(obj, out)
    step = obj.chunks[0] * max(1, COPY_BYTES // max(1, _chunk_bytes(obj)))
    for lo in range(0, rows, step):
        hi = min(rows, lo + step)
        try:
            values = obj[lo:hi]
        except (OSError, RuntimeError):
            _find_torn_chunk(name, obj, lo, hi, reason)
        out[lo:hi] = values
    return None  # visititems goes on


def _find_torn_chunk(name, dataset, lo, hi, reason):
    """Raise Unreadable for the first chunk of rows lo:hi of `dataset` that does not read back."""
    for start in range(lo, hi, dataset.chunks[0]):
        try:
            dataset[start:min(hi, start + dataset.chunks[0])]
        except (OSError, RuntimeError) as e:
            raise Unreadable(name, start, reason(e)) from None
    raise Unreadable(name, lo, "rows read back one chunk at a time but not together")


def _chunk_bytes(dataset):
    size = dataset.dtype.itemsize
    for n in dataset.chunks:
        size *= n
    return size


def _copy_attrs(src, dst):
    """Every attribute of `src` onto `dst`, with its HDF5 type (a string stays variable-length, a flag a flag)."""
    for key in src.attrs:
        dst.attrs.create(key, src.attrs[key], dtype=src.attrs.get_id(key).dtype)
