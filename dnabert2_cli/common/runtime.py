"""Where and how a run computes: --device and --precision as torch objects (checked before any data is read),
mixed precision, CPU threads, the torchrun environment, and whether to draw progress bars."""
import contextlib
import os
import sys
from dataclasses import dataclass

from dnabert2.errors import InputError

PRECISIONS = ("auto", "fp32", "bf16", "fp16")
# precision names of the options -> torch dtype names
DTYPE_NAMES = {"fp32": "float32", "bf16": "bfloat16", "fp16": "float16"}


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


def precision_name(dtype):
    """torch dtype -> "fp32", "bf16" or "fp16"."""
    name = str(dtype).replace("torch.", "")
    return next(short for short, long in DTYPE_NAMES.items() if long == name)


@dataclass(frozen=True)
class TorchRun:
    """This process's place under torchrun (rank 0 of 1 when started without it)."""
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def distributed(self):
        return self.world_size > 1


def torchrun():
    """RANK, WORLD_SIZE and LOCAL_RANK as torchrun sets them."""
    env = os.environ
    return TorchRun(int(env.get("RANK", "0") or 0), int(env.get("WORLD_SIZE", "1") or 1),
                    int(env.get("LOCAL_RANK", "0") or 0))


@contextlib.contextmanager
def torch_threads(threads):
    """torch uses `threads` CPU threads inside the block (all when None), then what it used before."""
    import torch

    previous = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def show_progress(quiet):
    """A progress bar only when not --quiet and stderr is a terminal."""
    return (not quiet) and sys.stderr.isatty()
