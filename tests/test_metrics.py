"""Every metric against a hand computation on small confusion matrices and vectors."""
import math

import numpy as np
import pytest

from dnabert2.finetuning.metrics import (classification_metrics, confusion_matrix, compute_metrics, is_better,
                              multilabel_metrics, ranks, regression_metrics)


def _from_confusion(matrix):
    """(y_true, y_pred) lists that produce the given confusion matrix (rows true, columns predicted)."""
    y_true, y_pred = [], []
    for t, row in enumerate(matrix):
        for p, count in enumerate(row):
            y_true += [t] * count
            y_pred += [p] * count
    return y_true, y_pred


def test_binary_confusion_matrix_by_hand():
    # TN=5 FP=1 / FN=2 TP=4, 12 examples
    y_true, y_pred = _from_confusion([[5, 1], [2, 4]])
    got = classification_metrics(y_true, y_pred, 2)
    assert got["accuracy"] == pytest.approx(9 / 12)
    # class 1: precision 4/5, recall 4/6; class 0: precision 5/7, recall 5/6
    p1, r1, p0, r0 = 4 / 5, 4 / 6, 5 / 7, 5 / 6
    f1_1 = 2 * p1 * r1 / (p1 + r1)
    f1_0 = 2 * p0 * r0 / (p0 + r0)
    assert got["precision"] == pytest.approx((p0 + p1) / 2)
    assert got["recall"] == pytest.approx((r0 + r1) / 2)
    assert got["f1"] == pytest.approx((f1_0 + f1_1) / 2)
    mcc = (4 * 5 - 1 * 2) / math.sqrt((4 + 1) * (4 + 2) * (5 + 1) * (5 + 2))
    assert got["mcc"] == pytest.approx(mcc)


def test_three_class_confusion_matrix_by_hand():
    matrix = [[3, 1, 0], [0, 2, 2], [1, 0, 1]]
    y_true, y_pred = _from_confusion(matrix)
    got = classification_metrics(y_true, y_pred, 3)
    assert np.array_equal(confusion_matrix(y_true, y_pred, 3), matrix)
    assert got["accuracy"] == pytest.approx(6 / 10)
    precision = [3 / 4, 2 / 3, 1 / 3]
    recall = [3 / 4, 2 / 4, 1 / 2]
    f1 = [2 * p * r / (p + r) for p, r in zip(precision, recall)]
    assert got["precision"] == pytest.approx(sum(precision) / 3)
    assert got["recall"] == pytest.approx(sum(recall) / 3)
    assert got["f1"] == pytest.approx(sum(f1) / 3)
    # Gorodkin's multi-class MCC: (c*s - sum p_k t_k) / sqrt((s^2 - sum p_k^2)(s^2 - sum t_k^2))
    c, s = 6, 10
    t_k, p_k = [4, 4, 2], [4, 3, 3]
    mcc = (c * s - sum(a * b for a, b in zip(p_k, t_k))) / math.sqrt(
        (s * s - sum(a * a for a in p_k)) * (s * s - sum(a * a for a in t_k)))
    assert got["mcc"] == pytest.approx(mcc)


def test_class_never_predicted_scores_zero_precision_and_absent_class_is_left_out():
    # class 2 exists (num_classes 3) but occurs in neither labels nor predictions: not averaged
    got = classification_metrics([0, 0, 1, 1], [0, 0, 0, 0], 3)
    assert got["precision"] == pytest.approx((2 / 4 + 0) / 2)
    assert got["recall"] == pytest.approx((1 + 0) / 2)
    assert got["mcc"] == 0.0


def test_perfect_and_inverted_binary():
    assert classification_metrics([0, 1, 1, 0], [0, 1, 1, 0], 2)["mcc"] == pytest.approx(1.0)
    assert classification_metrics([0, 1, 1, 0], [1, 0, 0, 1], 2)["mcc"] == pytest.approx(-1.0)


def test_multilabel_by_hand():
    y_true = np.array([[1, 0], [1, 1], [0, 1], [0, 0]])
    y_pred = np.array([[1, 0], [0, 1], [0, 1], [1, 0]])
    got = multilabel_metrics(y_true, y_pred)
    assert got["accuracy"] == pytest.approx(2 / 4)          # rows 0 and 2 match exactly
    assert got["label_accuracy"] == pytest.approx(6 / 8)
    # label 0: TP 1, FP 1, FN 1 -> P 1/2, R 1/2, F1 1/2; label 1: TP 2, FP 0, FN 0 -> 1, 1, 1
    assert got["precision"] == pytest.approx(0.75)
    assert got["recall"] == pytest.approx(0.75)
    assert got["f1"] == pytest.approx(0.75)
    # label 0: TP 1 TN 1 FP 1 FN 1 -> MCC 0; label 1 perfect -> 1
    assert got["mcc"] == pytest.approx(0.5)


def test_ranks_average_ties():
    assert ranks([10, 20, 20, 5]).tolist() == [2.0, 3.5, 3.5, 1.0]


def test_regression_by_hand():
    y = [1.0, 2.0, 3.0, 4.0]
    p = [1.5, 1.5, 3.5, 5.0]
    got = regression_metrics(y, p)
    assert got["mse"] == pytest.approx((0.25 + 0.25 + 0.25 + 1.0) / 4)
    assert got["r2"] == pytest.approx(1 - 1.75 / 5.0)
    # Pearson by the textbook formula
    my, mp = 2.5, 2.875
    cov = sum((a - my) * (b - mp) for a, b in zip(y, p))
    sy = math.sqrt(sum((a - my) ** 2 for a in y))
    sp = math.sqrt(sum((b - mp) ** 2 for b in p))
    assert got["pearson"] == pytest.approx(cov / (sy * sp))
    # Spearman: ranks of p are 1.5, 1.5, 3, 4 against 1, 2, 3, 4
    rp, ry = [1.5, 1.5, 3, 4], [1, 2, 3, 4]
    mr = 2.5
    cov = sum((a - mr) * (b - mr) for a, b in zip(ry, rp))
    assert got["spearman"] == pytest.approx(cov / math.sqrt(sum((a - mr) ** 2 for a in ry)
                                                            * sum((b - mr) ** 2 for b in rp)))


def test_constant_predictions_give_zero_correlation():
    got = regression_metrics([1.0, 2.0, 3.0], [2.0, 2.0, 2.0])
    assert got["pearson"] == 0.0 and got["spearman"] == 0.0
    assert got["r2"] == pytest.approx(0.0)


def test_agrees_with_scikit_learn_on_random_labels():
    sklearn = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(0)
    y_true, y_pred = rng.integers(0, 4, 200), rng.integers(0, 4, 200)
    got = compute_metrics("classification", y_true, y_pred, 4)
    assert got["f1"] == pytest.approx(sklearn.f1_score(y_true, y_pred, average="macro", zero_division=0))
    assert got["mcc"] == pytest.approx(sklearn.matthews_corrcoef(y_true, y_pred))
    assert got["precision"] == pytest.approx(sklearn.precision_score(y_true, y_pred, average="macro",
                                                                     zero_division=0))


def test_is_better_direction():
    assert is_better("loss", 0.5, 0.6) and not is_better("loss", 0.7, 0.6)
    assert is_better("mcc", 0.7, 0.6) and not is_better("mse", 0.7, 0.6)
    assert is_better("f1", 0.1, None)
