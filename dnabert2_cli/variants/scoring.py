"""Scoring a list of variants with the run's methods: their windows go to the engine together, each method asks
for what it needs, the engine computes it in batches, each method reads its score; with --rc-average the score is
the mean of the two strands'. `saturate` scores every SNV of one sequence that way (score-variants --saturate,
attribute --method ism)."""
from dataclasses import dataclass

import numpy as np

from dnabert2.variants.columns import BASES
from dnabert2.variants.windows import alt_window, strand_passes


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


def saturate(engine, methods, sequence, passes, block):
    """([[Scored or None] * 4] per base, SNVs scored): every SNV of `sequence` (to A, C, G, T on its strand; None on
    its own base) scored against the whole sequence as the REF window, `block` SNVs per engine round; the REF
    sequence stays computed from one round to the next. The engine is cleared at the end."""
    refs = [r for r, _ in strand_passes(sequence, sequence, passes)]
    snvs = [(i, b) for i, base in enumerate(sequence) for b, new in enumerate(BASES) if new != base]
    results = [[None] * len(BASES) for _ in sequence]
    for lo in range(0, len(snvs), block):
        chunk = snvs[lo:lo + block]
        items = [strand_passes(sequence, alt_window(sequence, i, 1, BASES[b]), passes) for i, b in chunk]
        for (i, b), scored in zip(chunk, score_items(engine, methods, items)):
            results[i][b] = scored
        engine.keep_only(refs)  # the REF sequence stays computed for the next chunk
    engine.clear()
    return results, len(snvs)


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
