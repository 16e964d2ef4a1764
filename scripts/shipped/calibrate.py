"""Platt scaling of a two-class classifier folder, folded into its classifier layer.

Averaging the weights of several fine-tunes keeps their ranking but pulls the probabilities towards each other
(scripts/shipped/average.py). This refits the scale of the logit difference on labelled rows the training did not
fit (the dev split): with z = logit(p_positive) the model's own log-odds, it finds a > 0 and c minimising the
log-loss of sigmoid(a z + c), then writes a model folder whose classifier gives exactly those probabilities:

    W' = a W,    b' = a b + (-c/2, +c/2)    (rows: negative class, positive class)

A monotone map of each row's score: AUROC and AUPRC are unchanged, and only the probabilities move.

Rows may carry weights (`balanced_weights`: each class half the weight, each source group of a class an equal
share of it), so that a source with many dev rows does not set the scale for the sources with few.

    python scripts/shipped/calibrate.py MODEL_DIR DEV_TABLE OUT_DIR
"""
if __package__ in (None, ""):  # run as a file: make the repository root importable
    import sys as _sys
    from pathlib import Path as _Path
    _sys.path.insert(0, str(_Path(__file__).resolve().parents[2]))

import json
import shutil
from pathlib import Path

from dnabert2.errors import InputError, located

WEIGHT, BIAS = "classifier.weight", "classifier.bias"


def log_loss(z, y, a=1.0, c=0.0, weights=None):
    """Mean negative log-likelihood of labels y (0/1) under sigmoid(a z + c) (weighted mean with `weights`)."""
    import numpy as np

    t = a * np.asarray(z, dtype=np.float64) + c
    y = np.asarray(y, dtype=np.float64)
    return float(np.average(np.logaddexp(0.0, t) - y * t, weights=weights))


def balanced_weights(groups, labels):
    """One weight per row: each label half of the total, shared equally by its groups, and equally by a group's
    rows (so a group's weight does not grow with its number of rows). Sums to 1."""
    import numpy as np

    counts = {}
    for group, label in zip(groups, labels):
        counts.setdefault(label, {}).setdefault(group, 0)
        counts[label][group] += 1
    if len(groups) != len(labels) or len(counts) != 2:
        raise InputError("balanced weights need one group and one label per row, and rows of both labels")
    return np.array([1.0 / (2 * len(counts[label]) * counts[label][group]) for group, label in zip(groups, labels)])


def sigmoid(t):
    import numpy as np

    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-np.asarray(t, dtype=np.float64)))


