"""Evaluation metrics of fine-tuned models, in plain numpy (no scikit-learn or scipy needed at run time).

Classification reports what the original DNABERT-2 script reports: accuracy, macro F1, Matthews correlation (MCC),
macro precision and macro recall. As in scikit-learn's defaults, the macro averages run over the classes that occur
in the labels or the predictions, and a class with no predicted (or no true) example scores 0 precision (recall).
Multi-label tasks report exact-match accuracy, per-label accuracy, and F1, precision, recall and MCC averaged over
the label columns. Regression reports Pearson and Spearman correlation, R2 and mean squared error.
"""
import math

import numpy as np

# metric -> True when larger is better (used to pick the best dev checkpoint with --select-metric)
HIGHER_IS_BETTER = {
    "loss": False, "accuracy": True, "f1": True, "mcc": True, "precision": True, "recall": True,
    "label_accuracy": True, "pearson": True, "spearman": True, "r2": True, "mse": False,
}
CLASSIFICATION = ("accuracy", "f1", "mcc", "precision", "recall")
MULTILABEL = ("accuracy", "label_accuracy", "f1", "mcc", "precision", "recall")
REGRESSION = ("pearson", "spearman", "r2", "mse")


def metric_names(task):
    """The metrics reported for a task ('classification', 'multilabel' or 'regression')."""
    return {"classification": CLASSIFICATION, "multilabel": MULTILABEL, "regression": REGRESSION}[task]


def confusion_matrix(y_true, y_pred, num_classes):
    """[num_classes, num_classes] counts; rows are true classes, columns predicted classes."""
    y_true = np.asarray(y_true, dtype=np.int64)
    y_pred = np.asarray(y_pred, dtype=np.int64)
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(matrix, (y_true, y_pred), 1)
    return matrix


def mcc_from_confusion(matrix):
    """Matthews correlation for any number of classes (Gorodkin's R_K); 0 when undefined."""
    matrix = np.asarray(matrix, dtype=np.float64)
    n = matrix.sum()
    correct = np.trace(matrix)
    predicted = matrix.sum(axis=0)
    true = matrix.sum(axis=1)
    numerator = correct * n - predicted @ true
    denominator = math.sqrt(n * n - predicted @ predicted) * math.sqrt(n * n - true @ true)
    return float(numerator / denominator) if denominator > 0 else 0.0


def classification_metrics(y_true, y_pred, num_classes):
    """Accuracy, macro F1, MCC, macro precision and recall of integer class ids."""
    matrix = confusion_matrix(y_true, y_pred, num_classes)
    if matrix.sum() == 0:
        raise ValueError("no examples to score")
    tp = np.diag(matrix).astype(np.float64)
    predicted = matrix.sum(axis=0).astype(np.float64)
    true = matrix.sum(axis=1).astype(np.float64)
    present = (predicted + true) > 0
    precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
    recall = np.divide(tp, true, out=np.zeros_like(tp), where=true > 0)
    f1 = np.divide(2 * tp, predicted + true, out=np.zeros_like(tp), where=present)
    return {
        "accuracy": float(tp.sum() / matrix.sum()),
        "f1": float(f1[present].mean()),
        "mcc": mcc_from_confusion(matrix),
        "precision": float(precision[present].mean()),
        "recall": float(recall[present].mean()),
    }


def multilabel_metrics(y_true, y_pred):
    """Metrics of 0/1 matrices [examples, labels]: exact-match and per-label accuracy, label-averaged F1/P/R/MCC."""
    y_true = np.asarray(y_true, dtype=np.int64)
    y_pred = np.asarray(y_pred, dtype=np.int64)
    per_label = [classification_metrics(y_true[:, j], y_pred[:, j], 2) for j in range(y_true.shape[1])]
    # binary F1, precision and recall of the positive class of each label, then averaged over labels
    tp = ((y_true == 1) & (y_pred == 1)).sum(axis=0).astype(np.float64)
    predicted = (y_pred == 1).sum(axis=0).astype(np.float64)
    true = (y_true == 1).sum(axis=0).astype(np.float64)
    precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
    recall = np.divide(tp, true, out=np.zeros_like(tp), where=true > 0)
    f1 = np.divide(2 * tp, predicted + true, out=np.zeros_like(tp), where=(predicted + true) > 0)
    return {
        "accuracy": float((y_true == y_pred).all(axis=1).mean()),
        "label_accuracy": float((y_true == y_pred).mean()),
        "f1": float(f1.mean()),
        "mcc": float(np.mean([m["mcc"] for m in per_label])),
        "precision": float(precision.mean()),
        "recall": float(recall.mean()),
    }


def ranks(values):
    """1-based ranks, ties given the mean of the ranks they span."""
    values = np.asarray(values, dtype=np.float64)
    order = np.argsort(values, kind="mergesort")
    sorted_values = values[order]
    # start index of each run of equal values
    starts = np.flatnonzero(np.r_[True, sorted_values[1:] != sorted_values[:-1]])
    ends = np.r_[starts[1:], len(values)]
    result = np.empty(len(values), dtype=np.float64)
    for start, end in zip(starts, ends):
        result[order[start:end]] = (start + end + 1) / 2.0
    return result


def pearson(x, y):
    """Pearson correlation; 0 when either side is constant."""
    x = np.asarray(x, dtype=np.float64) - np.mean(x)
    y = np.asarray(y, dtype=np.float64) - np.mean(y)
    denominator = math.sqrt(float(x @ x) * float(y @ y))
    return float(x @ y / denominator) if denominator > 0 else 0.0


def regression_metrics(y_true, y_pred):
    """Pearson, Spearman, R2 and MSE of real-valued targets."""
    y_true = np.asarray(y_true, dtype=np.float64).reshape(-1)
    y_pred = np.asarray(y_pred, dtype=np.float64).reshape(-1)
    if len(y_true) == 0:
        raise ValueError("no examples to score")
    residual = float(((y_true - y_pred) ** 2).sum())
    total = float(((y_true - y_true.mean()) ** 2).sum())
    return {
        "pearson": pearson(y_true, y_pred),
        "spearman": pearson(ranks(y_true), ranks(y_pred)),
        "r2": 1.0 - residual / total if total > 0 else 0.0,
        "mse": residual / len(y_true),
    }


def compute_metrics(task, y_true, y_pred, num_classes=None):
    """Dispatch on the task: class ids, 0/1 matrices or real values."""
    if task == "classification":
        return classification_metrics(y_true, y_pred, num_classes)
    if task == "multilabel":
        return multilabel_metrics(y_true, y_pred)
    if task == "regression":
        return regression_metrics(y_true, y_pred)
    raise ValueError(f"unknown task {task!r}")


def is_better(metric, value, best):
    """Whether `value` improves on `best` for this metric (None means nothing yet)."""
    if best is None:
        return True
    return value > best if HIGHER_IS_BETTER[metric] else value < best
