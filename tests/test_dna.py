"""DNA text helpers against plain reference computations written here."""
import random

import pytest

from dnabert2.errors import InputError
from dnabert2.tokenizer import dna

PAIRS = {"A": "T", "C": "G", "G": "C", "T": "A", "U": "A", "R": "Y", "Y": "R", "K": "M", "M": "K", "S": "S",
         "W": "W", "B": "V", "V": "B", "D": "H", "H": "D", "N": "N"}


def reference_rc(seq):
    out = []
    for ch in reversed(seq):
        if ch in "-.*":
            out.append(ch)
        elif ch.isupper():
            out.append(PAIRS[ch])
        else:
            out.append(PAIRS[ch.upper()].lower())
    return "".join(out)


def reference_runs(seq, min_length):
    runs, current = [], []
    for ch in seq.upper() + "$":
        if ch in "ACGT":
            current.append(ch)
        else:
            if len(current) >= min_length:
                runs.append("".join(current))
            current = []
    return runs


def test_upper_turns_soft_masked_bases_into_plain_ones():
    assert dna.upper("acgTNnry") == "ACGTNNRY"


def test_reverse_complement_iupac_and_case():
    assert dna.reverse_complement("ACGTRYKMBDHVNacgtrykmbdhvn-") == "-nbdhvkmryacgtNBDHVKMRYACGT"
    rng = random.Random(0)
    alphabet = "ACGTURYKMSWBDHVNacgturykmswbdhvn-.*"
    for _ in range(200):
        seq = "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 60)))
        assert dna.reverse_complement(seq) == reference_rc(seq)


def test_reverse_complement_twice_gives_the_sequence_back():
    seq = "ACGTNNRYSWacgtkm" * 7
    assert dna.reverse_complement(dna.reverse_complement(seq)) == seq


def test_reverse_complement_rejects_non_iupac_letters():
    with pytest.raises(InputError, match=r"'X' at position 3"):
        dna.reverse_complement("ACGXT")


@pytest.mark.parametrize("min_length", [1, 2, 5])
def test_acgt_runs_split_at_everything_but_acgt(min_length):
    rng = random.Random(min_length)
    for _ in range(200):
        seq = "".join(rng.choice("ACGTacgtNnRY-") for _ in range(rng.randrange(0, 80)))
        runs = dna.acgt_runs(seq, min_length)
        assert runs == reference_runs(seq, min_length)
        assert all(set(r) <= set("ACGT") for r in runs)
        spans = dna.acgt_spans(seq, min_length)
        assert [seq[s:e].upper() for s, e in spans] == runs


def test_acgt_runs_rejects_a_zero_minimum():
    with pytest.raises(ValueError, match="min_length"):
        dna.acgt_runs("ACGT", 0)
