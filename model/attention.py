"""Attention backends behind one signature, and the token layout they share.

The encoder keeps only the real tokens of a batch, as one `[tokens, hidden]` matrix (the release does the same), so
linear layers never work on padding. A batch comes padded (`[batch, seq]` with an attention mask) or packed (its
sequences laid end to end in one row, `cu_seqlens` saying where each starts); either way the token matrix holds
the sequences one after another. Every backend is a function

    attend(qkv, layout, alibi, dropout_p, need_weights) -> (out [tokens, heads, head_dim], weights or None)

with `qkv` the `[tokens, 3, heads, head_dim]` projections of those real tokens:

- `sdpa`: re-pads to `[sequences, heads, longest, head_dim]` and calls
  `torch.nn.functional.scaled_dot_product_attention` with an additive ALiBi + padding bias, in blocks of query rows
  so the bias never exists whole for long inputs (blocks sized for the CPU's memory there, for a share of the
  card's memory on a GPU). Every device and dtype.
- `eager`: the same bias with an explicit softmax; it returns the attention probabilities (`output_attentions`).
- `flash_attention_2`: flash-attn's variable-length kernel straight on the token matrix (`cu_seqlens`), with
  `alibi_slopes`; CUDA only, imported on first use.
- `flex`: PyTorch's FlexAttention straight on the token matrix, a block mask keeping each sequence to itself and
  ALiBi as a `score_mod` (flex.py); compiled on first use; no backward pass on the CPU.

The choice is made per call from the tensor's device and dtype (`choose_backend`), never at import time.
"""
import functools
import importlib.util
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from dnabert2.errors import InputError

from .flex import flex_attention, flex_unavailable

# what the release adds to the score of a padded key (always float32 there; cast to the score dtype here)
PADDED_KEY_BIAS = -10000.0
# at most this many bias elements per SDPA call on the CPU (256 MiB in fp32): longer inputs attend in blocks of query
# rows. On 2 AVX2 cores, blocks of 1 to 2 thousand rows ran fastest at 4,096 tokens; a bias that fits in one block is
# built once per forward and shared by every layer.
MAX_BIAS_ELEMENTS = 2**26
# on a CUDA GPU a block may take up to this share of the card's memory instead: there, rebuilding the bias in every
# layer costs more than the memory it saves (an H200 in bf16 ran 1 x 4,096 tokens 2.6x and 8 x 4,096 3.1x faster in
# one block than in blocks of 2^26 elements; bench/README.md)
GPU_BIAS_SHARE = 1 / 16
HALF_DTYPES = (torch.float16, torch.bfloat16)


@dataclass
class TokenLayout:
    """Where the real tokens of a `[batch, seq]` input are: a padded batch (mask 1 = real token, 0 = padding), or
    one packed row of sequences laid end to end (`packed`)."""

    batch: int
    seqlen: int
    indices: torch.Tensor  # [tokens] flat positions of the real tokens in batch * seq, or None: no padding
    cu_seqlens: torch.Tensor  # int32 [sequences + 1] start of each sequence in the token matrix
    max_seqlen: int  # the longest sequence, in real tokens
    key_bias: torch.Tensor  # float32 [batch, seq]: 0 for real keys, PADDED_KEY_BIAS for padding; None: no padding
    cache: dict = field(default_factory=dict)  # biases and block masks built for this batch, shared by the layers
    packed_sequences: "TokenLayout" = None  # packed input: its sequences as a padded batch (see by_sequence)

    @classmethod
    def from_mask(cls, attention_mask):
        batch, seqlen = attention_mask.shape
        mask = attention_mask.bool()
        lengths = mask.sum(dim=1, dtype=torch.int32)  # (b,)
        cu_seqlens = F.pad(torch.cumsum(lengths, dim=0, dtype=torch.int32), (1, 0))  # (b + 1,)
        if bool(mask.all()):
            return cls(batch, seqlen, None, cu_seqlens, seqlen, None)
        indices = torch.nonzero(mask.flatten(), as_tuple=False).flatten()  # (t,)
        key_bias = (~mask).float() * PADDED_KEY_BIAS  # (b, s)
        return cls(batch, seqlen, indices, cu_seqlens, int(lengths.max()), key_bias)

    @classmethod
    def packed(cls, cu_seqlens, tokens):
        """One row of `tokens` tokens holding sequences that start at `cu_seqlens` (int [sequences + 1], from 0,
        strictly increasing, ending at `tokens`)."""
        cu_seqlens = cu_seqlens.to(torch.int32)
        lengths = cu_seqlens.diff()  # (n,)
        longest = int(lengths.max())
        sequences = cls.from_mask(torch.arange(longest, device=lengths.device)[None, :] < lengths[:, None])
        return cls(1, tokens, None, cu_seqlens, longest, None, packed_sequences=sequences)

    @property
    def by_sequence(self):
        """This layout with one sequence per row: itself for a padded batch, the packed sequences re-padded to the
        longest for a packed row. Their token matrices are the same, so backends that need a padded batch
        (sdpa, eager) pad and unpad through it."""
        return self if self.packed_sequences is None else self.packed_sequences

    @property
    def sequence_starts(self):
        """Flat positions (in batch * seq) of every sequence's first token."""
        if self.packed_sequences is None:
            return torch.arange(self.batch, device=self.cu_seqlens.device) * self.seqlen
        return self.cu_seqlens[:-1].long()

    @property
    def num_tokens(self):
        return self.batch * self.seqlen if self.indices is None else self.indices.numel()

    def unpad(self, x):
        """[batch, seq, ...] -> [tokens, ...]"""
        flat = x.reshape(self.batch * self.seqlen, *x.shape[2:])  # (b * s, ...)
        return flat if self.indices is None else flat.index_select(0, self.indices)

    def rows_of(self, flat):
        """Token rows of flat positions `flat` (sorted, in batch * seq, each a real token)."""
        return flat if self.indices is None else torch.searchsorted(self.indices, flat)

    def pad_some(self, x, flat):
        """[len(flat), ...] rows at flat positions `flat` -> [batch, seq, ...], exactly 0 everywhere else"""
        full = x.new_zeros(self.batch * self.seqlen, *x.shape[1:]).index_copy(0, flat, x)  # (b * s, ...)
        return full.view(self.batch, self.seqlen, *x.shape[1:])

    def pad(self, x):
        """[tokens, ...] -> [batch, seq, ...], exactly 0 at padded positions"""
        if self.indices is not None:
            full = x.new_zeros(self.batch * self.seqlen, *x.shape[1:])
            x = full.index_copy(0, self.indices, x)  # (b * s, ...)
        return x.view(self.batch, self.seqlen, *x.shape[1:])  # (b, s, ...)


