"""Throughput and memory of `dnabert2 embed` (run by hand; prints a table).

    python bench/embed.py                 # everything below, tiny and small models
    python bench/embed.py --quick         # fewer regions, tiny model only

Rows: the 67 chr2 promoters; N random 1 kbp regions of the chr2 slice; 1,000 vs 100,000 short regions (peak
memory must stay flat: the pipeline streams); one 1 Mbp region (bounded memory however long a region is).
Every run is its own process, so "peak RSS" is that run's. "outside model" is the share of wall time not spent
in the model's forward pass (reading, tokenising, pooling, writing, waiting). Models are random (seed 0) with the
released tokenizer: speed does not depend on the weights.
"""
import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from random_model import random_model  # noqa: E402  (bench/ is the script's folder)

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("DNABERT2_SHARED_DATA", REPO.parent / "shared" / "data"))
CHR2 = SHARED / "genomes" / "human_hg38_chr2_1-2333275"
REF = CHR2 / "chr2_1-2333275.fa.gz"
CHR2_LENGTH = 2333275


def random_bed(path, n, length, seed=0):
    rng = random.Random(seed)
    with open(path, "w") as fh:
        for i in range(n):
            start = rng.randrange(10000, CHR2_LENGTH - length)  # the first 10 kbp are N
            fh.write(f"chr2\t{start}\t{start + length}\tr{i}\t0\t{'+-'[i % 2]}\n")
    return path


def one_run(spec):
    """In the child: one embed run; prints its summary and peak RSS as JSON."""
    import dnabert2

    start = time.perf_counter()
    summary = dnabert2.embed(bed=spec["bed"], ref=str(REF), model=spec["model"], output=spec["output"],
                             window=spec.get("window", 2000), threads=spec.get("threads"), force=True)
    summary["wall"] = time.perf_counter() - start
    summary["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(summary))


def run(spec):
    out = subprocess.run([sys.executable, __file__, "--one", json.dumps(spec)], capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(out.stderr)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="1,000 random regions, 10,000 short ones, tiny only")
    parser.add_argument("--regions", type=int, default=10000, help="random 1 kbp regions (default 10,000)")
    parser.add_argument("--models", default="tiny,small")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        return one_run(json.loads(args.one))
    models = ["tiny"] if args.quick else args.models.split(",")
    n_random = 1000 if args.quick else args.regions
    many = 10000 if args.quick else 100000
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        folders = {m: str(random_model(tmp / m, m)) for m in models}
        beds = {"chr2 promoters": str(CHR2 / "promoters_chr2_1-2333275.bed"),
                f"{n_random:,} x 1 kbp": str(random_bed(tmp / "random.bed", n_random, 1000))}
        for label, bed in beds.items():
            for m in models:
                rows.append((label, m, run({"bed": bed, "model": folders[m], "output": str(tmp / "o.h5"),
                                            "threads": args.threads})))
        for n in (1000, many):
            bed = random_bed(tmp / f"short{n}.bed", n, 20, seed=1)
            rows.append((f"{n:,} x 20 bp", "tiny" if "tiny" in folders else models[0],
                         run({"bed": str(bed), "model": folders.get("tiny", folders[models[0]]),
                              "output": str(tmp / "o.h5"), "threads": args.threads})))
        bed = tmp / "long.bed"
        bed.write_text("chr2\t1000000\t2000000\tone_mbp\t0\t+\n")
        rows.append(("1 x 1 Mbp", "tiny" if "tiny" in folders else models[0],
                     run({"bed": str(bed), "model": folders.get("tiny", folders[models[0]]),
                          "output": str(tmp / "o.h5"), "threads": args.threads})))
    print(f"{'input':<18} {'model':<6} {'regions':>8} {'bp':>12} {'wall s':>8} {'regions/s':>10} {'bp/s':>10} "
          f"{'outside model':>14} {'peak RSS MiB':>13}")
    for label, model, s in rows:
        outside = 1 - s["model_seconds"] / max(s["seconds"], 1e-9)
        print(f"{label:<18} {model:<6} {s['regions']:>8,} {s['bp']:>12,} {s['wall']:>8.1f} {s['regions_per_s']:>10,.1f} "
              f"{s['bp_per_s']:>10,.0f} {100 * outside:>13.1f}% {s['peak_rss_mib']:>13,.0f}")


if __name__ == "__main__":
    main()
