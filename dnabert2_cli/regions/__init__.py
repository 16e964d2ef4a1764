"""Embedding and predicting genomic regions (`dnabert2 embed`, `predict`, `merge`): regions from BED + reference
or FASTA, windows, the model pipeline, and the HDF5 (and TSV) outputs."""
