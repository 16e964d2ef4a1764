"""Further pretraining on task data (`pretrain --table`): the sequences of labelled tables as training samples.

The tables are read by the reader fine-tuning uses too (`common.tables.read_table`: every CSV/TSV layout `finetune`
reads, gzip too; both sequences of a pair table count). A seeded `heldout_fraction` of the rows (at least one, at
most `eval_samples`) is held out; labels are ignored. Sample i draws a training row uniformly with a generator
seeded from `(seed, i)` and, when the row is longer than the window, a uniform window of it, so resuming and any
number of DataLoader workers see the same data, as with genomes. The window in bp is measured on the rows (the
tokenizer's nt per token), as for genomes; a window is cut to `max_tokens` tokens either way.
"""
import math

import numpy as np

from dnabert2.common.tables import read_table
from dnabert2.errors import InputError
from dnabert2.pretraining.batches import STREAM_WINDOW
from dnabert2.pretraining.genomes import WINDOW_MARGIN, encode_windows

_MEASURE_ROWS = 256


def read_table_sequences(paths):
    """Every sequence of the tables (both columns of pair tables), in file and row order."""
    if not paths:
        raise InputError("--table: give at least one table")
    sequences = []
    for path in paths:
        table = read_table(path)
        sequences.extend(table.sequences)
        sequences.extend(table.sequences_b or [])
    return sequences


def split_rows(sequences, heldout_fraction, eval_samples, seed):
    """(training sequences, held-out sequences): a seeded share held out (none from a single row)."""
    order = np.random.default_rng([seed, 7]).permutation(len(sequences))
    n_held = 0
    if heldout_fraction > 0 and len(sequences) > 1:
        n_held = min(max(1, int(round(heldout_fraction * len(sequences)))), eval_samples, len(sequences) - 1)
    held = [sequences[i] for i in sorted(order[:n_held])]
    train = [sequences[i] for i in sorted(order[n_held:])]
    return train, held


def measure_table_window_bp(tokenizer, sequences, max_tokens):
    """Window length in bp that yields about `max_tokens - 2` tokens, measured on up to 256 rows."""
    sample = sequences[:_MEASURE_ROWS]
    encoded = tokenizer.backend_tokenizer.encode_batch(sample, add_special_tokens=False)
    tokens = sum(len(e.ids) for e in encoded)
    nt_per_token = sum(map(len, sample)) / max(tokens, 1)
    return max(int(math.ceil(WINDOW_MARGIN * (max_tokens - 2) * nt_per_token)), 8)


class TableSource:
    """Sample i -> token ids of a seeded random row of the tables (a random window of it when longer)."""

    def __init__(self, sequences, tokenizer, max_tokens, window_bp, seed):
        self.sequences, self.tokenizer, self.max_tokens = sequences, tokenizer, max_tokens
        self.window_bp, self.seed = window_bp, seed

    def text(self, i):
        rng = np.random.default_rng([self.seed, STREAM_WINDOW, int(i)])
        row = self.sequences[int(rng.integers(len(self.sequences)))]
        start = int(rng.integers(max(len(row) - self.window_bp, 0) + 1))
        return row[start:start + self.window_bp]

    def rows(self, indices):
        return encode_windows(self.tokenizer, [self.text(i) for i in indices], self.max_tokens)


def table_training_data(options, tokenizer):
    """(TableSource, held-out token rows, window bp) for `options.tables`."""
    sequences = read_table_sequences(options.tables)
    train, held = split_rows(sequences, options.heldout_fraction, options.eval_samples, options.seed)
    window_bp = measure_table_window_bp(tokenizer, train, options.max_tokens)
    source = TableSource(train, tokenizer, options.max_tokens, window_bp, options.seed)
    held_rows = encode_windows(tokenizer, [s[:window_bp] for s in held], options.max_tokens)
    return source, held_rows, window_bp
