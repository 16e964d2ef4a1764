"""Make test_data/promoters_example.fa: eight 300 bp synthetic sequences for the README's first command.

Not real genome sequence (the repository carries no copies of the shared data). Four "cpg_island_like" records
mimic a human CpG-island promoter window: GC-rich with CpG at its expected frequency, a TATA box 30 bp before
the transcription start (position 250 of 300, as in GUE's -249..+50 windows) and an initiator (YYANWYY) at it.
Four "bulk_genomic_like" records mimic ordinary human DNA: 40% GC with CpG depleted to a fifth, as methylation
leaves it. Both come from first-order Markov chains; deterministic for the fixed seed.

    python test_data/make_promoters_example.py
"""
import random
from pathlib import Path

SEED = 7
LENGTH = 300
TSS = 250
LINE_WIDTH = 60


def chain(gc, cpg_ratio):
    """First-order transition weights with the given GC share and CpG observed/expected ratio."""
    base = {"A": (1 - gc) / 2, "T": (1 - gc) / 2, "C": gc / 2, "G": gc / 2}
    weights = {}
    for previous in "ACGT":
        row = dict(base)
        if previous == "C":
            row["G"] *= cpg_ratio
        weights[previous] = [row[b] for b in "ACGT"]
    return weights


def draw(rng, weights, length):
    seq = [rng.choice("ACGT")]
    while len(seq) < length:
        seq.append(rng.choices("ACGT", weights=weights[seq[-1]])[0])
    return "".join(seq)


def promoter_like(rng):
    seq = list(draw(rng, chain(gc=0.66, cpg_ratio=0.9), LENGTH))
    tata = "TATAAAAG"
    seq[TSS - 31:TSS - 31 + len(tata)] = tata
    initiator = rng.choice("CT") + rng.choice("CT") + "A" + rng.choice("ACGT") + rng.choice("AT") + "CC"
    seq[TSS - 2:TSS - 2 + len(initiator)] = initiator
    return "".join(seq)


def main():
    rng = random.Random(SEED)
    records = [(f"cpg_island_like_{i}", promoter_like(rng)) for i in range(1, 5)]
    background = chain(gc=0.40, cpg_ratio=0.2)
    records += [(f"bulk_genomic_like_{i}", draw(rng, background, LENGTH)) for i in range(1, 5)]
    lines = []
    for name, seq in records:
        lines.append(f">{name} synthetic 300 bp, seed {SEED}")
        lines += [seq[i:i + LINE_WIDTH] for i in range(0, len(seq), LINE_WIDTH)]
    Path(__file__).with_name("promoters_example.fa").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
