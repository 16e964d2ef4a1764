"""Fine-tuning speed and memory on CPU: training sequences/s for the tiny, small and 117M architectures, and peak
memory with and without LoRA. Run by hand; prints a table.

    python bench/finetune.py                       # all presets, LoRA off and on
    python bench/finetune.py --presets tiny,small --threads 1

Each measurement runs `dnabert2.finetune` in a fresh subprocess (so peak RSS is its own) on GUE prom_300_tata
(real promoters, 300 bp, 70 tokens as in the paper's protocol) from the shared data, with a random-weight model of
the preset, evaluation only at the end, and no model saved. Sequences/s counts training steps only (dev
evaluation excluded). Peak RSS includes Python, torch and the model.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from random_model import random_model  # noqa: E402  (bench/ is the script's folder)

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("DNABERT2_SHARED_DATA", REPO.parent / "shared" / "data"))

CHILD = r"""
import json, resource, sys
import transformers
transformers.logging.set_verbosity_error()
from dnabert2 import finetune
args = json.loads(sys.argv[1])
summary = finetune(args["out"], model=args["model"], data=args["data"], max_train_rows=args["rows"],
                   max_eval_rows=32, max_steps=args["steps"], eval_every=10**9, max_tokens=70,
                   batch_size=args["batch"], warmup_steps=1, lora=args["lora"], save_model=False,
                   threads=args["threads"], device="cpu", precision="fp32")
run = summary["runs"][0]
print(json.dumps({"seq_per_s": run["train_sequences_per_s"], "seconds": run["seconds"],
                  "params": summary["parameters"], "peak_rss_mib":
                  resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", default="tiny,small,dnabert2-117m")
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--steps", default="tiny=20,small=10,dnabert2-117m=3",
                        help="optimiser steps per preset")
    parser.add_argument("--batch", default="tiny=32,small=32,dnabert2-117m=8", help="batch size per preset")
    args = parser.parse_args()
    steps = dict(item.split("=") for item in args.steps.split(","))
    batches = dict(item.split("=") for item in args.batch.split(","))
    data = SHARED / "gue" / "prom" / "prom_300_tata"
    if not data.is_dir():
        sys.exit(f"shared data not found: {data}")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for preset in args.presets.split(","):
            model = Path(tmp) / preset
            random_model(model, preset)
            for lora in (False, True):
                n_steps, batch = int(steps[preset]), int(batches[preset])
                child = {"out": str(Path(tmp) / f"out_{preset}_{lora}"), "model": str(model), "data": str(data),
                         "rows": n_steps * batch, "steps": n_steps, "batch": batch, "lora": lora,
                         "threads": args.threads}
                done = subprocess.run([sys.executable, "-c", CHILD, json.dumps(child)], capture_output=True,
                                      text=True)
                if done.returncode != 0:
                    sys.exit(f"{preset} lora={lora} failed:\n{done.stderr[-2000:]}")
                result = json.loads(done.stdout.strip().splitlines()[-1])
                rows.append((preset, lora, batch, n_steps, result))
                print(f"  {preset} lora={lora}: {result['seq_per_s']:.1f} seq/s", file=sys.stderr)
    print(f"CPU threads: {args.threads}; GUE prom_300_tata, 70 tokens per sequence, fp32")
    header = (f"{'model':<14} {'LoRA':<5} {'params':>12} {'trainable':>12} {'batch':>5} {'steps':>5} "
              f"{'train seq/s':>11} {'peak RSS MiB':>12}")
    print(header)
    print("-" * len(header))
    for preset, lora, batch, n_steps, r in rows:
        print(f"{preset:<14} {'yes' if lora else 'no':<5} {r['params']['total']:>12,} {r['params']['trainable']:>12,} "
              f"{batch:>5} {n_steps:>5} {r['seq_per_s']:>11.1f} {r['peak_rss_mib']:>12.0f}")


if __name__ == "__main__":
    main()
