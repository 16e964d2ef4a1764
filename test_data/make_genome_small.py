"""Make test_data/genome_small.fa.gz: a small synthetic genome for the README example and quick tests.

Three records drawn from a seeded order-3 Markov chain over A/C/G/T, with copies of a few "repeat elements"
(each copy with ~5% point mutations) scattered in, some of them soft-masked (lower case) as a genome's
repeats are, runs of N between "contigs", and a few IUPAC ambiguity codes. Deterministic: running it again
gives the same bytes (the gzip header carries no time stamp or file name).

    python test_data/make_genome_small.py
"""
import gzip
import random
from pathlib import Path

SEED = 20240101
RECORD_LENGTHS = [("chrA", 180_000), ("chrB", 120_000), ("chrM", 16_000)]
LINE_WIDTH = 60


def markov_chain(rng, order=3):
    """Transition weights for every context of `order` bases, skewed so the chain has structure."""
    contexts = [""]
    for _ in range(order):
        contexts = [c + b for c in contexts for b in "ACGT"]
    return {c: [rng.random() ** 2 + 0.05 for _ in "ACGT"] for c in contexts}


def draw(rng, chain, length, order=3):
    seq = [rng.choice("ACGT") for _ in range(order)]
    while len(seq) < length:
        seq.append(rng.choices("ACGT", weights=chain["".join(seq[-order:])])[0])
    return "".join(seq[:length])


def mutate(rng, seq, rate=0.05):
    return "".join(rng.choice("ACGT") if rng.random() < rate else b for b in seq)


def record(rng, chain, repeats, length):
    parts, size = [], 0
    while size < length:
        roll = rng.random()
        if roll < 0.25:
            piece = mutate(rng, rng.choice(repeats))
            if rng.random() < 0.6:
                piece = piece.lower()  # soft-masked repeat
        elif roll < 0.28:
            piece = "N" * rng.randrange(50, 2000)  # gap between contigs
        else:
            piece = draw(rng, chain, rng.randrange(200, 3000))
            if rng.random() < 0.1:
                i = rng.randrange(len(piece))
                piece = piece[:i] + rng.choice("RYKMSW") + piece[i + 1:]  # an ambiguous base
        parts.append(piece)
        size += len(piece)
    return "".join(parts)[:length]


def main():
    rng = random.Random(SEED)
    chain = markov_chain(rng)
    repeats = [draw(rng, chain, rng.randrange(100, 600)) for _ in range(12)]
    lines = []
    for name, length in RECORD_LENGTHS:
        seq = record(rng, chain, repeats, length)
        lines.append(f">{name} synthetic record, seed {SEED}")
        lines.extend(seq[i:i + LINE_WIDTH] for i in range(0, len(seq), LINE_WIDTH))
    data = ("\n".join(lines) + "\n").encode()
    out = Path(__file__).resolve().parent / "genome_small.fa.gz"
    out.write_bytes(gzip.compress(data, compresslevel=9, mtime=0))
    print(f"wrote {out} ({out.stat().st_size:,} bytes, {sum(n for _, n in RECORD_LENGTHS):,} bp)")


if __name__ == "__main__":
    main()
