"""Pretraining throughput: training tokens/s of the tiny, small and 117M models on CPU in fp32 and bf16, and the
share of step time spent waiting on data (goal: under 5%, i.e. the run is model-bound).

Run by hand: `python bench/pretrain.py` (a few minutes on 2 cores; `--presets tiny,small` for a quick look;
`--device cuda` on a GPU; `--packs off,on` to compare padded and packed micro-batches, `--attention flex` and
`--compile` for the other kernels of `dnabert2 pretrain`).

Each case is a real `dnabert2.pretrain` run on the E. coli genome of the shared data (random windows, tokenised
and masked in DataLoader worker processes, batch of --batch-size windows of 128 tokens), with no evaluation and
one checkpoint at the end. The figures come from its own log.jsonl (one record per step): tokens/s counts real
(non-padding) tokens of the batch; data wait is the time the loop blocked on the next batch over the step time.
The first --skip steps (start-up, first allocation) are left out; the median step is reported.
"""
import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("DNABERT2_SHARED_DATA", REPO.parent / "shared" / "data"))
GENOME = SHARED / "genomes" / "ecoli_k12_mg1655" / "GCF_000005845.2_ASM584v2_genomic.fna.gz"
TOKENIZER = SHARED / "reference_checkpoint"
STEPS = {"tiny": 30, "small": 15, "dnabert2-117m": 4}


def run_case(preset, precision, pack, args):
    import dnabert2

    steps = args.steps or STEPS[preset]
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run"
        t0 = time.perf_counter()
        summary = dnabert2.pretrain([GENOME], out, tokenizer=TOKENIZER, model_config=preset, precision=precision,
                                    device=args.device, batch_size=args.batch_size, max_tokens=128, max_steps=steps,
                                    warmup_steps=1, eval_every=0, save_every=10 ** 9, log_every=1,
                                    num_workers=args.workers, threads=args.threads, seed=0, force=True,
                                    pack=pack == "on", attention=args.attention, compile=args.compile)
        wall = time.perf_counter() - t0
        records = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines() if line.strip()]
    steady = [r for r in records if "tokens_per_s" in r and r["step"] > args.skip] or records
    return {
        "preset": preset, "precision": precision, "parameters": summary["parameters"], "steps": steps,
        "pack": pack, "attention": summary["attention"],
        "tokens_per_s": statistics.median(r["tokens_per_s"] for r in steady),
        "data_wait": statistics.mean(r["data_wait"] for r in steady),
        "loss": records[-1]["loss"], "wall_s": wall,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", default="tiny,small,dnabert2-117m")
    parser.add_argument("--precisions", default="fp32,bf16")
    parser.add_argument("--packs", default="off", help="off, on or off,on: padded and/or packed micro-batches")
    parser.add_argument("--attention", default="auto", help="pretrain's --attention (default auto)")
    parser.add_argument("--compile", action="store_true", help="pretrain's --compile")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--steps", type=int, default=None, help="steps per case (default: by model size)")
    parser.add_argument("--skip", type=int, default=1, help="first steps left out of the figures")
    parser.add_argument("--workers", type=int, default=1, help="DataLoader worker processes")
    parser.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads (1: on a small shared machine more threads than free cores thrash)")
    args = parser.parse_args()
    if not GENOME.exists():
        sys.exit(f"shared data not found: {GENOME}")

    import torch
    where = torch.cuda.get_device_name(0) if args.device.startswith("cuda") else "CPU"
    print(f"# dnabert2 pretrain throughput: {where}, {args.threads} "
          f"torch threads, {os.cpu_count()} cores, batch {args.batch_size} x 128 tokens, "
          f"{args.workers} data worker(s), torch {torch.__version__}")
    print()
    print("| model | params | precision | attention | batches | tokens/s | steps/s | data wait | loss at end "
          "| wall s |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for preset in args.presets.split(","):
        for precision in args.precisions.split(","):
            for pack in args.packs.split(","):
                r = run_case(preset, precision, pack, args)
                steps_s = r["tokens_per_s"] / (args.batch_size * 128)
                batches = ("packed" if pack == "on" else "padded") + (", compiled" if args.compile else "")
                print(f"| {r['preset']} | {r['parameters'] / 1e6:.1f}M | {r['precision']} | {r['attention']} | "
                      f"{batches} | {r['tokens_per_s']:,.0f} | {steps_s:.2f} | {100 * r['data_wait']:.1f}% | "
                      f"{r['loss']:.3f} | {r['wall_s']:.0f} |", flush=True)


if __name__ == "__main__":
    main()
