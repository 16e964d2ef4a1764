"""Embedding and predicting genomic regions (`dnabert2 embed`, `predict`, `merge`).

Where each step lives: `region` (Region), `bed` + `reference` + `source` (the regions of a run, from BED +
reference or FASTA), `windows` (tiling and look-ahead blocks), `settings` (the options), `run` (`embed`, `predict`:
checks, scan, load, writer), `loading` (the model), `reader` (the tokenising thread), `pipeline` (the main loop),
`heads` (what a row holds and the model call), `h5writer` (the HDF5 file), `merging` (`merge`), `provenance`
(file attributes), `summary` (the printed summary), `table` (predict's TSV/BED).
"""
from dnabert2.regions.region import Region

__all__ = ["Region"]
