"""`dnabert2 vocab` / `train_vocab`: fragments, sampling, the written folder, reproducibility and bad input."""
import gzip
import json
import random

import pytest

from conftest import TEST_DATA
from dnabert2.tokenizer import read_fasta
from dnabert2.tokenizer.corpus import BudgetSample, fragments

SPECIAL_IDS = {"[UNK]": 0, "[CLS]": 1, "[SEP]": 2, "[PAD]": 3, "[MASK]": 4, "A": 5, "C": 6, "G": 7, "T": 8}


def ecoli(shared):
    return shared("genomes", "ecoli_k12_mg1655", "GCF_000005845.2_ASM584v2_genomic.fna.gz")


def chr2(shared):
    return shared("genomes", "human_hg38_chr2_1-2333275", "chr2_1-2333275.fa.gz")


# ---- fragments and sampling against plain references -------------------------------------------------------

def reference_fragments(records, fragment_length, min_run_length):
    out = []
    for seq in records:
        run = ""
        for ch in seq.upper() + "$":
            if ch in "ACGT":
                run += ch
                continue
            if len(run) >= min_run_length:
                out.extend(run[i:i + fragment_length] for i in range(0, len(run), fragment_length))
            run = ""
    return out


def chunked(records, rng):
    for seq in records:
        cuts = sorted(rng.sample(range(1, len(seq)), min(5, len(seq) - 1))) if len(seq) > 1 else []
        pieces = [seq[a:b] for a, b in zip([0] + cuts, cuts + [len(seq)])] or [""]
        for i, piece in enumerate(pieces):
            yield "src", piece, i == 0


@pytest.mark.parametrize("fragment_length, min_run_length", [(7, 3), (10, 1), (25, 25), (1000, 20)])
def test_fragments_are_the_same_however_records_are_chunked(fragment_length, min_run_length):
    rng = random.Random(fragment_length)
    for _ in range(60):
        records = ["".join(rng.choice("ACGTacgt" * 6 + "NnRY") for _ in range(rng.randrange(0, 300)))
                   for _ in range(rng.randrange(1, 4))]
        expected = reference_fragments(records, fragment_length, min_run_length)
        got = [f for _, f in fragments(chunked(records, rng), fragment_length, min_run_length)]
        assert got == expected


def test_budget_sample_is_the_longest_lowest_priority_prefix_that_fits():
    rng = random.Random(0)
    for _ in range(50):
        items = [(rng.random(), i, "A" * rng.randrange(1, 40)) for i in range(rng.randrange(0, 80))]
        budget = rng.randrange(0, 600)
        expected, total = [], 0
        for priority, index, item in sorted(items):
            if total + len(item) > budget:
                break
            expected.append((index, item))
            total += len(item)
        sample = BudgetSample(budget)
        for entry in rng.sample(items, len(items)):  # any arrival order
            sample.add(*entry)
        assert sample.items() == [item for _, item in sorted(expected)]
        assert sample.total == total <= budget


# ---- the command on real genomes ----------------------------------------------------------------------------

def check_folder(folder, size):
    from transformers import PreTrainedTokenizerFast

    layout = json.loads((folder / "tokenizer.json").read_text())
    vocab = layout["model"]["vocab"]
    assert len(vocab) == size
    assert {t: vocab[t] for t in SPECIAL_IDS} == SPECIAL_IDS
    assert sorted(vocab.values()) == list(range(size))
    assert all(set(t) <= set("ACGT") for t in vocab if t not in SPECIAL_IDS)
    assert len(layout["model"]["merges"]) == size - 9
    tok = PreTrainedTokenizerFast.from_pretrained(folder)
    assert len(tok) == size and tok.mask_token_id == 4 and tok.pad_token_id == 3
    rng = random.Random(size)
    for n in (1, 5, 50, 1000, 5000):
        seq = "".join(rng.choice("ACGT") for _ in range(n))
        ids = tok(seq)["input_ids"]
        assert ids[0] == 1 and ids[-1] == 2 and 0 not in ids
        assert tok.decode(ids, skip_special_tokens=True) == seq
        assert tok(seq.lower())["input_ids"] == ids
    return tok, json.loads((folder / "vocab_stats.json").read_text())


def test_ecoli_folder(run_cli, shared, tmp_path):
    out = tmp_path / "tok"
    result = run_cli("vocab", ecoli(shared), "--size", 600, "--max-bases", 300_000, "-o", out)
    assert result.exit_code == 0, result.output
    assert "600 tokens" in result.output and "nt/token" in result.output
    _, stats = check_folder(out, 600)
    assert stats["bases_read"] == stats["acgt_bases"] == 4_641_652
    assert 299_000 <= stats["bases_used"] <= 300_000
    assert stats["vocab_size"] == 600 and stats["heldout_nt_per_token"] > 3
    assert sum(stats["token_length_histogram"].values()) == 600 - 5


def test_soft_masked_human_slice_with_n_runs(shared, tmp_path):
    import dnabert2

    path = chr2(shared)
    stats = dnabert2.train_vocab(path, tmp_path / "tok", 700, max_bases=400_000)
    _, saved = check_folder(tmp_path / "tok", 700)
    (_, seq), = read_fasta(path)
    assert stats["bases_read"] == len(seq)
    assert stats["acgt_bases"] == sum(seq.upper().count(b) for b in "ACGT") < len(seq)
    assert saved["bases_used"] == stats["bases_used"] <= 400_000


