"""Token rows into batches: padding to a common width, grouping rows of similar length, and the rows of one model
call laid out padded or packed.

Every stage batches variable-length token rows (windows of regions, table rows, genome windows); these are the
one place that pads them and groups them by length. `TokenRows` is one model call's rows either as a padded batch
(`[rows, longest]` and an attention mask) or packed (`[1, tokens]`, the rows laid end to end, and `cu_seqlens`):
packed where the attention backend works on the token matrix (flex, flash_attention_2), so a batch is cut by its
real tokens and no padding is built at all (embed, predict and score-variants; docs/gpu.md).
"""
from dataclasses import dataclass

import numpy as np


def pad_rows(rows, pad_id, width=None, dtype=np.int64):
    """List of 1-D arrays -> (values [N, width], mask [N, width] int64: 1 on the row's own positions).

    width: the longest row when None."""
    lengths = [len(row) for row in rows]
    width = max(lengths, default=0) if width is None else width
    values = np.full((len(rows), width), pad_id, dtype=dtype)
    mask = np.zeros((len(rows), width), dtype=np.int64)
    for r, (row, n) in enumerate(zip(rows, lengths)):
        values[r, :n] = row
        mask[r, :n] = 1
    return values, mask


def sorted_batches(lengths, size=None, token_budget=None, longest_first=False, packed=False):
    """Row indices sorted by length (ties in input order), cut into batches of `size` rows, or of at most
    `token_budget` padded tokens (rows x longest row; a longer row still gets a batch of its own); `packed`: of at
    most `token_budget` real tokens (the sum of the rows' lengths), for a packed model call."""
    lengths = np.asarray(lengths, dtype=np.int64)
    order = np.argsort(-lengths if longest_first else lengths, kind="stable")
    if size is not None:
        return [order[i:i + size] for i in range(0, len(order), size)]
    batches, batch, longest, total = [], [], 0, 0
    for i in order:
        longest_if = max(longest, int(lengths[i]))
        cost = total + int(lengths[i]) if packed else longest_if * (len(batch) + 1)
        if batch and cost > token_budget:
            batches.append(np.asarray(batch))
            batch, longest_if, total = [], int(lengths[i]), 0
        batch.append(i)
        longest, total = longest_if, total + int(lengths[i])
    if batch:
        batches.append(np.asarray(batch))
    return batches


@dataclass
class TokenRows:
    """The token rows of one model call: padded (`ids` [rows, longest], `attention` 1 on each row's own tokens) or
    packed (`ids` [1, tokens], the rows laid end to end, `cu_seqlens` [rows + 1] where each starts; `attention`
    None). `lay` lays any per-token values of the same rows out the same way."""
    ids: np.ndarray
    attention: np.ndarray
    cu_seqlens: np.ndarray
    lengths: list  # tokens per row

    @classmethod
    def of(cls, rows, pad_id, packed=False):
        """Rows of token ids (1-D arrays), padded with `pad_id` or packed."""
        lengths = [len(row) for row in rows]
        if not packed:
            ids, attention = pad_rows(rows, pad_id)
            return cls(ids, attention, None, lengths)
        cu_seqlens = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32)
        return cls(np.concatenate(rows).astype(np.int64)[None], None, cu_seqlens, lengths)

    @property
    def packed(self):
        return self.cu_seqlens is not None

    @property
    def starts(self):
        """Flat position (in the `ids` matrix read row by row) of every row's first token."""
        if self.packed:
            return self.cu_seqlens[:-1].astype(np.int64)
        return np.arange(len(self.lengths), dtype=np.int64) * self.ids.shape[1]

    def own_tokens(self):
        """1 on every row's own tokens, 0 on padding, laid out as `ids` (a new array)."""
        return np.ones_like(self.ids) if self.packed else self.attention.copy()

    def lay(self, rows, fill, dtype):
        """Per-token values of these rows (1-D arrays as long as the rows) laid out as `ids` (padding: `fill`)."""
        if self.packed:
            return np.concatenate(rows).astype(dtype)[None]
        return pad_rows(rows, fill, width=self.ids.shape[1], dtype=dtype)[0]

    def model_inputs(self, device):
        """The keyword arguments of the model call: input_ids and attention_mask, or input_ids and cu_seqlens."""
        import torch

        ids = torch.from_numpy(self.ids).to(device)
        if self.packed:
            return {"input_ids": ids, "cu_seqlens": torch.from_numpy(self.cu_seqlens).to(device)}
        return {"input_ids": ids, "attention_mask": torch.from_numpy(self.attention).to(device)}

    def by_row(self, values):
        """Packed per-token values ([tokens, ...] torch) -> one tensor per row ([length, ...], views)."""
        return values.split(self.lengths)

    def row_sums(self, values):
        """Packed per-token values ([tokens, ...] torch) -> their sum over each row ([rows, ...])."""
        import torch

        index = torch.repeat_interleave(torch.arange(len(self.lengths), device=values.device),
                                        torch.as_tensor(self.lengths, device=values.device))
        return values.new_zeros(len(self.lengths), *values.shape[1:]).index_add_(0, index, values)


def bucketed_batches(lengths, size, rng, bucket_batches=50):
    """Training batches: rows shuffled, sorted by length within buckets of `bucket_batches` batches (so padding
    stays small), cut into batches of `size`, batch order shuffled."""
    lengths = np.asarray(lengths, dtype=np.int64)
    order = rng.permutation(len(lengths))
    bucket = size * bucket_batches
    batches = []
    for start in range(0, len(order), bucket):
        chunk = order[start:start + bucket]
        batches += [chunk[b] for b in sorted_batches(lengths[chunk], size=size)]
    rng.shuffle(batches)
    return batches
