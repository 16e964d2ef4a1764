"""Genome windows for pretraining: FASTA files as A/C/G/T pieces, the window length, and drawing windows.

FASTA genomes are read once, upper-cased and cut at everything that is not A/C/G/T (N, IUPAC, gaps); pieces
shorter than `MIN_PIECE` bp are dropped. The last `heldout_fraction` of each file's bases is held out for
evaluation and never sampled for training. Windows are `window_bp` long (enough bases for `max_tokens` tokens,
measured on the genome itself), tokenised without special tokens, cut to `max_tokens - 2` tokens and framed by
[CLS] ... [SEP].
"""
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from dnabert2.errors import InputError, located

MIN_PIECE = 50          # bp; shorter A/C/G/T pieces between Ns are dropped
WINDOW_MARGIN = 1.2     # window_bp = margin * bases needed for max_tokens tokens at the genome's nt/token


@dataclass
class Genome:
    """One FASTA file as pieces of pure A/C/G/T (uint8 ASCII arrays), split into training and held-out."""
    path: Path
    train: list = field(default_factory=list)
    heldout: list = field(default_factory=list)

    @property
    def train_bases(self):
        return sum(len(p) for p in self.train)


def read_genome(path, heldout_fraction=0.0, min_piece=MIN_PIECE):
    """Read one FASTA file; the last `heldout_fraction` of its usable bases are held out."""
    from dnabert2.tokenizer import acgt_runs, read_fasta

    pieces = []
    for _, seq in read_fasta([path]):
        pieces.extend(np.frombuffer(run.encode("ascii"), dtype=np.uint8) for run in acgt_runs(seq, min_piece))
    total = sum(len(p) for p in pieces)
    if total == 0:
        raise InputError(located(path, f"no usable sequence (no run of A/C/G/T of at least {min_piece} bp)"))
    held = math.ceil(total * heldout_fraction) if heldout_fraction > 0 else 0
    genome = Genome(Path(path))
    # walk back from the end, moving `held` bases into the held-out part
    while pieces and held > 0:
        last = pieces.pop()
        if len(last) <= held:
            genome.heldout.insert(0, last)
            held -= len(last)
        else:
            genome.heldout.insert(0, last[len(last) - held:])
            pieces.append(last[:len(last) - held])
            held = 0
    genome.train = [p for p in pieces if len(p) >= min_piece]
    if not genome.train:
        raise InputError(located(path, f"no sequence left for training after holding out {heldout_fraction:.1%} "
                                       "for evaluation (lower --heldout-fraction)"))
    return genome


def read_genomes(paths, heldout_fraction=0.0):
    """`read_genome` for every path (at least one)."""
    if not paths:
        raise InputError("--genome: give at least one FASTA file")
    return [read_genome(p, heldout_fraction) for p in paths]


def measure_window_bp(tokenizer, genomes, max_tokens, sample_pieces=64, sample_bp=2000):
    """Window length in bp that yields `max_tokens - 2` tokens with room to spare, measured on the genomes."""
    backend = tokenizer.backend_tokenizer
    bases = tokens = 0
    for genome in genomes:
        for piece in genome.train[:sample_pieces]:
            step = max(len(piece) // 8, sample_bp)
            for start in range(0, len(piece), step):
                text = piece[start:start + sample_bp].tobytes().decode("ascii")
                bases += len(text)
                tokens += len(backend.encode(text, add_special_tokens=False).ids)
    nt_per_token = bases / max(tokens, 1)
    return max(int(math.ceil(WINDOW_MARGIN * (max_tokens - 2) * nt_per_token)), 8)


class WindowSampler:
    """Draws training windows: file by weight, start uniform over the file's windows, strand by coin flip."""

    def __init__(self, genomes, window_bp, weights=None):
        self.genomes = genomes
        self.window_bp = window_bp
        self.cum_starts = []
        for g in genomes:
            starts = [len(p) - min(window_bp, len(p)) + 1 for p in g.train]
            self.cum_starts.append(np.cumsum(np.asarray(starts, dtype=np.int64)))
        if weights is None:
            weights = [g.train_bases for g in genomes]
        if len(weights) != len(genomes):
            raise InputError(f"--genome-weights: {len(weights)} weight(s) for {len(genomes)} genome file(s)")
        if any(not w >= 0 for w in weights) or sum(weights) <= 0:
            raise InputError(f"--genome-weights: weights must be non-negative and not all 0 (got {list(weights)})")
        self.probs = np.asarray(weights, dtype=np.float64) / float(sum(weights))

    def window(self, rng):
        """One window (str, upper-case A/C/G/T) drawn with `rng`; always consumes the same draws."""
        from dnabert2.tokenizer import reverse_complement

        f = int(rng.choice(len(self.genomes), p=self.probs))
        cum = self.cum_starts[f]
        u = int(rng.integers(cum[-1]))
        j = int(np.searchsorted(cum, u, side="right"))
        start = u - (int(cum[j - 1]) if j else 0)
        piece = self.genomes[f].train[j]
        text = piece[start:start + self.window_bp].tobytes().decode("ascii")
        if rng.random() < 0.5:
            text = reverse_complement(text)
        return text


def heldout_windows(genomes, window_bp, max_windows):
    """Consecutive forward-strand windows tiling the held-out parts, up to `max_windows`."""
    out = []
    for g in genomes:
        for piece in g.heldout:
            for start in range(0, len(piece), window_bp):
                chunk = piece[start:start + window_bp]
                if len(chunk) >= MIN_PIECE or (start == 0 and len(chunk) > 0):
                    out.append(chunk.tobytes().decode("ascii"))
                if len(out) >= max_windows:
                    return out
    return out


def encode_windows(tokenizer, texts, max_tokens):
    """Token ids [CLS] w... [SEP] per text (the window cut to max_tokens - 2 tokens), as int64 arrays."""
    backend = tokenizer.backend_tokenizer
    cls, sep = tokenizer.cls_token_id, tokenizer.sep_token_id
    out = []
    for enc in backend.encode_batch(list(texts), add_special_tokens=False):
        ids = enc.ids[:max_tokens - 2]
        out.append(np.asarray([cls, *ids, sep], dtype=np.int64))
    return out
