"""Training-set augmentation of the shipped promoter classifier: random crops, either strand, and
dinucleotide-shuffled copies.

Why: the training promoters are GUE's TSS-aligned 300 bp windows and the background comes from a few sources
with their own quirks (splice-site windows, joined 101 bp TF negatives, lsgkm peaks' GC-matched flanks). A model
free to use position, length and source-specific motifs learns them, and they do not carry over to promoters and
background elsewhere in the genome. What does carry over is composition, CpG above all (a dinucleotide feature).
Crops of random length and offset hide position and length; a random strand hides orientation; a copy shuffled
with its dinucleotide counts kept keeps its label and nothing but its composition, so part of every batch can
only be told apart by composition.
"""
import random

from dnabert2.tokenizer.dna import reverse_complement


def dinucleotide_shuffle(sequence, rng):
    """A random sequence with the same first and last letter and the same count of every dinucleotide
    (Altschul & Erickson 1985: a random Eulerian walk over the dinucleotide graph, its last exits drawn first
    so that the walk cannot get stuck)."""
    if len(sequence) < 3:
        return sequence
    exits = {}
    for a, b in zip(sequence, sequence[1:]):
        exits.setdefault(a, []).append(b)
    end = sequence[-1]
    while True:  # one last exit per letter but `end`, such that following them always reaches `end`
        last = {letter: rng.choice(following) for letter, following in exits.items() if letter != end}
        if all(_reaches(letter, end, last) for letter in last):
            break
    walks = {}
    for letter, following in exits.items():
        rest = list(following)
        if letter in last:
            rest.remove(last[letter])
        rng.shuffle(rest)
        walks[letter] = rest + ([last[letter]] if letter in last else [])
    letters, current = [sequence[0]], sequence[0]
    position = {letter: 0 for letter in walks}
    for _ in range(len(sequence) - 1):
        current = walks[current][position[current]]
        position[letters[-1]] += 1
        letters.append(current)
    return "".join(letters)


def _reaches(letter, end, last):
    seen = set()
    while letter != end:
        if letter in seen:
            return False
        seen.add(letter)
        letter = last[letter]
    return True


def augmented(rows, copies=2, min_length=150, shuffled_fraction=0.5, seed=0, max_length=None, source_copies=None):
    """`copies` crops of every (sequence, label, source) row: random length from min_length to the row's length
    (or max_length, when given and shorter), random offset, random strand; a `shuffled_fraction` of them
    dinucleotide-shuffled (source gets "+dishuffled"). `source_copies` ({source prefix: copies}) gives the rows of
    some sources more (or fewer) crops. Returns the new rows, shuffled."""
    rng = random.Random(seed)
    out = []
    for sequence, label, source in rows:
        crops = next((n for prefix, n in (source_copies or {}).items() if source.startswith(prefix)), copies)
        for _ in range(crops):
            longest = len(sequence) if max_length is None else min(max_length, len(sequence))
            length = rng.randint(min(min_length, longest), longest)
            start = rng.randint(0, len(sequence) - length)
            piece = sequence[start:start + length]
            if rng.random() < 0.5:
                piece = reverse_complement(piece)
            if rng.random() < shuffled_fraction:
                out.append((dinucleotide_shuffle(piece, rng), label, source + "+dishuffled"))
            else:
                out.append((piece, label, source))
    rng.shuffle(out)
    return out
