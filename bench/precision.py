"""CPU forward speed in fp32 and bf16, and what `--precision auto` picks on this machine.

Run by hand: `python bench/precision.py` (about 3 minutes on 2 cores; `--repeats 5` for steadier numbers).

Models: the shipped pretrained model (`dnabert2.shipped.model_path("pretrained")`, 1.6M parameters) and a random
model of the released shape (`dnabert2-117m`: 12 layers, hidden 768). Input: random token ids, batches of 512
tokens (no padding). Each case is warmed up once, then timed `--repeats` times; the table gives the fastest run
(the one least disturbed by other work on the machine) and the median.
"""
import argparse
import os
import statistics
import time

CASES = [("shipped", 8), ("dnabert2-117m", 1), ("dnabert2-117m", 4)]  # (model, sequences of 512 tokens)
TOKENS = 512


def load(name):
    import torch

    from dnabert2.model import DNABert2Config, DNABert2Model

    if name == "shipped":
        from dnabert2.common.models import load_model
        from dnabert2.shipped import model_path

        model, _ = load_model(model_path("pretrained"), task="base", device="cpu", dtype="fp32")
        return model
    torch.manual_seed(0)
    return DNABert2Model(DNABert2Config.from_preset(name)).eval()


def timed(model, dtype, batch, repeats):
    import torch

    model = model.to(dtype)
    ids = torch.randint(5, model.config.vocab_size, (batch, TOKENS))
    mask = torch.ones_like(ids)
    times = []
    with torch.inference_mode():
        model(input_ids=ids, attention_mask=mask)  # warm-up
        for _ in range(repeats):
            start = time.perf_counter()
            model(input_ids=ids, attention_mask=mask)
            times.append(time.perf_counter() - start)
    return min(times), statistics.median(times)


def main():
    import torch

    from dnabert2.common.hf import quiet_transformers
    from dnabert2.common.runtime import cpu_has_native_bf16, precision_name, resolve_dtype

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    flags = [f for f in ("avx2", "avx512f", "avx512_bf16", "amx_bf16") if _has_flag(f)]
    os.environ.pop("DNABERT2_PRECISION", None)
    auto = precision_name(resolve_dtype("auto", torch.device("cpu")))
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU capability "
          f"{torch.backends.cpu.get_cpu_capability()}, flags {' '.join(flags)}; native bf16: {cpu_has_native_bf16()}; "
          f"--precision auto picks {auto}; load average {os.getloadavg()[0]:.1f}\n")
    print("| model | batch x tokens | fp32 tokens/s (fastest, median) | bf16 tokens/s (fastest, median) | bf16 / fp32 |")
    print("|---|---|---|---|---|")
    models = {}
    for name, batch in CASES:
        with quiet_transformers(logs=True):
            model = models.setdefault(name, load(name))
        rates = {}
        for dtype in (torch.float32, torch.bfloat16):
            fastest, median = timed(model, dtype, batch, args.repeats)
            rates[dtype] = (batch * TOKENS / fastest, batch * TOKENS / median)
        f32, b16 = rates[torch.float32], rates[torch.bfloat16]
        print(f"| {name} | {batch} x {TOKENS} | {f32[0]:,.0f} ({f32[1]:,.0f}) | {b16[0]:,.0f} ({b16[1]:,.0f}) | "
              f"{b16[0] / f32[0]:.2f}x |", flush=True)


def _has_flag(flag):
    try:
        with open("/proc/cpuinfo") as fh:
            return any(line.startswith("flags") and flag in line.split() for line in fh)
    except OSError:
        return False


if __name__ == "__main__":
    main()
