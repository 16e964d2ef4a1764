"""Evaluate a promoter classifier on the Genomic Benchmarks intervals of the hg38 chr2:1-2,333,275 slice.

Promoters: class `promoter` of human_ensembl_regulatory and `positive` of human_nontata_promoters. Background:
every other interval of the BED that overlaps no promoter interval (enhancers, open chromatin, their negatives,
random human and intergenic windows); `random_background` is its subset from the negative/random classes only.
Scores are the promoter probability (class "promoter") from `dnabert2 predict`, run as a subprocess, once on a 300 bp
window centred on each interval (--resize 300, the training length) and once over each whole interval in 300 bp
windows (token-weighted mean of the windows).

    python scripts/shipped/evaluate.py MODEL_DIR OUT_DIR [--data-root ../shared/data]
"""
if __package__ in (None, ""):  # run as a file: make the repository root importable
    import sys as _sys
    from pathlib import Path as _Path
    _sys.path.insert(0, str(_Path(__file__).resolve().parents[2]))

import json
import subprocess
import sys
from pathlib import Path

from dnabert2.errors import InputError, located

SLICE = ("genomes", "human_hg38_chr2_1-2333275")
BED = "genomic_benchmarks_regions_chr2_1-2333275.bed"
REF = "chr2_1-2333275.fa.gz"
PROMOTER_CLASSES = {("human_ensembl_regulatory", "promoter"), ("human_nontata_promoters", "positive")}
RANDOM_CLASSES = {("human_enhancers_cohn", "negative"), ("human_enhancers_ensembl", "negative"),
                  ("human_ocr_ensembl", "negative"), ("demo_human_or_worm", "human"),
                  ("demo_coding_vs_intergenomic_seqs", "intergenomic_seqs")}
MODES = {"centre_300bp": ["--resize", "300"], "tiled_300bp": ["--window", "300"]}


def read_intervals(bed):
    """[(chrom, start, end, name, group)] with group "promoter", "background" or None (overlaps a promoter)."""
    rows = []
    for line_number, line in enumerate(Path(bed).read_text().splitlines(), start=1):
        fields = line.split("\t")
        if len(fields) < 4 or fields[3].count("|") != 3:
            raise InputError(located(bed, f"line {line_number}: expected BED with name dataset|split|class|id"))
        dataset, _, label, _ = fields[3].split("|")
        rows.append([fields[0], int(fields[1]), int(fields[2]), fields[3], (dataset, label)])
    promoters = [(c, s, e) for c, s, e, _, key in rows if key in PROMOTER_CLASSES]
    intervals = []
    for chrom, start, end, name, key in rows:
        if key in PROMOTER_CLASSES:
            group = "promoter"
        elif any(c == chrom and s < end and start < e for c, s, e in promoters):
            group = None
        else:
            group = "random_background" if key in RANDOM_CLASSES else "background"
        intervals.append((chrom, start, end, name, group))
    return intervals


def auroc(positives, negatives):
    """Probability that a random positive outscores a random negative (ties count half)."""
    if not positives or not negatives:
        raise InputError("AUROC needs at least one promoter and one background interval")
    wins = sum((p > n) + 0.5 * (p == n) for p in positives for n in negatives)
    return wins / (len(positives) * len(negatives))


def promoter_scores(model, bed, ref, work, extra):
    """Promoter probabilities of the BED's rows from `dnabert2 predict` (a subprocess, the real CLI)."""
    import h5py

    out = Path(work) / "predictions.h5"
    command = [sys.executable, "-m", "dnabert2", "predict", "--bed", str(bed), "--ref", str(ref),
               "--model", str(model), "-o", str(out), "--force", "-q", *extra]
    subprocess.run(command, check=True)
    with h5py.File(out, "r") as f:
        names = [str(n) for n in f["labels"].attrs["label_names"]]
        column = names.index("promoter")
        return [float(p) for p in f["probabilities"][:, column]], command


def evaluate(model, output, data_root):
    """Write OUTPUT/evaluation.json (AUROC, means, counts per mode) and return it as a dict."""
    root = Path(data_root).joinpath(*SLICE)
    bed, ref = root / BED, root / REF
    for path in (bed, ref):
        if not path.is_file():
            raise InputError(located(path, "not found (give --data-root, the folder holding genomes/)"))
    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    intervals = read_intervals(bed)
    kept = [row for row in intervals if row[4] is not None]
    eval_bed = output / "chr2_promoters_and_background.bed"
    eval_bed.write_text("".join(f"{c}\t{s}\t{e}\t{n}\t0\t.\n" for c, s, e, n, _ in kept))
    result = {"bed": str(bed), "promoters": sum(r[4] == "promoter" for r in kept),
              "background": sum(r[4] != "promoter" for r in kept),
              "random_background": sum(r[4] == "random_background" for r in kept),
              "left_out_overlapping_promoters": len(intervals) - len(kept), "modes": {}}
    for mode, extra in MODES.items():
        scores, command = promoter_scores(model, eval_bed, ref, output, extra)
        promoter = [s for s, r in zip(scores, kept) if r[4] == "promoter"]
        background = [s for s, r in zip(scores, kept) if r[4] != "promoter"]
        random_bg = [s for s, r in zip(scores, kept) if r[4] == "random_background"]
        result["modes"][mode] = {
            "command": " ".join(["dnabert2", *command[3:]]),
            "auroc": auroc(promoter, background),
            "auroc_vs_random_background": auroc(promoter, random_bg),
            "mean_promoter": sum(promoter) / len(promoter),
            "mean_background": sum(background) / len(background),
            "mean_random_background": sum(random_bg) / len(random_bg),
        }
    (output / "evaluation.json").write_text(json.dumps(result, indent=1) + "\n")
    return result


def main(argv=None):
    import argparse

    parser = argparse.ArgumentParser(prog="python scripts/shipped/evaluate.py", description=__doc__.split("\n")[0])
    parser.add_argument("model", help="classifier model folder")
    parser.add_argument("output", help="folder for the predictions and evaluation.json")
    parser.add_argument("--data-root", default=None, help="shared data folder (default: $DNABERT2_SHARED_DATA "
                        "or ../shared/data)")
    args = parser.parse_args(argv)
    print(json.dumps(evaluate(args.model, args.output, default_data_root(args.data_root)), indent=1))


def default_data_root(given=None):
    import os

    return Path(given or os.environ.get("DNABERT2_SHARED_DATA", "../shared/data"))


if __name__ == "__main__":
    main()
