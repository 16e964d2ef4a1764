"""Tokens per second, peak memory and MFU of the encoder per attention backend, padded and packed, plain and
compiled: on a CUDA GPU at full size, on the CPU at small sizes so that every GPU number has a CPU neighbour.

    python bench/backends.py                 # a CUDA GPU: full sizes (about 5 minutes on an H100); else --cpu-small
    python bench/backends.py --cpu-small     # the small sizes (about 15 minutes on 2 busy cores)
    python bench/backends.py --interleave    # each case's rows in one process, their calls taken in turn
    python bench/gpu.py --only speed         # the same table as the speed section of the GPU script
    python bench/backends.py --embed-command [--precision fp32]   # `dnabert2.embed` per --attention / --compile

Cases (full size; --cpu-small in brackets), random weights at the released width (hidden 768, 12 heads, GEGLU
3072), 12 layers on a GPU [2 on the CPU], in the precision `--precision auto` picks there (bf16 on a GPU):
- `32x512` [4x512]: lengths 512, 509, 506, ... as real tokenised windows are, padded;
- `8x4096` [1x4096]: lengths 4,096, 4,064, ...;
- `promoters`: the 67 human chr2 promoter regions of the shared data, tiled at 2 kbp (one window each: 202-625 bp,
  mixed lengths) [every fourth region, 17];
- `pretrain`: optimisation steps of the masked-LM at batch 256 [16] x 128 tokens through `dnabert2 pretrain`'s own
  code: windows of the chr2 slice drawn by its sampler, masked (15%, 80/10/10) and padded or packed by
  `pretraining.batches.MicroBatches` (`--pack`), the loss of `pretraining.objective` (the head on masked tokens
  only), fp32 weights under bf16 autocast (where bf16 is the precision), gradients clipped, AdamW of
  `common.optim`.

Rows: `sdpa`, `eager`, `flex` (padded input; FlexAttention on the unpadded tokens), `X+packed` (the same sequences
packed in one row with `cu_seqlens`), `X+compiled` (`compile_encoder`), `flash_attention_2` where flash-attn is
installed. A row that cannot run says why (flex has no backward pass on the CPU).

Columns: the median time of `--repeats` calls after `--warmup` (the first call, which compiles, is timed apart:
`first s`, from a cold inductor cache; in one process, a GPU's or `--interleave`, a row reuses kernels an earlier
row compiled); tokens/s (real tokens); peak memory during the timed calls beyond what was held before them (CUDA:
allocated memory; CPU: resident memory, each row in a fresh process; with `--interleave` all rows of a case share
one process and take their timed calls in turn, which keeps a shared machine's changing load off the ratios but
gives no memory figure); model TFLOP/s, counting the encoder's useful
work only (matrix products on real tokens and attention over each sequence's own tokens, `bench/model.py`'s
count; training is 3x the forward); MFU, that rate over the card's dense bf16 peak (looked up by card name,
printed; `--peak-tflops` for another card) or, on the CPU, over the rate of one linear layer of the model's shape
in the same precision timed between the row's calls (`linear`, TFLOP/s: the machine's practical peak under the same
load). The genome column: hours to embed a 3.1 Gbp genome in 2 kbp windows at
the `32x512` rate (12 layers; CPU rates scaled from the layers run), forward passes only.
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

from model import reset_peak, rss_kib, useful_gflop
from random_model import SHARED

CHR2 = SHARED / "genomes" / "human_hg38_chr2_1-2333275"
GENOME_BP = 3.1e9
GENOME_WINDOW = 2000
# (full size, --cpu-small) per case: sequence lengths, or a count of promoter windows / pretraining windows
CASES = {
    "32x512": ([512 - 3 * i for i in range(32)], [512 - 3 * i for i in range(4)]),
    "8x4096": ([4096 - 32 * i for i in range(8)], [4096]),
    "promoters": (1, 4),  # every n-th region
    "pretrain": (256, 16),  # windows per step
}
SMALL_NAMES = {"32x512": "4x512", "8x4096": "1x4096", "promoters": "promoters/4", "pretrain": "pretrain"}
INFERENCE_ROWS = ["sdpa", "eager", "flex", "flex+packed", "sdpa+compiled", "flex+packed+compiled"]
TRAINING_ROWS = ["sdpa", "sdpa+packed", "eager", "flex", "flex+packed", "sdpa+compiled", "sdpa+packed+compiled",
                 "flex+compiled", "flex+packed+compiled"]
# dense (no sparsity) bf16 tensor-core peaks, TFLOP/s, from NVIDIA's data sheets; the first pattern that matches
# torch.cuda.get_device_name() wins
BF16_PEAK_TFLOPS = [(r"B200", 2250), (r"H200|GH200", 989), (r"H100 NVL", 835), (r"H100 PCIe", 756),
                    (r"H100|H800", 989), (r"A100|A800", 312), (r"L40S", 362), (r"\bL4\b", 121), (r"\bA10\b", 125),
                    (r"RTX 4090", 165)]


def card_peak(name):
    return next((peak for pattern, peak in BF16_PEAK_TFLOPS if re.search(pattern, name)), None)


def promoter_windows(every):
    """Token ids ([CLS] ... [SEP]) of the chr2 promoter regions' 2 kbp windows (every `every`-th region), and the
    bp per real token over them."""
    import pysam

    from dnabert2.tokenizer import load_tokenizer

    tokenizer = load_tokenizer(SHARED / "reference_checkpoint")
    genome = pysam.FastaFile(str(CHR2 / "chr2_1-2333275.fa.gz"))
    texts = []
    for line in (CHR2 / "promoters_chr2_1-2333275.bed").read_text().splitlines()[::every]:
        chrom, start, end = line.split("\t")[:3]
        for offset in range(int(start), int(end), GENOME_WINDOW):
            texts.append(genome.fetch(chrom, offset, min(int(end), offset + GENOME_WINDOW)).upper())
    rows = tokenizer(texts)["input_ids"]
    return rows, sum(map(len, texts)) / sum(len(r) - 2 for r in rows)


def pretrain_windows(count, max_tokens=128, seed=0):
    """Token ids of `count` pretraining windows of the chr2 slice, drawn as `dnabert2 pretrain` draws them."""
    import numpy as np

    from dnabert2.pretraining.genomes import WindowSampler, encode_windows, measure_window_bp, read_genomes
    from dnabert2.tokenizer import load_tokenizer

    tokenizer = load_tokenizer(SHARED / "reference_checkpoint")
    genomes = read_genomes([str(CHR2 / "chr2_1-2333275.fa.gz")])
    sampler = WindowSampler(genomes, measure_window_bp(tokenizer, genomes, max_tokens))
    rng = np.random.default_rng(seed)
    return encode_windows(tokenizer, [sampler.window(rng) for _ in range(count)], max_tokens)


def case_rows(case, small):
    """(token-id rows, bp per token or None) of a case."""
    spec = CASES[case][1 if small else 0]
    if case == "promoters":
        return promoter_windows(spec)
    if case == "pretrain":
        return pretrain_windows(spec), None
    return [[5 + (7 * i + j) % 4000 for j in range(n)] for i, n in enumerate(spec)], None


def inputs(rows, packed, device):
    """Model keyword arguments for `rows`: padded (input_ids, attention_mask) or packed (input_ids, cu_seqlens)."""
    import torch

    from dnabert2.common.batching import pad_rows
    from dnabert2.common.kernels import pack_batch

    ids, mask = (torch.from_numpy(x) for x in pad_rows(rows, 3))
    out = {"input_ids": ids, "attention_mask": mask}
    if packed:
        out = pack_batch(out)
    return {name: value.to(device) for name, value in out.items()}


class WindowRows:
    """A pretraining data source (`rows(indices)`, as `pretraining.batches` reads one) over fixed token rows."""

    def __init__(self, rows):
        self.windows = rows

    def rows(self, indices):
        return [self.windows[i] for i in indices]


def pretraining_step(model, rows, packed, device, dtype):
    """One optimisation step of `rows` as `dnabert2 pretrain` takes it (one micro-batch, one rank): masked and
    padded or packed by `MicroBatches`, the summed masked-LM loss of `masked_lm_objective` over the masked tokens,
    gradients clipped at 1, AdamW with the paper's settings."""
    import torch

    from dnabert2.common.optim import make_optimizer
    from dnabert2.common.runtime import autocast
    from dnabert2.pretraining.batches import MicroBatches
    from dnabert2.pretraining.masking import IGNORE_INDEX, MaskingConfig
    from dnabert2.pretraining.objective import masked_lm_objective
    from dnabert2.tokenizer import load_tokenizer

    tokenizer = load_tokenizer(SHARED / "reference_checkpoint")
    batches = MicroBatches(WindowRows(rows), MaskingConfig.from_tokenizer(tokenizer), max(map(len, rows)),
                           tokenizer.pad_token_id, len(rows), seed=0, pack=packed)
    batch = {name: value.to(device) for name, value in batches[0].items()}
    masked = float((batch["labels"] != IGNORE_INDEX).sum())
    objective = masked_lm_objective(model)
    optimizer = make_optimizer(model, 5e-4, 1e-5, betas=(0.9, 0.98), eps=1e-6)
    model.train()

    def call():
        with autocast(device, dtype):
            loss_sum, _ = objective(**batch)
        (loss_sum / masked).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    return call


