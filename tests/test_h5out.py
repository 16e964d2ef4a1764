"""The HDF5 writer on its own: layout, done mask, resume, output checks and merging shards (no model)."""
import h5py
import numpy as np
import pytest

from dnabert2.common.outputs import check_output, partial_path
from dnabert2.errors import InputError
from dnabert2.regions.h5writer import STRING, H5Writer
from dnabert2.regions.merging import merge

COLUMNS = {"regions/index": ("int64", ()), "regions/name": (STRING, ()), "embeddings": ("float32", (3,))}
TOKEN_COLUMNS = {"vectors": ("float32", (3,)), "start": ("int64", ())}
SETTINGS = {"kind": "embed", "pooling": "mean", "window": 10, "n_regions_total": 7, "input_fingerprint": "abc"}


def rows_of(indexes):
    """Deterministic row data of input rows `indexes`: name, a vector, and i+1 tokens."""
    return [(i, f"r{i}", np.arange(3, dtype=np.float32) + 10 * i) for i in indexes]


def write_row(w, row, data, total, tokens):
    """Write one row (`rows_of` item) and, with tokens, its i + 1 token rows; -> the token count after it."""
    i, name, vec = data
    if tokens:
        w.append_tokens({"vectors": np.tile(vec, (i + 1, 1)), "start": np.arange(i + 1)})
        total += i + 1
    w.write_rows(row, {"regions/index": [i], "regions/name": np.array([name], dtype=object),
                       "embeddings": vec[None]}, token_ends=[total] if tokens else None)
    return total


def write(path, indexes, shard="", stop_after=None, tokens=False):
    attrs = dict(SETTINGS, shard=shard)
    w = H5Writer.create(path, len(indexes), COLUMNS, attrs, TOKEN_COLUMNS if tokens else None)
    total = 0
    for row, (i, name, vec) in enumerate(rows_of(indexes)):
        if stop_after is not None and row == stop_after:
            w.close()
            return None
        total = write_row(w, row, (i, name, vec), total, tokens)
    return w.finish()


def test_layout_attributes_and_partial_name(tmp_path):
    out = tmp_path / "out.h5"
    assert partial_path(out) == tmp_path / "out.partial.h5"
    w = H5Writer.create(out, 3, COLUMNS, dict(SETTINGS, shard=""))
    w.close()
    with h5py.File(w.partial, "r") as f:
        assert f.attrs["complete"] == False  # noqa: E712
        assert f["embeddings"].shape == (3, 3) and f["embeddings"].maxshape == (None, 3)
        assert f["embeddings"].compression == "gzip" and f["embeddings"].chunks is not None
        assert not f["done"][:].any()
    partial_path(out).unlink()
    assert write(out, [0, 1, 2]) == out
    assert not partial_path(out).exists()
    with h5py.File(out, "r") as f:
        assert f.attrs["complete"] == True  # noqa: E712
        assert f["done"][:].all()
        assert [x.decode() for x in f["regions/name"][:]] == ["r0", "r1", "r2"]
        np.testing.assert_array_equal(f["embeddings"][2], [20, 21, 22])


def test_resume_continues_after_last_done_row_and_drops_extra_tokens(tmp_path):
    out = tmp_path / "out.h5"
    write(out, range(5), stop_after=3, tokens=True)
    with h5py.File(partial_path(out), "r+") as f:  # as if killed after appending the next row's tokens
        f["tokens/vectors"].resize(f["tokens/vectors"].shape[0] + 2, axis=0)
        f["tokens/start"].resize(f["tokens/start"].shape[0] + 2, axis=0)
    w = H5Writer.resume(out, dict(SETTINGS, shard=""))
    assert w.first_pending == 3 and w.n_tokens == 1 + 2 + 3
    w.close()
    with h5py.File(partial_path(out), "r") as f:
        assert f["tokens/vectors"].shape == (6, 3) and f["tokens/start"].shape == (6,)
    with pytest.raises(InputError, match="cannot resume: --window was 10, this run has 20 "):
        H5Writer.resume(out, dict(SETTINGS, window=20))


