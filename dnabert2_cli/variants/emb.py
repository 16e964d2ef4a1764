"""`emb`: how far the ALT window's embedding lies from the REF window's (the published zero-shot baseline).

Each window's embedding is the mean of the last hidden layer over its real tokens (as `dnabert2 embed` pools);
the scores are the cosine distance (1 - cosine similarity) and the Euclidean (L2) distance between the two.
"""
import numpy as np


class Emb:
    name = "emb"

    def columns(self, tail):
        return {"scores/emb_cos": ("float32", tail), "scores/emb_l2": ("float32", tail)}

    def request(self, engine, pair):
        engine.plain(pair.ref)
        engine.plain(pair.alt)

    def score(self, engine, pair, state):
        ref, alt = engine.mean[pair.ref], engine.mean[pair.alt]
        cosine = float(ref @ alt) / max(float(np.linalg.norm(ref) * np.linalg.norm(alt)), 1e-30)
        return {"scores/emb_cos": 1.0 - cosine, "scores/emb_l2": float(np.linalg.norm(alt - ref))}