def prepare(case, row, small, layers, dtype_name):
    """(call, device, real tokens, GFLOP of one call): one forward (or training step) of `row` on `case`, ready."""
    import torch

    from dnabert2.common.runtime import resolve_device, resolve_dtype
    from dnabert2.model import DNABert2Config, DNABert2ForMaskedLM, compile_encoder

    device = resolve_device("auto")
    dtype = resolve_dtype(dtype_name, device)
    backend, packed, compiled = row.split("+")[0], "+packed" in row, "+compiled" in row
    training = case == "pretrain"
    torch.manual_seed(0)
    cfg = DNABert2Config(num_hidden_layers=layers, attn_implementation=backend)
    model = DNABert2ForMaskedLM(cfg).to(device)
    if compiled:
        compile_encoder(model)
    rows, _ = case_rows(case, small)
    lengths = [len(r) for r in rows]
    gflop = useful_gflop(cfg, lengths) * (3 if training else 1)
    if training:
        call = pretraining_step(model, rows, packed, device, dtype)
    else:
        model = model.to(dtype).eval()
        batch = inputs(rows, packed, device)

        def call():
            with torch.inference_mode():
                model.bert(**batch)

    def timed():
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        call()
        if device.type == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter() - start

    return timed, device, sum(lengths), gflop


