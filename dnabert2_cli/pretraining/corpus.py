"""Prepared token corpora: `prepare_corpus` writes one, `CorpusSource` reads it for training.

A prepared corpus is a folder of `.npy` token shards (uint16 rows of `max_tokens` ids, padded with [PAD]) read by
memory map, a held-out `eval.npy`, the tokenizer files, and `corpus.json` describing them. Row i of the shards is
sample i of the on-the-fly genome stream with the same seed (`batches.FastaSource`); training reads the rows in a
fresh seeded order on every pass.
"""
import hashlib
import json
from pathlib import Path

import numpy as np

from dnabert2.common.batching import pad_rows
from dnabert2.common.files import output_dir, read_json_object
from dnabert2.errors import InputError, located
from dnabert2.pretraining.batches import STREAM_WINDOW, FastaSource, micro_batch_loader, tokenizers_parallelism_off
from dnabert2.pretraining.genomes import (WindowSampler, encode_windows, heldout_windows, measure_window_bp,
                                          read_genomes)

CORPUS_FORMAT = "dnabert2-token-corpus"
SHARD_ROWS = 1 << 20
CHUNK_ROWS = 1024       # rows per work item of the preparing workers (SHARD_ROWS is a multiple)


class CorpusSource:
    """Sample i -> a row of a prepared corpus; rows in a fresh seeded order on every pass over the corpus.

    The order of a pass shuffles blocks of `block` rows, then the rows inside each block, so it needs memory
    for one number per block (not per row) however large the corpus is.
    """

    def __init__(self, corpus_dir, seed, block=1024, max_tokens=None):
        self.dir = Path(corpus_dir)
        self.max_tokens = max_tokens
        self.meta = read_corpus_meta(self.dir)
        self.seed, self.block = seed, block
        self.pad_id = self.meta["pad_token_id"]
        self.shard_rows = np.cumsum([s["rows"] for s in self.meta["shards"]])
        self.n = int(self.shard_rows[-1])
        self._shards = None
        self._epoch = (None, None)
        self._inner = (None, None)

    def _open(self):
        if self._shards is None:  # opened lazily, so each DataLoader worker maps the files itself
            self._shards = [np.load(self.dir / s["file"], mmap_mode="r") for s in self.meta["shards"]]
        return self._shards

    def row_of(self, i):
        """The corpus row that global sample `i` reads."""
        epoch, p = divmod(int(i), self.n)
        size, blocks = self.block, -(-self.n // self.block)
        tail = self.n - (blocks - 1) * size  # rows of the last (maybe partial) block
        if self._epoch[0] != epoch:
            order = np.random.default_rng([self.seed, STREAM_WINDOW, epoch]).permutation(blocks)
            self._epoch = (epoch, (order, int(np.flatnonzero(order == blocks - 1)[0])))
        order, partial_slot = self._epoch[1]
        # positions before the partial block's slot hold full blocks; after it, offsets shift by size - tail
        if p < partial_slot * size:
            slot, within = divmod(p, size)
        elif p < partial_slot * size + tail:
            slot, within = partial_slot, p - partial_slot * size
        else:
            q = p - partial_slot * size - tail
            slot, within = partial_slot + 1 + q // size, q % size
        block = int(order[slot])
        length = tail if block == blocks - 1 else size
        if self._inner[0] != (epoch, block):
            inner = np.random.default_rng([self.seed, STREAM_WINDOW, epoch, block]).permutation(length)
            self._inner = ((epoch, block), inner)
        return block * size + int(self._inner[1][within])

    def rows(self, indices):
        shards = self._open()
        out = []
        for i in indices:
            row = self.row_of(i)
            s = int(np.searchsorted(self.shard_rows, row, side="right"))
            local = row - (int(self.shard_rows[s - 1]) if s else 0)
            out.append(_row(shards[s][local], self.pad_id, self.max_tokens))
        return out


def _row(stored, pad_id, max_tokens):
    """A stored row without its padding, as int64 [CLS] ... [SEP], cut to max_tokens keeping its final [SEP]."""
    ids = np.asarray(stored, dtype=np.int64)
    ids = ids[ids != pad_id]
    if max_tokens is None or len(ids) <= max_tokens:
        return ids
    return np.concatenate([ids[:max_tokens - 1], ids[-1:]])


def read_corpus_meta(corpus_dir):
    """The checked `corpus.json` of a prepared corpus (its shards present, training rows in them)."""
    path = Path(corpus_dir) / "corpus.json"
    if not path.is_file():
        raise InputError(located(corpus_dir, "not a prepared corpus (no corpus.json; make one with "
                                             "`dnabert2 pretrain --prepare`)"))
    meta = read_json_object(path, "corpus description")
    if meta.get("format") != CORPUS_FORMAT:
        raise InputError(located(path, f"not a {CORPUS_FORMAT} file"))
    for shard in [*meta["shards"], {"file": meta["eval"]["file"]}] if meta.get("eval") else meta["shards"]:
        if not (Path(corpus_dir) / shard["file"]).is_file():
            raise InputError(located(Path(corpus_dir) / shard["file"], "corpus shard missing"))
    if not meta["shards"] or sum(s["rows"] for s in meta["shards"]) == 0:
        raise InputError(located(path, "the corpus holds no training rows"))
    return meta


def corpus_eval_rows(corpus_dir, meta, max_rows, max_tokens=None):
    """Up to `max_rows` held-out rows of the corpus (none when it was prepared without)."""
    if not meta.get("eval"):
        return []
    table = np.load(Path(corpus_dir) / meta["eval"]["file"], mmap_mode="r")
    rows = []
    for r in range(min(len(table), max_rows)):
        rows.append(_row(table[r], meta["pad_token_id"], max_tokens))
    return rows


def vocab_fingerprint(tokenizer):
    """A short hash of the tokenizer's vocabulary (token -> id)."""
    items = sorted(tokenizer.get_vocab().items(), key=lambda kv: kv[1])
    return hashlib.sha256(json.dumps(items).encode()).hexdigest()[:16]


def prepare_corpus(settings, tokenizer):
    """Sample `settings.windows` training windows of `settings.genomes` (and the held-out windows), tokenise them
    with `tokenizer` and write token shards to `settings.output` (`pretrain --prepare`; `settings`: a checked
    `PretrainSettings`). Returns the corpus metadata (also written as `corpus.json`).
    """
    s = settings
    max_tokens, seed, heldout_fraction = s.max_tokens, s.seed, s.heldout_fraction
    if s.num_workers > 0:
        tokenizers_parallelism_off()
    if len(tokenizer) > np.iinfo(np.uint16).max:
        raise InputError(f"--tokenizer: vocabulary of {len(tokenizer)} tokens does not fit the corpus format (uint16)")
    with output_dir(s.output, force=s.force) as tmp:
        loaded = read_genomes(s.genomes, heldout_fraction)
        window_bp = measure_window_bp(tokenizer, loaded, max_tokens)
        source = FastaSource(WindowSampler(loaded, window_bp, s.genome_weights), tokenizer, max_tokens, seed)
        pad = tokenizer.pad_token_id
        shards = _write_shards(tmp, source, s.windows, max_tokens, pad, s.num_workers, s.show_progress)
        held = encode_windows(tokenizer, heldout_windows(loaded, window_bp, s.eval_samples), max_tokens)
        # corpus.json keeps the key eval_fraction (the option is --heldout-fraction now): its format is unchanged
        meta = {"format": CORPUS_FORMAT, "version": 1, "max_tokens": max_tokens, "vocab_size": len(tokenizer),
                "pad_token_id": pad, "vocab": vocab_fingerprint(tokenizer), "seed": seed, "window_bp": window_bp,
                "genomes": [str(g.path) for g in loaded], "eval_fraction": heldout_fraction,
                "shards": shards, "eval": None}
        if held:
            ids, _ = pad_rows(held, pad, width=max_tokens)
            np.save(tmp / "eval.npy", ids.astype(np.uint16))
            meta["eval"] = {"file": "eval.npy", "rows": len(held)}
        tokenizer.save_pretrained(tmp)
        (tmp / "corpus.json").write_text(json.dumps(meta, indent=1) + "\n")
    return meta


def _write_shards(folder, source, windows, max_tokens, pad_id, num_workers, progress):
    """Samples 0 .. windows-1 of `source` as uint16 shards of SHARD_ROWS rows in `folder`; returns their list."""
    shards, table, done = [], None, 0
    loader = micro_batch_loader(_Chunks(source, CHUNK_ROWS, windows), num_workers)
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=windows, unit="window", desc="prepare", dynamic_ncols=True)
    for rows in loader:
        if done >= windows:
            break
        shard, offset = divmod(done, SHARD_ROWS)
        if offset == 0:
            rows_here = min(SHARD_ROWS, windows - done)
            name = f"train-{shard:05d}.npy"
            table = np.lib.format.open_memmap(folder / name, mode="w+", dtype=np.uint16,
                                              shape=(rows_here, max_tokens))
            shards.append({"file": name, "rows": rows_here})
        take = min(len(rows), SHARD_ROWS - offset, windows - done)
        ids, _ = pad_rows(rows[:take], pad_id, width=max_tokens)
        table[offset:offset + take] = ids
        done += take
        if bar is not None:
            bar.update(take)
        if take < len(rows) and done < windows:
            raise RuntimeError("corpus chunking out of step with shard size")  # SHARD_ROWS % CHUNK_ROWS == 0
    if bar is not None:
        bar.close()
    return shards


class _Chunks:
    """Item k: token rows of samples k*size ... (k+1)*size - 1 (for parallel corpus preparation)."""

    def __init__(self, source, size, total):
        self.source, self.size, self.total = source, size, total

    def __getitem__(self, k):
        lo = k * self.size
        return self.source.rows(range(lo, min(lo + self.size, self.total))) if lo < self.total else []
