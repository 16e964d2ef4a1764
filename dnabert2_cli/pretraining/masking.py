"""BERT-style masking for masked-language-model pretraining.

Each real token is chosen independently with probability `mlm_probability` (15% in DNABERT-2); of the chosen
ones `mask_fraction` become [MASK], `random_fraction` become a random ordinary token and the rest stay as they
are (80/10/10 as in BERT). Special tokens ([CLS], [SEP], [PAD], [UNK], [MASK]) are never chosen. Labels hold the
original id at chosen positions and -100 elsewhere (ignored by the loss).

Overlapping k-mer tokenizers (`span` K): token i holds bases i..i+K-1, so an unmasked neighbour on each side
gives a masked k-mer away. As DNABERT did, whole spans of K consecutive tokens are chosen instead: span starts
are drawn with probability 1 - (1 - mlm_probability)^(1/K), so about `mlm_probability` of the tokens end up
chosen, and the 80/10/10 choice is made once per run of consecutive chosen tokens (a [MASK] run is never broken
by a kept token). Then every chosen k-mer has a base that no unchosen token holds: the base at the end of the
span it lies in is held only by the span's own tokens (or by [UNK], which reveals nothing).

Randomness comes from a `numpy.random.Generator` the caller passes in, so a sample masked with a generator
seeded from its own index is masked the same way whatever batch, worker or process it lands in.
"""
from dataclasses import dataclass

import numpy as np

IGNORE_INDEX = -100


@dataclass(frozen=True)
class MaskingConfig:
    mask_token_id: int               # id of [MASK]
    special_ids: tuple               # ids never chosen (special and padding tokens)
    vocab_size: int                  # random replacements are drawn from ids in [0, vocab_size) not in special_ids
    mlm_probability: float = 0.15    # chance that each real token is chosen for prediction
    mask_fraction: float = 0.8       # of the chosen: replaced by [MASK]
    random_fraction: float = 0.1     # of the chosen: replaced by a random ordinary token (the rest are kept)
    span: int = 1                    # tokens chosen together: K for overlapping K-mers, 1 otherwise

    def __post_init__(self):
        if not 0.0 < self.mlm_probability < 1.0:
            raise ValueError(f"mlm_probability ({self.mlm_probability}) must be between 0 and 1 (exclusive)")
        if self.mask_fraction < 0 or self.random_fraction < 0 or self.mask_fraction + self.random_fraction > 1:
            raise ValueError(f"mask_fraction ({self.mask_fraction}) and random_fraction ({self.random_fraction}) "
                             "must be non-negative and sum to at most 1")
        if self.span < 1:
            raise ValueError(f"span ({self.span}) must be at least 1")
        if len(self.ordinary_ids()) == 0:
            raise ValueError(f"no ordinary token ids below vocab_size ({self.vocab_size}) to draw replacements from")

    @classmethod
    def from_tokenizer(cls, tokenizer, **fractions):
        """Settings for a transformers tokenizer: its [MASK] id, every special id, its vocabulary size, and a span
        of K for an overlapping K-mer tokenizer."""
        from dnabert2.tokenizer.kmer import overlapping_k

        specials = set(tokenizer.all_special_ids)
        if tokenizer.pad_token_id is not None:
            specials.add(tokenizer.pad_token_id)
        if tokenizer.mask_token_id is None:
            raise ValueError("the tokenizer has no [MASK] token")
        return cls(mask_token_id=tokenizer.mask_token_id, special_ids=tuple(sorted(specials)),
                   vocab_size=len(tokenizer), span=overlapping_k(tokenizer) or 1, **fractions)

    def ordinary_ids(self):
        ids = np.arange(self.vocab_size)
        return ids[~np.isin(ids, np.asarray(self.special_ids, dtype=np.int64))]


def mask_tokens(input_ids, config, rng):
    """Mask one sequence or a batch of token ids.

    input_ids: integer array [S] or [B, S] (padding included); rng: numpy Generator.
    Returns (masked_ids, labels), both int64 with the shape of input_ids.
    The generator is always advanced by the same amount for a given shape, whatever the tokens are.
    """
    ids = np.asarray(input_ids, dtype=np.int64)
    candidates = ~np.isin(ids, np.asarray(config.special_ids, dtype=np.int64))
    if config.span > 1:
        chosen, action = _chosen_spans(ids.reshape(-1, ids.shape[-1]), candidates.reshape(-1, ids.shape[-1]),
                                       config, rng)
        chosen, action = chosen.reshape(ids.shape), action.reshape(ids.shape)
    else:
        chosen = (rng.random(ids.shape) < config.mlm_probability) & candidates
        action = rng.random(ids.shape)
    ordinary = config.ordinary_ids()
    replacements = ordinary[rng.integers(0, len(ordinary), size=ids.shape)]

    to_mask = chosen & (action < config.mask_fraction)
    to_random = chosen & (action >= config.mask_fraction) & (action < config.mask_fraction + config.random_fraction)

    masked = ids.copy()
    masked[to_mask] = config.mask_token_id
    masked[to_random] = replacements[to_random]
    labels = np.where(chosen, ids, IGNORE_INDEX)
    return masked, labels


def _chosen_spans(ids, candidates, config, rng):
    """(chosen [B, S], action [B, S]) for span masking: spans of `config.span` tokens from random starts, one
    action draw per run of consecutive covered positions (so runs bridging an [UNK] share it)."""
    k = config.span
    start_p = 1.0 - (1.0 - config.mlm_probability) ** (1.0 / k)
    starts = (rng.random(ids.shape) < start_p) & candidates
    covered = starts.copy()
    for d in range(1, k):
        covered[:, d:] |= starts[:, :-d]
    draws = rng.random(ids.shape)
    positions = np.arange(ids.shape[1])
    first = covered & ~np.concatenate([np.zeros((ids.shape[0], 1), dtype=bool), covered[:, :-1]], axis=1)
    run_start = np.maximum.accumulate(np.where(first, positions, 0), axis=1)
    return covered & candidates, np.take_along_axis(draws, run_start, axis=1)
