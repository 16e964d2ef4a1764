"""What a map explains: one output of a fine-tuned model, as a number that does not depend on softmax's free shift.

For a single-label classifier the target's log-odds, its logit minus the log-sum-exp of the other classes' logits
(= log p / (1 - p)); for a multi-label one the label's own logit (the log-odds of its sigmoid); for a regressor the
value itself. A masked-LM model has no target: ism scores each SNV by its llr instead.
"""
from dataclasses import dataclass

import numpy as np

from dnabert2.errors import InputError


@dataclass(frozen=True)
class Target:
    """One output of a fine-tuned model: its index among the logits, its name and the model's problem type."""
    index: int
    name: str
    problem_type: str  # single_label_classification, multi_label_classification or regression
    label_names: tuple  # every output's name

    def of_logits(self, logits):
        """The target value of logits [B, C] (torch) -> [B] float32."""
        import torch

        logits = logits.float()
        value = logits[:, self.index]  # [B]
        if self.problem_type != "single_label_classification":
            return value
        others = torch.cat([logits[:, :self.index], logits[:, self.index + 1:]], dim=1)  # [B, C - 1]
        return value - torch.logsumexp(others, dim=1)

    def of_row(self, logits):
        """The target value of one row of logits [C] (numpy, float64) -> float."""
        logits = np.asarray(logits, dtype=np.float64)
        value = float(logits[self.index])
        if self.problem_type != "single_label_classification":
            return value
        others = np.delete(logits, self.index)
        top = others.max()
        return value - float(top + np.log(np.exp(others - top).sum()))

    @property
    def meaning(self):
        if self.problem_type == "regression":
            return f"the value of {self.name}"
        return f"the log-odds of {self.name}"


def resolve_target(target, config):
    """The Target of `--target` (a name, a number or None) for a fine-tuned model of `config`; InputError when the
    model has no such output or the choice is ambiguous."""
    from dnabert2.regions.heads import make_head
    from dnabert2.regions.settings import PredictSettings

    head = make_head(PredictSettings(), config)  # label names and problem type, as predict reads them
    names, problem = list(head.label_names), head.problem_type
    what = "output" if problem == "regression" else "class" if problem == "single_label_classification" else "label"
    listed = ", ".join(f"{i} ({name})" for i, name in enumerate(names))
    if target is None:
        if len(names) == 1 or (problem == "single_label_classification" and len(names) == 2):
            index = len(names) - 1
        else:
            plural = "classes" if what == "class" else f"{what}s"
            raise InputError(f"--target: this model has {len(names)} {plural}; say which to explain (by name or "
                             f"number): {listed}")
    elif str(target) in names:
        index = names.index(str(target))
    elif str(target).lstrip("-").isdigit() and 0 <= int(target) < len(names):
        index = int(target)
    else:
        raise InputError(f"--target {target}: the model has no such {what}; it has {listed}")
    return Target(index, names[index], problem, tuple(names))