@functools.lru_cache(maxsize=None)
def _gpu_memory(index):
    return torch.cuda.get_device_properties(index).total_memory


def bias_block_elements(device, element_size=4):
    """At most this many attention-bias elements per SDPA call on `device` (a torch.device), for numbers of
    `element_size` bytes."""
    if device.type != "cuda":
        return MAX_BIAS_ELEMENTS
    index = device.index if device.index is not None else torch.cuda.current_device()
    return max(MAX_BIAS_ELEMENTS, int(_gpu_memory(index) * GPU_BIAS_SHARE) // element_size)


def _padded_bias(layout, alibi, q_start, q_end, dtype, device):
    """Additive bias [batch or 1, heads, q_end - q_start, seq]: ALiBi plus -10000 on padded keys. The bias of a
    whole batch (one block) is kept in the layout for the next layers; blocks of longer inputs are rebuilt."""
    key = (q_start, q_end, dtype, str(device))
    if key in layout.cache:
        return layout.cache[key]
    bias = alibi.bias(q_start, q_end, layout.seqlen, device).unsqueeze(0)  # (1, h, q, s)
    if layout.key_bias is not None:
        bias = bias + layout.key_bias[:, None, None, :]  # (b, h, q, s)
    bias = bias.to(dtype)
    if q_start == 0 and q_end == layout.seqlen:
        layout.cache[key] = bias
    return bias


def _padded_qkv(qkv, layout):
    """[tokens, 3, heads, head_dim] -> q, k, v each [batch, heads, seq, head_dim]"""
    qkv = layout.pad(qkv)  # (b, s, 3, h, d)
    return qkv.permute(2, 0, 3, 1, 4).unbind(0)  # 3 x (b, h, s, d)


def sdpa_attention(qkv, layout, alibi, dropout_p=0.0, need_weights=False):
    layout = layout.by_sequence
    q, k, v = _padded_qkv(qkv, layout)
    batch, heads, seqlen, _ = q.shape
    rows = max(1, min(seqlen, bias_block_elements(q.device, q.element_size()) // (batch * heads * seqlen)))
    blocks = []
    for start in range(0, seqlen, rows):
        end = min(seqlen, start + rows)
        bias = _padded_bias(layout, alibi, start, end, q.dtype, q.device)
        blocks.append(F.scaled_dot_product_attention(q[:, :, start:end], k, v, attn_mask=bias, dropout_p=dropout_p))
    out = blocks[0] if len(blocks) == 1 else torch.cat(blocks, dim=2)  # (b, h, s, d)
    return layout.unpad(out.transpose(1, 2)), None  # (t, h, d)


def eager_attention(qkv, layout, alibi, dropout_p=0.0, need_weights=False):
    layout = layout.by_sequence
    q, k, v = _padded_qkv(qkv, layout)
    scale = q.shape[-1] ** -0.5
    scores = torch.matmul(q, k.transpose(-1, -2)) * scale  # (b, h, s, s)
    scores = scores + _padded_bias(layout, alibi, 0, layout.seqlen, scores.dtype, scores.device)
    probs = torch.softmax(scores.float(), dim=-1).to(q.dtype)  # (b, h, s, s)
    out = torch.matmul(F.dropout(probs, p=dropout_p), v)  # (b, h, s, d)
    return layout.unpad(out.transpose(1, 2)), (probs if need_weights else None)


def _flash_varlen_func(device):
    """flash-attn's `flash_attn_varlen_func`; a clear error where it cannot run. Tests replace this function."""
    if device.type != "cuda":
        raise InputError(f"attn_implementation flash_attention_2 needs a CUDA device, not {device} "
                         "(use attn_implementation='sdpa')")
    try:
        from flash_attn import flash_attn_varlen_func
    except ImportError:
        raise InputError("attn_implementation flash_attention_2: flash-attn is not installed "
                         "(pip install 'dnabert2[gpu]', or use attn_implementation='sdpa')") from None
    return flash_attn_varlen_func


def _flash_dtype(device):
    if device.type == "cuda" and not torch.cuda.is_bf16_supported():
        return torch.float16
    return torch.bfloat16


def flash_attention(qkv, layout, alibi, dropout_p=0.0, need_weights=False):
    kernel = _flash_varlen_func(qkv.device)
    dtype = qkv.dtype if qkv.dtype in HALF_DTYPES else _flash_dtype(qkv.device)
    q, k, v = qkv.to(dtype).unbind(1)  # 3 x (t, h, d)
    out = kernel(q, k, v, layout.cu_seqlens, layout.cu_seqlens, layout.max_seqlen, layout.max_seqlen, dropout_p,
                 softmax_scale=q.shape[-1] ** -0.5, causal=False, alibi_slopes=alibi.slopes(qkv.device))
    return out.to(qkv.dtype), None  # (t, h, d)


BACKENDS = {"sdpa": sdpa_attention, "eager": eager_attention, "flash_attention_2": flash_attention,
            "flex": flex_attention}
# the backends that attend on the token matrix as it is (no re-padding, no bias tensor): a packed batch costs them no
# padding at all, so the region commands pack their model calls for them
TOKEN_MATRIX_BACKENDS = ("flash_attention_2", "flex")


@torch.compiler.disable
def attend(name, qkv, layout, alibi, dropout_p=0.0, need_weights=False):
    """Backend `name` on one call. Never traced into a compiled encoder layer (compiled.py): its shapes and data
    (the batch's layout) differ per batch, SDPA and flash-attn are single kernels already, and flex compiles its own
    kernel per row bucket."""
    return BACKENDS[name](qkv, layout, alibi, dropout_p, need_weights)


# the automatic choice: per device type and whether the dtype is fp16/bf16, the backends fastest first, as measured
# (bench/README.md, docs/gpu.md); the first that can run is taken. The CPU lists nothing: SDPA was fastest in fp32,
# and flex, faster in bf16 only at long lengths, costs a compilation per row bucket, cannot train there and would
# change default numbers. On CUDA flex is not measured yet, so it is not listed there.
AUTO_ORDER = {
    ("cuda", True): ("flash_attention_2", "sdpa"),
    ("cuda", False): ("sdpa",),
}
DEFAULT_BACKEND = "sdpa"  # every device and dtype; what auto takes where nothing faster is listed or can run


@functools.lru_cache(maxsize=None)
def flash_attn_installed():
    return importlib.util.find_spec("flash_attn") is not None


def can_run(name, device, grad=False):
    """Whether backend `name` can run on `device` here, with gradients when `grad` (for the automatic choice;
    asked for by name, a backend that cannot run raises its own clear error)."""
    if name == "flash_attention_2":
        return device.type == "cuda" and flash_attn_installed()
    if name == "flex":  # FlexAttention has no backward pass on the CPU
        return flex_unavailable(device.type) is None and not (grad and device.type == "cpu")
    return True


def choose_backend(requested, device, dtype, need_weights=False, grad=False):
    """The backend name for one call. `requested` None means automatic: the first of `AUTO_ORDER` for the device
    and dtype that can run (`grad`: with gradients), else SDPA; so flash-attn on CUDA in fp16/bf16 when it is
    installed. Returning attention probabilities always goes through the eager path."""
    if need_weights:
        return "eager"
    if requested is None:
        for name in AUTO_ORDER.get((device.type, dtype in HALF_DTYPES), ()):
            if can_run(name, device, grad):
                return name
        return DEFAULT_BACKEND
    if requested not in BACKENDS:
        raise InputError(f"attn_implementation {requested!r}: expected one of {', '.join(BACKENDS)}")
    return requested
