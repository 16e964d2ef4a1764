"""Model outputs as scores and predicted labels, the same way in `finetune` (dev/test reports) and `predict`."""
import numpy as np

MULTILABEL_THRESHOLD = 0.5  # a label is predicted when its probability is above this (logit above 0)


def predicted_labels(problem_type, scores):
    """Class ids (argmax) of probabilities [N, C], or the 0/1 matrix of multi-label probabilities [N, L]."""
    scores = np.asarray(scores)
    if problem_type in ("multi_label_classification", "multilabel"):
        return (scores > MULTILABEL_THRESHOLD).astype(np.int64)
    return scores.argmax(axis=1)
