"""`Reference`: random access to the reference genome of BED input (pysam, with pyfaidx as the fallback).

Where its index comes from (beside it or in the cache, checked for staleness first): `refindex` and `faicheck`.
"""
import logging
from pathlib import Path

from dnabert2.errors import InputError
from dnabert2.regions.refindex import prepare

log = logging.getLogger(__name__)

BACKENDS = ("auto", "pysam", "pyfaidx")


class Reference:
    """Random access to a reference FASTA: plain, gzip or bgzip, with or without an index (`refindex.prepare`
    finds a fresh one or builds it, beside the file or in the cache folder `index_dir`).

    backend "auto" reads it with pysam (`pysam.FastaFile`, htslib's faidx). It falls back to pyfaidx when pysam is
    not installed, and for a plain (uncompressed) FASTA also when pysam cannot open it; `self.backend` says which
    one was used. "pysam" or "pyfaidx" asks for one backend, without fallback. Both give the same bases (case
    kept: `Region.fetch` upper-cases) and the same sequence names (the first word of each header).
    """

    def __init__(self, path, backend="auto", index_dir=None):
        self.path = Path(path)
        if backend not in BACKENDS:
            raise ValueError(f"backend {backend!r}: expected one of {', '.join(BACKENDS)}")
        if not self.path.is_file():
            raise InputError(f"--ref {path}: reference FASTA not found")
        self.indexed = prepare(self.path, index_dir)
        if backend == "auto":
            backend = self._open_auto()
        else:
            self._open_or_fail(backend)
        self.backend = backend
        if not self.lengths:
            raise InputError(f"--ref {self.path}: no sequences in the reference")

    def _open_auto(self):
        """Open with pysam, else with pyfaidx (see the class docstring); returns the backend used."""
        try:
            self._open("pysam")
            return "pysam"
        except ImportError:
            log.info("pysam is not installed; reading the reference %s with pyfaidx", self.path)
        except (OSError, ValueError, RuntimeError) as e:
            if self.indexed.gzi is not None:
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
        fasta, fai, gzi = (str(p) if p is not None else None for p in
                           (self.indexed.fasta, self.indexed.fai, self.indexed.gzi))
        if backend == "pysam":
            import pysam

            self._fasta = pysam.FastaFile(fasta, filepath_index=fai, filepath_index_compressed=gzi)
            self.lengths = dict(zip(self._fasta.references, self._fasta.lengths))
            return
        import pyfaidx

        try:
            self._fasta = pyfaidx.Fasta(fasta, indexname=fai, gzi_indexname=gzi, as_raw=True,
                                        sequence_always_upper=False, read_long_names=False, rebuild=False,
                                        build_index=False)
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
