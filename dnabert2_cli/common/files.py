"""Writing outputs so that nothing half-written is ever left behind.

`output_dir` builds a folder under a hidden temporary name beside its destination and renames it into place only
when the body finished without an exception; `output_file` does the same for one file. A failed or interrupted
run leaves the destination untouched (and no temporary folder).
"""
import contextlib
import os
import shutil
import tempfile
from pathlib import Path

from dnabert2.errors import InputError


def check_new_output(path, force=False, what="output folder"):
    """Fail before any work when `path` exists and --force was not given."""
    path = Path(path)
    if path.exists() and not force:
        raise InputError(f"{path}: {what} already exists (use --force to overwrite it)")
    parent = path.resolve().parent
    if not parent.is_dir():
        raise InputError(f"{path}: parent folder {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise InputError(f"{path}: parent folder {parent} is not writable")
    return path


@contextlib.contextmanager
def output_dir(path, force=False):
    """Yield a temporary folder; on success it replaces `path` (which may exist only with force)."""
    path = Path(path)
    check_new_output(path, force)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.resolve().parent))
    os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes 0700; outputs get the user's usual permissions
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    replace_path(tmp, path)


@contextlib.contextmanager
def output_file(path, force=False):
    """Yield a temporary file path beside `path`; on success it is renamed to `path`."""
    path = Path(path)
    check_new_output(path, force, what="output file")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.resolve().parent)
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600
    tmp = Path(tmp)
    try:
        yield tmp
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    replace_path(tmp, path)


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def replace_path(src, dst):
    """Move `src` to `dst`, replacing a file or folder already there (the old one is removed only after)."""
    src, dst = Path(src), Path(dst)
    if dst.is_dir() and not dst.is_symlink():
        old = dst.with_name(f".{dst.name}.old.{os.getpid()}")
        os.replace(dst, old)
        os.replace(src, dst)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(src, dst)
