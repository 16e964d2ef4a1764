"""Masked-LM pretraining (`dnabert2 pretrain`): options and set-up, genome windows and prepared corpora, masking,
the training loop, checkpoints and the training log."""
