"""Files: outputs written so that nothing half-written is ever left behind, and the small readers every stage uses.

`staged_dir` and `staged_file` build an output under a hidden temporary name beside its destination and rename it
into place only when the body finished without an exception; a failed or interrupted run leaves the destination
untouched (and no temporary). `output_dir` and `output_file` add the check that the destination is new (or --force).

`check_distinct_paths` refuses an output that is one of the run's inputs or another of its outputs (same path or
same file), and `output_lock` holds `OUT.lock` beside an output for the whole run, so that a second run writing
the same output is refused at once instead of both damaging it.
"""
import contextlib
import errno
import hashlib
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

from dnabert2.errors import InputError, located


def check_writable_parent(path):
    """InputError unless the folder that will hold `path` exists and is writable."""
    path = Path(path)
    parent = path.resolve().parent
    if not parent.is_dir():
        raise InputError(f"{path}: parent folder {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise InputError(f"{path}: parent folder {parent} is not writable")


def check_new_output(path, force=False, what="output folder"):
    """Fail before any work when `path` exists and --force was not given."""
    path = Path(path)
    if path.exists() and not force:
        raise InputError(f"{path}: {what} already exists (use --force to overwrite it)")
    check_writable_parent(path)
    return path


@contextlib.contextmanager
def staged_dir(path, fsync=False):
    """Yield a temporary folder beside `path`; on success it replaces `path` (with fsync: flushed to disk first)."""
    path = Path(path)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.resolve().parent))
    os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes 0700; outputs get the user's usual permissions
    try:
        yield tmp
        if fsync:
            fsync_tree(tmp)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    replace_path(tmp, path)
    if fsync:
        fsync_dir(path.resolve().parent)


def staged_leftovers(path):
    """The temporary folders `staged_dir` was building beside `path` when its run was killed (`.NAME.` + mkdtemp's
    8 random characters + `.tmp`; another path's are never matched). Only the holder of the output's lock may
    remove them."""
    import re

    path = Path(path)
    name = re.compile(r"^\." + re.escape(path.name) + r"\.[a-z0-9_]{8}\.tmp$")
    return [p for p in path.resolve().parent.iterdir() if name.match(p.name) and p.is_dir() and not p.is_symlink()]


def staged_file_leftovers(path):
    """The temporary files `staged_file` was writing beside `path` when its run was killed (`.NAME.` + mkstemp's
    8 random characters + `.tmp` + the suffix of `path`; another path's are never matched). Only the holder of the
    output's lock may remove them."""
    import re

    path = Path(path)
    name = re.compile(r"^\." + re.escape(path.name) + r"\.[a-z0-9_]{8}\.tmp" + re.escape(path.suffix) + "$")
    return [p for p in path.resolve().parent.iterdir() if name.match(p.name) and p.is_file() and not p.is_symlink()]


@contextlib.contextmanager
def staged_file(path):
    """Yield a temporary file path beside `path` (same suffix); on success it is renamed to `path`."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=f".tmp{path.suffix}", dir=path.resolve().parent)
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600
    tmp = Path(tmp)
    try:
        yield tmp
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, path)


@contextlib.contextmanager
def output_dir(path, force=False):
    """A new output folder (see `check_new_output`), built by `staged_dir`."""
    check_new_output(path, force)
    with staged_dir(path) as tmp:
        yield tmp


@contextlib.contextmanager
def output_file(path, force=False):
    """A new output file (see `check_new_output`), built by `staged_file`."""
    check_new_output(path, force, what="output file")
    with staged_file(path) as tmp:
        yield tmp


@contextlib.contextmanager
def text_output(path, force=False):
    """An open text file to write a table into: standard output for "-" (a reader that stops early, like `head`,
    is no error), else the new file `path` (see `output_file`), built under a temporary name and renamed when
    complete."""
    if str(path) == "-":
        try:
            yield sys.stdout
            sys.stdout.flush()
        except BrokenPipeError:
            _quiet_broken_pipe()
        return
    with output_file(path, force) as tmp, open(tmp, "w") as out:
        yield out


def _quiet_broken_pipe():
    """The reader of the pipe is gone: point stdout at /dev/null so Python's final flush does not complain."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


def write_text(path, text):
    """Replace the file `path` with `text` in one step (readers see the old or the new content, never a part)."""
    with staged_file(path) as tmp:
        Path(tmp).write_text(text)


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def remove_tree(path):
    """Delete a folder: renamed away first (`.NAME.PID.old`, which a later clean-up recognises), then removed."""
    path = Path(path)
    trash = path.with_name(f".{path.name}.{os.getpid()}.old")
    os.replace(path, trash)
    shutil.rmtree(trash, ignore_errors=True)


def replace_path(src, dst):
    """Move `src` to `dst`, replacing a file or folder already there (the old one is removed only after)."""
    src, dst = Path(src), Path(dst)
    if dst.is_dir() and not dst.is_symlink():
        old = dst.with_name(f".{dst.name}.{os.getpid()}.old")
        os.replace(dst, old)
        os.replace(src, dst)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(src, dst)


