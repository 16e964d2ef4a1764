"""`dnabert2 attribute` and `dnabert2 motifs`: why a model calls a region what it calls it.

`attribute` gives every base of a region a contribution to a fine-tuned model's target (or, for a masked-LM model,
the zero-shot effect of every SNV): in-silico mutagenesis through the score-variants engine, integrated gradients
and gradient x input on the token embeddings spread back to the bases each token covers, and the [CLS] attention
row. `motifs` runs TF-MoDISco on those contributions and matches its patterns to JASPAR. Layout of the files:
docs/hdf5.md; the methods: docs/commands/attribute.md. The libraries (captum, modisco-lite, memelite, pyjaspar,
logomaker, pyBigWig) are the `interpret` extra, imported only where used (`extra.require`).
"""