@pytest.mark.parametrize("exists, partial, resume, force, outcome", [
    (False, False, False, False, "new"),
    (True, False, False, False, "output file already exists (use --force"),
    (False, True, False, False, "an interrupted run of this output exists; continue it with --resume"),
    (False, True, True, False, "resume"),
    (True, False, True, False, "already complete, nothing to resume"),
    (False, False, True, False, "nothing to resume"),
    (True, True, False, True, "new"),
    (False, False, True, True, "contradict"),
])
def test_check_output(tmp_path, exists, partial, resume, force, outcome):
    out = tmp_path / "o.h5"
    if exists:
        out.write_text("x")
    if partial:
        partial_path(out).write_text("x")
    if outcome in ("new", "resume"):
        assert check_output(out, resume, force) == outcome
    else:
        with pytest.raises(InputError, match=outcome.replace("(", r"\(")):
            check_output(out, resume, force)


@pytest.mark.parametrize("tokens", [False, True])
def test_merge_of_shards_equals_one_file(tmp_path, tokens):
    whole = write(tmp_path / "whole.h5", range(7), tokens=tokens)
    shards = [write(tmp_path / f"s{k}.h5", list(range(7))[k::3], shard=f"{k}/3", tokens=tokens) for k in (2, 0, 1)]
    merged = tmp_path / "merged.h5"
    summary = merge(shards, merged, block_rows=2)
    assert summary["regions"] == 7 and summary["shards"] == 3
    with h5py.File(whole, "r") as a, h5py.File(merged, "r") as b:
        names = []
        a.visititems(lambda n, o: names.append(n) if isinstance(o, h5py.Dataset) else None)
        assert ("tokens/offsets" in names) == tokens
        for name in names:
            np.testing.assert_array_equal(a[name][:], b[name][:], err_msg=name)
        assert b.attrs["complete"] == True  # noqa: E712


def test_merge_refuses_incomplete_missing_and_mixed_shards(tmp_path):
    s0 = write(tmp_path / "s0.h5", [0, 2, 4, 6], shard="0/2")
    with pytest.raises(InputError, match=r"shard\(s\) 1/2 missing"):
        merge([s0], tmp_path / "m.h5")
    write(tmp_path / "s1.h5", [1, 3, 5], shard="1/2", stop_after=1)
    with pytest.raises(InputError, match="not complete"):
        merge([s0, partial_path(tmp_path / "s1.h5")], tmp_path / "m.h5")
    attrs = dict(SETTINGS, shard="1/2", pooling="max")
    w = H5Writer.create(tmp_path / "s1b.h5", 3, COLUMNS, attrs)
    w.write_rows(0, {"regions/index": [1, 3, 5], "regions/name": np.array(["a", "b", "c"], dtype=object),
                     "embeddings": np.zeros((3, 3))})
    w.finish()
    with pytest.raises(InputError, match="pooling = 'max' differs"):
        merge([s0, tmp_path / "s1b.h5"], tmp_path / "m.h5")
    assert not (tmp_path / "m.h5").exists()


def finish_from(out, indexes, tokens=False):
    """Resume `out` and write the rest of rows `indexes` as `write` does; -> the finished file."""
    w = H5Writer.resume(out, dict(SETTINGS, shard=""))
    data = rows_of(indexes)
    total = sum(i + 1 for i, _, _ in data[:w.first_pending])
    for row, (i, name, vec) in enumerate(data[w.first_pending:], start=w.first_pending):
        total = write_row(w, row, (i, name, vec), total, tokens)
    return w.finish()


