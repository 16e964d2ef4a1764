"""Benchmark `dnabert2 vocab --size 4096`: wall time, peak memory and compression, next to `tokenizers` by hand.

For each genome the table shows
- `dnabert2 vocab` run end to end (reading gzip FASTA, fragmenting, sampling, training, writing),
- a hand-made baseline: `tokenizers` BpeTrainer on the same fragments, pre-cut in memory before the clock starts
  (only the training is timed; it trains on every fragment, with no --max-bases budget),
- the released DNABERT-2 tokenizer,
with mean nt per token on the same held-out fragments (those `dnabert2 vocab` held out with the same seed).
Every measurement runs in its own child process, so the peak memory (max RSS) is that run's alone.
Inputs past the default --max-bases are made by naming the same file several times.

    python bench/vocab.py            # E. coli, yeast, yeast x2 (24 Mbp), yeast x8 (97 Mbp)
    python bench/vocab.py --quick    # E. coli only
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("DNABERT2_SHARED_DATA", REPO.parent / "shared" / "data"))
ECOLI = SHARED / "genomes/ecoli_k12_mg1655/GCF_000005845.2_ASM584v2_genomic.fna.gz"
YEAST = SHARED / "genomes/yeast_s288c_r64/Saccharomyces_cerevisiae.R64-1-1.dna.toplevel.fa.gz"
HUMAN = SHARED / "genomes/human_hg38_chr2_1-2333275/chr2_1-2333275.fa.gz"
RELEASED = SHARED / "reference_checkpoint"
SIZE = 4096


def heldout_fragments(paths):
    """The fragments `dnabert2 vocab` holds out with its default options (seed 0), and the training ones."""
    from dnabert2 import vocab

    return vocab.sample_corpus([Path(p) for p in paths], 10**12, 0, vocab.DEFAULT_FRAGMENT_LENGTH,
                               vocab.DEFAULT_MIN_RUN_LENGTH, vocab.DEFAULT_HELDOUT_FRACTION)[:2]


def nt_per_token(tokenizer, fragments):
    ids = tokenizer(fragments, add_special_tokens=False)["input_ids"]
    return sum(map(len, fragments)) / sum(map(len, ids))


# ---- child jobs: each prints one JSON line with its own wall time and peak memory -----------------------------

def job_ours(paths, out):
    from dnabert2.cli import main

    start = time.perf_counter()
    try:
        main(["vocab", *paths, "--size", str(SIZE), "-o", out, "--force", "--quiet"])
    except SystemExit as e:
        if e.code:
            raise
    return {"seconds": time.perf_counter() - start}


def job_hand(paths, out):
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    train, _ = heldout_fragments(paths)
    tok = Tokenizer(models.BPE(unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    trainer = trainers.BpeTrainer(vocab_size=SIZE, min_frequency=2, show_progress=False, initial_alphabet=list("ACGT"),
                                  special_tokens=["[UNK]", "[CLS]", "[SEP]", "[PAD]", "[MASK]"])
    start = time.perf_counter()
    tok.train_from_iterator(train, trainer)
    seconds = time.perf_counter() - start
    Path(out).mkdir(parents=True, exist_ok=True)
    tok.save(str(Path(out) / "tokenizer.json"))
    return {"seconds": seconds, "train_bases": sum(map(len, train))}


def job_compression(paths, ours, hand):
    from dnabert2.tokenizer import load_tokenizer

    _, heldout = heldout_fragments(paths)
    result = {"heldout_bases": sum(map(len, heldout)),
              "released": nt_per_token(load_tokenizer(RELEASED), heldout)}
    for name, folder in (("ours", ours), ("hand", hand)):
        if folder and (Path(folder) / "tokenizer.json").exists():
            result[name] = nt_per_token(load_tokenizer(folder), heldout)
    return result


def child(kind, args):
    result = {"ours": job_ours, "hand": job_hand, "compression": job_compression}[kind](*args)
    result["peak_gb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6  # Linux: KiB
    print(json.dumps(result))


def run_child(kind, *args):
    cmd = [sys.executable, __file__, "--child", kind, json.dumps(args)]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{kind} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# ---- the table ---------------------------------------------------------------------------------------------------

def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="E. coli only")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args.child[0], json.loads(args.child[1]))

    inputs = [("E. coli", [ECOLI], True), ("yeast", [YEAST], True), ("human chr2 slice", [HUMAN], True)]
    if not args.quick:
        inputs += [("yeast x2", [YEAST] * 2, True), ("yeast x8", [YEAST] * 8, False)]
    else:
        inputs = inputs[:1]
    for _, paths, _ in inputs:
        for p in paths:
            if not p.exists():
                raise SystemExit(f"missing shared data: {p} (set DNABERT2_SHARED_DATA)")

    header = ("| input | Mbp | vocab s | vocab GB | by hand s | by hand GB | time ratio | nt/token vocab | "
              "nt/token by hand | nt/token released | held out kbp |")
    print(f"dnabert2 vocab --size {SIZE} (default --max-bases) on {os.cpu_count()} CPU cores")
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    with tempfile.TemporaryDirectory() as tmp:
        for name, paths, with_hand in inputs:
            paths = [str(p) for p in paths]
            ours_dir, hand_dir = f"{tmp}/ours", f"{tmp}/hand"
            ours = run_child("ours", paths, ours_dir)
            stats = json.loads((Path(ours_dir) / "vocab_stats.json").read_text())
            hand = run_child("hand", paths, hand_dir) if with_hand else None
            comp = run_child("compression", paths, ours_dir, hand_dir if with_hand else None)
            mbp = stats["bases_read"] / 1e6
            hand_cells = (f"{hand['seconds']:.1f} | {hand['peak_gb']:.2f} | {ours['seconds'] / hand['seconds']:.2f}"
                          if hand else "- | - | -")
            hand_nt = f"{comp['hand']:.2f}" if hand else "-"
            print(f"| {name} | {mbp:.1f} | {ours['seconds']:.1f} | {ours['peak_gb']:.2f} | {hand_cells} | "
                  f"{comp['ours']:.2f} | {hand_nt} | {comp['released']:.2f} | {comp['heldout_bases'] / 1e3:.0f} |",
                  flush=True)
            for folder in (ours_dir, hand_dir):
                subprocess.run(["rm", "-rf", folder], check=True)


if __name__ == "__main__":
    main()
