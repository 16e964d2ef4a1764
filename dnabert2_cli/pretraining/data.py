"""Training data for masked-LM pretraining: random genome windows, or rows of a prepared token corpus.

Every sample has a global index `i` (0, 1, 2, ... over the whole run) and everything about it follows from
`(seed, i)` alone: which file, where, which strand (FASTA), or which row (corpus), and how it is masked. So
- the data order is the same with any number of DataLoader workers;
- the data position is one number (samples consumed), and `--resume` restores it exactly;
- under DDP, rank r of W takes samples `g*W*B + r*B ... + B` of global micro-batch g, the same samples a single
  process with batch W*B takes, so the two runs see the same data.

FASTA genomes are read once, upper-cased and cut at everything that is not A/C/G/T (N, IUPAC, gaps); pieces
shorter than `MIN_PIECE` bp are dropped. The last `eval_fraction` of each file's bases is held out for
evaluation and never sampled for training. Windows are `window_bp` long (enough bases for `max_tokens` tokens,
measured on the genome itself), tokenised without special tokens, cut to `max_tokens - 2` tokens and framed by
[CLS] ... [SEP].

A prepared corpus (`prepare_corpus`) is a folder of `.npy` token shards (uint16 rows of `max_tokens` ids, padded
with [PAD]) read by memory map, a held-out `eval.npy`, the tokenizer files, and `corpus.json` describing them.
"""
import hashlib
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from dnabert2.errors import InputError, located
from dnabert2.pretraining.masking import mask_tokens

MIN_PIECE = 50          # bp; shorter A/C/G/T pieces between Ns are dropped
WINDOW_MARGIN = 1.2     # window_bp = margin * bases needed for max_tokens tokens at the genome's nt/token
STREAM_WINDOW, STREAM_MASK, STREAM_EVAL = 0, 1, 2
CORPUS_FORMAT = "dnabert2-token-corpus"
SHARD_ROWS = 1 << 20


# ---------------------------------------------------------------------------------------------------- genomes

@dataclass
class Genome:
    """One FASTA file as pieces of pure A/C/G/T (uint8 ASCII arrays), split into training and held-out."""
    path: Path
    train: list = field(default_factory=list)
    heldout: list = field(default_factory=list)

    @property
    def train_bases(self):
        return sum(len(p) for p in self.train)


def read_genome(path, eval_fraction=0.0, min_piece=MIN_PIECE):
    """Read one FASTA file; the last `eval_fraction` of its usable bases are held out."""
    from dnabert2.tokenizer import acgt_runs, read_fasta

    pieces = []
    for _, seq in read_fasta([path]):
        pieces.extend(np.frombuffer(run.encode("ascii"), dtype=np.uint8) for run in acgt_runs(seq, min_piece))
    total = sum(len(p) for p in pieces)
    if total == 0:
        raise InputError(located(path, f"no usable sequence (no run of A/C/G/T of at least {min_piece} bp)"))
    held = math.ceil(total * eval_fraction) if eval_fraction > 0 else 0
    genome = Genome(Path(path))
    # walk back from the end, moving `held` bases into the held-out part
    while pieces and held > 0:
        last = pieces.pop()
        if len(last) <= held:
            genome.heldout.insert(0, last)
            held -= len(last)
        else:
            genome.heldout.insert(0, last[len(last) - held:])
            pieces.append(last[:len(last) - held])
            held = 0
    genome.train = [p for p in pieces if len(p) >= min_piece]
    if not genome.train:
        raise InputError(located(path, f"no sequence left for training after holding out {eval_fraction:.1%} "
                                       "for evaluation (lower --eval-fraction)"))
    return genome


def read_genomes(paths, eval_fraction=0.0):
    if not paths:
        raise InputError("--genome: give at least one FASTA file")
    return [read_genome(p, eval_fraction) for p in paths]


