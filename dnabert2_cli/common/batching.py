"""Token rows into batches: padding to a common width, and grouping rows of similar length.

Every stage batches variable-length token rows (windows of regions, table rows, genome windows); these are the
one place that pads them and groups them by length.
"""
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


def sorted_batches(lengths, size=None, token_budget=None, longest_first=False):
    """Row indices sorted by length (ties in input order), cut into batches of `size` rows, or of at most
    `token_budget` padded tokens (rows x longest row; a longer row still gets a batch of its own)."""
    lengths = np.asarray(lengths, dtype=np.int64)
    order = np.argsort(-lengths if longest_first else lengths, kind="stable")
    if size is not None:
        return [order[i:i + size] for i in range(0, len(order), size)]
    batches, batch, longest = [], [], 0
    for i in order:
        longest_if = max(longest, int(lengths[i]))
        if batch and longest_if * (len(batch) + 1) > token_budget:
            batches.append(np.asarray(batch))
            batch, longest_if = [], int(lengths[i])
        batch.append(i)
        longest = longest_if
    if batch:
        batches.append(np.asarray(batch))
    return batches


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
