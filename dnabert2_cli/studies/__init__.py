"""Studies that repeat the paper's experiments from the command line (`dnabert2 benchmark tokenizers`).

- `tokenizer_study`: the tokenizer study (vocabulary statistics, same-budget pretraining and GUE fine-tuning per
  tokenizer), its settings and its run.
- `tokenizer_report`: the paper's numbers it is compared with and the tables it writes and prints.
"""
