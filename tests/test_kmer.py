"""K-mer tokenizers (`dnabert2 vocab --kmer`): ids, layout and offsets against plain reference implementations,
folders that every command accepts, and span masking that does not leak a masked k-mer through its neighbours."""
import json

import h5py
import numpy as np
import pytest

from dnabert2.tokenizer import load_tokenizer
from dnabert2.tokenizer.bpe import save_tokenizer_folder
from dnabert2.tokenizer.kmer import build_kmer_tokenizer

BASE = {"A": 0, "C": 1, "G": 2, "T": 3}
UNK, CLS, SEP, PAD, MASK = 0, 1, 2, 3, 4


def kmer_id(kmer):
    """Reference id of a k-mer: 5 specials, then the 4^K k-mers in lexicographic (base-4) order."""
    value = 0
    for base in kmer:
        value = value * 4 + BASE[base]
    return 5 + value


def reference_overlapping(seq, k):
    """DNABERT's layout by hand: [CLS], the k-mer at every base (any non-ACGT letter: [UNK]), [SEP]."""
    seq = seq.upper()
    ids, offsets = [CLS], [(0, 0)]
    if len(seq) < k:
        ids.append(UNK)
        offsets.append((0, len(seq)))
    for i in range(len(seq) - k + 1):
        kmer = seq[i:i + k]
        ids.append(kmer_id(kmer) if set(kmer) <= set(BASE) else UNK)
        offsets.append((i, i + k))
    return ids + [SEP], offsets + [(0, 0)]


def reference_non_overlapping(seq, k):
    """The Nucleotide Transformer's rule by hand: K-mers of A/C/G/T from the left, anything else one letter each
    (A, C, G, T after the 4^K k-mers; other letters [UNK])."""
    seq = seq.upper()
    ids, offsets, i = [CLS], [(0, 0)], 0
    while i < len(seq):
        if set(seq[i:i + k]) <= set(BASE) and len(seq[i:i + k]) == k:
            ids.append(kmer_id(seq[i:i + k]))
            offsets.append((i, i + k))
            i += k
        else:
            ids.append(5 + 4 ** k + BASE[seq[i]] if seq[i] in BASE else UNK)
            offsets.append((i, i + 1))
            i += 1
    return ids + [SEP], offsets + [(0, 0)]


