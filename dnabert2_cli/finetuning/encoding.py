"""Labelled tables as token ids: tokenising each split (with truncation), choosing the max length, and padding a
batch of examples into model inputs."""
import logging
from dataclasses import dataclass

import numpy as np

log = logging.getLogger(__name__)


@dataclass
class Encoded:
    """Token ids of one split (lists of ints per example), their lengths, and the targets."""
    input_ids: list
    token_type_ids: list
    lengths: np.ndarray  # tokens per example after truncation
    targets: np.ndarray
    truncated: int = 0   # examples that were longer than the max length


def encode_split(tokenizer, split, max_length):
    """Tokenise one split ([CLS] A [SEP] or [CLS] A [SEP] B [SEP]), truncating to max_length tokens."""
    table = split.table

    def tokenise(**truncation):
        full = tokenizer(table.sequences, table.sequences_b, add_special_tokens=True, return_attention_mask=False,
                         return_token_type_ids=True, **truncation)
        return full, np.asarray([len(ids) for ids in full["input_ids"]], dtype=np.int64)

    full, lengths = tokenise(truncation=False)
    truncated = int((lengths > max_length).sum()) if max_length else 0
    if truncated:
        full, lengths = tokenise(truncation=True, max_length=max_length)
    return Encoded(full["input_ids"], full["token_type_ids"], lengths, split.targets, truncated)


def automatic_max_length(tokenizer, split):
    """The longest training example in tokens (specials included), so that nothing in train is truncated."""
    encoded = encode_split(tokenizer, split, None)
    return int(encoded.lengths.max())


def encode_all(tokenizer, labelled, max_length):
    """Token ids of every split, truncated to max_length (None: the longest training example).
    Returns ({split name: Encoded}, max_length)."""
    if max_length is None:
        max_length = automatic_max_length(tokenizer, labelled.train)
        log.info("max length from the training data: %d tokens", max_length)
    encoded = {name: encode_split(tokenizer, split, max_length) for name, split in labelled.splits().items()}
    for name, enc in encoded.items():
        if enc.truncated:
            log.warning("%s: %d of %d examples truncated to %d tokens", name, enc.truncated, len(enc.lengths),
                        max_length)
    return encoded, max_length


def collate(encoded, indices, pad_id, device):
    """Pad the chosen examples to the longest of them -> input_ids, attention_mask, token_type_ids [B, S]."""
    import torch

    from dnabert2.common.batching import pad_rows

    ids, mask = pad_rows([encoded.input_ids[i] for i in indices], pad_id)
    types, _ = pad_rows([encoded.token_type_ids[i] for i in indices], 0)
    return {name: torch.from_numpy(values).to(device)
            for name, values in (("input_ids", ids), ("attention_mask", mask), ("token_type_ids", types))}
