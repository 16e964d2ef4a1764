"""Masked-LM pretraining (`dnabert2 pretrain`, `dnabert2.pretrain`), one concern per module:

settings     PretrainSettings: the run's options and their check
setup        tokenizer, model, run fingerprint, and the output folder decision (fresh, resume or refuse)
genomes      FASTA genomes as A/C/G/T pieces, window length, window sampling, held-out windows
batches      FastaSource (windows tokenised on the fly), masked micro-batches, held-out batches, the DataLoader
corpus       prepared token corpora: prepare_corpus writes one, CorpusSource reads it
masking      BERT-style 80/10/10 masking
objective    the masked-LM loss module and held-out evaluation
loop         Trainer: one rank's training loop (steps, logging, evaluation, checkpoints, final model)
checkpoints  checkpoint folders (atomic, rotated, found on resume), RNG states, the final model files
log          log.jsonl and loss_curve.png
run          pretrain(): the run from options to summary
"""
