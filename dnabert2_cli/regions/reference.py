"""`Reference`: random access to the reference genome of BED input (pysam, with pyfaidx as the fallback)."""
import logging
import os
from pathlib import Path

from dnabert2.errors import InputError

log = logging.getLogger(__name__)

BACKENDS = ("auto", "pysam", "pyfaidx")


class Reference:
    """Random access to a reference FASTA: plain, or bgzip-compressed with its .fai/.gzi (indexed when it has none).

    backend "auto" reads it with pysam (`pysam.FastaFile`, htslib's faidx). It falls back to pyfaidx when pysam is
    not installed, and for a plain (uncompressed) FASTA also when pysam cannot open or index it; `self.backend`
    says which one was used. "pysam" or "pyfaidx" asks for one backend, without fallback. Both give the same bases
    (case kept: `Region.fetch` upper-cases) and the same sequence names (the first word of each header).
    """

    def __init__(self, path, backend="auto"):
        self.path = Path(path)
        if backend not in BACKENDS:
            raise ValueError(f"backend {backend!r}: expected one of {', '.join(BACKENDS)}")
        if not self.path.is_file():
            raise InputError(f"--ref {path}: reference FASTA not found")
        compression = self._compression()
        self._prepare_index(compression)
        if backend == "auto":
            backend = self._open_auto(compression)
        else:
            self._open_or_fail(backend)
        self.backend = backend
        if not self.lengths:
            raise InputError(f"--ref {self.path}: no sequences in the reference")

    def _compression(self):
        with open(self.path, "rb") as fh:
            head = fh.read(18)
        if head[:2] != b"\x1f\x8b":
            return "plain"
        # a BGZF block carries the extra subfield 'BC' (RFC 1952 FEXTRA, see the SAM spec section 4.1)
        if len(head) >= 14 and head[3] & 4 and head[12:14] == b"BC":
            return "bgzip"
        return "gzip"

    def _prepare_index(self, compression):
        if compression == "gzip":
            raise InputError(f"--ref {self.path}: gzip-compressed but not with bgzip, so it cannot be read at random; "
                             f"recompress it with `bgzip` (from htslib) or decompress it")
        needed = [Path(f"{self.path}.fai")] + ([Path(f"{self.path}.gzi")] if compression == "bgzip" else [])
        missing = [p for p in needed if not p.exists()]
        if not missing:
            return
        folder = self.path.resolve().parent
        if not os.access(folder, os.W_OK):
            raise InputError(f"--ref {self.path}: has no index ({', '.join(p.name for p in missing)}) and its folder "
                             f"{folder} is read-only; index it with `samtools faidx {self.path}` where you can write, "
                             f"or copy it to a writable folder")
        log.warning("indexing the reference %s (no %s found)", self.path, ", ".join(p.name for p in missing))

    def _open_auto(self, compression):
        """Open with pysam, else with pyfaidx (see the class docstring); returns the backend used."""
        try:
            self._open("pysam")
            return "pysam"
        except ImportError:
            log.info("pysam is not installed; reading the reference %s with pyfaidx", self.path)
        except (OSError, ValueError, RuntimeError) as e:
            if compression != "plain":
                raise self._unreadable(e) from None
            log.warning("pysam cannot read the reference %s (%s); reading it with pyfaidx", self.path, e)
        self._open_or_fail("pyfaidx")
        return "pyfaidx"

    def _open_or_fail(self, backend):
        try:
            self._open(backend)
        except (OSError, ValueError, RuntimeError) as e:
            raise self._unreadable(e) from None

    def _unreadable(self, error):
        return InputError(f"--ref {self.path}: cannot read it as an indexed FASTA ({error})")

    def _open(self, backend):
        """Open the file with `backend`, setting `_fasta` and `lengths` (ImportError when it is not installed)."""
        if backend == "pysam":
            import pysam

            self._fasta = pysam.FastaFile(str(self.path))
            self.lengths = dict(zip(self._fasta.references, self._fasta.lengths))
            return
        import pyfaidx

        try:
            self._fasta = pyfaidx.Fasta(str(self.path), as_raw=True, sequence_always_upper=False,
                                        read_long_names=False, rebuild=False)
        except pyfaidx.FastaIndexingError as e:
            raise ValueError(str(e)) from None
        self.lengths = {name: len(record) for name, record in self._fasta.items()}

    def fetch(self, chrom, start, end):
        """The bases [start, end) of `chrom` as stored (case kept)."""
        if self.backend == "pysam":
            return self._fasta.fetch(chrom, start, end)
        return self._fasta[chrom][start:end]

    def close(self):
        self._fasta.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
