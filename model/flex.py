"""The `flex` attention backend: PyTorch's FlexAttention on the real tokens, sequences laid end to end.

The encoder's `[tokens, 3, heads, head_dim]` projections are already the sequences of the batch laid end to end
(padding dropped), so this backend never re-pads: it attends on that one row, each token seeing only the tokens of
its own sequence (a block mask built from `cu_seqlens`), with ALiBi as a `score_mod` (`-slope_h * |i - j|`: within
one sequence the distance on the row is the distance in the sequence). No bias tensor is ever built.

The row is padded to a bucket (a power of two, at least one block) so that the compiled kernel sees few shapes; the
padding positions belong to no sequence, and the blocks they fill are skipped. FlexAttention is fast only compiled
(`torch.compile`: Triton on CUDA, a C++ compiler on the CPU), so the kernel is compiled on first use, once per
bucket; inside an already compiled encoder the plain function is traced instead. Where it cannot run (torch older
than 2.5, no Triton or C++ compiler, a backward pass on the CPU, attention dropout) the call raises `InputError`;
`choose_backend` (attention.py) never picks it automatically there.
"""
import functools
import shutil

import torch
import torch.nn.functional as F

from dnabert2.errors import InputError

from .alibi import alibi_slopes

BLOCK = 128  # FlexAttention's block size, in tokens, for queries and keys
# compiled kernels kept per code object: a run sees one per bucket, dtype and head shape (torch's default is 8)
RECOMPILE_LIMIT = 64


def bucket_length(tokens):
    """The row length the kernel runs at for `tokens` tokens: the next power of two, at least one block."""
    length = BLOCK
    while length < tokens:
        length *= 2
    return length


@functools.lru_cache(maxsize=None)
def flex_unavailable(device_type):
    """Why FlexAttention cannot run on devices of this type (a sentence), or None when it can."""
    try:
        from torch.nn.attention.flex_attention import BlockMask, flex_attention  # noqa: F401
    except ImportError:
        return f"torch {torch.__version__} has no FlexAttention (it needs torch 2.5 or later)"
    if device_type == "cuda":
        from torch.utils._triton import has_triton

        return None if has_triton() else "Triton is not installed (torch.compile needs it on CUDA)"
    if device_type == "cpu":
        import os

        compiler = os.environ.get("CXX") or "g++"
        if shutil.which(compiler) or shutil.which("clang++"):
            return None
        return f"no C++ compiler ({compiler} or clang++) for torch.compile on the CPU"
    return f"FlexAttention runs on CUDA and the CPU here, not on {device_type}"


@functools.lru_cache(maxsize=None)
def _compiled_kernel():
    from torch.nn.attention.flex_attention import flex_attention

    # static shapes: the row length is bucketed, and dynamic shapes miscompile on the CPU in torch 2.13
    return torch.compile(flex_attention, dynamic=False)


def _attend(q, k, v, score_mod, block_mask):
    """The compiled kernel; inside a compiled encoder the plain function, which that compilation traces."""
    from torch.nn.attention.flex_attention import flex_attention

    if torch.compiler.is_compiling():
        return flex_attention(q, k, v, score_mod=score_mod, block_mask=block_mask)
    config = torch._dynamo.config
    limit = "recompile_limit" if hasattr(config, "recompile_limit") else "cache_size_limit"  # its older name
    with config.patch(**{limit: RECOMPILE_LIMIT}):
        return _compiled_kernel()(q, k, v, score_mod=score_mod, block_mask=block_mask)


@functools.lru_cache(maxsize=None)
def alibi_score_mod(slopes, device):
    """score_mod adding `-slope_h * |q - k|` (slopes: a tuple of floats, one per head) on `device` (a string)."""
    slope = torch.tensor(slopes, dtype=torch.float32, device=device)

    def alibi(score, b, h, q, k):
        return score - (slope[h] * (q - k).abs()).to(score.dtype)

    return alibi