def test_size_4096_compresses_the_training_genome_at_least_4_nt_per_token(shared, tmp_path):
    import dnabert2

    path = ecoli(shared)
    dnabert2.train_vocab(path, tmp_path / "tok", 4096, max_bases=1_500_000)
    tok = dnabert2.load_tokenizer(tmp_path / "tok")
    (_, seq), = read_fasta(path)
    pieces = [seq[i:i + 1000] for i in range(0, len(seq), 1000)]
    tokens = sum(len(ids) for ids in tok(pieces, add_special_tokens=False)["input_ids"])
    assert len(seq) / tokens >= 4.0


def test_same_input_size_and_seed_give_identical_tokenizer_json(shared, tmp_path):
    import dnabert2

    path = ecoli(shared)
    runs = [dict(seed=7), dict(seed=7, threads=1), dict(seed=7, threads=2), dict(seed=8)]
    files = []
    for i, kwargs in enumerate(runs):
        dnabert2.train_vocab(path, tmp_path / str(i), 300, max_bases=150_000, **kwargs)
        files.append((tmp_path / str(i) / "tokenizer.json").read_bytes())
    assert files[0] == files[1] == files[2]
    assert files[3] != files[0]  # another seed samples other fragments


def test_readme_example(run_cli, tmp_path):
    out = tmp_path / "my_tokenizer"
    out.mkdir()
    result = run_cli("vocab", TEST_DATA / "genome_small.fa.gz", "--size", 512, "-o", out, "--force")
    assert result.exit_code == 0, result.output
    check_folder(out, 512)
    assert (TEST_DATA / "genome_small.fa.gz").stat().st_size <= 200_000


# ---- bad input: exit 2, one line naming the file and reason, nothing left behind -----------------------------

def bad_inputs(tmp_path):
    good = TEST_DATA / "genome_small.fa.gz"
    (tmp_path / "empty.fa").write_bytes(b"")
    (tmp_path / "peaks.bed").write_text("chr1\t10\t20\tpeak\t0\t+\n")
    (tmp_path / "blob.fa").write_bytes(bytes(random.Random(0).randrange(256) for _ in range(3000)))
    (tmp_path / "gaps.fa.gz").write_bytes(gzip.compress(b">a\nNNNNNNNN\nRYKM\n>b\nnnnn\n"))
    (tmp_path / "exists").mkdir()
    return {
        "missing": ([tmp_path / "nope.fa"], "nope.fa: no such file"),
        "empty": ([good, tmp_path / "empty.fa"], "empty.fa: empty file"),
        "bed": ([tmp_path / "peaks.bed"], "peaks.bed: line 1: not a FASTA file"),
        "binary": ([tmp_path / "blob.fa"], "blob.fa: line 1: binary data, not a FASTA file"),
        "no acgt": ([tmp_path / "gaps.fa.gz"], "gaps.fa.gz: no A/C/G/T bases"),
        "size": ([good, "--size", 8], "--size 8: must be at least 9"),
        "exists": ([good, "-o", tmp_path / "exists"], "already exists (use --force"),
        "merges run out": ([good, "--size", 100_000, "--max-bases", 20_000], "--size 100000: only"),
        "tiny budget": ([good, "--max-bases", 10], "--max-bases 10: smaller than every fragment"),
    }


@pytest.mark.parametrize("case", ["missing", "empty", "bed", "binary", "no acgt", "size", "exists",
                                  "merges run out", "tiny budget"])
def test_bad_input_exits_2_with_one_line_and_no_output(run_cli, tmp_path, case):
    args, message = bad_inputs(tmp_path)[case]
    out = tmp_path / "out"
    if "-o" not in args:
        args = [*args, "-o", out]
    before = sorted(p.name for p in tmp_path.iterdir())
    result = run_cli("vocab", *args, "--quiet")
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and message in lines[0], result.output
    assert "Traceback" not in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # no output, no temporary folder


def test_a_genome_too_small_to_hold_out_still_trains(tmp_path):
    import dnabert2

    path = tmp_path / "one.fa"
    path.write_text(">one\n" + "ACGTTGCAAGGCTTAC" * 40 + "\n")
    stats = dnabert2.train_vocab(path, tmp_path / "tok", 12, heldout_fraction=0.9, min_frequency=1)
    assert stats["fragments_used"] == 1 and stats["heldout_bases"] == 0 and stats["heldout_nt_per_token"] is None


def test_runs_shorter_than_the_minimum_are_refused_by_name(run_cli, tmp_path):
    path = tmp_path / "short.fa"
    path.write_text(">s\nACGTNACGTNACGT\n")
    result = run_cli("vocab", path, "-o", tmp_path / "out", "--quiet")
    assert result.exit_code == 2
    assert "short.fa: no run of A/C/G/T at least 20 bp long" in result.output


def test_an_ncbi_genbank_file_gives_the_vocabulary_of_its_fasta(run_cli, shared, tmp_path):
    """NCBI ships genomes as GenBank flat files too: `vocab` reads them through Biopython, to the same tokenizer."""
    import gzip

    from Bio import SeqIO

    fasta = ecoli(shared)
    with gzip.open(fasta, "rt") as fh:
        records = list(SeqIO.parse(fh, "fasta"))
    for record in records:
        record.annotations["molecule_type"] = "DNA"
    gbff = tmp_path / "ecoli.gbff.gz"
    with gzip.open(gbff, "wt") as fh:
        SeqIO.write(records, fh, "genbank")
    for name, path in (("from_fasta", fasta), ("from_genbank", gbff)):
        result = run_cli("vocab", path, "--size", 300, "--max-bases", 100_000, "-o", tmp_path / name)
        assert result.exit_code == 0, result.output
    assert (tmp_path / "from_fasta" / "tokenizer.json").read_bytes() == \
        (tmp_path / "from_genbank" / "tokenizer.json").read_bytes()