def fit_platt(z, y, iterations=100, weights=None):
    """(a, c) minimising log_loss(z, y, a, c, weights), by Newton's method on the two parameters."""
    import numpy as np

    z, y = np.asarray(z, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if z.shape != y.shape or z.ndim != 1:
        raise InputError("calibration needs one score and one label per row")
    w = np.ones_like(z) if weights is None else np.asarray(weights, dtype=np.float64)
    if w.shape != z.shape or not (w >= 0).all() or not w.sum() > 0:
        raise InputError("calibration weights: one weight per row, none negative, not all zero")
    w = w / w.sum()
    if not set(np.unique(y)) == {0.0, 1.0}:
        raise InputError("calibration needs rows of both classes (labels 0 and 1)")
    X = np.stack([z, np.ones_like(z)], axis=1)  # (n, 2)
    theta = np.array([1.0, 0.0])
    for _ in range(iterations):
        p = sigmoid(X @ theta)
        gradient = X.T @ (w * (p - y))
        hessian = (X.T * (w * p * (1 - p))) @ X + 1e-9 * np.eye(2)
        step = np.linalg.solve(hessian, gradient)
        theta -= step
        if np.abs(step).max() < 1e-10:
            break
    else:
        raise InputError("calibration did not converge: the model's scores separate these rows perfectly (or "
                         "nearly), so no finite scale fits them; calibrate on more, or harder, rows")
    a, c = float(theta[0]), float(theta[1])
    if not a > 0:
        raise InputError(f"calibration: the fitted scale is {a:.4g}; the model's scores do not rank these rows "
                         "(a scale above 0 is needed to keep its ranking)")
    return a, c


def read_labels(path, positive):
    """(sequences, labels 0/1) of a one-sequence, one-label table (read and checked by finetune's table reader);
    label `positive` is 1, any other 0."""
    from dnabert2.common.tables import read_table

    table = read_table(path)
    if table.pairs or len(table.label_columns) != 1:
        raise InputError(located(path, "calibration needs one sequence column and one label column"))
    return table.sequences, [1 if labels[0] == positive else 0 for labels in table.labels]


def log_odds(model_dir, sequences, batch_size=64):
    """The model's log-odds of class 1 against class 0 for each sequence (float32 on the CPU, one strand, the
    sequence as it is: what `dnabert2 predict` computes for a window of that length)."""
    import numpy as np
    import torch

    from dnabert2 import load_model

    model, tokenizer = load_model(model_dir, task="classification", device="cpu", dtype=torch.float32)
    model.eval()
    scores = []
    with torch.inference_mode():
        for start in range(0, len(sequences), batch_size):
            batch = tokenizer(sequences[start:start + batch_size], padding=True, return_tensors="pt")
            logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits.float()
            scores.append((logits[:, 1] - logits[:, 0]).numpy())
    return np.concatenate(scores)


def fold(model_dir, out, a, c):
    """Copy model_dir to out with the classifier scaled: log-odds a z + c."""
    import torch
    from safetensors.torch import load_file, save_file

    model_dir, out = Path(model_dir), Path(out)
    config = json.loads((model_dir / "config.json").read_text())
    if len(config.get("id2label", {})) != 2:
        raise InputError(located(model_dir / "config.json", "calibration needs a two-class classifier"))
    tensors = load_file(str(model_dir / "model.safetensors"))
    if WEIGHT not in tensors or BIAS not in tensors:
        raise InputError(located(model_dir / "model.safetensors", f"no {WEIGHT} / {BIAS}"))
    if out.exists():
        shutil.rmtree(out)
    shutil.copytree(model_dir, out)
    weight, bias = tensors[WEIGHT], tensors[BIAS]
    tensors[WEIGHT] = (weight.double() * a).to(weight.dtype)
    tensors[BIAS] = (bias.double() * a + torch.tensor([-c / 2, c / 2], dtype=torch.float64)).to(bias.dtype)
    save_file(tensors, str(out / "model.safetensors"), metadata={"format": "pt"})


def calibrate(model_dir, table, out, positive="promoter", groups=None):
    """Fit (a, c) on `table` and write the folded model to `out`; returns the record the card reads. `groups` (one
    source group per row of `table`) fits on `balanced_weights` and reports the mean probabilities per group too."""
    import numpy as np

    sequences, labels = read_labels(table, positive)
    weights = None if groups is None else balanced_weights(groups, labels)
    z = log_odds(model_dir, sequences)
    a, c = fit_platt(z, labels, weights=weights)
    fold(model_dir, out, a, c)
    y = np.asarray(labels)
    p_before, p_after = sigmoid(z), sigmoid(a * z + c)
    record = {"table": str(table), "rows": len(labels), "positives": int(y.sum()), "scale": a, "shift": c,
              "weights": "rows alike" if groups is None else "balanced: each class half, its source groups alike",
              "log_loss": {"before": log_loss(z, y, weights=weights), "after": log_loss(z, y, a, c, weights)},
              "mean_probability": {"before": {"positive": float(p_before[y == 1].mean()),
                                              "negative": float(p_before[y == 0].mean())},
                                   "after": {"positive": float(p_after[y == 1].mean()),
                                             "negative": float(p_after[y == 0].mean())}}}
    if groups is not None:
        groups = np.asarray(groups)
        record["mean_probability_by_group"] = {
            f"{group} ({'positive' if y[groups == group][0] else 'negative'})":
                {"rows": int((groups == group).sum()), "before": float(p_before[groups == group].mean()),
                 "after": float(p_after[groups == group].mean())} for group in sorted(set(groups.tolist()))}
    return record


def main(argv=None):
    import argparse

    from scripts.shipped import print_record

    parser = argparse.ArgumentParser(prog="python scripts/shipped/calibrate.py", description=__doc__.split("\n")[0])
    parser.add_argument("model", help="two-class classifier folder")
    parser.add_argument("table", help="sequence,label table the model was not fitted on (e.g. the dev split)")
    parser.add_argument("out", help="folder for the calibrated model")
    parser.add_argument("--positive", default="promoter", help="the label of class 1 (default: promoter)")
    args = parser.parse_args(argv)
    print_record(lambda: calibrate(args.model, args.table, args.out, args.positive))


if __name__ == "__main__":
    main()
