"""The promoter classifier's held-out evaluation (issue 24), as written down in scripts/shipped/heldout.json before
anything was trained: real human promoters against real non-promoter DNA from tables and splits that took no part
in training, selection or calibration, next to CpG o/e, GC content and a 4-mer logistic regression trained on the
classifier's own training split (before augmentation), on the same sequences.

Each set is scored twice (heldout.json "modes"): the whole sequence in 300 bp windows (the classifier's own
`predict` defaults: --window 300 --rc-average) and the 300 bp centred on it. The classifier runs as `dnabert2
predict --fasta` (a subprocess, the real CLI). For each score: AUROC and AUPRC of promoters against all background
of the set, the difference of its AUROC to CpG o/e's with the paired bootstrap interval of evaluate.py, and the
classifier's mean probability per class and share called promoter at 0.5.

    python scripts/shipped/heldout.py MODEL_DIR OUT_DIR --train TRAIN_CSV [--data-root ../shared/data]
"""
if __package__ in (None, ""):  # run as a file: make the repository root importable
    import sys as _sys
    from pathlib import Path as _Path
    _sys.path.insert(0, str(_Path(__file__).resolve().parents[2]))

import csv
import json
import subprocess
import sys
from itertools import product
from pathlib import Path

from dnabert2.errors import InputError, located
from scripts.shipped.evaluate import BOOTSTRAP, LENGTH, auprc, auroc, cpg_oe, default_data_root, gc_content, \
    paired_bootstrap

SPEC = Path(__file__).with_name("heldout.json")
PREDICT_OPTIONS = ("--window", str(LENGTH), "--rc-average", "--precision", "fp32", "--threads", "1")
KMER = 4
SCORERS = ("classifier", "cpg_oe", "gc", "kmer_logistic")


def load_spec(path=SPEC):
    return json.loads(Path(path).read_text())


def set_rows(data_root, spec_set):
    """[(sequence, class)] of one held-out set: rows of its tables (and tasks) whose class is one of its positive
    or negative classes, de-duplicated by sequence (a sequence seen with two classes is left out)."""
    wanted = set(spec_set["positive"]) | set(spec_set["negative"])
    classes = {}
    for table in spec_set["tables"]:
        path = Path(data_root) / table
        if not path.is_file():
            raise InputError(located(path, "not found (give --data-root, the folder holding human_regulatory/)"))
        with open(path, newline="") as handle:
            for row in csv.DictReader(handle):
                if spec_set["tasks"] is not None and row.get("task") not in spec_set["tasks"]:
                    continue
                if row["label"] in wanted:
                    classes.setdefault(row["sequence"].strip().upper(), set()).add(row["label"])
    return [(sequence, seen.pop()) for sequence, seen in sorted(classes.items()) if len(seen) == 1]


def heldout_sequences(data_root, spec=None):
    """Every sequence of every held-out set (kept out of the training tables, promoter_data.build_tables)."""
    spec = spec or load_spec()
    return sorted({sequence for spec_set in spec["sets"] for sequence, _ in set_rows(data_root, spec_set)})


def centre(sequence, length=LENGTH):
    if len(sequence) <= length:
        return sequence
    start = (len(sequence) - length) // 2
    return sequence[start:start + length]


def kmer_features(sequences, k=KMER):
    """Frequencies of the k-mers of each sequence and its reverse complement (4^k columns)."""
    import numpy as np

    from dnabert2.tokenizer.dna import reverse_complement

    index = {"".join(p): i for i, p in enumerate(product("ACGT", repeat=k))}
    features = np.zeros((len(sequences), len(index)))
    for row, sequence in enumerate(sequences):
        for strand in (sequence, reverse_complement(sequence)):
            for i in range(len(strand) - k + 1):
                column = index.get(strand[i:i + k])
                if column is not None:
                    features[row, column] += 1
        features[row] /= max(features[row].sum(), 1)
    return features


