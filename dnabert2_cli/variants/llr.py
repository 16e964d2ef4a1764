"""`llr`: the zero-shot log-likelihood ratio of a variant under a masked-LM model.

The tokens a variant changes (`tokens.changed_tokens`, with --flank-tokens neighbours) are masked one at a time in
the REF window and in the ALT window (pseudo-log-likelihood); the score is
sum log p(ALT tokens) - sum log p(REF tokens). Negative: the model finds the ALT sequence less likely.
"""
from dnabert2.variants.tokens import changed_tokens


class Llr:
    name = "llr"

    def __init__(self, flank_tokens):
        self.flank = flank_tokens

    def columns(self, tail):
        return {"scores/llr": ("float32", tail)}

    def request(self, engine, pair):
        """Ask `engine` for the masked copies of `pair`; returns the two token spans."""
        spans = changed_tokens(pair.ref_seq, pair.alt_seq, engine.tokens[pair.ref], engine.tokens[pair.alt],
                               self.flank)
        for number, (lo, hi) in zip((pair.ref, pair.alt), spans):
            for k in range(lo, hi):
                engine.masked(number, k)
        return spans

    def score(self, engine, pair, spans):
        (ref_lo, ref_hi), (alt_lo, alt_hi) = spans
        alt = sum(engine.logp[(pair.alt, k)] for k in range(alt_lo, alt_hi))
        ref = sum(engine.logp[(pair.ref, k)] for k in range(ref_lo, ref_hi))
        return {"scores/llr": alt - ref}