def tear_chunk(path, name, row):
    """Scribble over the bytes on disk of the chunk of dataset `name` holding `row`, as a kill during its flush may."""
    with h5py.File(path, "r") as f:
        dataset = f[name]
        info = dataset.id.get_chunk_info_by_coord((row - row % dataset.chunks[0],) + (0,) * (dataset.ndim - 1))
    with open(path, "r+b") as fh:
        fh.seek(info.byte_offset)
        fh.write(bytes(range(256)) * (info.size // 256) + b"\xff" * (info.size % 256))


def h5_contents(path):
    """{dataset: (values, dtype, chunks, compression, shuffle, fill value, maxshape, attributes)} and root attrs."""
    out = {}
    with h5py.File(path, "r") as f:
        def keep(name, obj):
            if isinstance(obj, h5py.Dataset):
                out[name] = (obj[:].tolist(), obj.dtype, obj.chunks, obj.compression, obj.shuffle, obj.fillvalue,
                             obj.maxshape, dict(obj.attrs))
        f.visititems(keep)
        root = {k: v for k, v in f.attrs.items() if k not in ("created", "resumed")}
    return out, root


@pytest.fixture
def small_chunks(monkeypatch):
    """Two rows per chunk of /embeddings (several chunks in a file of a few rows)."""
    from dnabert2.regions import h5writer

    monkeypatch.setattr(h5writer, "CHUNK_BYTES", 24)


@pytest.mark.parametrize("torn, tokens", [("embeddings", False), ("embeddings", True), ("tokens/vectors", True)])
def test_resume_past_a_torn_chunk_after_the_done_rows(tmp_path, small_chunks, torn, tokens):
    whole = write(tmp_path / "whole.h5", range(7), tokens=tokens)
    out = tmp_path / "out.h5"
    write(out, range(7), stop_after=4, tokens=tokens)  # rows 0-3 done: the chunks of rows 0-1 and 2-3
    with h5py.File(partial_path(out), "r+") as f:  # row 4 flushed but not marked done when the kill came
        f["embeddings"][4] = 99
        if tokens:
            f["tokens/vectors"].resize(f["tokens/vectors"].shape[0] + 5, axis=0)
            f["tokens/vectors"][-5:] = 99
    n_tokens = 1 + 2 + 3 + 4
    tear_chunk(partial_path(out), torn, 4 if torn == "embeddings" else n_tokens)
    assert finish_from(out, range(7), tokens=tokens) == out
    assert h5_contents(out) == h5_contents(whole)
    with h5py.File(out, "r") as f:
        assert f.attrs["resumed"] == 1
    assert not list(tmp_path.glob(".*"))  # no staged file left


@pytest.mark.parametrize("torn, row, trusted, tokens", [
    ("embeddings", 2, 2, False),  # the chunk of rows 2-3
    ("tokens/vectors", 4, 2, True),  # token rows 4-5: row 2's tokens are 3-5
    ("tokens/offsets", 3, 2, True),  # offsets 3-5: where row 2's tokens end
    ("embeddings", 0, 0, True),  # nothing left: resumed from row 0
])
def test_finished_rows_in_a_torn_chunk_are_computed_again(tmp_path, small_chunks, caplog, torn, row, trusted,
                                                           tokens):
    whole = write(tmp_path / "whole.h5", range(7), tokens=tokens)
    out = tmp_path / "out.h5"
    write(out, range(7), stop_after=5, tokens=tokens)  # rows 0-4 done
    tear_chunk(partial_path(out), torn, row)
    w = H5Writer.resume(out, dict(SETTINGS, shard=""))
    assert w.first_pending == trusted
    assert f"out.partial.h5: the interruption damaged /{torn} from row {row} (" in caplog.text
    assert f"finished rows {trusted}-4 are computed again" in caplog.text
    w.close()
    assert finish_from(out, range(7), tokens=tokens) == out
    assert h5_contents(out) == h5_contents(whole)


def test_unreadable_partial_is_a_clear_error_and_changes_nothing(tmp_path):
    out = tmp_path / "out.h5"
    write(out, range(7), stop_after=5)
    with open(partial_path(out), "r+b") as fh:  # the HDF5 signature gone
        fh.write(b"\0" * 8)
    before = partial_path(out).read_bytes()
    with pytest.raises(InputError, match=r"out.partial.h5: cannot resume from this partial file, it is damaged "
                                         r"\(.+\); start over with --force"):
        H5Writer.resume(out, dict(SETTINGS, shard=""))
    assert partial_path(out).read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.partial.h5"]


@pytest.mark.parametrize("then", ["resume", "force"])
def test_staged_file_of_a_killed_resume_is_removed(tmp_path, then):
    out = tmp_path / "out.h5"
    write(out, range(7), stop_after=3)
    leftover = tmp_path / ".out.partial.h5.k1ll3d_x.tmp.h5"  # what a resume killed while copying leaves
    leftover.write_bytes(b"half a copy")
    others = [tmp_path / ".out.partial.h5.backup", tmp_path / ".other.partial.h5.k1ll3d_x.tmp.h5"]
    for p in others:
        p.write_text("the user's")
    if then == "resume":
        H5Writer.resume(out, dict(SETTINGS, shard="")).close()
    else:
        write(out, range(7))
    assert not leftover.exists() and all(p.read_text() == "the user's" for p in others)