def measure_window_bp(tokenizer, genomes, max_tokens, sample_pieces=64, sample_bp=2000):
    """Window length in bp that yields `max_tokens - 2` tokens with room to spare, measured on the genomes."""
    backend = tokenizer.backend_tokenizer
    bases = tokens = 0
    for genome in genomes:
        for piece in genome.train[:sample_pieces]:
            step = max(len(piece) // 8, sample_bp)
            for start in range(0, len(piece), step):
                text = piece[start:start + sample_bp].tobytes().decode("ascii")
                bases += len(text)
                tokens += len(backend.encode(text, add_special_tokens=False).ids)
    nt_per_token = bases / max(tokens, 1)
    return max(int(math.ceil(WINDOW_MARGIN * (max_tokens - 2) * nt_per_token)), 8)


class WindowSampler:
    """Draws training windows: file by weight, start uniform over the file's windows, strand by coin flip."""

    def __init__(self, genomes, window_bp, weights=None):
        self.genomes = genomes
        self.window_bp = window_bp
        self.cum_starts = []
        for g in genomes:
            starts = [len(p) - min(window_bp, len(p)) + 1 for p in g.train]
            self.cum_starts.append(np.cumsum(np.asarray(starts, dtype=np.int64)))
        if weights is None:
            weights = [g.train_bases for g in genomes]
        if len(weights) != len(genomes):
            raise InputError(f"--genome-weights: {len(weights)} weight(s) for {len(genomes)} genome file(s)")
        if any(not w >= 0 for w in weights) or sum(weights) <= 0:
            raise InputError(f"--genome-weights: weights must be non-negative and not all 0 (got {list(weights)})")
        self.probs = np.asarray(weights, dtype=np.float64) / float(sum(weights))

    def window(self, rng):
        """One window (str, upper-case A/C/G/T) drawn with `rng`; always consumes the same draws."""
        from dnabert2.tokenizer import reverse_complement

        f = int(rng.choice(len(self.genomes), p=self.probs))
        cum = self.cum_starts[f]
        u = int(rng.integers(cum[-1]))
        j = int(np.searchsorted(cum, u, side="right"))
        start = u - (int(cum[j - 1]) if j else 0)
        piece = self.genomes[f].train[j]
        text = piece[start:start + self.window_bp].tobytes().decode("ascii")
        if rng.random() < 0.5:
            text = reverse_complement(text)
        return text


def heldout_windows(genomes, window_bp, max_windows):
    """Consecutive forward-strand windows tiling the held-out parts, up to `max_windows`."""
    out = []
    for g in genomes:
        for piece in g.heldout:
            for start in range(0, len(piece), window_bp):
                chunk = piece[start:start + window_bp]
                if len(chunk) >= MIN_PIECE or (start == 0 and len(chunk) > 0):
                    out.append(chunk.tobytes().decode("ascii"))
                if len(out) >= max_windows:
                    return out
    return out


def encode_windows(tokenizer, texts, max_tokens):
    """Token ids [CLS] w... [SEP] per text (the window cut to max_tokens - 2 tokens), as int64 arrays."""
    backend = tokenizer.backend_tokenizer
    cls, sep = tokenizer.cls_token_id, tokenizer.sep_token_id
    out = []
    for enc in backend.encode_batch(list(texts), add_special_tokens=False):
        ids = enc.ids[:max_tokens - 2]
        out.append(np.asarray([cls, *ids, sep], dtype=np.int64))
    return out


def pad_rows(rows, length, pad_id):
    """List of 1-D id arrays -> (ids [N, length] int64, attention_mask [N, length] int64)."""
    ids = np.full((len(rows), length), pad_id, dtype=np.int64)
    mask = np.zeros((len(rows), length), dtype=np.int64)
    for r, row in enumerate(rows):
        row = np.asarray(row)
        ids[r, :len(row)] = row
        mask[r, :len(row)] = 1
    return ids, mask


# ---------------------------------------------------------------------------------------------------- sources

class FastaSource:
    """Sample i -> token ids of a random genome window (tokenised on the fly)."""

    def __init__(self, sampler, tokenizer, max_tokens, seed):
        self.sampler, self.tokenizer, self.max_tokens, self.seed = sampler, tokenizer, max_tokens, seed

    def rows(self, indices):
        texts = [self.sampler.window(np.random.default_rng([self.seed, STREAM_WINDOW, int(i)])) for i in indices]
        return encode_windows(self.tokenizer, texts, self.max_tokens)


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
            ids = np.asarray(shards[s][local], dtype=np.int64)
            out.append(_cut(ids[ids != self.pad_id], self.max_tokens))
        return out


def _cut(ids, max_tokens):
    """A [CLS] ... [SEP] row shortened to max_tokens, keeping its final [SEP]."""
    if max_tokens is None or len(ids) <= max_tokens:
        return ids
    return np.concatenate([ids[:max_tokens - 1], ids[-1:]])


# ---------------------------------------------------------------------------------------------------- batches

class MicroBatches:
    """A map-style dataset: item k is this rank's k-th micro-batch (masked, padded, as torch tensors).

    Micro-batch k holds global samples `start + k*W*B + r*B ... + B` (W ranks, r this rank, B batch size).
    Masking uses a generator seeded from `(seed, sample index)`, so it does not depend on batching.
    """

    def __init__(self, source, masking, max_tokens, pad_id, batch_size, seed, rank=0, world_size=1, start=0):
        self.source, self.masking, self.max_tokens, self.pad_id = source, masking, max_tokens, pad_id
        self.batch_size, self.seed, self.rank, self.world_size, self.start = batch_size, seed, rank, world_size, start

    def sample_indices(self, k):
        first = self.start + k * self.batch_size * self.world_size + self.rank * self.batch_size
        return range(first, first + self.batch_size)

    def __getitem__(self, k):
        import torch

        indices = self.sample_indices(k)
        ids, attention = pad_rows(self.source.rows(indices), self.max_tokens, self.pad_id)
        masked = np.empty_like(ids)
        labels = np.empty_like(ids)
        for r, i in enumerate(indices):
            masked[r], labels[r] = mask_tokens(ids[r], self.masking,
                                               np.random.default_rng([self.seed, STREAM_MASK, int(i)]))
        return {"input_ids": torch.from_numpy(masked), "attention_mask": torch.from_numpy(attention),
                "labels": torch.from_numpy(labels)}


def eval_batches(rows, masking, max_tokens, pad_id, batch_size, seed):
    """The held-out set, masked once with a fixed seed, as a list of batches (dicts of tensors)."""
    import torch

    batches = []
    for b in range(0, len(rows), batch_size):
        chunk = rows[b:b + batch_size]
        ids, attention = pad_rows(chunk, max_tokens, pad_id)
        labels = np.empty_like(ids)
        for r in range(len(chunk)):
            ids[r], labels[r] = mask_tokens(ids[r], masking, np.random.default_rng([seed, STREAM_EVAL, b + r]))
        batches.append({"input_ids": torch.from_numpy(ids), "attention_mask": torch.from_numpy(attention),
                        "labels": torch.from_numpy(labels)})
    return batches


def micro_batch_loader(dataset, num_workers, start_batch=0, pin_memory=False):
    """Iterate dataset[start_batch], dataset[start_batch + 1], ... forever, in order, with worker processes."""
    import itertools

    import torch

    kwargs = {"pin_memory": pin_memory}
    if num_workers > 0:
        kwargs.update(num_workers=num_workers, prefetch_factor=4, worker_init_fn=_worker_init)
    # batch_size=None: the dataset yields whole batches; an explicit generator keeps the global RNG untouched
    return torch.utils.data.DataLoader(dataset, batch_size=None, sampler=itertools.count(start_batch),
                                       generator=torch.Generator().manual_seed(0), **kwargs)


def _worker_init(_):
    import torch

    torch.set_num_threads(1)


# ---------------------------------------------------------------------------------------------------- corpus

def read_corpus_meta(corpus_dir):
    path = Path(corpus_dir) / "corpus.json"
    if not path.is_file():
        raise InputError(located(corpus_dir, "not a prepared corpus (no corpus.json; make one with "
                                             "`dnabert2 pretrain --prepare`)"))
    try:
        meta = json.loads(path.read_text())
    except ValueError as e:
        raise InputError(located(path, f"not valid JSON ({e})")) from None
    if meta.get("format") != CORPUS_FORMAT:
        raise InputError(located(path, f"not a {CORPUS_FORMAT} file"))
    for shard in [*meta["shards"], {"file": meta["eval"]["file"]}] if meta.get("eval") else meta["shards"]:
        if not (Path(corpus_dir) / shard["file"]).is_file():
            raise InputError(located(Path(corpus_dir) / shard["file"], "corpus shard missing"))
    if not meta["shards"] or sum(s["rows"] for s in meta["shards"]) == 0:
        raise InputError(located(path, "the corpus holds no training rows"))
    return meta


def corpus_eval_rows(corpus_dir, meta, max_rows, max_tokens=None):
    if not meta.get("eval"):
        return []
    table = np.load(Path(corpus_dir) / meta["eval"]["file"], mmap_mode="r")
    rows = []
    for r in range(min(len(table), max_rows)):
        ids = np.asarray(table[r], dtype=np.int64)
        rows.append(_cut(ids[ids != meta["pad_token_id"]], max_tokens))
    return rows


def vocab_fingerprint(tokenizer):
    """A short hash of the tokenizer's vocabulary (token -> id)."""
    items = sorted(tokenizer.get_vocab().items(), key=lambda kv: kv[1])
    return hashlib.sha256(json.dumps(items).encode()).hexdigest()[:16]


def prepare_corpus(genomes, tokenizer, out, *, windows, max_tokens=128, seed=42, genome_weights=None,
                   eval_fraction=0.01, eval_samples=512, num_workers=0, force=False, progress=False):
    """Sample `windows` training windows (and the held-out windows), tokenise, write token shards to `out`.

    Returns the corpus metadata (also written as `out/corpus.json`).
    """
    from dnabert2.common.files import output_dir

    if windows < 1:
        raise InputError(f"--windows: must be at least 1 (got {windows})")
    if num_workers > 0:
        tokenizers_parallelism_off()
    if len(tokenizer) > np.iinfo(np.uint16).max:
        raise InputError(f"--tokenizer: vocabulary of {len(tokenizer)} tokens does not fit the corpus format (uint16)")
    with output_dir(out, force=force) as tmp:
        loaded = read_genomes(genomes, eval_fraction)
        window_bp = measure_window_bp(tokenizer, loaded, max_tokens)
        source = FastaSource(WindowSampler(loaded, window_bp, genome_weights), tokenizer, max_tokens, seed)
        pad = tokenizer.pad_token_id
        shards, chunk = [], 1024
        chunks = _Chunks(source, chunk, windows)
        loader = micro_batch_loader(chunks, num_workers)
        bar = None
        if progress:
            from tqdm import tqdm
            bar = tqdm(total=windows, unit="window", desc="prepare", dynamic_ncols=True)
        done = 0
        table = None
        for rows in loader:
            if done >= windows:
                break
            shard, offset = divmod(done, SHARD_ROWS)
            if offset == 0:
                rows_here = min(SHARD_ROWS, windows - done)
                name = f"train-{shard:05d}.npy"
                table = np.lib.format.open_memmap(tmp / name, mode="w+", dtype=np.uint16,
                                                  shape=(rows_here, max_tokens))
                shards.append({"file": name, "rows": rows_here})
            take = min(len(rows), SHARD_ROWS - offset, windows - done)
            ids, _ = pad_rows(rows[:take], max_tokens, pad)
            table[offset:offset + take] = ids
            done += take
            if bar is not None:
                bar.update(take)
            if take < len(rows) and done < windows:
                raise RuntimeError("corpus chunking out of step with shard size")  # SHARD_ROWS % chunk == 0
        if bar is not None:
            bar.close()
        del table, loader
        held = encode_windows(tokenizer, heldout_windows(loaded, window_bp, eval_samples), max_tokens)
        meta = {"format": CORPUS_FORMAT, "version": 1, "max_tokens": max_tokens, "vocab_size": len(tokenizer),
                "pad_token_id": pad, "vocab": vocab_fingerprint(tokenizer), "seed": seed, "window_bp": window_bp,
                "genomes": [str(g.path) for g in loaded], "eval_fraction": eval_fraction,
                "shards": shards, "eval": None}
        if held:
            ids, _ = pad_rows(held, max_tokens, pad)
            np.save(tmp / "eval.npy", ids.astype(np.uint16))
            meta["eval"] = {"file": "eval.npy", "rows": len(held)}
        tokenizer.save_pretrained(tmp)
        (tmp / "corpus.json").write_text(json.dumps(meta, indent=1) + "\n")
    return meta


class _Chunks:
    """Item k: token rows of samples k*size ... (k+1)*size - 1 (for parallel corpus preparation)."""

    def __init__(self, source, size, total):
        self.source, self.size, self.total = source, size, total

    def __getitem__(self, k):
        lo = k * self.size
        return self.source.rows(range(lo, min(lo + self.size, self.total))) if lo < self.total else []


def tokenizers_parallelism_off():
    """DataLoader workers fork: keep Rust-side threads of `tokenizers` off so forked workers stay safe."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


__all__ = ["CorpusSource", "FastaSource", "MicroBatches", "WindowSampler", "eval_batches",
           "heldout_windows", "measure_window_bp", "micro_batch_loader", "prepare_corpus", "read_genomes"]
