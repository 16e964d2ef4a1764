"""Training batches for masked-LM pretraining: samples by global index, masked micro-batches, the held-out set.

Every sample has a global index `i` (0, 1, 2, ... over the whole run) and everything about it follows from
`(seed, i)` alone: which file, where, which strand (FASTA), or which row (corpus), and how it is masked. So
- the data order is the same with any number of DataLoader workers;
- the data position is one number (samples consumed), and `--resume` restores it exactly;
- under DDP, rank r of W takes samples `g*W*B + r*B ... + B` of global micro-batch g, the same samples a single
  process with batch W*B takes, so the two runs see the same data.

A source is anything with `rows(indices) -> list of token-id arrays`: `FastaSource` here (genome windows
tokenised on the fly) or `corpus.CorpusSource` (rows of a prepared corpus).
"""
import os

import numpy as np

from dnabert2.common.batching import pad_rows
from dnabert2.common.kernels import pack_batch
from dnabert2.pretraining.genomes import encode_windows
from dnabert2.pretraining.masking import mask_tokens

STREAM_WINDOW, STREAM_MASK, STREAM_EVAL = 0, 1, 2  # the random streams of a sample: its data, its masking


class FastaSource:
    """Sample i -> token ids of a random genome window (tokenised on the fly)."""

    def __init__(self, sampler, tokenizer, max_tokens, seed):
        self.sampler, self.tokenizer, self.max_tokens, self.seed = sampler, tokenizer, max_tokens, seed

    def rows(self, indices):
        texts = [self.sampler.window(np.random.default_rng([self.seed, STREAM_WINDOW, int(i)])) for i in indices]
        return encode_windows(self.tokenizer, texts, self.max_tokens)


class MicroBatches:
    """A map-style dataset: item k is this rank's k-th micro-batch (masked, padded, as torch tensors; with `pack`,
    its windows laid end to end in one row, `common.kernels.pack_batch`).

    Micro-batch k holds global samples `start + k*W*B + r*B ... + B` (W ranks, r this rank, B batch size).
    Masking uses a generator seeded from `(seed, sample index)`, so it does not depend on batching or packing.
    """

    def __init__(self, source, masking, max_tokens, pad_id, batch_size, seed, rank=0, world_size=1, start=0,
                 pack=False):
        self.source, self.masking, self.max_tokens, self.pad_id = source, masking, max_tokens, pad_id
        self.batch_size, self.seed, self.rank, self.world_size, self.start = batch_size, seed, rank, world_size, start
        self.pack = pack

    def sample_indices(self, k):
        first = self.start + k * self.batch_size * self.world_size + self.rank * self.batch_size
        return range(first, first + self.batch_size)

    def __getitem__(self, k):
        import torch

        indices = self.sample_indices(k)
        ids, attention = pad_rows(self.source.rows(indices), self.pad_id, width=self.max_tokens)
        masked = np.empty_like(ids)
        labels = np.empty_like(ids)
        for r, i in enumerate(indices):
            masked[r], labels[r] = mask_tokens(ids[r], self.masking,
                                               np.random.default_rng([self.seed, STREAM_MASK, int(i)]))
        batch = {"input_ids": torch.from_numpy(masked), "attention_mask": torch.from_numpy(attention),
                 "labels": torch.from_numpy(labels)}
        return pack_batch(batch) if self.pack else batch


def eval_batches(rows, masking, max_tokens, pad_id, batch_size, seed, pack=False):
    """The held-out set, masked once with a fixed seed, as a list of batches (dicts of tensors; packed with
    `pack`)."""
    import torch

    batches = []
    for b in range(0, len(rows), batch_size):
        chunk = rows[b:b + batch_size]
        ids, attention = pad_rows(chunk, pad_id, width=max_tokens)
        labels = np.empty_like(ids)
        for r in range(len(chunk)):
            ids[r], labels[r] = mask_tokens(ids[r], masking, np.random.default_rng([seed, STREAM_EVAL, b + r]))
        batch = {"input_ids": torch.from_numpy(ids), "attention_mask": torch.from_numpy(attention),
                 "labels": torch.from_numpy(labels)}
        batches.append(pack_batch(batch) if pack else batch)
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


def tokenizers_parallelism_off():
    """DataLoader workers fork: keep Rust-side threads of `tokenizers` off so forked workers stay safe."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