def linear_timer(dtype_name):
    """A function timing one linear layer of the model's shape (2048 tokens, 768 -> 3072) on the CPU in the run's
    precision, returning its TFLOP/s: the CPU's reference rate for MFU, taken between a row's calls so that it
    sees the same load."""
    import torch
    import torch.nn.functional as F

    from dnabert2.common.runtime import resolve_dtype

    dtype = resolve_dtype(dtype_name, torch.device("cpu"))
    x, w = torch.randn(2048, 768).to(dtype), torch.randn(3072, 768).to(dtype)

    def rate():
        with torch.inference_mode():
            start = time.perf_counter()
            F.linear(x, w)
            return 2 * 2048 * 768 * 3072 / (time.perf_counter() - start) / 1e12

    rate()
    return rate


def result(tokens, gflop, first, times, peak_bytes=None, linear_rates=None):
    seconds = statistics.median(times)
    return {"tokens": tokens, "seconds": seconds, "first_s": first, "tflops": gflop / seconds / 1e3,
            "peak_mib": None if peak_bytes is None else peak_bytes / 2**20,
            "linear_tflops": statistics.median(linear_rates) if linear_rates else None}


def why_not(error):
    """The first sentence of why a row cannot run, without the advice to use sdpa."""
    return str(error).split(" (use attn_implementation")[0].split("cannot run here: ")[-1].split(". ")[0]


def warm_up(timed, warmup):
    """Call `timed` `warmup` times (at least once); the first call's seconds (compilation included)."""
    first = timed()
    for _ in range(warmup - 1):
        timed()
    return first


