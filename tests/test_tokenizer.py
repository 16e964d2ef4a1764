"""Loading tokenizers (the release and ours) and BPE training on DNA, against plain `tokenizers` references."""
import json
import random
import warnings

import pytest

from dnabert2.errors import InputError
from dnabert2.tokenizer import load_tokenizer, read_fasta
from dnabert2.tokenizer.bpe import MergesRanOut, save_tokenizer_folder, thread_limit, train_bpe

SPECIAL_IDS = {"[UNK]": 0, "[CLS]": 1, "[SEP]": 2, "[PAD]": 3, "[MASK]": 4, "A": 5, "C": 6, "G": 7, "T": 8}


@pytest.fixture(scope="module")
def chr2_windows():
    """Soft-masked windows (with N runs) from the human chr2 slice, 2 kbp each, every 50 kbp."""
    from conftest import shared_path

    path = shared_path("genomes", "human_hg38_chr2_1-2333275", "chr2_1-2333275.fa.gz")
    (_, seq), = read_fasta(path)
    return [seq[i:i + 2000] for i in range(0, len(seq) - 2000, 50_000)]


def random_dna(rng, n):
    return "".join(rng.choice("ACGT") for _ in range(n))


def test_released_tokenizer_gives_the_ids_of_tokenizers_on_upper_case(reference_tokenizer_dir, chr2_windows):
    from tokenizers import Tokenizer

    raw = Tokenizer.from_file(str(reference_tokenizer_dir / "tokenizer.json"))
    tok = load_tokenizer(reference_tokenizer_dir)
    assert any(any(c.islower() for c in w) for w in chr2_windows) and any("N" in w for w in chr2_windows)
    for window in chr2_windows:
        expected = raw.encode(window.upper()).ids
        assert tok(window.upper())["input_ids"] == expected
        assert tok(window.lower())["input_ids"] == expected
        assert tok(window)["input_ids"] == expected


def test_released_tokenizer_without_our_loader_turns_lower_case_into_unk(reference_tokenizer_dir):
    from tokenizers import Tokenizer

    raw = Tokenizer.from_file(str(reference_tokenizer_dir / "tokenizer.json"))
    assert raw.encode("acgt").ids == [1, 0, 0, 0, 0, 2]
    assert load_tokenizer(reference_tokenizer_dir)("acgt")["input_ids"] == raw.encode("ACGT").ids


def test_special_tokens_and_ids(reference_tokenizer_dir):
    tok = load_tokenizer(reference_tokenizer_dir)
    assert (tok.unk_token_id, tok.cls_token_id, tok.sep_token_id, tok.pad_token_id, tok.mask_token_id) == \
        (0, 1, 2, 3, 4)
    assert [tok.convert_tokens_to_ids(b) for b in "ACGT"] == [5, 6, 7, 8]


def test_long_input_is_neither_truncated_nor_warned_about(reference_tokenizer_dir, caplog):
    tok = load_tokenizer(reference_tokenizer_dir)
    assert tok.model_max_length >= 10 ** 12
    seq = random_dna(random.Random(0), 60_000)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ids = tok(seq)["input_ids"]
    assert not [r for r in caplog.records if "longer than" in r.getMessage()]
    assert tok.decode(ids, skip_special_tokens=True) == seq


def test_acgt_round_trips_through_encode_and_decode(reference_tokenizer_dir):
    tok = load_tokenizer(reference_tokenizer_dir)
    rng = random.Random(1)
    for n in (1, 2, 7, 100, 999):
        seq = random_dna(rng, n)
        assert tok.decode(tok(seq)["input_ids"], skip_special_tokens=True) == seq


def test_saved_and_reloaded_tokenizer_keeps_its_ids(reference_tokenizer_dir, tmp_path):
    from transformers import PreTrainedTokenizerFast

    tok = load_tokenizer(reference_tokenizer_dir)
    tok.save_pretrained(tmp_path)
    again = load_tokenizer(tmp_path)
    plain = PreTrainedTokenizerFast.from_pretrained(tmp_path)
    seq = "acgtNNACGGTTAGCtagc" * 5
    assert again(seq)["input_ids"] == tok(seq)["input_ids"] == plain(seq)["input_ids"]
    normalizer = json.loads(again.backend_tokenizer.to_str())["normalizer"]
    assert [n["pattern"]["String"] for n in normalizer["normalizers"]] == list("acgtn")  # not added twice
    assert load_tokenizer(tmp_path / "tokenizer.json")(seq)["input_ids"] == tok(seq)["input_ids"]


def test_bad_tokenizer_paths(tmp_path):
    with pytest.raises(InputError, match="no such tokenizer folder"):
        load_tokenizer(tmp_path / "missing")
    with pytest.raises(InputError, match="no tokenizer.json in this folder"):
        load_tokenizer(tmp_path)
    (tmp_path / "tokenizer.json").write_text("{not json")
    with pytest.raises(InputError, match="not a Hugging Face tokenizer file"):
        load_tokenizer(tmp_path)


def corpus(seed=0, n=300):
    """Fragments with structure: random DNA with planted repeats, so merges exist well past the alphabet."""
    rng = random.Random(seed)
    motifs = [random_dna(rng, 12) for _ in range(20)]
    return ["".join(rng.choice(motifs) if rng.random() < 0.3 else random_dna(rng, 6) for _ in range(40))
            for _ in range(n)]


def test_train_bpe_layout_and_exact_size():
    tok = train_bpe(corpus(), 300)
    vocab = tok.get_vocab()
    assert len(vocab) == 300
    assert {t: vocab[t] for t in SPECIAL_IDS} == SPECIAL_IDS
    assert all(set(t) <= set("ACGT") for t in vocab if t not in SPECIAL_IDS)
    seq = corpus(seed=5, n=1)[0]
    ids = tok.encode(seq.lower()).ids
    assert ids[0] == 1 and ids[-1] == 2 and 0 not in ids
    assert tok.decode(ids) == seq


def test_train_bpe_reports_when_merges_run_out():
    with pytest.raises(MergesRanOut) as info:
        train_bpe(["ACGT", "ACGT"], 100)
    assert info.value.learned < 100


def test_serial_and_parallel_training_give_identical_files(tmp_path):
    fragments = corpus(seed=3, n=400)
    with thread_limit(1):
        serial = train_bpe(fragments, 400)
    parallel = train_bpe(fragments, 400, threads=2)
    save_tokenizer_folder(serial, tmp_path)
    first = (tmp_path / "tokenizer.json").read_bytes()
    save_tokenizer_folder(parallel, tmp_path)
    assert (tmp_path / "tokenizer.json").read_bytes() == first
    assert json.loads(first)["model"]["merges"][0].count(" ") == 1
