"""Supervised fine-tuning (`dnabert2 finetune`, `dnabert2 benchmark gue`): labelled tables, the classifier and
LoRA, the training loop, metrics and the reports of a run."""