def measure(case, row, small, layers, dtype_name, repeats, warmup):
    """One (case, row): a dict of numbers, or {"error": why}."""
    import torch

    from dnabert2.errors import InputError

    timed, device, tokens, gflop = prepare(case, row, small, layers, dtype_name)
    try:
        first = warm_up(timed, warmup)
        linear = linear_timer(dtype_name) if device.type == "cpu" else None
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats()
            base = torch.cuda.memory_allocated()
        else:
            base = rss_kib("VmRSS") * 1024
            reset_peak()
        times, rates = [], []
        for _ in range(repeats):
            times.append(timed())
            if linear is not None:
                rates.append(linear())
        peak = (torch.cuda.max_memory_allocated() if device.type == "cuda" else rss_kib("VmHWM") * 1024) - base
    except InputError as error:
        return {"error": why_not(error)}
    except torch.OutOfMemoryError:
        return {"error": "out of GPU memory"}
    return result(tokens, gflop, first, times, peak, rates)


def interleaved(case, rows, small, layers, dtype_name, repeats, warmup):
    """Every row of a case in this one process, their timed calls taken in turn (row 1, row 2, ..., row 1, ...),
    so that a shared machine's changing load falls on all rows alike; no memory figure. {row: numbers}."""
    from dnabert2.errors import InputError

    ready, out, rates = {}, {}, []
    for row in rows:
        timed, device, tokens, gflop = prepare(case, row, small, layers, dtype_name)
        try:
            ready[row] = (timed, tokens, gflop, warm_up(timed, warmup), [])
        except InputError as error:
            out[row] = {"error": why_not(error)}
    linear = linear_timer(dtype_name) if device.type == "cpu" else None
    for _ in range(repeats):
        for timed, *_, times in ready.values():
            times.append(timed())
        if linear is not None:
            rates.append(linear())
    out.update({row: result(tokens, gflop, first, times, linear_rates=rates)
                for row, (_, tokens, gflop, first, times) in ready.items()})
    return {row: out[row] for row in rows}


