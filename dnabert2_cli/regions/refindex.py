"""Where the index of a reference FASTA lives, and making it: beside the FASTA, or in the cache folder.

`prepare(path, index_dir)` returns the file to open and its index files (`Indexed`). In order:
- a plain-gzip FASTA (not bgzip) cannot be read at random: it is decompressed once into a bgzip copy in the cache
  (`<cache>/references/<key>/`), which is then indexed there;
- an index beside the FASTA (`X.fai`, and `X.gzi` for bgzip) is used when `faicheck.stale_reason` finds nothing
  wrong; a stale one is rebuilt with a warning, never used;
- a missing or stale index is built beside the FASTA when its folder is writable, else in the cache;
- when neither is writable, InputError names the option that fixes it.

The cache folder is --index-dir, else $DNABERT2_CACHE, else ~/.cache/dnabert2. Each reference gets its own
subfolder, keyed by its absolute path, size and modification time, so two references (or a reference and its
rewritten self) never share files.
"""
import contextlib
import gzip
import hashlib
import logging
import os
import shutil
import zlib
from dataclasses import dataclass
from pathlib import Path

from dnabert2.common.files import staged_file
from dnabert2.errors import InputError
from dnabert2.regions.faicheck import stale_reason

log = logging.getLogger(__name__)

CACHE_ENV = "DNABERT2_CACHE"
FIX = "give --index-dir DIR (or set DNABERT2_CACHE=DIR) to a folder you can write, where the index is kept"


@dataclass(frozen=True)
class Indexed:
    """The FASTA to open (the user's file, or its bgzip copy) and its index files (gzi: None for plain FASTA)."""
    fasta: Path
    fai: Path
    gzi: Path = None


def cache_root(index_dir=None):
    """--index-dir, else $DNABERT2_CACHE, else ~/.cache/dnabert2."""
    chosen = index_dir or os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "dnabert2"
    return Path(chosen).expanduser()


def cache_folder(path, index_dir=None):
    """This reference's own folder in the cache (not created)."""
    path = Path(path).resolve()
    stat = path.stat()
    key = hashlib.sha256(f"{path}\0{stat.st_size}\0{stat.st_mtime_ns}".encode()).hexdigest()[:20]
    return cache_root(index_dir) / "references" / f"{path.name}.{key}"


def compression(path):
    """"plain", "gzip" or "bgzip", from the first bytes of the file."""
    with open(path, "rb") as fh:
        head = fh.read(18)
    if head[:2] != b"\x1f\x8b":
        return "plain"
    # a BGZF block carries the extra subfield 'BC' (RFC 1952 FEXTRA, see the SAM spec section 4.1)
    if len(head) >= 14 and head[3] & 4 and head[12:14] == b"BC":
        return "bgzip"
    return "gzip"


def writable(folder):
    return os.access(folder, os.W_OK)


def prepare(path, index_dir=None):
    """The file to open and its index for the reference `path` (see the module docstring)."""
    path = Path(path)
    kind = compression(path)
    if kind == "gzip":
        path, kind = bgzip_copy(path, index_dir), "bgzip"
    bgzip = kind == "bgzip"
    beside = Indexed(path, Path(f"{path}.fai"), Path(f"{path}.gzi") if bgzip else None)
    reason = _why_not_usable(beside)
    if reason is None:
        return beside
    if writable(beside.fai.parent.absolute()):  # the folder the index goes in (a symlink's own folder)
        _warn(path, reason, beside.fai.parent)
        return _build(beside)
    cached = _in_cache(path, bgzip, index_dir)
    cached_reason = _why_not_usable(cached)
    if cached_reason is None:
        if reason != "missing":
            log.warning("the index beside the reference %s is stale (%s); using the fresh one in %s", path, reason,
                        cached.fai.parent)
        return cached
    if reason == "missing":
        reason = f"no index beside it and its folder {path.parent.absolute()} is read-only"
    _warn(path, reason, cached.fai.parent)
    return _build(cached)


