"""ALiBi: a per-head linear penalty on the distance between query and key, `-slope_h * |i - j|`.

DNABERT-2 has no position embeddings; this bias is its only sense of order. The slopes follow the ALiBi paper
(and the release): a geometric series for a power-of-two head count, else the series for the largest power of
two below, topped up with every second slope of the series for twice that count.
"""
import math

import torch


def alibi_slopes(num_heads):
    """The release's slope per head, as a list of floats (12 heads: 2^-1 .. 2^-8, then 2^-0.5 .. 2^-3.5)."""
    def power_of_two_slopes(n):
        start = 2.0 ** (-(2.0 ** -(math.log2(n) - 3)))
        return [start ** (k + 1) for k in range(n)]

    if num_heads < 1:
        raise ValueError(f"num_heads ({num_heads}) must be at least 1")
    closest = 2 ** math.floor(math.log2(num_heads))
    slopes = power_of_two_slopes(closest)
    if closest < num_heads:
        slopes += power_of_two_slopes(2 * closest)[0::2][: num_heads - closest]
    return slopes


class AlibiTable:
    """Slopes and a |i - j| distance table per device, grown (doubling) on demand: no length limit.

    Plain attributes, not module buffers: they are derived from the config, never saved, and must not be touched by
    weight initialisation or meta-device loading.
    """

    def __init__(self, num_heads, starting_size=512):
        self.num_heads = num_heads
        self.starting_size = max(1, int(starting_size))
        self._slopes = {}
        self._distance = {}

    def slopes(self, device):
        """float32 tensor [heads] on `device` (what flash-attn's `alibi_slopes` expects)."""
        key = str(device)
        if key not in self._slopes:
            self._slopes[key] = torch.tensor(alibi_slopes(self.num_heads), dtype=torch.float32, device=device)
        return self._slopes[key]

    def distance(self, length, device):
        """float32 [N, N] table of |i - j| with N >= length; slice it, do not write to it."""
        key = str(device)
        table = self._distance.get(key)
        if table is None or table.shape[0] < length:
            size = self.starting_size
            while size < length:
                size *= 2
            pos = torch.arange(size, device=device, dtype=torch.float32)
            table = (pos[None, :] - pos[:, None]).abs_()  # (size, size)
            self._distance[key] = table
        return table

    def bias(self, q_start, q_end, k_len, device):
        """float32 ALiBi bias [heads, q_end - q_start, k_len] for query rows q_start..q_end-1 and keys 0..k_len-1."""
        dist = self.distance(max(q_end, k_len), device)[q_start:q_end, :k_len]  # (q, k)
        return dist.unsqueeze(0) * (-self.slopes(device))[:, None, None]  # (h, q, k)
