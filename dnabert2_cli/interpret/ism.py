"""`ism`: in-silico saturation mutagenesis of a region through the score-variants engine.

Every SNV of the region (3 per base, 4 at an N) is a variant whose REF window is the whole region; the engine
(`variants.engine.Engine`, via `variants.scoring.saturate`) tokenises the mutated copies, computes each distinct
one once in token-budget batches and keeps the REF region computed while its SNVs go through. The effect of an SNV
is the change of the target (`targets.Target`: log-odds, or a regressor's value), mutated minus reference; with a
masked-LM model it is score-variants' llr of the SNV (a zero-shot map). With --rc-average the engine averages each
SNV's effect over the two strands.

The map is `delta` [length, 4] (0 on the reference base). What TF-MoDISco reads, the hypothetical contribution
of each base, is `delta` centred per position: h[i, b] = delta[i, b] - mean over the four bases of delta[i]; the
per-base importance is h at the reference base, -(sum of the three SNV effects) / 4: positive where mutating the
base lowers the target.
"""
import numpy as np

from dnabert2.interpret.bases import BASES
from dnabert2.variants.scoring import saturate

SCORE = "ism"  # the key of LogOdds's score


class LogOdds:
    """A score-variants method: the change of the target between the ALT and the REF window."""
    name = "log_odds"

    def __init__(self, target):
        self.target = target

    def request(self, engine, pair):
        engine.plain(pair.ref)
        engine.plain(pair.alt)

    def score(self, engine, pair, state):
        return {SCORE: self.target.of_row(engine.logits[pair.alt]) - self.target.of_row(engine.logits[pair.ref])}


def ism_delta(engine, methods, sequence, passes, block):
    """delta [length, 4] float64: the effect of every SNV of `sequence` (0 on its own base); `methods` holds the one
    score-variants method giving it (LogOdds, or Llr for a masked-LM model)."""
    results, _ = saturate(engine, methods, sequence, passes, block)
    delta = np.zeros((len(sequence), len(BASES)), dtype=np.float64)
    for i, per_base in enumerate(results):
        for b, scored in enumerate(per_base):
            if scored is not None:
                delta[i, b] = float(next(iter(scored.scores.values())))
    return delta


def hypothetical(delta):
    """The hypothetical contributions of an ism map: delta centred per position (module docstring)."""
    return delta - delta.mean(axis=1, keepdims=True)


def importance(delta):
    """The per-base importance of an ism map: -(mean over the four bases of delta) (module docstring)."""
    return -delta.mean(axis=1)