def _why_not_usable(indexed):
    """"missing", a staleness reason, or None when the index files are there and describe the FASTA."""
    files = [f for f in (indexed.fai, indexed.gzi) if f is not None]
    if not all(f.is_file() for f in files):
        return "missing"
    return stale_reason(indexed.fasta, indexed.fai, indexed.gzi)


def _warn(path, reason, where):
    if reason == "missing":
        # the bgzip copy of a gzip reference is indexed as a matter of course (its making was announced)
        level = logging.INFO if path.suffix == ".bgz" and path.parent == where else logging.WARNING
        log.log(level, "indexing the reference %s (no index found; writing it to %s)", path, where.resolve())
    else:
        log.warning("indexing the reference %s again: its index is stale (%s); writing it to %s", path, reason,
                    where.resolve())


def _in_cache(path, bgzip, index_dir):
    folder = cache_folder(path, index_dir)
    return Indexed(path, folder / f"{path.name}.fai", folder / f"{path.name}.gzi" if bgzip else None)


def _make_folder(folder, path):
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise InputError(f"--ref {path}: cannot create the index folder {folder} ({e.strerror}); {FIX}") from None
    if not writable(folder):
        raise InputError(f"--ref {path}: its folder is read-only and so is the index folder {folder}; {FIX}")


def _build(indexed):
    """Write the index files of `indexed` (under temporary names, renamed when complete); returns `indexed`."""
    _make_folder(indexed.fai.parent, indexed.fasta)
    with staged_file(indexed.fai) as fai, _maybe_staged(indexed.gzi) as gzi:
        Path(fai).unlink()  # the indexers write the files themselves
        try:
            _index(indexed.fasta, Path(fai), gzi)
        except (OSError, ValueError, RuntimeError) as e:
            raise InputError(f"--ref {indexed.fasta}: cannot index it as a FASTA file ({_first_line(e)})") from None
    return indexed


def _maybe_staged(path):
    if path is None:
        return contextlib.nullcontext(None)
    return staged_file(path)


def _index(fasta, fai, gzi):
    """Index `fasta` into `fai` (and `gzi`) with samtools faidx from pysam, or pyfaidx without pysam."""
    if gzi is not None:
        Path(gzi).unlink(missing_ok=True)
    try:
        import pysam
    except ImportError:
        pysam = None
    if pysam is not None:
        args = [str(fasta), "--fai-idx", str(fai)] + (["--gzi-idx", str(gzi)] if gzi is not None else [])
        try:
            pysam.faidx(*args)
        except pysam.utils.SamtoolsError as e:
            raise ValueError(str(e)) from None
        return
    import pyfaidx

    try:
        pyfaidx.Fasta(str(fasta), indexname=str(fai), gzi_indexname=str(gzi) if gzi else None, rebuild=True).close()
    except pyfaidx.FastaIndexingError as e:
        raise ValueError(str(e)) from None


def _first_line(error):
    text = str(error).strip().splitlines()
    return text[-1] if text else type(error).__name__


def bgzip_copy(path, index_dir=None):
    """The bgzip copy of a plain-gzip FASTA in the cache, made once (decompressed and recompressed in blocks)."""
    from Bio import bgzf

    folder = cache_folder(path, index_dir)
    name = Path(path).name
    copy = folder / f"{name[:-3] if name.endswith('.gz') else name}.bgz"
    if copy.is_file():
        log.info("reading the gzip reference %s through its bgzip copy %s", path, copy)
        return copy
    _make_folder(folder, path)
    log.warning("the reference %s is gzip-compressed, not bgzip, so it cannot be read at random: decompressing it "
                "once into a bgzip copy, %s (later runs reuse it)", path, copy)
    try:
        with staged_file(copy) as tmp, gzip.open(path, "rb") as src:
            with bgzf.BgzfWriter(str(tmp), "wb") as out:
                shutil.copyfileobj(src, out, 1 << 20)
    except (OSError, EOFError, zlib.error) as e:
        raise InputError(f"--ref {path}: cannot decompress it ({_first_line(e)})") from None
    return copy
