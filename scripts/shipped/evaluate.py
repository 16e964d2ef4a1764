"""Evaluate a promoter classifier on the Genomic Benchmarks intervals of the hg38 chr2:1-2,333,275 slice, next to
the simplest baselines computed on the same sequences.

Promoters: class `promoter` of human_ensembl_regulatory and `positive` of human_nontata_promoters. Background:
every other interval of the BED that overlaps no promoter interval, in four classes (BACKGROUND_CLASSES):
enhancers, open chromatin, random human windows (the negatives of the enhancer and open-chromatin sets and the
human side of human-or-worm) and intergenic windows. Two modes:
- centre_300bp: a 300 bp window centred on each interval (`--resize 300`, the training length);
- tiled_300bp: the whole interval in 300 bp windows (`--window 300`; the last window of an interval may be
  shorter), scored as the token-weighted mean over its windows.
Scores: the promoter probability from `dnabert2 predict` (run as a subprocess, the real CLI), and two baselines on
the same sequence (the centred 300 bp, or the whole interval): the CpG observed/expected ratio
(CG count x length / (C count x G count)) and the GC content. Each is reported as AUROC and AUPRC, promoters
against all background and against each background class. How sure the classifier's lead over CpG o/e is: the
difference of their AUROCs with a 95% interval from a paired bootstrap of the intervals (promoters and
background resampled separately, the same resample for both scores).

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
# (dataset, class) of the BED's name column -> background class
BACKGROUND_CLASSES = {
    ("human_ensembl_regulatory", "enhancer"): "enhancer", ("human_enhancers_cohn", "positive"): "enhancer",
    ("human_enhancers_ensembl", "positive"): "enhancer",
    ("human_ensembl_regulatory", "ocr"): "open_chromatin", ("human_ocr_ensembl", "positive"): "open_chromatin",
    ("human_enhancers_cohn", "negative"): "random", ("human_enhancers_ensembl", "negative"): "random",
    ("human_ocr_ensembl", "negative"): "random", ("demo_human_or_worm", "human"): "random",
    ("demo_coding_vs_intergenomic_seqs", "intergenomic_seqs"): "intergenic"}
GROUPS = ("promoter", "enhancer", "open_chromatin", "random", "intergenic")
LENGTH = 300
MODES = {"centre_300bp": ["--resize", str(LENGTH)], "tiled_300bp": ["--window", str(LENGTH)]}
SCORERS = ("classifier", "cpg_oe", "gc")
BOOTSTRAP = {"resamples": 2000, "seed": 0, "level": 0.95}


def read_intervals(bed):
    """[(chrom, start, end, name, group)]: group is "promoter", a background class, or None (a background
    interval that overlaps a promoter, left out)."""
    rows = []
    for line_number, line in enumerate(Path(bed).read_text().splitlines(), start=1):
        fields = line.split("\t")
        if len(fields) < 4 or fields[3].count("|") != 3:
            raise InputError(located(bed, f"line {line_number}: expected BED with name dataset|split|class|id"))
        dataset, _, label, _ = fields[3].split("|")
        key = (dataset, label)
        if key not in PROMOTER_CLASSES and key not in BACKGROUND_CLASSES:
            raise InputError(located(bed, f"line {line_number}: unknown class {dataset}|{label}"))
        rows.append([fields[0], int(fields[1]), int(fields[2]), fields[3], key])
    promoters = [(c, s, e) for c, s, e, _, key in rows if key in PROMOTER_CLASSES]
    intervals = []
    for chrom, start, end, name, key in rows:
        if key in PROMOTER_CLASSES:
            group = "promoter"
        elif any(c == chrom and s < end and start < e for c, s, e in promoters):
            group = None
        else:
            group = BACKGROUND_CLASSES[key]
        intervals.append((chrom, start, end, name, group))
    return intervals


def auroc(positives, negatives):
    """Probability that a random positive outscores a random negative (ties count half)."""
    if not positives or not negatives:
        raise InputError("AUROC needs at least one promoter and one background interval")
    wins = sum((p > n) + 0.5 * (p == n) for p in positives for n in negatives)
    return wins / (len(positives) * len(negatives))


def auprc(positives, negatives):
    """Average precision: the mean, over the positives, of the precision among everything scored at least as
    high as that positive (tied scores form one step, as in scikit-learn's average_precision_score)."""
    if not positives or not negatives:
        raise InputError("AUPRC needs at least one promoter and one background interval")
    scored = sorted([(s, 1) for s in positives] + [(s, 0) for s in negatives], key=lambda item: -item[0])
    total, hits, seen, index = 0.0, 0, 0, 0
    while index < len(scored):
        value = scored[index][0]
        step_hits = 0
        while index < len(scored) and scored[index][0] == value:
            step_hits += scored[index][1]
            seen += 1
            index += 1
        hits += step_hits
        total += step_hits * hits / seen
    return total / len(positives)


def paired_bootstrap(first, second, groups, resamples=2000, seed=0, level=0.95):
    """AUROC(first) - AUROC(second) on promoters against all background, and its `level` percentile interval over
    `resamples` paired bootstrap resamples (promoters and background drawn with replacement separately, the same
    draw for both scores); returns {"difference", "low", "high", "resamples", "level"}."""
    import numpy as np

    first, second = np.asarray(first, dtype=np.float64), np.asarray(second, dtype=np.float64)
    positive = np.asarray([g == "promoter" for g in groups])
    if not positive.any() or positive.all():
        raise InputError("the bootstrap needs at least one promoter and one background interval")

    def wins(scores):  # (promoters, background): 1 where the promoter scores higher, 0.5 for a tie
        p, n = scores[positive][:, None], scores[~positive][None, :]
        return (p > n) + 0.5 * (p == n)

    gap = wins(first) - wins(second)
    rng = np.random.default_rng(seed)
    rows, cols = gap.shape
    draws = np.array([gap[np.ix_(rng.integers(0, rows, rows), rng.integers(0, cols, cols))].mean()
                      for _ in range(resamples)])
    tail = 100 * (1 - level) / 2
    return {"difference": float(gap.mean()), "low": float(np.percentile(draws, tail)),
            "high": float(np.percentile(draws, 100 - tail)), "resamples": resamples, "level": level}


def cpg_oe(sequence):
    """CpG observed/expected: CG count x length / (C count x G count); 0 without C or G."""
    c, g = sequence.count("C"), sequence.count("G")
    return sequence.count("CG") * len(sequence) / (c * g) if c and g else 0.0


def gc_content(sequence):
    return (sequence.count("C") + sequence.count("G")) / len(sequence) if sequence else 0.0


def mode_sequences(chromosomes, intervals, mode):
    """The sequence each interval's baselines are computed on: the centred window (as --resize places it) or the
    whole interval, upper-cased."""
    from dnabert2.regions.region import resized

    sequences = []
    for chrom, start, end, _, _ in intervals:
        if mode == "centre_300bp":
            start, end = resized(start, end, LENGTH)
        sequences.append(chromosomes[chrom][start:end].upper())
    return sequences


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


def score_table(scores, groups):
    """{"all" and each background class: {"auroc", "auprc"}} of promoters against that background."""
    promoter = [s for s, g in zip(scores, groups) if g == "promoter"]
    table = {}
    for name in ("all", *GROUPS[1:]):
        negatives = [s for s, g in zip(scores, groups) if g != "promoter" and name in ("all", g)]
        table[name] = {"auroc": auroc(promoter, negatives), "auprc": auprc(promoter, negatives)}
    return table


def evaluate(model, output, data_root, extra=()):
    """Write OUTPUT/evaluation.json (per mode: AUROC and AUPRC of the classifier and the baselines, overall and
    per background class; mean promoter probability per class) and OUTPUT/scores.tsv; return the dict.
    `extra`: more `dnabert2 predict` options for both modes (e.g. --rc-average)."""
    from dnabert2.tokenizer.fasta import read_fasta

    root = Path(data_root).joinpath(*SLICE)
    bed, ref = root / BED, root / REF
    for path in (bed, ref):
        if not path.is_file():
            raise InputError(located(path, "not found (give --data-root, the folder holding genomes/)"))
    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    intervals = read_intervals(bed)
    kept = [row for row in intervals if row[4] is not None]
    groups = [row[4] for row in kept]
    eval_bed = output / "chr2_promoters_and_background.bed"
    eval_bed.write_text("".join(f"{c}\t{s}\t{e}\t{n}\t0\t.\n" for c, s, e, n, _ in kept))
    chromosomes = {header.split()[0]: sequence for header, sequence in read_fasta([ref])}
    result = {"bed": str(bed), "counts": {g: groups.count(g) for g in GROUPS},
              "background": len(groups) - groups.count("promoter"),
              "left_out_overlapping_promoters": len(intervals) - len(kept), "modes": {}}
    columns, lines = [], []
    for mode, options in MODES.items():
        probabilities, command = promoter_scores(model, eval_bed, ref, output, [*options, *extra])
        sequences = mode_sequences(chromosomes, kept, mode)
        scores = {"classifier": probabilities, "cpg_oe": [cpg_oe(s) for s in sequences],
                  "gc": [gc_content(s) for s in sequences]}
        result["modes"][mode] = {
            "command": " ".join(["dnabert2", *command[3:]]),
            "mean_probability": {g: _mean([p for p, h in zip(probabilities, groups) if h == g]) for g in GROUPS},
            "scores": {name: score_table(values, groups) for name, values in scores.items()},
            "versus_cpg_oe": paired_bootstrap(scores["classifier"], scores["cpg_oe"], groups, **BOOTSTRAP)}
        columns += [f"{mode}_{name}" for name in SCORERS]
        lines.append([scores[name] for name in SCORERS])
    with open(output / "scores.tsv", "w") as handle:
        handle.write("\t".join(["name", "group", *columns]) + "\n")
        for row, (_, _, _, name, group) in enumerate(kept):
            values = [f"{block[k][row]:.6g}" for block in lines for k in range(len(SCORERS))]
            handle.write("\t".join([name, group, *values]) + "\n")
    (output / "evaluation.json").write_text(json.dumps(result, indent=1) + "\n")
    return result


def _mean(values):
    return sum(values) / len(values) if values else float("nan")


def main(argv=None):
    import argparse

    parser = argparse.ArgumentParser(prog="python scripts/shipped/evaluate.py", description=__doc__.split("\n")[0])
    parser.add_argument("model", help="classifier model folder")
    parser.add_argument("output", help="folder for the predictions, scores.tsv and evaluation.json")
    parser.add_argument("--data-root", default=None, help="shared data folder (default: $DNABERT2_SHARED_DATA "
                        "or ../shared/data)")
    parser.add_argument("--rc-average", action="store_true", help="average both strands (predict --rc-average)")
    args = parser.parse_args(argv)
    extra = ["--rc-average"] if args.rc_average else []
    print(json.dumps(evaluate(args.model, args.output, default_data_root(args.data_root), extra), indent=1))


def default_data_root(given=None):
    import os

    return Path(given or os.environ.get("DNABERT2_SHARED_DATA", "../shared/data"))


if __name__ == "__main__":
    main()
