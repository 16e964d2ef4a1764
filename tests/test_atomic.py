"""Atomic outputs: nothing left on failure, the user's permissions on success, --force replaces."""
import os
import stat

import pytest

from dnabert2.common.files import output_dir, output_file
from dnabert2.errors import InputError


def _mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_output_dir_appears_only_on_success(tmp_path):
    dest = tmp_path / "out"
    with pytest.raises(RuntimeError):
        with output_dir(dest) as tmp:
            (tmp / "half.txt").write_text("x")
            raise RuntimeError("stop")
    assert list(tmp_path.iterdir()) == []
    with output_dir(dest) as tmp:
        (tmp / "whole.txt").write_text("x")
    assert [p.name for p in dest.iterdir()] == ["whole.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_outputs_get_umask_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        with output_dir(tmp_path / "d") as tmp:
            pass
        with output_file(tmp_path / "f.txt") as tmp:
            tmp.write_text("x")
    finally:
        os.umask(old)
    assert _mode(tmp_path / "d") == 0o755
    assert _mode(tmp_path / "f.txt") == 0o644


def test_existing_output_needs_force(tmp_path):
    dest = tmp_path / "out"
    dest.mkdir()
    (dest / "old.txt").write_text("old")
    with pytest.raises(InputError, match="already exists .*--force"):
        with output_dir(dest):
            pass
    with output_dir(dest, force=True) as tmp:
        (tmp / "new.txt").write_text("new")
    assert [p.name for p in dest.iterdir()] == ["new.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
