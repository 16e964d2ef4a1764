"""Memory: how much a batch of the model will take, how much the machine has, and a check that fails early.

A run that needs more memory than the machine has must stop with exit 2 and the option to lower before it starts,
never meet the out-of-memory killer halfway. The estimates are deliberately on the high side; they were fitted on
CPU float32 training and inference steps of the `tiny`, `small` and 117M presets (see `TRAIN_FLOATS_PER_TOKEN`).
"""
import os
from dataclasses import dataclass
from pathlib import Path

from dnabert2.errors import InputError

# floats kept per token and layer for the backward pass: 16 x hidden + 5 x intermediate. Measured peak memory of
# one training step (CPU, fp32, SDPA) was 67-91 KB per token and layer for the 117M model (this gives 110 KB),
# 33-36 KB for `small` (37 KB) and 7-8 KB for `tiny` (6.6 KB, plus the embeddings and head).
TRAIN_FLOATS_PER_TOKEN = (16, 5)
# floats alive per token in one layer of a forward pass without gradients: 8 x hidden + 3 x intermediate
# (measured: 117M 4,000 tokens 300 MiB, this gives 246 MB plus the bias; `small` 16,000 tokens 326-713 MiB, this
# gives 328 MB plus 205-512 MiB of bias)
INFERENCE_FLOATS_PER_TOKEN = (8, 3)
OPTIMIZER_BYTES_PER_PARAMETER = 12  # the gradient and AdamW's two moments, fp32
# the attention bias (ALiBi plus padding) is built in blocks of at most this many elements on the CPU
# (model/attention.py MAX_BIAS_ELEMENTS; on a GPU `bias_block_elements` sizes them to the card): one block is shared
# by all layers, several are rebuilt per layer and kept for the backward pass
BIAS_BLOCK_ELEMENTS = 2**26
GIB = 2**30


@dataclass(frozen=True)
class ModelSize:
    """The sizes of a model that set the memory of one batch, and how it computes: `half` (bf16/fp16 activations,
    2 bytes a number instead of 4) and `flash` (flash-attn or flex, which attend on the token matrix: no attention
    bias at all)."""
    hidden: int
    intermediate: int
    heads: int
    layers: int
    half: bool = False
    flash: bool = False
    bias_block: int = BIAS_BLOCK_ELEMENTS  # attention-bias elements per block on the device

    @classmethod
    def of(cls, config, dtype=None, device=None, attention=None):
        """The sizes of a model config, computing in `dtype` on `device` (torch objects; None: fp32 on the CPU) with
        the attention backend `attention` (a name; None: what the automatic choice takes on a GPU, flash-attn in
        bf16/fp16 when it is installed)."""
        half = dtype is not None and getattr(dtype, "itemsize", 4) == 2
        flash = False
        bias_block = BIAS_BLOCK_ELEMENTS
        if attention is not None:
            from dnabert2.model.attention import TOKEN_MATRIX_BACKENDS

            flash = attention in TOKEN_MATRIX_BACKENDS
        if device is not None and getattr(device, "type", "") == "cuda":
            from dnabert2.model.attention import bias_block_elements, flash_attn_installed

            flash = flash or (attention is None and half and flash_attn_installed())
            bias_block = bias_block_elements(device, 2 if half else 4)
        return cls(config.hidden_size, config.intermediate_size, config.num_attention_heads,
                   config.num_hidden_layers, half, flash, bias_block)

    @property
    def number_bytes(self):
        return 2 if self.half else 4

    def floats_per_token(self, factors=TRAIN_FLOATS_PER_TOKEN):
        per_hidden, per_intermediate = factors
        return per_hidden * self.hidden + per_intermediate * self.intermediate


def _bias_elements(size, rows, length):
    return 0 if size.flash else rows * size.heads * length * length


def training_bytes(size, rows, length, trainable):
    """Memory one training step of `rows` sequences padded to `length` tokens adds to the loaded model (the
    gradients and optimiser state of `trainable` parameters included)."""
    activations = rows * length * size.layers * size.floats_per_token() * size.number_bytes
    bias = _bias_elements(size, rows, length)
    if bias > size.bias_block:
        bias *= size.layers  # rebuilt in blocks by every layer, each kept for the backward pass
    return activations + bias * size.number_bytes + trainable * OPTIMIZER_BYTES_PER_PARAMETER


def inference_bytes(size, tokens, length):
    """Memory one forward pass without gradients adds: `tokens` padded tokens in sequences of `length` (one
    layer's activations at a time, and one block of the attention bias and its scores)."""
    rows = max(1, tokens // max(length, 1))
    bias = min(_bias_elements(size, rows, length), size.bias_block)
    return (tokens * size.floats_per_token(INFERENCE_FLOATS_PER_TOKEN) + 2 * bias) * size.number_bytes


def available_bytes(device=None):
    """Memory this process may still take on `device` (free GPU memory, or the RAM the kernel reports as
    available, within a cgroup limit); None when it cannot be told."""
    if device is not None and getattr(device, "type", str(device)) == "cuda":
        import torch

        free, _ = torch.cuda.mem_get_info(device)
        return int(free)
    free = _meminfo_available()
    room = _cgroup_room()
    values = [v for v in (free, room) if v is not None]
    return min(values) if values else None


def _meminfo_available():
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        import psutil

        return int(psutil.virtual_memory().available)
    except ImportError:
        return None


def _cgroup_room():
    """Limit minus usage of this process's memory cgroup (v2 or v1), or None when there is no limit."""
    for limit, usage in (("memory.max", "memory.current"),
                         ("memory/memory.limit_in_bytes", "memory/memory.usage_in_bytes")):
        base = Path("/sys/fs/cgroup")
        try:
            text = (base / limit).read_text().strip()
            if text == "max" or int(text) >= 1 << 60:
                continue
            return max(0, int(text) - int((base / usage).read_text()))
        except (OSError, ValueError):
            continue
    return None


def check_fits(needed, what, lower, device=None):
    """InputError when `needed` bytes exceed the memory available; `what` says what needs it, `lower` which
    options to lower (e.g. "--max-tokens (now 512) or --batch-size (now 32)")."""
    if os.environ.get("DNABERT2_SKIP_MEMORY_CHECK"):
        return
    available = available_bytes(device)
    if available is None or needed <= available:
        return
    where = "GPU memory" if device is not None and getattr(device, "type", "") == "cuda" else "memory"
    raise InputError(f"{what} needs about {_size(needed)} of {where}, more than the {_size(available)} available; "
                     f"lower {lower}")


def _size(n):
    return f"{n / GIB:.1f} GiB" if n >= GIB else f"{n / 2**20:.0f} MiB"
