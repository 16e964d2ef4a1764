"""Variant effects (`dnabert2 score-variants`): VCF/BCF + reference, or every SNV of regions (--saturate).

Where each step lives: `settings` (the options, statuses), `records` (VCF/BCF rows via pysam, one per ALT, each
with its status), `sites` (--saturate: regions as rows of sites), `windows` (REF/ALT windows, strand passes),
`tokens` (tokenising windows, the tokens a variant changes), `engine` (masked and plain copies in token-budget
batches, identical windows once), `llr`, `emb`, `delta` (the methods), `methods` (which ones a model serves),
`scoring` (a block's variants through the engine), `columns` (what a row holds), `loop` (blocks -> engine ->
writer), `run` (`score_variants`), `summary`, and the side outputs `tsv`, `vcf_out`, `plot`.
"""
