"""One region's maps: every method asked for, on one or both strands, as per-base arrays of the region's strand.

`Attributor.region(sequence)` returns a `RegionMaps`: the one-hot sequence, the token covering each base, the
target's value, and per method the per-base `scores` [length] and the `hypothetical` contributions [length, 4]
(what each of the four bases would contribute; TF-MoDISco reads them). The observed contributions are
`one_hot * hypothetical`. ism's are its centred SNV effects (`ism.py`); the token methods give the observed base
only: `hypothetical = one_hot * scores`. With --rc-average the token methods also run on the reverse complement,
whose map is mirrored back (`bases.mirror`) and averaged with the forward one; ism averages each SNV's effect over
the strands in the engine.
"""
import time
from dataclasses import dataclass, field

import numpy as np

from dnabert2.errors import InputError
from dnabert2.interpret import bases, ism
from dnabert2.interpret.settings import GRADIENT_METHODS
from dnabert2.tokenizer.dna import reverse_complement
from dnabert2.variants.settings import DEFAULT_BLOCK
from dnabert2.variants.tokens import tokenise
SNV_BLOCK = DEFAULT_BLOCK  # ism: SNVs handed to the engine together, as score-variants --saturate does
COMPLETENESS = 0.01  # ig: warn when the attributions miss f(input) - f(baseline) by more than this share of it


@dataclass
class MethodMap:
    scores: np.ndarray  # [length] per-base importance
    hypothetical: np.ndarray  # [length, 4]
    delta: np.ndarray = None  # ism: [length, 4] SNV effects, 0 on the reference base


@dataclass
class RegionMaps:
    one_hot: np.ndarray  # [length, 4] uint8
    token_ids: np.ndarray  # [length] the id of the token covering each base (forward pass)
    token_start: np.ndarray  # [length] that token's span in the region
    token_end: np.ndarray
    n_tokens: int
    n_unknown: int
    target_value: float = float("nan")  # the target's value (mean over the strands with --rc-average)
    baseline_value: float = float("nan")  # ig / grad-x-input: the target's value at the baseline
    ig_gap: float = float("nan")  # ig: sum of the attributions - (value - baseline value)
    maps: dict = field(default_factory=dict)  # method -> MethodMap


