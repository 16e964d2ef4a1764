"""The main loop of `embed` and `predict`: windows -> batches -> model -> one row per region, in input order.

The data flows:
1. A reader thread (`reader.Reader`) cuts the regions of this shard into windows (`windows.blocks`: `lookahead`
   windows at a time, in input order), fetches their sequence and tokenises a whole block at once, running ahead
   of the model.
2. The main thread sorts each block's windows by token count, cuts them into batches of at most `batch_tokens`
   padded tokens (real tokens where the model's calls are packed: `LoadedModel.packed`, the rows laid end to end,
   `common.batching.TokenRows`), runs the model (`Head.forward`, a pure function of a batch) and folds each
   window's result into
   its region: the token-weighted mean of the windows (max for --pooling max), averaged over the forward and
   reverse-complement passes with --rc-average.
3. After each block the regions it finished (always a run of consecutive rows) go to the writer in input order.

Blocks depend only on region lengths and options, so a resumed run recomputes the first unfinished block with
exactly the batches of an uninterrupted run and the file comes out identical.
"""
import sys
import time
from dataclasses import dataclass, field

import numpy as np

from dnabert2.common.batching import TokenRows, sorted_batches
from dnabert2.common.runtime import precision_name
from dnabert2.regions.heads import region_columns
from dnabert2.regions.reader import Reader
from dnabert2.regions.summary import count_call, kernel_stats
from dnabert2.regions.source import shard_rows


@dataclass
class Acc:
    """A region being assembled from its windows: per pass, the weighted sum (or running max) and the weight."""
    region: object
    n_windows: int = 0  # counted on the first pass
    n_tokens: int = 0
    n_unknown: int = 0
    n_rows: int = 0  # rows appended to /tokens (--pooling none: tokens; --per-base: bases)
    finished: bool = False  # its last window of its last pass is folded in
    value: list = field(default_factory=list)  # per pass: [H or L] float64
    weight: list = field(default_factory=list)  # per pass: real tokens

    def add(self, strand_pass, value, weight, take_max=False):
        """Add (or max, with `take_max`) one window's value into its pass, and its weight."""
        while len(self.value) <= strand_pass:
            self.value.append(None)
            self.weight.append(0)
        current = self.value[strand_pass]
        if current is None:
            self.value[strand_pass] = value.copy()
        elif take_max:
            np.maximum(current, value, out=current)
        else:
            current += value
        self.weight[strand_pass] += int(weight)


def run_pipeline(head, loaded, source, writer, show_progress=False):
    """Run the regions of `source` still pending in `writer` through `loaded` (a LoadedModel); returns counters."""
    return _Loop(head, loaded, writer).run(source, show_progress)


