"""Turning the user's --device and --precision into torch objects, checked before any data is read."""
import contextlib

from dnabert2.errors import InputError

PRECISIONS = ("auto", "fp32", "bf16", "fp16")


def resolve_device(name="auto"):
    """'auto' | 'cpu' | 'cuda' | 'cuda:N' -> torch.device; InputError when CUDA is asked for and absent."""
    import torch

    name = (name or "auto").strip().lower()
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, ValueError):
        raise InputError(f"--device {name!r}: expected auto, cpu, cuda or cuda:N") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise InputError(f"--device {name}: CUDA is not available on this machine (use --device cpu)")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise InputError(f"--device {name}: only {torch.cuda.device_count()} CUDA device(s) present")
    elif device.type not in ("cpu", "mps"):
        raise InputError(f"--device {name!r}: expected auto, cpu, cuda or cuda:N")
    return device


def resolve_dtype(precision, device):
    """--precision -> torch dtype for the given device. auto: bf16 on CUDA that supports it, else fp32."""
    import torch

    if precision not in PRECISIONS:
        raise InputError(f"--precision {precision!r}: expected one of {', '.join(PRECISIONS)}")
    if precision == "auto":
        if device.type == "cuda" and torch.cuda.is_bf16_supported():
            return torch.bfloat16
        return torch.float32
    return {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]


def autocast(device, dtype):
    """An autocast context for mixed precision training (a no-op in fp32)."""
    import torch

    if dtype == torch.float32:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)
