"""What each task (classification, regression, multilabel) means for the classifier: its problem type, its loss
(with optional class weights), and how logits become scores and predictions."""
import numpy as np

from dnabert2.errors import InputError

# task -> `config.problem_type` of the saved classifier (and of its loss)
PROBLEM_TYPES = {"classification": "single_label_classification", "regression": "regression",
                 "multilabel": "multi_label_classification"}


def task_loss(task, weights=None):
    """(logits, targets) -> scalar loss: cross-entropy, MSE, or binary cross-entropy per label (the model's own
    `sequence_classification_loss`); `weights` from `class_weights`."""
    from dnabert2.model.modeling import sequence_classification_loss

    problem_type = PROBLEM_TYPES[task]
    return lambda logits, targets: sequence_classification_loss(logits, targets, problem_type, weight=weights)


def class_weights(task, targets, mode):
    """'balanced' weights: n / (classes x count) per class; multi-label: negatives / positives per label."""
    import torch

    if mode in (None, "none"):
        return None
    if task == "classification":
        counts = np.bincount(targets, minlength=int(targets.max()) + 1).astype(np.float64)
        weights = len(targets) / (len(counts) * np.maximum(counts, 1))
    elif task == "multilabel":
        positives = targets.sum(axis=0)
        weights = (len(targets) - positives) / np.maximum(positives, 1)
    else:
        raise InputError("--class-weights applies to classification and multi-label tasks, not regression")
    return torch.as_tensor(weights, dtype=torch.float32)


def outputs_from_logits(task, logits):
    """logits [N, C] -> (scores, predictions): probabilities and class ids / 0-1 matrix / regression values."""
    from dnabert2.common.scores import predicted_labels

    logits = np.asarray(logits, dtype=np.float64)
    if task == "classification":
        shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
        probabilities = shifted / shifted.sum(axis=1, keepdims=True)
    elif task == "multilabel":
        probabilities = 1.0 / (1.0 + np.exp(-logits))
    else:
        values = logits[:, 0]
        return values, values
    return probabilities, predicted_labels(task, probabilities)