class _Loop:
    """One run of the main loop: the regions being assembled, the next row to write, the counters."""

    def __init__(self, head, loaded, writer):
        self.head, self.settings, self.writer = head, head.settings, writer
        self.net, self.tokenizer, self.device, self.packed = loaded.net, loaded.tokenizer, loaded.device, loaded.packed
        self.first = self.next_row = writer.first_pending
        self.accs = {}
        self.stats = {"regions": 0, "bp": 0, "windows": 0, "tokens": 0, "unknown_tokens": 0, "model_seconds": 0.0,
                      "waiting_seconds": 0.0, "device": str(loaded.device), "precision": precision_name(loaded.dtype),
                      **kernel_stats(loaded)}
        self.bar = None
        self.t0 = None

    def run(self, source, show_progress):
        rows = shard_rows(source, self.settings.shard)
        reader = Reader(rows, self.settings, self.tokenizer, self.first, self.head.per_token)
        self.bar = _progress(show_progress, self.writer.rows, self.first)
        self.t0 = time.perf_counter()
        try:
            wait_start = time.perf_counter()
            for block, tokens in reader:
                self.stats["waiting_seconds"] += time.perf_counter() - wait_start
                results = self._model(tokens)
                if self._fold(block, tokens, results):
                    self._flush()
                wait_start = time.perf_counter()
        finally:
            reader.close()
            if self.bar is not None:
                self.bar.close()
        if self.next_row != self.writer.rows:
            raise RuntimeError(f"pipeline ended at row {self.next_row} of {self.writer.rows}")
        self.stats["seconds"] = time.perf_counter() - self.t0
        return self.stats

    def _model(self, tokens):
        """The model's (value, weight) of every window of a block, batch by batch, shortest windows first."""
        import torch

        results = [None] * len(tokens)
        for batch in sorted_batches([len(t.ids) for t in tokens], token_budget=self.settings.batch_tokens,
                                    packed=self.packed):
            rows = TokenRows.of([tokens[i].ids for i in batch], self.tokenizer.pad_token_id, self.packed)
            real = rows.lay([tokens[i].real for i in batch], False, bool)  # [B, S] or [1, T]: not special, not padding
            start = time.perf_counter()
            out = self.head.forward(self.net, rows, torch.from_numpy(real).to(self.device), self.device)
            if self.device.type == "cuda":
                torch.cuda.synchronize(self.device)
            count_call(self.stats, time.perf_counter() - start)
            for j, i in enumerate(batch):
                results[i] = (out[0][j], out[1][j])
        return results

    def _fold(self, block, tokens, results):
        """Add each window's result to its region; append per-token rows in input order. True if a region finished."""
        finished = False
        token_parts = []
        for position, w in enumerate(block):
            if w.row < self.first:
                continue
            a = self.accs.get(w.row)
            if a is None:
                a = self.accs[w.row] = Acc(region=w.region)
            value, weight = results[position]
            if self.head.per_token:
                part = _window_tokens(w, tokens[position], value, weight)
                token_parts.append(_per_base(part) if self.head.per_base else part)
                a.n_rows += len(token_parts[-1][1])
            else:
                a.add(w.strand_pass, value, weight, self.head.takes_max)
            if w.strand_pass == 0:
                a.n_windows += 1
                a.n_tokens += int(np.count_nonzero(tokens[position].real))  # weight counts [CLS]/[SEP] with mean-all
                a.n_unknown += tokens[position].unknown
            if w.last:
                a.finished = finished = True
        if token_parts:
            dtype = np.float16 if self.settings.half_output else np.float32
            vectors, ids, start, end = (np.concatenate(column) for column in zip(*token_parts))
            self.writer.append_tokens({"vectors": vectors.astype(dtype), "ids": ids.astype(np.int32),
                                       "start": start.astype(np.int64), "end": end.astype(np.int64)})
        return finished

    def _flush(self):
        """Write the finished regions from `next_row` on (consecutive rows) and forget them."""
        done = []
        while self.next_row in self.accs and self.accs[self.next_row].finished:
            done.append(self.accs.pop(self.next_row))
            self.next_row += 1
        if not done:
            return
        columns = region_columns(done)
        columns.update(self.head.finish(done))
        token_ends = None
        if self.head.per_token:
            # tokens appended so far end with those of the unfinished region (if any) that follows the finished ones
            last_end = self.writer.n_tokens - sum(a.n_rows for a in self.accs.values())
            counts = np.asarray([a.n_rows for a in done], dtype=np.int64)
            token_ends = last_end - counts.sum() + np.cumsum(counts)
        self.writer.write_rows(self.next_row - len(done), columns, token_ends)
        self._count(done)

    def _count(self, done):
        stats = self.stats
        stats["regions"] += len(done)
        stats["bp"] += sum(a.region.length for a in done)
        stats["windows"] += sum(a.n_windows for a in done)
        stats["tokens"] += sum(a.n_tokens for a in done)
        stats["unknown_tokens"] += sum(a.n_unknown for a in done)
        if self.bar is not None:
            elapsed = max(time.perf_counter() - self.t0, 1e-9)
            self.bar.set_postfix_str(f"{stats['regions'] / elapsed:,.1f} regions/s, {stats['bp'] / elapsed:,.0f} bp/s",
                                     refresh=False)
            self.bar.update(len(done))


def _window_tokens(w, tokens, vectors, real):
    """(vectors, ids, start, end) of a window's real tokens, start and end in bp from the region's start."""
    n = len(tokens.ids)
    real = real[:n].astype(bool)  # [n] not special, not padding
    offsets = tokens.offsets[real]  # [tokens, 2]
    return vectors[:n][real], tokens.ids[real], w.offset + offsets[:, 0], w.offset + offsets[:, 1]


def _per_base(part):
    """A window's token rows (vectors, ids, start, end) repeated for every base each token covers: row j is base j
    of the window (as read on the region's strand) and holds the vector, id and span of the token covering it."""
    repeats = part[3] - part[2]
    return tuple(np.repeat(column, repeats, axis=0) for column in part)


def _progress(show, total, initial):
    if not show:
        return None
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, file=sys.stderr, dynamic_ncols=True,
                bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} regions [{elapsed}<{remaining}{postfix}]")