def random_sequences(n, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        seq = list(rng.choice(list("ACGTacgt"), int(rng.integers(1, 60))))
        for pos in rng.integers(0, len(seq), int(rng.integers(0, 3))):
            seq[pos] = "N"
        out.append("".join(seq))
    return out + ["ACGTA", "ACGTAC", "NNNNNNNN", "acgtacgtac"]


def kmer_folder(path, k, stride):
    path.mkdir()
    save_tokenizer_folder(build_kmer_tokenizer(k, stride), path)
    return path


@pytest.fixture(scope="module")
def overlapping6(tmp_path_factory):
    return kmer_folder(tmp_path_factory.mktemp("kmer") / "six", 6, 1)


@pytest.mark.parametrize("stride, reference", [(1, reference_overlapping), (6, reference_non_overlapping)])
def test_six_mer_ids_layout_and_offsets_equal_the_reference(tmp_path, stride, reference):
    tokenizer = load_tokenizer(kmer_folder(tmp_path / "tok", 6, stride))
    assert len(tokenizer) == 5 + 4 ** 6 + (4 if stride == 6 else 0)
    assert tokenizer.convert_tokens_to_ids(["[UNK]", "[CLS]", "[SEP]", "[PAD]", "[MASK]", "AAAAAA", "AAAAAC",
                                            "TTTTTT"]) == [0, 1, 2, 3, 4, 5, 6, 5 + 4 ** 6 - 1]
    sequences = random_sequences(40)
    batch = tokenizer(sequences, return_offsets_mapping=True)
    for seq, ids, offsets in zip(sequences, batch["input_ids"], batch["offset_mapping"]):
        expected_ids, expected_offsets = reference(seq, 6)
        assert ids == expected_ids, seq
        assert [tuple(o) for o in offsets] == expected_offsets, seq
    # the same through the backend (as pretraining calls it) and after save_pretrained -> load_tokenizer
    backend = [e.ids for e in tokenizer.backend_tokenizer.encode_batch(sequences, add_special_tokens=False)]
    assert backend == [reference(s, 6)[0][1:-1] for s in sequences]
    tokenizer.save_pretrained(tmp_path / "saved")
    again = load_tokenizer(tmp_path / "saved")
    assert again(sequences)["input_ids"] == batch["input_ids"]


def test_overlapping_decode_and_padding(overlapping6):
    tokenizer = load_tokenizer(overlapping6)
    seq = "ACGTACGGATNCGATTAGGC"
    ids = tokenizer(seq)["input_ids"]
    assert tokenizer.decode(ids, skip_special_tokens=True) == seq  # every base is in some known k-mer
    padded = tokenizer(["ACGTACGT", "ACGTACGTACGT"], padding=True, return_offsets_mapping=True)
    assert len(padded["input_ids"][1]) == 1 + 7 + 1 and padded["input_ids"][0][-5:] == [SEP, PAD, PAD, PAD, PAD]
    assert [tuple(o) for o in padded["offset_mapping"][0]] == [(0, 0), (0, 6), (1, 7), (2, 8)] + [(0, 0)] * 5


def test_vocab_kmer_command(tmp_path, run_cli, shared):
    genome = shared("genomes", "sars_cov_2", "NC_045512.2.fasta")
    result = run_cli("vocab", genome, "--kmer", "6", "-o", tmp_path / "six", "--heldout-fraction", "0.2")
    assert result.exit_code == 0, result.output
    stats = json.loads((tmp_path / "six" / "vocab_stats.json").read_text())
    assert stats["vocab_size"] == 4101 and stats["tokenizer"] == "kmer" and stats["mean_token_length_nt"] == 6
    assert 1.0 < stats["heldout_nt_per_token"] < 1.01  # L / (L - 5) for 1,000 bp fragments
    result = run_cli("vocab", genome, "--kmer", "6", "--kmer-stride", "6", "-o", tmp_path / "six_n",
                     "--heldout-fraction", "0.2")
    assert result.exit_code == 0, result.output
    assert 5.5 < json.loads((tmp_path / "six_n" / "vocab_stats.json").read_text())["heldout_nt_per_token"] <= 6
    bad = run_cli("vocab", genome, "--kmer", "6", "--kmer-stride", "3", "-o", tmp_path / "bad")
    assert bad.exit_code == 2 and "--kmer-stride 3" in bad.output and not (tmp_path / "bad").exists()


# ----------------------------------------------------------------------------------------------------- masking

def readable(ids, masked, labels, k):
    """Indices of [MASK] positions whose k-mer can be read off the unmasked tokens: every base of it lies in some
    token whose input is its true k-mer (unchosen, or chosen and kept). Tokens are at positions 1.. (after [CLS])
    and token at position p holds bases p-1 .. p-1+k-1."""
    shown = (labels == -100) | (masked == ids)
    shown &= ids >= 5  # [CLS], [SEP], [PAD], [UNK] show no base
    covered = np.zeros(len(ids) + k, dtype=bool)
    for p in np.flatnonzero(shown):
        covered[p - 1:p - 1 + k] = True
    return [p for p in np.flatnonzero(masked == MASK) if covered[p - 1:p - 1 + k].all()]


def test_span_masking_never_leaves_a_masked_kmer_readable(overlapping6):
    from dnabert2.pretraining.masking import MaskingConfig, mask_tokens

    tokenizer = load_tokenizer(overlapping6)
    config = MaskingConfig.from_tokenizer(tokenizer)
    assert config.span == 6
    rng = np.random.default_rng(1)
    texts = ["".join(rng.choice(list("ACGT"), 200)) for _ in range(64)]
    texts[0] = texts[0][:90] + "N" + texts[0][91:]  # [UNK] tokens inside spans
    ids = np.asarray(tokenizer(texts)["input_ids"])
    masked, labels = mask_tokens(ids, config, np.random.default_rng(2))
    chosen = labels != -100
    assert 0.12 < chosen[:, 1:-1].mean() < 0.19  # about mlm_probability of the tokens
    assert (masked == MASK).sum() > 1000
    for row in range(len(ids)):
        assert readable(ids[row], masked[row], labels[row], 6) == [], row
    # per-token masking (DNABERT-2's BPE rule) on the same tokens leaks: the property above can fail
    plain = MaskingConfig.from_tokenizer(tokenizer, mlm_probability=0.15)
    plain = MaskingConfig(**{**plain.__dict__, "span": 1})
    masked, labels = mask_tokens(ids, plain, np.random.default_rng(2))
    assert sum(len(readable(ids[r], masked[r], labels[r], 6)) for r in range(len(ids))) > 100


def test_bpe_masking_is_unchanged(reference_tokenizer_dir):
    from dnabert2.pretraining.masking import MaskingConfig

    assert MaskingConfig.from_tokenizer(load_tokenizer(reference_tokenizer_dir)).span == 1


# ------------------------------------------------------------------------------ every command takes the folder

@pytest.fixture(scope="module")
def kmer_model_dir(tmp_path_factory, overlapping6):
    """A random tiny masked-LM model with the overlapping 6-mer tokenizer."""
    import torch

    from dnabert2.model import DNABert2Config, DNABert2ForMaskedLM

    torch.manual_seed(0)
    model = DNABert2ForMaskedLM(DNABert2Config.from_preset("tiny", vocab_size=4101)).eval()
    folder = tmp_path_factory.mktemp("kmer_model")
    model.save_pretrained(folder)
    load_tokenizer(overlapping6).save_pretrained(folder)
    return folder


def test_kmer_model_pretrains_finetunes_and_embeds_per_token(tmp_path, run_cli, shared, kmer_model_dir):
    genome = shared("genomes", "sars_cov_2", "NC_045512.2.fasta")
    result = run_cli("pretrain", "--genome", genome, "--init", kmer_model_dir, "--max-steps", "2",
                     "--batch-size", "4", "--max-tokens", "64", "--eval-every", "0", "--workers", "0",
                     "-o", tmp_path / "pre", "-q")
    assert result.exit_code == 0, result.output
    assert load_tokenizer(tmp_path / "pre").backend_tokenizer.k == 6  # the saved folder is still overlapping

    data = tmp_path / "task"
    data.mkdir()
    rng = np.random.default_rng(0)
    for split, n in (("train", 24), ("dev", 8), ("test", 8)):
        rows = [f"{''.join(rng.choice(list('ACGT'), 40))},{i % 2}" for i in range(n)]
        (data / f"{split}.csv").write_text("sequence,label\n" + "\n".join(rows) + "\n")
    result = run_cli("finetune", "--model", tmp_path / "pre", "--data", data, "--max-steps", "2",
                     "--batch-size", "8", "-o", tmp_path / "ft", "-q")
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "ft" / "metrics.json").read_text())["max_length"] == 40 - 6 + 1 + 2

    fasta = tmp_path / "seqs.fa"
    fasta.write_text(">a\nACGTACGGATTACAGGA\n>b\nTTGACCANGT\n")
    out = tmp_path / "tokens.h5"
    result = run_cli("embed", "--fasta", fasta, "--model", kmer_model_dir, "--pooling", "none", "-o", out, "-q")
    assert result.exit_code == 0, result.output
    with h5py.File(out, "r") as f:
        group = f["tokens"]
        starts = {name: np.asarray(group[name]) for name in group if name in ("start", "end")}
        bounds = np.asarray(group["offsets"])
    assert set(starts) == {"start", "end"}, "embed --pooling none stores each token's start and end"
    first = slice(bounds[0], bounds[1])
    np.testing.assert_array_equal(starts["start"][first], np.arange(17 - 6 + 1))
    np.testing.assert_array_equal(starts["end"][first] - starts["start"][first], 6)
