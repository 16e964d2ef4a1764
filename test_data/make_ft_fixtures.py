"""Make the small fine-tuning fixtures test_data/ft_*: real promoter sequences with labels computed from them.

Sequences are the first rows of GUE prom/prom_core_tata (real human core promoters, 70 bp, from the shared data);
labels are simple functions of each sequence, so a model can learn them and a test can check them:
- ft_strings_*.csv:    class name by GC fraction: at_rich (< 0.45), balanced, gc_rich (> 0.6)
- ft_pairs_*.tsv:      sequence_a, sequence_b (two promoters), label 1 when both have the same GC class
- ft_regression_*.csv: GC fraction as a float label
- ft_multilabel_*.tsv: 0/1 columns has_TATA (TATA[AT]A), has_CpG (>= 3 CG), gc_rich (GC > 0.55)
Run from the repository root: python test_data/make_ft_fixtures.py [SHARED_DATA]
"""
import csv
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SIZES = {"train": 64, "dev": 24, "test": 24}


def gc(seq):
    return (seq.count("G") + seq.count("C")) / len(seq)


def gc_class(seq):
    value = gc(seq)
    return "at_rich" if value < 0.45 else "gc_rich" if value > 0.6 else "balanced"


def main(shared):
    with open(Path(shared) / "gue" / "prom" / "prom_core_tata" / "train.csv", newline="") as handle:
        sequences = [row["sequence"] for row in csv.DictReader(handle)]
    start = 0
    for split, n in SIZES.items():
        chunk = sequences[start:start + 2 * n]
        start += 2 * n
        singles = chunk[:n]
        rows = {
            "strings": (["sequence", "label"], [[s, gc_class(s)] for s in singles], ","),
            "pairs": (["sequence_a", "sequence_b", "label"],
                      [[a, b, int(gc_class(a) == gc_class(b))] for a, b in zip(chunk[:n], chunk[n:])], "\t"),
            "regression": (["sequence", "label"], [[s, f"{gc(s):.4f}"] for s in singles], ","),
            "multilabel": (["sequence", "has_TATA", "has_CpG", "gc_rich"],
                           [[s, int(re.search("TATA[AT]A", s) is not None), int(s.count("CG") >= 3),
                             int(gc(s) > 0.55)] for s in singles], "\t"),
        }
        for kind, (header, table, delimiter) in rows.items():
            extension = "csv" if delimiter == "," else "tsv"
            with open(HERE / f"ft_{kind}_{split}.{extension}", "w", newline="") as out:
                writer = csv.writer(out, delimiter=delimiter, lineterminator="\n")
                writer.writerow(header)
                writer.writerows(table)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else HERE.parent.parent / "shared" / "data")