def fsync_file(path):
    """Flush one file's content to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_tree(folder):
    """Flush every file of `folder` (not recursive) and the folder itself to disk."""
    for p in Path(folder).iterdir():
        if p.is_file():
            fsync_file(p)
    fsync_dir(folder)


def fsync_dir(folder):
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def is_gzip(path):
    with open(path, "rb") as fh:
        return fh.read(2) == b"\x1f\x8b"


def open_text(path, errors="strict", newline=None):
    """A UTF-8 text file, gzip-compressed or not (told by its first bytes, not its name)."""
    if is_gzip(path):
        import gzip

        return gzip.open(path, "rt", encoding="utf-8", errors=errors, newline=newline)
    return open(path, encoding="utf-8", errors=errors, newline=newline)


def read_json_object(path, what="JSON file"):
    """The JSON object in `path`; InputError naming the file when it is unreadable or not an object."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as e:
        raise InputError(located(path, f"not a readable {what} ({e})")) from None
    if not isinstance(data, dict):
        raise InputError(located(path, f"a {what} must hold a JSON object"))
    return data


def sha256_files(paths):
    """Hex sha256 of the files' bytes, one after the other."""
    digest = hashlib.sha256()
    for path in paths:
        with open(path, "rb") as fh:
            for piece in iter(lambda: fh.read(1 << 22), b""):
                digest.update(piece)
    return digest.hexdigest()


def _same_file(a, b):
    """Whether two paths name one file: equal once resolved, or the same inode (hard links, bind mounts)."""
    a, b = Path(a), Path(b)
    if a.resolve() == b.resolve():
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def check_distinct_paths(outputs, inputs=()):
    """InputError (before any work) when an output is the same file as an input or as another output.

    outputs, inputs: (option, path) pairs such as ("-o", "out.h5"), ("--fasta", "in.fa"); None paths and "-"
    (standard output) are skipped."""
    outputs = [(o, p) for o, p in outputs if p is not None and str(p) != "-"]
    inputs = [(o, p) for o, p in inputs if p is not None and str(p) != "-"]
    for i, (option, path) in enumerate(outputs):
        for other, given in inputs:
            if _same_file(path, given):
                raise InputError(f"{option} {path}: is also the input {other} {given}; writing it would destroy "
                                 "the input (choose another output path)")
        for other, given in outputs[i + 1:]:
            if _same_file(path, given):
                raise InputError(f"{option} {path}: is also the output {other} {given}; give each output its own "
                                 "path")


def lock_path(path):
    """`out.h5` -> `out.h5.lock`: the file a run holds locked while it writes `out.h5`."""
    path = Path(path)
    return path.with_name(f"{path.name}.lock")


class OutputLock:
    """An exclusive lock (flock) on `OUT.lock`, held from before any work until the run ends.

    A second run that wants the same output is refused at once (InputError naming the running process). The lock
    file is removed on release; one left by a killed run holds no lock and is taken over. `reserve` bytes are
    allocated in the lock file and given back by `free_reserve()`: room that lets a run which filled the disk
    still close its output cleanly.
    """

    def __init__(self, path, reserve=0):
        self.path = Path(path)
        self.lock = lock_path(path)
        self.reserve = reserve
        self.fd = None

    def acquire(self):
        import fcntl

        check_writable_parent(self.path)
        while True:
            fd = os.open(self.lock, os.O_RDWR | os.O_CREAT, 0o666 & ~_umask())
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as e:
                os.close(fd)
                if e.errno not in (errno.EWOULDBLOCK, errno.EACCES, errno.EAGAIN):
                    raise InputError(f"{self.path}: cannot lock {self.lock} ({e.strerror})") from None
                raise InputError(f"{self.path}: in use by a running process{self._holder()}: another run is writing "
                                 "this output; wait for it to finish or choose another output path") from None
            if self._still_linked(fd):  # not a lock file a finishing run removed while we waited
                break
            os.close(fd)
        self.fd = fd
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._allocate()
        return self

    def _still_linked(self, fd):
        try:
            return os.stat(self.lock).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            return False

    def _holder(self):
        try:
            pid = self.lock.read_bytes()[:32].split(b"\n")[0].decode().strip()
        except (OSError, UnicodeDecodeError):
            return ""
        return f" (pid {pid})" if pid.isdigit() else ""

    def _allocate(self):
        if not self.reserve:
            return
        try:
            os.posix_fallocate(self.fd, 4096, self.reserve)
        except OSError as e:
            self.release()
            if e.errno in (errno.ENOSPC, errno.EDQUOT):
                from dnabert2.errors import OutputWriteError

                raise OutputWriteError(f"{self.path}: no space left on the device (less than "
                                       f"{self.reserve >> 20} MiB free); nothing was written") from None
            # a filesystem without fallocate: run without the reserve

    def free_reserve(self):
        """Give the reserved room back to the filesystem (after a write failed for lack of space)."""
        if self.fd is not None:
            os.ftruncate(self.fd, 64)

    def release(self):
        if self.fd is None:
            return
        try:
            self.lock.unlink()
        except FileNotFoundError:
            pass
        os.close(self.fd)  # closing releases the flock
        self.fd = None


@contextlib.contextmanager
def output_lock(path, reserve=0):
    """Hold `OutputLock(path, reserve)` for the body; None paths and "-" take no lock (yield None)."""
    if path is None or str(path) == "-":
        yield None
        return
    lock = OutputLock(path, reserve).acquire()
    try:
        yield lock
    finally:
        lock.release()


def safe_filename(name, limit=80):
    """A region's name as part of a file name: runs of anything but letters, digits, '.', '_' and '-' become '_'
    (score-variants --plot, attribute --plot)."""
    import re

    return re.sub(r"[^0-9A-Za-z._-]+", "_", name)[:limit] or "region"
