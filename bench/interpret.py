"""Speed of `dnabert2 attribute` (run by hand; prints one table).

    python bench/interpret.py                      # 300 bp region, 117M-shaped classifier, 2 threads
    python bench/interpret.py --loop-sample 150 --threads 1

1. `--method ism` of one 300 bp region of the human chr2 slice (900 SNVs) through the command's engine, against
   (a) the plain `predict` loop: `dnabert2.predict` called on every mutated sequence (what the ism test compares
   with; the model folder is loaded by each call), (b) a tight loop written here that loads the model once and
   calls it on each mutated sequence alone (batch of one), and (c) one `dnabert2.predict` call on all 900 mutants
   (batched like the engine, the model loaded once). The loops run the first `--loop-sample` (b) and
   `--predict-sample` (a) mutants and their times are scaled to all 900 (the cost per mutant does not depend on
   which base changes); the largest difference between the engine's and the tight loop's numbers is printed.
2. `--method ig` of the same region at 32 and 64 steps (and grad-x-input, attention), seconds per region.

The model is a random DNABERT-2 classifier of the released DNABERT-2-117M shape (speed does not depend on the
weights), fp32 on the CPU (`--precision` to change it); timings leave out loading the model; each side runs
`--repeat` times (2) in turn and the best time is reported (the machine is shared).
"""
import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("DNABERT2_SHARED_DATA", REPO.parent / "shared" / "data"))
CHR2_REF = SHARED / "genomes" / "human_hg38_chr2_1-2333275" / "chr2_1-2333275.fa.gz"
BASES = "ACGT"


def classifier(folder, preset):
    """A random binary classifier of `preset`'s shape with the released tokenizer, seed 0."""
    import torch

    from dnabert2.model import DNABert2Config, DNABert2ForSequenceClassification
    from dnabert2.tokenizer import load_tokenizer

    torch.manual_seed(0)
    DNABert2ForSequenceClassification(DNABert2Config.from_preset(preset, num_labels=2)).save_pretrained(folder)
    load_tokenizer(SHARED / "reference_checkpoint").save_pretrained(folder)
    return folder


def region(length):
    import pysam

    with pysam.FastaFile(str(CHR2_REF)) as fasta:
        return fasta.fetch("chr2", 230_000, 230_000 + length).upper()


def attribute(seq, model, method, precision, **extra):
    import dnabert2

    result = dnabert2.attribute([seq], model=str(model), methods=method, device="cpu", precision=precision, **extra)
    return result, result["summary"]["seconds"]


def plain_loop(seq, model_dir, precision, sample):
    """(seconds for `sample` mutants, their log-odds changes {(i, b): value}): one model call per mutant."""
    import torch

    from dnabert2 import load_model

    model, tokenizer = load_model(model_dir, task="classification", device="cpu", dtype=precision)

    def log_odds(sequence):
        logits = model(input_ids=torch.tensor([tokenizer(sequence)["input_ids"]])).logits[0].double()
        return float(logits[1] - logits[0])  # binary: the log-odds of class 1

    mutants = [(i, b) for i in range(len(seq)) for b in range(4) if BASES[b] != seq[i]][:sample]
    out = {}
    start = time.perf_counter()
    with torch.inference_mode():
        reference = log_odds(seq)
        for i, b in mutants:
            out[(i, b)] = log_odds(seq[:i] + BASES[b] + seq[i + 1:]) - reference
    return time.perf_counter() - start, out


def predict_loop(seq, model_dir, precision, sample):
    """Seconds of `dnabert2.predict` called on each of the first `sample` mutants (one call each)."""
    import dnabert2

    mutants = [seq[:i] + BASES[b] + seq[i + 1:] for i in range(len(seq)) for b in range(4) if BASES[b] != seq[i]]
    start = time.perf_counter()
    for mutant in mutants[:sample]:
        dnabert2.predict([mutant], model=str(model_dir), window=len(seq), device="cpu", precision=precision)
    return time.perf_counter() - start, len(mutants[:sample])


def predict_batched(seq, model_dir, precision):
    """Seconds of one `dnabert2.predict` call on all mutants (its own timing: the loop, not the model load)."""
    import dnabert2

    mutants = [seq[:i] + BASES[b] + seq[i + 1:] for i in range(len(seq)) for b in range(4) if BASES[b] != seq[i]]
    return dnabert2.predict(mutants, model=str(model_dir), window=len(seq), device="cpu",
                            precision=precision)["summary"]["seconds"]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--length", type=int, default=300)
    parser.add_argument("--preset", default="dnabert2-117m")
    parser.add_argument("--loop-sample", type=int, default=150, help="mutants the tight loop runs (of 3 x length)")
    parser.add_argument("--predict-sample", type=int, default=20, help="mutants the predict loop runs")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--precision", default="fp32", help="fp32, bf16 or auto")
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    seq = region(args.length)
    snvs = 3 * len(seq)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        model = classifier(Path(tmp) / "model", args.preset)
        attribute(seq[:20], model, "ig,attention", args.precision, steps=2)  # imports and first calls, untimed
        best_ism = best_loop = best_predict = best_batched = float("inf")
        for _ in range(args.repeat):
            result, seconds = attribute(seq, model, "ism", args.precision)
            best_ism = min(best_ism, seconds)
            loop_seconds, values = plain_loop(seq, model, args.precision, args.loop_sample)
            best_loop = min(best_loop, loop_seconds * snvs / len(values))
            predict_seconds, ran = predict_loop(seq, model, args.precision, args.predict_sample)
            best_predict = min(best_predict, predict_seconds * snvs / ran)
            best_batched = min(best_batched, predict_batched(seq, model, args.precision))
        lo, hi = result["tokens"]["offsets"][:2]
        delta = result["tokens"]["ism_delta"][lo:hi]
        worst = max(abs(delta[i, b] - v) for (i, b), v in values.items())
        rows.append(("ism, through the engine", f"{best_ism:.1f}", f"{snvs / best_ism:,.1f}", ""))
        for name, seconds in ((f"(a) `dnabert2.predict` per mutant ({ran} run, scaled)", best_predict),
                              (f"(b) loaded model, batch of one ({len(values)} run, scaled)", best_loop),
                              ("(c) one `dnabert2.predict` call on all mutants", best_batched)):
            rows.append((name, f"{seconds:.1f}", f"{snvs / seconds:,.1f}", f"{seconds / best_ism:.1f}x"))
        for method, steps in (("ig", 32), ("ig", 64), ("grad-x-input", None), ("attention", None)):
            best = min(attribute(seq, model, method, args.precision, **({"steps": steps} if steps else {}))[1]
                       for _ in range(args.repeat))
            rows.append((f"{method}" + (f", {steps} steps" if steps else ""), f"{best:.2f}", "", ""))
    print(f"torch {torch.__version__}, {args.threads} threads, {platform.machine()}, {os.cpu_count()} cores; "
          f"{args.preset}-shaped classifier, {args.precision}; one {len(seq)} bp region of chr2 ({snvs} SNVs); "
          f"ism engine vs loop max |difference| {worst:.2e}")
    print()
    print("| method | s per region | SNVs/s | ism engine faster by |")
    print("|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
