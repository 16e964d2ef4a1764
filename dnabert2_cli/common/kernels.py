"""How a training run's encoder computes (`pretrain`, `finetune`, `benchmark gue`): the attention backend and
`torch.compile` put on the model (`KernelSettings`' --attention and --compile, `use_kernels`), and packed batches
(--pack, `PackSettings`): a micro-batch's sequences laid end to end in one row.

A padded batch (`input_ids`, `attention_mask` and any other `[batch, seq]` tensor: labels, token types) becomes
`input_ids [1, T]`, the same tensors packed alike, and `cu_seqlens` (`model.packing.pack_padded`), which every
model of `dnabert2.model` takes instead of the mask; the numbers are the padded batch's (to 1e-5 in fp32). It
pays where the attention backend works on the token matrix as is (`flex`, `flash_attention_2`): then no layer
ever sees a padded shape. `sdpa` and `eager` re-pad a packed batch per sequence, so there it only costs the
re-padding; `--pack` auto therefore packs for the first two only, and the default CPU run (sdpa) stays padded.
"""
from dataclasses import dataclass

from dnabert2.common.fields import RUN, option


@dataclass
class PackSettings:
    """--pack/--no-pack of the training commands; None (neither given) is auto."""
    pack: bool = option(None, "Lay each micro-batch's sequences end to end in one row (no padding anywhere).",
                        group=RUN, flag="negatable",
                        default_text="auto: packed with --attention flex or flash_attention_2, else padded")

    def packs(self, backend):
        """Whether this run packs, with attention `backend` (the name the run uses: given, or auto's pick)."""
        return packs(self.pack, backend)


def packs(pack, backend):
    """--pack as given (True/False), or auto (None): packed where `backend` attends on the token matrix as it is
    (flex, flash_attention_2), padded otherwise. The training commands and the region commands decide alike."""
    from dnabert2.model.attention import TOKEN_MATRIX_BACKENDS  # imports torch

    return bool(pack) if pack is not None else backend in TOKEN_MATRIX_BACKENDS


def pack_batch(batch):
    """A padded batch (dict of [batch, seq] tensors with `attention_mask`, right-padded) -> the packed batch: each
    tensor [1, T], `cu_seqlens` instead of `attention_mask`."""
    from dnabert2.model import pack_padded

    mask = batch["attention_mask"]
    ids, cu_seqlens = pack_padded(batch["input_ids"], mask)
    packed = {name: pack_padded(values, mask)[0] for name, values in batch.items()
              if name not in ("input_ids", "attention_mask")}
    return {"input_ids": ids, **packed, "cu_seqlens": cu_seqlens}


def sequences_in(batch):
    """The sequences of a padded or packed batch."""
    if "cu_seqlens" in batch:
        return int(batch["cu_seqlens"].numel()) - 1
    return int(batch["input_ids"].shape[0])


def real_tokens(batch):
    """The real (not padding) tokens of a padded or packed batch."""
    if "attention_mask" in batch:
        return int(batch["attention_mask"].sum())
    return int(batch["input_ids"].numel())


@dataclass(frozen=True)
class Kernels:
    """How one training run computes: the attention backend it set (None: chosen per call), whether it packs its
    batches and compiles its encoder. `Kernels.of(settings, device, dtype)` checks and decides them before
    anything is read or written."""
    attention: str
    backend: str  # the backend the run's training steps use: `attention`, or auto's pick for the device and dtype
    packed: bool
    compile: bool

    @classmethod
    def of(cls, settings, device, dtype):
        """From a run's KernelSettings and PackSettings fields; InputError when --attention cannot train on
        `device` (flash_attention_2 off CUDA or without flash-attn; flex on the CPU, which has no backward)."""
        from dnabert2.common.models import attention_backend
        from dnabert2.model.attention import choose_backend

        attention = attention_backend(settings.attention, device, grad=True)
        backend = attention or choose_backend(None, device, dtype, grad=True)
        return cls(attention, backend, settings.packs(backend), bool(settings.compile))

    def apply(self, model):
        """Put the backend on `model` and, with --compile, compile its encoder layers in place
        (`model.compile_encoder`: parameter names, saving and loading unchanged; the first forward and backward pay
        for the compilation). Call it once the model is on its device; returns `model`."""
        if self.attention is not None:
            model.set_attn_implementation(self.attention)
        if self.compile:
            from dnabert2.model import compile_encoder

            compile_encoder(model)
        return model

    def batch(self, batch):
        """A padded batch as this run feeds it to the model: packed (`pack_batch`) or as it is."""
        return pack_batch(batch) if self.packed else batch

    def line(self):
        """For the run's set-up line: '; attention flex, packed batches, compiled encoder ...'; '' for a default run
        (auto attention, padded, not compiled), whose line stays as it was."""
        if self.attention is None and not self.packed and not self.compile:
            return ""
        name = self.attention or f"auto ({self.backend})"
        return (f"; attention {name}, {'packed' if self.packed else 'padded'} batches"
                + (", compiled encoder (the first step compiles)" if self.compile else ""))
