"""Labelled tables as token ids: tokenising each split (with truncation), choosing the max length, checking that
the largest batch fits in memory, and padding a batch of examples into model inputs.

The automatic max length is the longest training example unless that one is an outlier: it is capped at
4 x the median training length (never below 512 tokens), so one 100 kbp row among 300 bp ones is truncated
(with a warning that counts the rows cut) instead of padding every batch to 25,000 tokens."""
import logging
from dataclasses import dataclass

import numpy as np

log = logging.getLogger(__name__)

AUTO_LENGTH_FLOOR = 512  # tokens: the automatic max length never cuts an example shorter than this
AUTO_LENGTH_MEDIANS = 4  # ... nor keeps one longer than this many times the median training example


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
    """The longest training example in tokens (specials included), capped at max(512, 4 x the median length) so
    that a few outliers do not set the length of every batch."""
    lengths = encode_split(tokenizer, split, None).lengths
    longest = int(lengths.max())
    cap = max(AUTO_LENGTH_FLOOR, AUTO_LENGTH_MEDIANS * int(np.ceil(np.median(lengths))))
    if longest > cap:
        log.info("max length capped at %d tokens (4 x the median training example; the longest has %d)", cap,
                 longest)
    return min(longest, cap)


def encode_all(tokenizer, labelled, max_length):
    """Token ids of every split, truncated to max_length (None: the longest training example).
    Returns ({split name: Encoded}, max_length)."""
    if max_length is None:
        max_length = automatic_max_length(tokenizer, labelled.train)
        log.info("max length from the training data: %d tokens", max_length)
    encoded = {name: encode_split(tokenizer, split, max_length) for name, split in labelled.splits().items()}
    for name, enc in encoded.items():
        if enc.truncated:
            log.warning("%s: %d of %d examples truncated to %d tokens (--max-tokens sets the length)", name,
                        enc.truncated, len(enc.lengths), max_length)
    return encoded, max_length


def check_batch_memory(encoded, settings, max_length, model, device, dtype):
    """InputError (before training starts) when the largest training batch, --batch-size rows of the longest
    example, would need more memory than `device` has; it names the options to lower."""
    from dnabert2.common.memory import ModelSize, check_fits, training_bytes

    lengths = encoded["train"].lengths
    rows, length = min(settings.batch_size, len(lengths)), int(lengths.max())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    needed = training_bytes(ModelSize.of(model.config, dtype, device), rows, length, trainable)
    check_fits(needed, f"training: the largest batch ({rows} rows of {length} tokens)",
               f"--max-tokens (now {max_length}) or --batch-size (now {settings.batch_size})", device)


def collate(encoded, indices, pad_id, device):
    """Pad the chosen examples to the longest of them -> input_ids, attention_mask, token_type_ids [B, S]."""
    import torch

    from dnabert2.common.batching import pad_rows

    ids, mask = pad_rows([encoded.input_ids[i] for i in indices], pad_id)
    types, _ = pad_rows([encoded.token_type_ids[i] for i in indices], 0)
    return {name: torch.from_numpy(values).to(device)
            for name, values in (("input_ids", ids), ("attention_mask", mask), ("token_type_ids", types))}
