"""The baseline a fine-tuned model's AUROC is reported next to: logistic regression on 6-mer counts.

    python scripts/interpret/kmer_baseline.py TRAIN.csv TEST.csv [PREDICTIONS.tsv]

Features: counts of the 4,096 6-mers of each sequence and its reverse complement (a site counts on either strand),
divided by the sequence length; scikit-learn's LogisticRegression (L2, C chosen by 5-fold cross-validation on the
training rows). Prints the test AUROC, and with a `dnabert2 finetune` predictions.tsv the model's AUROC beside it.
"""
import csv
import itertools
import sys
import warnings

import numpy as np

warnings.filterwarnings("ignore", category=FutureWarning)  # scikit-learn announcing its next defaults

K = 6
INDEX = {"".join(p): i for i, p in enumerate(itertools.product("ACGT", repeat=K))}
COMPLEMENT = str.maketrans("ACGT", "TGCA")


def table(path):
    with open(path) as f:
        rows = list(csv.DictReader(f))
    return [r["sequence"].upper() for r in rows], np.array([int(r["label"]) for r in rows])


def features(sequences):
    out = np.zeros((len(sequences), len(INDEX)))
    for row, seq in enumerate(sequences):
        for strand in (seq, seq.translate(COMPLEMENT)[::-1]):
            for i in range(len(strand) - K + 1):
                j = INDEX.get(strand[i:i + K])
                if j is not None:
                    out[row, j] += 1
        out[row] /= max(len(seq), 1)
    return out


def main(argv):
    from sklearn.linear_model import LogisticRegressionCV
    from sklearn.metrics import roc_auc_score

    train, test = table(argv[0]), table(argv[1])
    model = LogisticRegressionCV(Cs=10, cv=5, max_iter=5000, scoring="roc_auc").fit(features(train[0]), train[1])
    auroc = roc_auc_score(test[1], model.predict_proba(features(test[0]))[:, 1])
    print(f"6-mer logistic regression: test AUROC {auroc:.3f} (C = {model.C_[0]:.3g}, {len(train[1])} training rows, "
          f"{len(test[1])} test rows)")
    if len(argv) > 2:
        with open(argv[2]) as f:
            rows = list(csv.DictReader(f, delimiter="\t"))
        labels = np.array([int(r["label"]) for r in rows])
        print(f"fine-tuned model: test AUROC {roc_auc_score(labels, [float(r['prob_1']) for r in rows]):.3f}")


if __name__ == "__main__":
    main(sys.argv[1:])