class Attributor:
    """The methods of one run on a loaded model; `region(sequence)` computes one region's maps."""

    def __init__(self, loaded, settings, target):
        from dnabert2.interpret.attention import layer_index
        from dnabert2.variants.engine import Engine

        self.loaded, self.net, self.tokenizer, self.device = loaded, loaded.net, loaded.tokenizer, loaded.device
        self.net.requires_grad_(False)  # gradients are taken with respect to the inputs only
        self.settings, self.target, self.methods = settings, target, settings.methods
        self.stats = {"seconds_per_method": {m: 0.0 for m in self.methods}, "ig_gaps": 0}
        if "ism" in self.methods:
            want_logits = target is not None
            self.engine = Engine(loaded, settings.batch_tokens, want_logits=want_logits)
            if want_logits:
                self.snv_methods = [ism.LogOdds(target)]
            else:
                from dnabert2.variants.llr import Llr
                from dnabert2.variants.settings import DEFAULT_FLANK_TOKENS

                self.snv_methods = [Llr(DEFAULT_FLANK_TOKENS)]
        if any(m in GRADIENT_METHODS for m in self.methods):
            from dnabert2.interpret.gradients import baseline_vector

            self.base_vector = baseline_vector(self.net, self.tokenizer, settings.baseline)
        if "attention" in self.methods:
            self.layer = layer_index(settings.layer, self.net.config.num_hidden_layers)

    def region(self, sequence):
        """The RegionMaps of one region's sequence (upper case, read on its strand)."""
        strands = [sequence] if self.settings.passes == 1 else [sequence, reverse_complement(sequence)]
        tokens = tokenise(self.tokenizer, strands)
        forward = tokens[0]
        ids, start, end = bases.token_spans(forward.offsets, forward.ids[1:-1], len(sequence))
        out = RegionMaps(bases.one_hot(sequence), ids, start, end, forward.n, forward.unknown)
        if self.target is not None:
            out.target_value = float(np.mean([self._value(t.ids) for t in tokens]))
        for method in self.methods:
            t0 = time.perf_counter()
            if method == "ism":
                delta = ism.ism_delta(self.engine, self.snv_methods, sequence, self.settings.passes, SNV_BLOCK)
                out.maps[method] = MethodMap(ism.importance(delta), ism.hypothetical(delta), delta)
            else:
                scores = np.mean([self._strand_scores(method, t, len(sequence), strand, out)
                                  for strand, t in enumerate(tokens)], axis=0)  # [length]
                out.maps[method] = MethodMap(scores, out.one_hot * scores[:, None])
            self.stats["seconds_per_method"][method] += time.perf_counter() - t0
        if "ig" in self.methods:
            self._check_completeness(out)
        return out

    def _value(self, ids):
        import torch

        with torch.inference_mode():
            logits = self.net(input_ids=torch.as_tensor(ids, device=self.device)[None]).logits
        return float(self.target.of_logits(logits)[0])

    def _strand_scores(self, method, tokens, length, strand, out):
        """Per-base scores [length] of a token method on one strand, on the forward strand's coordinates."""
        if method == "attention":
            from dnabert2.interpret.attention import cls_attention

            scores = bases.spread(cls_attention(self.net, tokens.ids, self.layer), tokens.offsets, length, "copy")
        else:
            from dnabert2.interpret.gradients import embedding_attributions

            token_scores, f_input, f_baseline = embedding_attributions(
                self.net, tokens.ids, self.target, self.base_vector, self.settings.steps,
                self._rows(len(tokens.ids)), one_step=method == "grad-x-input")
            scores = bases.spread(token_scores, tokens.offsets, length, "share")
            out.baseline_value = f_baseline if strand == 0 else (out.baseline_value + f_baseline) / 2
            if method == "ig":
                gap = token_scores.sum() - (f_input - f_baseline)
                out.ig_gap = gap if strand == 0 else (out.ig_gap + gap) / 2
        return bases.mirror(scores) if strand == 1 else scores

    def _rows(self, length):
        """Sequences of `length` tokens per model call with gradients: as many as take the memory of one forward
        call of --batch-tokens tokens (`gradient_rows`)."""
        return gradient_rows(self.net.config, self.net.dtype, self.device, self.settings.batch_tokens, length)

    def _check_completeness(self, out):
        total = out.maps["ig"].scores.sum()
        if abs(out.ig_gap) > COMPLETENESS * max(abs(total - out.ig_gap), 1e-6):
            self.stats["ig_gaps"] += 1


def gradient_rows(config, dtype, device, batch_tokens, length):
    """Rows of `length` tokens per call with gradients (every layer's activations kept for the backward pass) that
    take no more memory than a forward call without them of `batch_tokens` tokens; at least 1."""
    from dnabert2.common.memory import ModelSize, inference_bytes, training_bytes

    size = ModelSize.of(config, dtype, device)
    budget = inference_bytes(size, batch_tokens, length)
    return max(1, budget // max(training_bytes(size, 1, length, 0), 1))


def check_methods(methods, kind):
    """InputError when the model (`variants.methods.model_kind`: masked-lm, classification, base) cannot give a
    method; returns the methods, the model's default ones when none were asked for."""
    if methods is None:
        methods = {"classification": ("ig",), "masked-lm": ("ism",), "base": ("attention",)}[kind]
    served = {"classification": ("ism", "ig", "grad-x-input", "attention"), "masked-lm": ("ism", "attention"),
              "base": ("attention",)}[kind]
    for method in methods:
        if method not in served:
            needs = "a fine-tuned classifier or regressor (from `dnabert2 finetune`)"
            raise InputError(f"--method {method} needs {needs}; this is a {kind} model without a head (it can "
                             f"give: {', '.join(served)})")
    return tuple(methods)
