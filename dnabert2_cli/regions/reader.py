"""The reader thread: cuts this run's regions into blocks of windows, fetches and tokenises them ahead of the model.

Iterating a `Reader` yields (block, [Tokens]) in input order; an exception in the thread is raised in the caller.
"""
import queue
import threading
from dataclasses import dataclass

import numpy as np

from dnabert2.regions.windows import blocks


@dataclass
class Tokens:
    """One window tokenised: ids [n] with [CLS] and [SEP], which of them are real bases [n], char offsets [n, 2]."""
    ids: np.ndarray
    real: np.ndarray
    unknown: int  # [UNK] tokens among the real ones
    offsets: np.ndarray = None


class Reader:
    """A thread that cuts, fetches and tokenises blocks ahead of the model; iterate it for (block, [Tokens]).

    rows: (row, region) pairs of this run; blocks whose regions all lie before `first_pending` are skipped;
    `want_offsets` adds each token's character offsets in its window (--pooling none).
    """

    _END = object()

    def __init__(self, rows, settings, tokenizer, first_pending, want_offsets):
        self.rows, self.settings, self.tokenizer = rows, settings, tokenizer
        self.first_pending, self.want_offsets = first_pending, want_offsets
        self.queue = queue.Queue(maxsize=2)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="dnabert2-reader", daemon=True)
        self.thread.start()

    def _put(self, item):
        while not self.stop.is_set():
            try:
                self.queue.put(item, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    def _run(self):
        s = self.settings
        passes = 2 if s.rc_average else 1
        try:
            for block in blocks(self.rows, s.window, s.stride, passes, s.lookahead):
                if block[-1].row < self.first_pending:
                    continue  # every region of this block is done already
                if not self._put((block, self._tokenise(block))):
                    return
            self._put(self._END)
        except BaseException as e:  # handed to the main thread, which raises it
            self._put(e)

    def _tokenise(self, block):
        sequences = [w.region.fetch(w.offset, w.size, reverse=w.strand_pass == 1) for w in block]
        encoding = self.tokenizer(sequences, add_special_tokens=True, return_attention_mask=False,
                                  return_special_tokens_mask=True, return_offsets_mapping=self.want_offsets)
        tokens = [self._tokens(ids, special)
                  for ids, special in zip(encoding["input_ids"], encoding["special_tokens_mask"])]
        if self.want_offsets:
            for t, offsets in zip(tokens, encoding["offset_mapping"]):
                t.offsets = np.asarray(offsets, dtype=np.int64).reshape(len(t.ids), 2)  # [n, 2]
        return tokens

    def _tokens(self, ids, special):
        ids = np.asarray(ids, dtype=np.int64)
        real = np.asarray(special, dtype=bool) == 0
        return Tokens(ids, real, int(np.count_nonzero(real & (ids == self.tokenizer.unk_token_id))))

    def __iter__(self):
        while True:
            item = self.queue.get()
            if item is self._END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    def close(self):
        self.stop.set()
        self.thread.join(timeout=5)