def kmer_baseline(train_csv, positive="promoter"):
    """A logistic regression on 4-mer frequencies fitted on a sequence,label table; returns a scoring function."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    with open(train_csv, newline="") as handle:
        rows = [(r["sequence"].strip().upper(), r["label"] == positive) for r in csv.DictReader(handle)]
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    model.fit(kmer_features([s for s, _ in rows]), [y for _, y in rows])
    return lambda sequences: [float(p) for p in model.predict_proba(kmer_features(sequences))[:, 1]]


def classifier_scores(model, sequences, fasta, extra=PREDICT_OPTIONS):
    """Promoter probabilities of `sequences` from `dnabert2 predict --fasta` (written to `fasta`)."""
    import h5py

    fasta = Path(fasta)
    fasta.write_text("".join(f">s{i}\n{s}\n" for i, s in enumerate(sequences)))
    out = fasta.with_suffix(".h5")
    command = [sys.executable, "-m", "dnabert2", "predict", "--fasta", str(fasta), "--model", str(model),
               "-o", str(out), "--force", "-q", *extra]
    subprocess.run(command, check=True)
    with h5py.File(out, "r") as f:
        names = [str(n) for n in f["labels"].attrs["label_names"]]
        return [float(p) for p in f["probabilities"][:, names.index("promoter")]], " ".join(["dnabert2", *command[3:]])


def evaluate_heldout(model, output, data_root, train_csv, spec=None):
    """Write OUTPUT/heldout.json (per set and mode: each score's AUROC, AUPRC and bootstrap difference to CpG o/e;
    the classifier's mean probability and share called promoter per class) and return it."""
    spec = spec or load_spec()
    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    kmer = kmer_baseline(train_csv)
    result = {"spec": spec, "model": str(model), "kmer_train": str(train_csv), "sets": {}}
    for spec_set in spec["sets"]:
        rows = set_rows(data_root, spec_set)
        groups = ["promoter" if c in spec_set["positive"] else c for _, c in rows]
        counts = {c: [r[1] for r in rows].count(c) for c in (*spec_set["positive"], *spec_set["negative"])}
        if not groups.count("promoter") or groups.count("promoter") == len(groups):
            raise InputError(f"held-out set {spec_set['name']}: needs promoters and background")
        entry = {"counts": counts, "modes": {}}
        for mode in spec["modes"]:
            sequences = [s if mode == "whole" else centre(s) for s, _ in rows]
            probabilities, command = classifier_scores(model, sequences, output / f"{spec_set['name']}_{mode}.fa")
            scores = {"classifier": probabilities, "cpg_oe": [cpg_oe(s) for s in sequences],
                      "gc": [gc_content(s) for s in sequences], "kmer_logistic": kmer(sequences)}
            table = {}
            for name in SCORERS:
                positives = [v for v, g in zip(scores[name], groups) if g == "promoter"]
                negatives = [v for v, g in zip(scores[name], groups) if g != "promoter"]
                table[name] = {"auroc": auroc(positives, negatives), "auprc": auprc(positives, negatives)}
                if name != "cpg_oe":
                    table[name]["versus_cpg_oe"] = paired_bootstrap(scores[name], scores["cpg_oe"], groups,
                                                                    **BOOTSTRAP)
            by_class = {c: [p for p, (_, k) in zip(probabilities, rows) if k == c] for c in counts}
            entry["modes"][mode] = {
                "command": command, "scores": table,
                "mean_probability": {c: sum(v) / len(v) for c, v in by_class.items() if v},
                "called_promoter": {c: sum(p >= 0.5 for p in v) / len(v) for c, v in by_class.items() if v}}
        result["sets"][spec_set["name"]] = entry
    (output / "heldout.json").write_text(json.dumps(result, indent=1) + "\n")
    return result


def main(argv=None):
    import argparse

    parser = argparse.ArgumentParser(prog="python scripts/shipped/heldout.py", description=__doc__.split("\n")[0])
    parser.add_argument("model", help="classifier model folder")
    parser.add_argument("output", help="folder for the predictions and heldout.json")
    parser.add_argument("--train", required=True, help="the classifier's training table (the 4-mer baseline's)")
    parser.add_argument("--data-root", default=None, help="shared data folder (default: $DNABERT2_SHARED_DATA "
                        "or ../shared/data)")
    args = parser.parse_args(argv)
    result = evaluate_heldout(args.model, args.output, default_data_root(args.data_root), args.train)
    print(json.dumps({name: {mode: {k: round(v["auroc"], 3) for k, v in m["scores"].items()}
                             for mode, m in s["modes"].items()} for name, s in result["sets"].items()}, indent=1))


if __name__ == "__main__":
    main()
