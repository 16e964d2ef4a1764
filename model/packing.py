"""Packed batches: sequences laid end to end in one row of `T` tokens, `cu_seqlens` (int32 [sequences + 1]) saying
where each starts, as every model of modeling.py takes them (`model(input_ids, cu_seqlens=cu_seqlens)`).

    ids, cu_seqlens = pack_sequences([seq_a, seq_b, seq_c])        # or pack_padded(ids, attention_mask)
    out = model(ids, cu_seqlens=cu_seqlens)
    hidden = unpack(out.last_hidden_state, cu_seqlens)           # [3, longest, H], 0 after each sequence

A packed batch has no padding at all, so a batch can be filled to a token budget exactly, and a backend that
attends on the token matrix (flex, flash_attention_2) never sees a padded shape.
"""
import torch
import torch.nn.functional as F

from dnabert2.errors import InputError

from .attention import TokenLayout


def _cu_seqlens(lengths, device):
    lengths = torch.as_tensor(lengths, dtype=torch.int32, device=device)
    if lengths.numel() == 0 or bool((lengths < 1).any()):
        raise InputError(f"a packed batch needs at least one sequence and no empty one (lengths "
                         f"{lengths.tolist()[:8]})")
    return F.pad(torch.cumsum(lengths, 0, dtype=torch.int32), (1, 0))  # (n + 1,)


def pack_sequences(rows):
    """A list of 1-D token-id sequences (tensors, arrays or lists) -> (input_ids [1, T] int64, cu_seqlens)."""
    rows = [torch.as_tensor(row, dtype=torch.long) for row in rows]
    if any(row.dim() != 1 for row in rows):
        raise InputError("pack_sequences takes 1-D token-id sequences")
    cu_seqlens = _cu_seqlens([row.numel() for row in rows], rows[0].device if rows else None)
    return torch.cat(rows)[None], cu_seqlens


def pack_padded(values, attention_mask):
    """A right-padded batch -> the same sequences packed: (values [1, T, ...], cu_seqlens). `values` is any
    [batch, seq, ...] tensor (token ids, token types, labels); `attention_mask` [batch, seq] must be 1 on a prefix
    of every row (the tokenizer's right padding) and 0 after it."""
    mask = attention_mask.bool()
    if values.shape[:2] != mask.shape:
        raise InputError(f"values {list(values.shape)} and attention_mask {list(mask.shape)} differ in shape")
    lengths = mask.sum(1)  # (b,)
    if not torch.equal(mask, torch.arange(mask.shape[1], device=mask.device)[None, :] < lengths[:, None]):
        raise InputError("pack_padded needs right padding: attention_mask must be 1 on a prefix of every row")
    return values[mask][None], _cu_seqlens(lengths, values.device)


def unpack(packed, cu_seqlens):
    """[1, T, ...] packed values (a model's hidden states, masked-LM logits) -> [sequences, longest, ...], exactly 0
    after each sequence (the padded batch `pack_padded` came from, cut to its longest sequence)."""
    if packed.dim() < 2 or packed.shape[0] != 1:
        raise InputError(f"unpack takes packed values [1, tokens, ...], got {list(packed.shape)}")
    return TokenLayout.packed(cu_seqlens.to(packed.device), packed.shape[1]).by_sequence.pad(packed[0])
