"""The main loop of score-variants: the rows of this shard, block by block -> windows -> engine -> writer.

A block is `--lookahead` variants, counted from the shard's first row, or (with --saturate) whole regions, the
SNVs of each scored `--lookahead` at a time against one REF region the engine keeps until the region is done.
The engine forgets everything between blocks, so blocks depend only on the input and the options: a resumed run
computes every block exactly as an uninterrupted one did and the file comes out identical.
"""
import sys
import time
from collections import Counter

from dnabert2.variants.columns import concat, site_block, variant_block
from dnabert2.variants.scoring import saturate, score_items
from dnabert2.variants.settings import SCORED
from dnabert2.variants.windows import alt_window, strand_passes


class Loop:
    """One run's main loop: the engine, the methods, the writer, the counters and the progress bar."""

    def __init__(self, engine, methods, settings, score_specs, writer, show_progress=False):
        self.engine, self.methods, self.settings = engine, methods, settings
        self.specs, self.writer = score_specs, writer
        self.statuses = Counter()
        self.bar = _progress(show_progress, writer.rows, writer.first_pending, "sites" if settings.saturate else
                             "variants")
        self.snvs = 0  # saturation SNVs scored

    def run(self, rows):
        """rows: Variants of this shard in order, or (input index, first site, Region) with --saturate."""
        t0 = time.perf_counter()
        try:
            if self.settings.saturate:
                self._sites(rows)
            else:
                self._variants(rows)
        finally:
            if self.bar is not None:
                self.bar.close()
        return {"seconds": time.perf_counter() - t0, "statuses": dict(self.statuses), "snvs": self.snvs,
                **self.engine.stats}

    def _variants(self, variants):
        block, size, first = [], self.settings.block, self.writer.first_pending
        for row, v in enumerate(variants):
            if row >= first:
                block.append(v)
            if (row + 1) % size == 0 and block:
                self._variant_block(row + 1 - len(block), block)
                block = []
        if block:
            self._variant_block(self.writer.rows - len(block), block)

    def _variant_block(self, start, variants):
        passes = self.settings.passes
        items = [strand_passes(v.ref_window, alt_window(v.ref_window, v.placement.offset, len(v.ref), v.alt.upper()),
                               passes) if v.status in SCORED else None for v in variants]
        results = score_items(self.engine, self.methods, items)
        self.engine.clear()
        self._write(start, variant_block(variants, results, self.specs))
        self.statuses.update(v.status for v in variants)

    def _sites(self, regions):
        pending, start, row = [], None, 0
        for index, first_site, region in regions:
            n = region.length
            if row + n <= self.writer.first_pending:
                row += n
                continue
            if row < self.writer.first_pending:
                raise RuntimeError(f"resume row {self.writer.first_pending} inside region {index}")
            sequence = region.fetch()
            pending.append(site_block(region, index, first_site, sequence, self._saturate(sequence), self.specs))
            start = row if start is None else start
            row += n
            if row - start >= self.settings.block:
                self._write(start, concat(pending))
                pending, start = [], None
        if pending:
            self._write(start, concat(pending))

    def _saturate(self, sequence):
        """[[Scored or None] * 4] per base: every SNV of `sequence` against it as the REF window."""
        results, snvs = saturate(self.engine, self.methods, sequence, self.settings.passes, self.settings.block)
        self.snvs += snvs
        self.statuses["ok"] += snvs
        return results

    def _write(self, start, columns):
        rows = len(next(iter(columns.values())))
        self.writer.write_rows(start, columns)
        if self.bar is not None:
            self.bar.update(rows)


def _progress(show, total, initial, unit):
    if not show:
        return None
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, file=sys.stderr, dynamic_ncols=True, unit=f" {unit}")
