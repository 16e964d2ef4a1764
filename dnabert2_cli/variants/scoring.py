"""Scoring a list of variants with the run's methods: their windows go to the engine together, each method asks
for what it needs, the engine computes it in batches, each method reads its score; with --rc-average the score is
the mean of the two strands'."""
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Pair:
    """The REF and ALT windows of one variant on one strand, and their numbers in the engine."""
    ref: int
    alt: int
    ref_seq: str
    alt_seq: str


@dataclass
class Scored:
    """A variant's scores {dataset name: value, averaged over the strands} and what its forward pass used."""
    scores: dict
    unknown: int  # [UNK] tokens of the REF window
    masked_ref: int = 0  # REF and ALT tokens masked for llr on the forward strand
    masked_alt: int = 0


def score_items(engine, methods, items):
    """[Scored or None] for items: each a list of (REF window, ALT window), one per strand, or None (not scored)."""
    pairs = [None if passes is None else [Pair(engine.add(r), engine.add(a), r, a) for r, a in passes]
             for passes in items]
    engine.tokenise()
    states = [None if passes is None else [[m.request(engine, p) for m in methods] for p in passes]
              for passes in pairs]
    engine.compute()
    return [None if passes is None else _scored(engine, methods, passes, state)
            for passes, state in zip(pairs, states)]


def _scored(engine, methods, passes, states):
    per_pass = []
    for pair, pair_states in zip(passes, states):
        values = {}
        for method, state in zip(methods, pair_states):
            values.update(method.score(engine, pair, state))
        per_pass.append(values)
    scores = {name: np.mean([np.asarray(v[name], dtype=np.float64) for v in per_pass], axis=0)
              for name in per_pass[0]}
    out = Scored(scores, engine.tokens[passes[0].ref].unknown)
    for method, state in zip(methods, states[0]):
        if method.name == "llr":
            (ref_lo, ref_hi), (alt_lo, alt_hi) = state
            out.masked_ref, out.masked_alt = ref_hi - ref_lo, alt_hi - alt_lo
    return out