def document_block_mask(cu_seqlens, tokens, length):
    """BlockMask of a row of `length` positions holding `tokens` tokens, sequence s at cu_seqlens[s]..[s + 1]: a
    query sees the keys of its own sequence only; positions from `tokens` on belong to no sequence.

    Built from the sequences' extents, never from a [length, length] grid: query block i meets the key blocks from
    the start of its first sequence to the end of its last; a block pair is full (no mask needed inside) when both
    blocks lie inside one same sequence."""
    from torch.nn.attention.flex_attention import BlockMask

    device = cu_seqlens.device
    starts = cu_seqlens.long()  # (n + 1,)
    pos = torch.arange(length, device=device)
    doc = torch.searchsorted(starts[1:], pos, right=True)  # (length,) the sequence of each position
    doc = torch.where(pos < tokens, doc, -1)
    blocks = doc.view(-1, BLOCK)  # (nb, BLOCK)
    real = blocks >= 0
    has_real = real.any(1)
    first = torch.where(real, blocks, starts.numel()).amin(1).clamp(max=starts.numel() - 2)  # (nb,)
    last = blocks.amax(1)
    lo = torch.where(has_real, starts[first] // BLOCK, 0)  # first key block of each query block
    hi = torch.where(has_real, (starts[last.clamp(min=0) + 1] + BLOCK - 1) // BLOCK, 0)  # one past its last
    uniform = real.all(1) & (blocks == blocks[:, :1]).all(1)
    block_doc = torch.where(uniform, blocks[:, 0], -1)  # (nb,) the one sequence filling the block, or -1
    j = torch.arange(blocks.shape[0], device=device)
    meets = (j[None, :] >= lo[:, None]) & (j[None, :] < hi[:, None])  # (nb, nb)
    full = meets & (block_doc[:, None] == block_doc[None, :]) & (block_doc[:, None] >= 0)
    partial = meets & ~full

    def listed(m):
        count = m.sum(1, dtype=torch.int32)[None, None]  # (1, 1, nb)
        order = torch.argsort((~m).to(torch.int8), dim=1, stable=True).to(torch.int32)[None, None]  # (1, 1, nb, nb)
        return count, order

    def same_sequence(b, h, q, k):
        return (doc[q] == doc[k]) & (doc[k] >= 0)

    return BlockMask.from_kv_blocks(*listed(partial), *listed(full), BLOCK, mask_mod=same_sequence)


def flex_attention(qkv, layout, alibi, dropout_p=0.0, need_weights=False):
    device = qkv.device
    reason = flex_unavailable(device.type)
    if reason is not None:
        raise InputError(f"attn_implementation flex cannot run: {reason} (use attn_implementation='sdpa')")
    if dropout_p > 0:
        raise InputError(f"attn_implementation flex has no attention dropout (attention_probs_dropout_prob "
                         f"{dropout_p}); use attn_implementation='sdpa'")
    tokens = qkv.shape[0]
    length = bucket_length(tokens)
    key = ("flex", length, str(device))
    if key not in layout.cache:
        layout.cache[key] = document_block_mask(layout.cu_seqlens, tokens, length)
    qkv = F.pad(qkv, (0, 0, 0, 0, 0, 0, 0, length - tokens))  # (length, 3, h, d)
    q, k, v = qkv.permute(1, 2, 0, 3).unsqueeze(1).unbind(0)  # 3 x (1, h, length, d)
    score_mod = alibi_score_mod(tuple(alibi_slopes(alibi.num_heads)), str(device))
    try:
        out = _attend(q, k, v, score_mod, layout.cache[key])  # (1, h, length, d)
    except NotImplementedError as error:  # e.g. "FlexAttention does not support backward on CPU"
        raise InputError(f"attn_implementation flex cannot run here: {error} "
                         "(use attn_implementation='sdpa')") from None
    return out[0, :, :tokens].transpose(0, 1), None  # (t, h, d)
