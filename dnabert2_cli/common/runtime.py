"""Where and how a run computes: --device and --precision as torch objects (checked before any data is read),
mixed precision, CPU threads, the torchrun environment, and whether to draw progress bars."""
import contextlib
import os
import sys
from dataclasses import dataclass

from dnabert2.common.fields import RUN, option
from dnabert2.errors import InputError

PRECISIONS = ("auto", "fp32", "bf16", "fp16")
# precision names of the options -> torch dtype names
DTYPE_NAMES = {"fp32": "float32", "bf16": "bfloat16", "fp16": "float16"}
# the environment variable that says what --precision auto means (unset: chosen per device)
PRECISION_ENV = "DNABERT2_PRECISION"


@dataclass
class ThreadSettings:
    """CPU threads: the option of every command that reads and tokenises (vocab too, which runs no model)."""
    threads: int = option(None, "CPU threads for reading and tokenising (default: all cores).", group=RUN, minimum=1)


@dataclass
class _Placement:
    device: str = option("auto", "auto, cpu, cuda or cuda:N (auto picks CUDA when present).", group=RUN)
    precision: str = option("auto", "Numeric precision of the model (auto: bf16 on a GPU or CPU that computes it "
                                    "natively (CPU: AMX or AVX512-BF16), else fp32; the summary names the one used).",
                            group=RUN, choices=PRECISIONS)


# --attention: "auto" (choose_backend's pick per device and dtype, docs/gpu.md) or one backend of model/attention.py
ATTENTIONS = ("auto", "sdpa", "eager", "flex", "flash_attention_2")


@dataclass
class KernelSettings:
    """How the encoder computes: the attention backend and torch.compile (the commands that run many batches)."""
    attention: str = option("auto", "Attention backend: auto (the fastest measured for the device and precision, "
                                    "see docs/gpu.md), sdpa, eager, flex (FlexAttention, ALiBi as a score_mod) or "
                                    "flash_attention_2 (needs the dnabert2[gpu] extra).", group=RUN,
                            choices=ATTENTIONS)
    compile: bool = option(False, "torch.compile the encoder layers (the first batches compile; the summary says for "
                                  "how long; pays for itself on long GPU runs only).", group=RUN, flag="negatable")


@dataclass
class DeviceSettings(ThreadSettings, _Placement):
    """Where a run computes: the options of every command that runs the model (--device, --precision, then
    --threads: a dataclass lists the fields of its last base first)."""


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
    """--precision -> torch dtype for the given device.

    auto: the precision named by the environment variable DNABERT2_PRECISION when it is set (fp32, bf16 or fp16:
    the same numbers on every machine, as the test suite wants); else bf16 on CUDA that supports it and on a CPU
    that computes bf16 natively (`cpu_has_native_bf16`), fp32 elsewhere (a CPU without it emulates bf16, several
    times slower than fp32).
    """
    import torch

    if precision not in PRECISIONS:
        raise InputError(f"--precision {precision!r}: expected one of {', '.join(PRECISIONS)}")
    if precision == "auto":
        precision = os.environ.get(PRECISION_ENV) or "auto"
        if precision not in PRECISIONS:
            raise InputError(f"{PRECISION_ENV}={precision}: expected one of {', '.join(DTYPE_NAMES)}")
    if precision == "auto":
        if device.type == "cuda" and torch.cuda.is_bf16_supported():
            return torch.bfloat16
        if device.type == "cpu" and cpu_has_native_bf16():
            return torch.bfloat16
        return torch.float32
    return {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]


# /proc/cpuinfo flags of the x86 instructions that compute bf16 in hardware (Intel AMX; AVX512-BF16 on Intel
# Cooper Lake and later, AMD Zen 4 and later)
NATIVE_BF16_FLAGS = ("amx_bf16", "avx512_bf16")


def cpu_has_native_bf16(cpuinfo="/proc/cpuinfo"):
    """True when the processor's flags include AMX-BF16 or AVX512-BF16; False where it cannot be told."""
    try:
        with open(cpuinfo) as fh:
            for line in fh:
                if line.startswith("flags"):
                    return any(flag in line.split() for flag in NATIVE_BF16_FLAGS)
    except OSError:
        pass
    return False


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


@contextlib.contextmanager
def run_threads(threads):
    """The threads of a model run over regions: `threads` for torch inside the block and, when given, for the
    tokenizer's Rust pool too (RAYON_NUM_THREADS, read when the pool is made on first use; a value already set
    in the environment wins)."""
    if threads:
        os.environ.setdefault("RAYON_NUM_THREADS", str(threads))
    with torch_threads(threads):
        yield


def show_progress(quiet):
    """A progress bar only when not --quiet and stderr is a terminal."""
    return (not quiet) and sys.stderr.isatty()