def run_row(args, case, row):
    """measure() in this process (CUDA) or in a fresh one (CPU: so that its peak memory is its own)."""
    if not args.cpu_small:
        return measure(case, row, False, args.layers, args.precision, args.repeats, args.warmup)
    job = json.dumps({"case": case, "row": row, "small": True, "layers": args.layers, "dtype_name": args.precision,
                      "repeats": args.repeats, "warmup": args.warmup})
    env = dict(os.environ, TORCHINDUCTOR_CACHE_DIR=tempfile.mkdtemp(prefix="inductor-"))  # compile from cold
    done = subprocess.run([sys.executable, __file__, "--child", job], capture_output=True, text=True, env=env)
    if done.returncode != 0:
        return {"error": f"failed: {done.stderr.strip().splitlines()[-1] if done.stderr.strip() else done.returncode}"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def header(args):
    """Print the machine's lines; returns the peak TFLOP/s MFU is against (None on the CPU: the timed linear
    layer of each row, unless --peak-tflops)."""
    import torch

    from dnabert2.common.runtime import precision_name, resolve_device, resolve_dtype

    device = resolve_device("auto")
    dtype = resolve_dtype(args.precision, device)
    print(f"torch {torch.__version__}, {precision_name(dtype)}, {args.layers} layers at hidden 768, "
          f"median of {args.repeats} after {args.warmup} warm-up call(s)")
    if device.type == "cuda":
        name = torch.cuda.get_device_name(0)
        peak = args.peak_tflops or card_peak(name)
        if peak is None:
            print(f"{name}: dense bf16 peak unknown (give --peak-tflops); MFU n/a")
            return None
        print(f"{name}: dense bf16 peak {peak} TFLOP/s (MFU is against it)")
        return peak
    print(f"CPU, {torch.get_num_threads()} threads, load average {os.getloadavg()[0]:.1f}; MFU is against one "
          f"2048x768x3072 linear layer in {precision_name(dtype)}, timed between the row's calls (column 'linear')")
    return args.peak_tflops


# `--embed-command`: `dnabert2.embed` itself (reading, tokenising, batching, pooling, writing) per --attention and
# --compile, on the 67 chr2 promoter regions tiled at 2 kbp
EMBED_ROWS = {"sdpa": {"attention": "sdpa"}, "sdpa+packed": {"attention": "sdpa", "pack": True},
              "flex": {"attention": "flex"}, "sdpa+compile": {"attention": "sdpa", "compile": True},
              "flex+compile": {"attention": "flex", "compile": True}}


def embed_child(folder, row, device, precision, runs):
    """In a fresh process: `runs` embed runs of the promoters with one row's options; their summaries."""
    import dnabert2

    out = []
    for _ in range(runs):
        summary = dnabert2.embed(bed=str(CHR2 / "promoters_chr2_1-2333275.bed"), ref=str(CHR2 / "chr2_1-2333275.fa.gz"),
                                 model=folder, window=GENOME_WINDOW, device=device, precision=precision,
                                 **EMBED_ROWS[row])["summary"]
        out.append({key: summary[key] for key in ("tokens", "seconds", "model_seconds", "model_calls",
                                                  "first_call_seconds", "attention", "packed", "precision")})
    return out


def embed_table(layers, device="cpu", precision="auto", runs=3, rows=None):
    """Print, per row of EMBED_ROWS, the first run (compilation included) and the later runs of `dnabert2.embed`
    on the promoters with a random model of `layers` layers at the released width, each row in its own process
    (a cold inductor cache)."""

    from dnabert2.common.hf import quiet_transformers
    from dnabert2.model import DNABert2Config, DNABert2ForMaskedLM
    from dnabert2.tokenizer import load_tokenizer

    print(f"dnabert2.embed of the 67 chr2 promoter regions in 2 kbp windows, {layers} layers at the released width, "
          f"--device {device} --precision {precision}; {runs} runs per process, tokens/s of the model calls")
    print(f"{'row':<14} {'attention':<10} {'packed':<6} {'precision':<9} {'tokens':>6} {'calls':>5} "
          f"{'first run s':>11} "
          f"{'first call s':>12} {'later run s':>11} {'tokens/s':>10}")
    with tempfile.TemporaryDirectory() as tmp:
        import torch

        torch.manual_seed(0)
        config = DNABert2Config.from_preset("dnabert2-117m", num_hidden_layers=layers)
        with quiet_transformers():
            DNABert2ForMaskedLM(config).save_pretrained(tmp)
        load_tokenizer(SHARED / "reference_checkpoint").save_pretrained(tmp)
        for row in rows or EMBED_ROWS:
            job = json.dumps({"folder": tmp, "row": row, "device": device, "precision": precision, "runs": runs})
            env = {**os.environ, "TORCHINDUCTOR_CACHE_DIR": tempfile.mkdtemp(prefix="inductor-")}
            done = subprocess.run([sys.executable, __file__, "--embed-child", job], capture_output=True, text=True,
                                  env=env)
            if done.returncode != 0:
                print(f"{row:<14} n/a: {(done.stderr.strip().splitlines() or ['?'])[-1]}", flush=True)
                continue
            first, *later = json.loads(done.stdout.strip().splitlines()[-1])
            rate = statistics.median(r["tokens"] / r["model_seconds"] for r in later or [first])
            later_s = statistics.median(r["seconds"] for r in later) if later else float("nan")
            print(f"{row:<14} {first['attention']:<10} {str(first['packed']):<6} {first['precision']:<9} "
                  f"{first['tokens']:>6,} {first['model_calls']:>5} {first['seconds']:>11.1f} "
                  f"{first['first_call_seconds']:>12.2f} "
                  f"{later_s:>11.2f} {rate:>10,.0f}", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cpu-small", action="store_true", help="small sizes (the default without a CUDA GPU)")
    parser.add_argument("--layers", type=int, help="encoder layers (default 12; 2 with --cpu-small)")
    parser.add_argument("--cases", default=",".join(CASES), help=f"comma-separated, of {', '.join(CASES)}")
    parser.add_argument("--rows", help="comma-separated rows (default: all that apply)")
    parser.add_argument("--precision", default="auto", help="auto (bf16 on a GPU), fp32 or bf16")
    parser.add_argument("--repeats", type=int, help="timed calls per row (default 10; 2 with --cpu-small)")
    parser.add_argument("--warmup", type=int, help="calls before timing, the first included (default 3; 1)")
    parser.add_argument("--peak-tflops", type=float, help="the card's dense bf16 peak, if not in the table")
    parser.add_argument("--interleave", action="store_true",
                        help="a case's rows in one process, timed calls in turn (steadier ratios on a shared "
                             "machine; no memory figures)")
    parser.add_argument("--embed-command", action="store_true",
                        help="instead: dnabert2.embed of the promoters per --attention and --compile (EMBED_ROWS)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--embed-child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    if args.embed_child:
        import warnings

        warnings.simplefilter("ignore")
        print(json.dumps(embed_child(**json.loads(args.embed_child))))
        return
    if args.embed_command:
        import torch

        cpu = args.cpu_small or not torch.cuda.is_available()
        return embed_table(args.layers or (2 if cpu else 12), "cpu" if cpu else "cuda", args.precision,
                           rows=args.rows.split(",") if args.rows else None)
    if args.child:
        import warnings

        warnings.simplefilter("ignore")
        print(json.dumps(measure(**json.loads(args.child))))
        return
    # compile from a cold cache, as a first run would (CPU rows in their own processes get their own)
    os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", tempfile.mkdtemp(prefix="inductor-"))
    import torch

    args.cpu_small = args.cpu_small or not torch.cuda.is_available()
    args.layers = args.layers or (2 if args.cpu_small else 12)
    args.repeats = args.repeats or (2 if args.cpu_small else 10)
    args.warmup = args.warmup or (1 if args.cpu_small else 3)
    table(args)


def table(args):
    """Measure every (case, row) and print the table."""
    import importlib.util
    import warnings

    warnings.simplefilter("ignore")
    peak = header(args)
    flash = importlib.util.find_spec("flash_attn") is not None and not args.cpu_small
    _, bp_per_token = promoter_windows(CASES["promoters"][1 if args.cpu_small else 0])
    genome_tokens = GENOME_BP / GENOME_WINDOW * (GENOME_WINDOW / bp_per_token + 2)
    print(f"promoter windows: {bp_per_token:.2f} bp per token; a 3.1 Gbp genome in 2 kbp windows is "
          f"{genome_tokens / 1e6:.0f} M tokens")
    fill = []
    for case in args.cases.split(","):
        lengths = [len(r) for r in case_rows(case, args.cpu_small)[0]]
        fill.append(f"{SMALL_NAMES[case] if args.cpu_small else case} {len(lengths)} x {max(lengths)} "
                    f"({sum(lengths) / len(lengths) / max(lengths):.0%} real)")
    print(f"padded batches: {', '.join(fill)}\n")
    print(f"{'case':<12} {'row':<22} {'ms':>9} {'first s':>8} {'tokens/s':>10} {'peak MiB':>9} {'TFLOP/s':>8} "
          f"{'MFU':>6} {'linear':>7} {'genome h':>9}")
    wanted = args.rows.split(",") if args.rows else None
    for case in args.cases.split(","):
        rows = TRAINING_ROWS if case == "pretrain" else INFERENCE_ROWS + (
            ["flash_attention_2", "flash_attention_2+packed"] if flash else [])
        name = SMALL_NAMES[case] if args.cpu_small else case
        rows = [row for row in rows if not wanted or row in wanted]
        if args.interleave:
            results = interleaved(case, rows, args.cpu_small, args.layers, args.precision, args.repeats, args.warmup)
        for row in rows:
            r = results[row] if args.interleave else run_row(args, case, row)
            if "error" in r:
                print(f"{name:<12} {row:<22} n/a: {r['error']}", flush=True)
                continue
            tokens_per_s = r["tokens"] / r["seconds"]
            reference = peak or r["linear_tflops"]
            mfu = f"{r['tflops'] / reference:.1%}" if reference else "n/a"
            linear = f"{r['linear_tflops']:.3f}" if r["linear_tflops"] else ""
            genome = ""
            if case == "32x512":
                genome = f"{genome_tokens / tokens_per_s / 3600 * 12 / args.layers:.1f}"
            peak_mib = "n/a" if r["peak_mib"] is None else f"{r['peak_mib']:.0f}"
            print(f"{name:<12} {row:<22} {r['seconds'] * 1e3:>9.1f} {r['first_s']:>8.1f} {tokens_per_s:>10,.0f} "
                  f"{peak_mib:>9} {r['tflops']:>8.3f} {mfu:>6} {linear:>7} {genome:>9}", flush=True)


if __name__ == "__main__":
    main()
