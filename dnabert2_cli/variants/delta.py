"""`delta`: what a fine-tuned model (`dnabert2 finetune`) predicts for the ALT window minus what it predicts for
the REF window: every class probability and logit of a classifier (sigmoid per label for a multi-label one), or
every value of a regression model."""
import numpy as np


class Delta:
    name = "delta"

    def __init__(self, problem_type, label_names):
        self.problem_type, self.label_names = problem_type, label_names

    @property
    def outputs(self):
        """The dataset names it writes (each [rows, ..., labels])."""
        if self.problem_type == "regression":
            return ("scores/delta_value",)
        return ("scores/delta_prob", "scores/delta_logit")

    def columns(self, tail):
        return {name: ("float32", (*tail, len(self.label_names))) for name in self.outputs}

    def request(self, engine, pair):
        engine.plain(pair.ref)
        engine.plain(pair.alt)

    def score(self, engine, pair, state):
        ref, alt = engine.logits[pair.ref], engine.logits[pair.alt]
        if self.problem_type == "regression":
            return {"scores/delta_value": alt - ref}
        return {"scores/delta_prob": self._probabilities(alt) - self._probabilities(ref),
                "scores/delta_logit": alt - ref}

    def _probabilities(self, logits):
        if self.problem_type == "multi_label_classification":
            return 1.0 / (1.0 + np.exp(-logits))
        shifted = np.exp(logits - logits.max())
        return shifted / shifted.sum()
