"""`dnabert2 embed` and `dnabert2 merge` on the hg38 chr2 slice and its promoter BED, with the tiny model.

Every row is compared with a plain computation written here: tokenise the upper-cased sequence with [CLS] and
[SEP], run the encoder, pool over the real tokens (for long regions: per window, then the token-weighted mean).
"""
import subprocess
import sys

import h5py
import numpy as np
import pytest
import torch

from conftest import CHR2, REPO, assert_same_as_uninterrupted, revcomp, shared_path, sigkill_after_rows
from conftest import h5_datasets as datasets



@pytest.fixture(scope="module")
def data():
    return {"ref": shared_path(*CHR2, "chr2_1-2333275.fa.gz"), "bed": shared_path(*CHR2, "promoters_chr2_1-2333275.bed"),
            "benchmarks": shared_path(*CHR2, "genomic_benchmarks_regions_chr2_1-2333275.bed")}


@pytest.fixture(scope="module")
def genome(data):
    import pysam

    return pysam.FastaFile(str(data["ref"]))


@pytest.fixture(scope="module")
def reference(plain_tiny):
    """Plain per-token computation: sequence -> (hidden states of real tokens [n, H] per layer, ids, offsets)."""
    tok, encoder = plain_tiny

    def run(seq, layer=-1):
        enc = tok(seq.upper(), return_offsets_mapping=True)
        ids = torch.tensor([enc["input_ids"]])
        with torch.no_grad():
            out = encoder(input_ids=ids, attention_mask=torch.ones_like(ids), output_hidden_states=True)
        hidden = out.hidden_states[layer][0]  # [S, H], [CLS] first and [SEP] last
        return hidden.numpy(), np.array(enc["input_ids"]), np.array(enc["offset_mapping"])

    return run


def mean_of(reference, seq, layer=-1):
    hidden, _, _ = reference(seq, layer)
    return hidden[1:-1].mean(0)


def region_sequences(bed, genome):
    out = []
    for line in open(bed):
        f = line.split("\t")
        seq = genome.fetch(f[0], int(f[1]), int(f[2])).upper()
        out.append((f[0], int(f[1]), int(f[2]), f[3], "-" if f[5].strip() == "-" else "+",
                    revcomp(seq) if f[5].strip() == "-" else seq))
    return out


@pytest.fixture(scope="module")
def promoter_run(tmp_path_factory, data, tiny_model_dir):
    from click.testing import CliRunner

    from dnabert2.cli import cli

    out = tmp_path_factory.mktemp("embed") / "promoters.h5"
    result = CliRunner().invoke(cli, ["embed", "--bed", str(data["bed"]), "--ref", str(data["ref"]), "--model",
                                      str(tiny_model_dir), "-o", str(out)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "Embedded 67 regions" in result.output
    return out


def test_rows_shapes_metadata_and_order(promoter_run, data, genome, reference, tiny_model_dir):
    expected = region_sequences(data["bed"], genome)
    with h5py.File(promoter_run, "r") as f:  # plain h5py, nothing from the package
        assert f.attrs["complete"] == True  # noqa: E712
        assert f.attrs["pooling"] == "mean" and f.attrs["window"] == 2000 and f.attrs["n_regions_total"] == 67
        assert len(f.attrs["model_weights_sha256"]) == 64 and f.attrs["command_line"].startswith("dnabert2 embed ")
        emb = f["embeddings"][:]
        assert emb.shape == (67, 64) and emb.dtype == np.float32
        assert f["done"][:].all()
        regions = {k: f[f"regions/{k}"][:] for k in f["regions"]}
    assert [x.decode() for x in regions["chrom"]] == [e[0] for e in expected]
    assert regions["start"].tolist() == [e[1] for e in expected]
    assert regions["end"].tolist() == [e[2] for e in expected]
    assert [x.decode() for x in regions["name"]] == [e[3] for e in expected]
    assert [x.decode() for x in regions["strand"]] == [e[4] for e in expected]
    assert regions["index"].tolist() == list(range(67))
    assert regions["length_bp"].tolist() == [e[2] - e[1] for e in expected]
    assert (regions["n_windows"] == 1).all()
    for i, e in enumerate(expected):
        hidden, ids, _ = reference(e[5])
        assert regions["n_tokens"][i] == len(ids) - 2
        assert regions["n_unknown_tokens"][i] == int((ids[1:-1] == 0).sum())
        np.testing.assert_allclose(emb[i], hidden[1:-1].mean(0), rtol=1e-4, atol=1e-5, err_msg=e[3])


def test_minus_region_equals_its_reverse_complement_as_fasta(promoter_run, data, genome, tmp_path, run_cli,
                                                             tiny_model_dir):
    expected = region_sequences(data["bed"], genome)
    minus = [i for i, e in enumerate(expected) if e[4] == "-"]
    fasta = tmp_path / "minus.fa"
    with open(fasta, "w") as fh:
        for i in minus:
            chrom, start, end = expected[i][:3]
            fh.write(f">r{i}\n{revcomp(genome.fetch(chrom, start, end).upper())}\n")
    out = tmp_path / "minus.h5"
    result = run_cli("embed", "--fasta", fasta, "--model", tiny_model_dir, "-o", out, "-q")
    assert result.exit_code == 0, result.output
    np.testing.assert_allclose(datasets(out)["embeddings"], datasets(promoter_run)["embeddings"][minus],
                               rtol=1e-4, atol=1e-5)


def tiled_reference(reference, seq, window, stride, pooling):
    """Windows cut here by hand: starts 0, stride, ...; the last one stops at the end."""
    starts = [0]
    while starts[-1] + window < len(seq):
        starts.append(starts[-1] + stride)
    vectors, weights = [], []
    for s in starts:
        hidden, _, _ = reference(seq[s:s + window])
        real = hidden[1:-1]
        vectors.append({"mean": real.mean(0), "mean-all": hidden.mean(0), "max": real.max(0), "cls": hidden[0]}[pooling])
        weights.append(len(hidden) if pooling == "mean-all" else len(real))  # mean-all: every token counts
    if pooling == "max":
        return np.max(vectors, axis=0), len(starts)
    return np.average(vectors, axis=0, weights=weights), len(starts)


@pytest.mark.parametrize("pooling, stride", [("mean", 1000), ("max", 700), ("cls", 700), ("mean-all", 700)])
def test_long_region_is_token_weighted_mean_of_its_windows(tmp_path, data, genome, reference, run_cli,
                                                           tiny_model_dir, pooling, stride):
    bed = tmp_path / "long.bed"
    bed.write_text("chr2\t1000000\t1004500\tlong\t0\t-\nchr2\t1500000\t1500900\tshort\t0\t+\n")
    out = tmp_path / "long.h5"
    result = run_cli("embed", "--bed", bed, "--ref", data["ref"], "--model", tiny_model_dir, "-o", out,
                     "--window", 1000, "--stride", stride, "--pooling", pooling, "--batch-tokens", 400,
                     "--lookahead", 3, "-q")  # the long region's windows span three blocks
    assert result.exit_code == 0, result.output
    rows = datasets(out)
    long_seq = revcomp(genome.fetch("chr2", 1000000, 1004500).upper())
    want, n_windows = tiled_reference(reference, long_seq, 1000, stride, pooling)
    assert rows["regions/n_windows"].tolist() == [n_windows, 1]
    np.testing.assert_allclose(rows["embeddings"][0], want, rtol=1e-4, atol=1e-5)
    short, _ = tiled_reference(reference, genome.fetch("chr2", 1500000, 1500900).upper(), 1000, stride, pooling)
    np.testing.assert_allclose(rows["embeddings"][1], short, rtol=1e-4, atol=1e-5)


def test_rc_average_gives_a_region_and_its_reverse_complement_one_vector(tmp_path, genome, run_cli, reference,
                                                                        tiny_model_dir):
    seq = genome.fetch("chr2", 700000, 703100).upper()
    fasta = tmp_path / "pair.fa"
    fasta.write_text(f">fwd\n{seq}\n>rev\n{revcomp(seq)}\n")
    out, plain = tmp_path / "rc.h5", tmp_path / "plain.h5"
    for path, extra in ((out, ["--rc-average"]), (plain, [])):
        result = run_cli("embed", "--fasta", fasta, "--model", tiny_model_dir, "-o", path, "--window", 1000, "-q",
                         *extra)
        assert result.exit_code == 0, result.output
    emb = datasets(out)["embeddings"]
    np.testing.assert_allclose(emb[0], emb[1], rtol=1e-4, atol=1e-5)
    single = datasets(plain)["embeddings"]
    assert not np.allclose(single[0], single[1], atol=1e-3)
    np.testing.assert_allclose(emb[0], (single[0] + single[1]) / 2, rtol=1e-4, atol=1e-5)


def test_batching_with_longer_regions_changes_nothing(promoter_run, data, genome, tmp_path, run_cli,
                                                      tiny_model_dir):
    expected = region_sequences(data["bed"], genome)
    fasta = tmp_path / "mixed.fa"
    with open(fasta, "w") as fh:
        for i, e in enumerate(expected):
            fh.write(f">p{i}\n{e[5]}\n")
            if i % 9 == 0:  # long neighbours with N runs, of other lengths, in the same look-ahead blocks
                fh.write(f">long{i}\n{genome.fetch('chr2', 90000 * (i + 1), 90000 * (i + 1) + 1500 + 37 * i)}NNNNNNNNNN\n")
    out = tmp_path / "mixed.h5"
    result = run_cli("embed", "--fasta", fasta, "--model", tiny_model_dir, "-o", out, "--batch-tokens", 1500,
                     "--lookahead", 7, "-q")
    assert result.exit_code == 0, result.output
    rows = datasets(out)
    names = [x.decode() for x in rows["regions/name"]]
    mine = [names.index(f"p{i}") for i in range(len(expected))]
    np.testing.assert_allclose(rows["embeddings"][mine], datasets(promoter_run)["embeddings"], rtol=1e-4, atol=1e-5)
    long0 = names.index("long0")
    assert rows["regions/n_unknown_tokens"][long0] == 10  # each N is one [UNK]


def test_layer_and_per_token_output(tmp_path, genome, reference, run_cli, tiny_model_dir):
    seqs = {"a": genome.fetch("chr2", 300000, 301300), "b": "acgtNNNNACGTTTGACCA" + genome.fetch("chr2", 55000, 55400)}
    fasta = tmp_path / "two.fa"
    fasta.write_text("".join(f">{k}\n{v}\n" for k, v in seqs.items()))
    out = tmp_path / "layer.h5"
    assert run_cli("embed", "--fasta", fasta, "--model", tiny_model_dir, "-o", out, "--layer", 1, "-q").exit_code == 0
    emb = datasets(out)["embeddings"]
    for i, seq in enumerate(seqs.values()):
        np.testing.assert_allclose(emb[i], mean_of(reference, seq, layer=1), rtol=1e-4, atol=1e-5)
    out = tmp_path / "tokens.h5"
    result = run_cli("embed", "--fasta", fasta, "--model", tiny_model_dir, "-o", out, "--pooling", "none",
                     "--window", 1000, "-q")
    assert result.exit_code == 0, result.output
    rows = datasets(out)
    offsets = rows["tokens/offsets"]
    assert offsets[0] == 0 and offsets[-1] == len(rows["tokens/vectors"]) == rows["regions/n_tokens"].sum()
    for i, seq in enumerate(seqs.values()):
        seq = seq.upper()
        lo, hi = offsets[i], offsets[i + 1]
        starts, ends, ids = rows["tokens/start"][lo:hi], rows["tokens/end"][lo:hi], rows["tokens/ids"][lo:hi]
        assert "".join(seq[s:e] for s, e in zip(starts, ends)) == seq  # tokens tile the region in order
        want = []
        for w in range(0, len(seq), 1000):
            hidden, wids, _ = reference(seq[w:w + 1000])
            want.append(hidden[1:-1])
            assert (ids[starts >= w][:len(wids) - 2] == wids[1:-1]).all()
        np.testing.assert_allclose(rows["tokens/vectors"][lo:hi], np.concatenate(want), rtol=1e-4, atol=1e-5)
    assert rows["regions/n_unknown_tokens"].tolist() == [0, 4]


def cli_args(data, model, out, *extra):
    # windows of 100 bp, one or two per batch, two per block: a few hundred small flushed blocks
    return ["embed", "--bed", str(data["bed"]), "--ref", str(data["ref"]), "--model", str(model), "-o", str(out),
            "--window", "100", "--batch-tokens", "60", "--lookahead", "2", "--threads", "1", "-q", *map(str, extra)]


def run_subprocess(args, timeout=120):
    return subprocess.run([sys.executable, "-m", "dnabert2", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=timeout)


def test_sigkill_then_resume_equals_an_uninterrupted_run(tmp_path, data, tiny_model_dir, run_cli):
    out = tmp_path / "run.h5"
    partial = tmp_path / "run.partial.h5"
    done, total = sigkill_after_rows(cli_args(data, tiny_model_dir, out), partial, 10)
    assert 10 <= done < total == 67 and not out.exists()
    with h5py.File(partial, "r") as f:
        assert f.attrs["complete"] == False  # noqa: E712
        assert 0 < f["done"][:].sum() < 67

    rerun = run_cli(*cli_args(data, tiny_model_dir, out))
    assert rerun.exit_code == 2 and "an interrupted run of this output exists" in rerun.output
    resumed = run_subprocess(cli_args(data, tiny_model_dir, out, "--resume"))
    assert resumed.returncode == 0, resumed.stderr
    assert not partial.exists()
    assert_same_as_uninterrupted(run_cli, out, cli_args(data, tiny_model_dir, tmp_path / "whole.h5"))
    with h5py.File(out, "r") as f:
        assert f.attrs["complete"] == True and f.attrs["resumed"] == 1  # noqa: E712


def test_shards_merged_equal_one_run(tmp_path, data, tiny_model_dir, run_cli, monkeypatch):
    # --lookahead 1: every window runs alone, so sharding cannot change a single bit
    bed = tmp_path / "some.bed"
    bed.write_text("".join(open(data["bed"]).readlines()[::3]))  # 23 of the promoters
    args = ["embed", "--bed", bed, "--ref", data["ref"], "--model", tiny_model_dir, "--lookahead", 1, "-q"]
    assert run_cli(*args, "-o", tmp_path / "one.h5").exit_code == 0
    assert run_cli(*args, "-o", tmp_path / "s0.h5", "--shard", "0/2").exit_code == 0
    monkeypatch.setenv("RANK", "1")  # as torchrun starts rank 1 of 2
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert run_cli(*args, "-o", tmp_path / "s.h5").exit_code == 0
    shard1 = tmp_path / "s.shard-1-of-2.h5"
    assert shard1.exists() and datasets(shard1)["regions/index"].tolist() == list(range(1, 23, 2))
    result = run_cli("merge", shard1, tmp_path / "s0.h5", "-o", tmp_path / "merged.h5")
    assert result.exit_code == 0 and "Merged 2 shards (23 regions)" in result.output
    a, b = datasets(tmp_path / "one.h5"), datasets(tmp_path / "merged.h5")
    assert a.keys() == b.keys()
    for name in a:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)


BAD_BED = [
    ("chr2\t500\t400\tx", "line 2: end (400) is before start (500)"),
    ("chr2\t-1\t400\tx", "line 2: negative coordinate"),
    ("chr9\t100\t400\tx", "line 2: chromosome 'chr9' is not in the reference"),
    ("chr2\t2333000\t2333500\tx", "line 2: region chr2:2333000-2333500 is past the end of chr2 (2333275 bp); "
                                  "use --clip"),
    ("chr2\tone\t400\tx", "line 2: start 'one' is not an integer"),
    ("chr2\t400", "line 2: expected at least 3 tab-separated columns"),
]


@pytest.mark.parametrize("line, message", BAD_BED)
def test_bad_bed_exits_2_with_the_line_and_leaves_nothing(tmp_path, data, run_cli, tiny_model_dir, line, message):
    bed = tmp_path / "bad.bed"
    bed.write_text(f"chr2\t100\t400\tgood\n{line}\n")
    out = tmp_path / "out.h5"
    result = run_cli("embed", "--bed", bed, "--ref", data["ref"], "--model", tiny_model_dir, "-o", out)
    assert result.exit_code == 2
    assert f"Error: {bed}: {message}" in result.output
    assert "Traceback" not in result.output
    assert list(tmp_path.iterdir()) == [bed]


def test_clip_fixes_a_region_past_the_end(tmp_path, data, run_cli, tiny_model_dir, genome, reference):
    bed = tmp_path / "end.bed"
    bed.write_text("chr2\t2333000\t2333500\tend\n")
    out = tmp_path / "out.h5"
    assert run_cli("embed", "--bed", bed, "--ref", data["ref"], "--model", tiny_model_dir, "-o", out, "--clip",
                   "-q").exit_code == 0
    rows = datasets(out)
    assert rows["regions/end"].tolist() == [2333275]
    np.testing.assert_allclose(rows["embeddings"][0], mean_of(reference, genome.fetch("chr2", 2333000, 2333275)),
                               rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("args, message", [
    (["--bed", "{bed}"], "a BED file needs the reference genome; give it with --ref"),
    (["--bed", "{empty}", "--ref", "{ref}"], "no regions found"),
    (["--bed", "{bed}", "--ref", "{ref}", "-o", "{existing}"], "output file already exists (use --force"),
    (["--fasta", "{bed}", "--ref", "{ref}"], "--ref is only used with --bed"),
    (["--bed", "{bed}", "--ref", "{ref}", "--stride", "3000"], "--stride 3000: must be between 1 and --window"),
    (["--bed", "{bed}", "--ref", "{ref}", "--shard", "2/2"], "--shard 2/2: K must be between 0 and N-1"),
    (["--bed", "{bed}", "--ref", "{ref}", "--layer", "5"], "--layer 5: this model has 2 layers"),
    (["--bed", "{bed}", "--ref", "{ref}", "--pooling", "none", "--rc-average"], "--rc-average cannot be combined"),
])
def test_bad_usage_exits_2(tmp_path, data, run_cli, tiny_model_dir, args, message):
    empty = tmp_path / "empty.bed"
    empty.write_text("track name=empty\n")
    existing = tmp_path / "existing.h5"
    existing.write_text("old")
    names = {"bed": data["bed"], "ref": data["ref"], "empty": empty, "existing": existing}
    args = [a.format(**names) for a in args]
    if "-o" not in args:
        args += ["-o", str(tmp_path / "out.h5")]
    result = run_cli("embed", "--model", tiny_model_dir, *args)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty.bed", "existing.h5"]
    assert existing.read_text() == "old"


def test_missing_model_says_to_pass_a_folder(tmp_path, data):
    import dnabert2
    from dnabert2.errors import InputError

    # the library function needs a model; the CLI falls back to the shipped pretrained model (test_shipped.py)
    with pytest.raises(InputError, match="--model: give a model folder"):
        dnabert2.embed(bed=data["bed"], ref=data["ref"], output=tmp_path / "o.h5")


def test_library_call_returns_arrays(reference, tiny_model_dir):
    import dnabert2

    seqs = ["ACGTACGTTTGACCAGT" * 5, ("second", "ttgacNNNacgt" * 4)]
    result = dnabert2.embed(seqs, model=tiny_model_dir)
    assert result["embeddings"].shape == (2, 64)
    assert list(result["regions"]["name"]) == ["seq1", "second"]
    np.testing.assert_allclose(result["embeddings"][1], mean_of(reference, "ttgacNNNacgt" * 4), rtol=1e-4, atol=1e-5)


POOLING_RECORDS = {"plain": "ACGTTGACCAGTAGGCTTACCGATTAGGCATTACGATCGG" * 3, "soft_masked_with_n": "acgtNNNNttgaccaGTAGGC" * 4,
                   "one_base": "G"}


def pooled_by_hand(reference, seq, pooling):
    """One window pooled the plain way from the encoder's token vectors ([CLS] first, [SEP] last)."""
    hidden, _, _ = reference(seq)
    return {"mean": hidden[1:-1].mean(0), "mean-all": hidden.mean(0), "max": hidden[1:-1].max(0),
            "cls": hidden[0]}[pooling]


@pytest.mark.parametrize("pooling", ["mean", "mean-all", "max", "cls"])
def test_each_pooling_mode_against_a_plain_computation(tmp_path, reference, run_cli, tiny_model_dir, pooling):
    fasta = tmp_path / "records.fa"
    fasta.write_text("".join(f">{name}\n{seq}\n" for name, seq in POOLING_RECORDS.items()))
    out = tmp_path / "pooled.h5"
    result = run_cli("embed", "--fasta", fasta, "--model", tiny_model_dir, "--pooling", pooling, "-o", out, "-q")
    assert result.exit_code == 0, result.output
    rows = datasets(out)
    for i, seq in enumerate(POOLING_RECORDS.values()):
        np.testing.assert_allclose(rows["embeddings"][i], pooled_by_hand(reference, seq, pooling), rtol=1e-4,
                                   atol=1e-5)
        _, ids, _ = reference(seq)
        assert rows["regions/n_tokens"][i] == len(ids) - 2  # real tokens, whatever the pooling


def test_mean_all_is_the_release_readme_recipe(tmp_path, run_cli, tiny_model_dir):
    """The DNABERT-2 README: `hidden_states = model(inputs)[0]; torch.mean(hidden_states[0], dim=0)`."""
    from transformers import AutoModel, AutoTokenizer

    import dnabert2  # noqa: F401  (registers model_type "dnabert2" with the Auto classes)

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    model = AutoModel.from_pretrained(tiny_model_dir).eval()
    dna = "ACGTAGCATCGGATCTATCTATCGACACTTGGTTATCGATCTACGAGCATCTCGTTAGC"
    inputs = tokenizer(dna, return_tensors="pt")["input_ids"]
    with torch.no_grad():
        hidden_states = model(inputs)[0]  # [1, sequence_length, hidden]
    embedding_mean = torch.mean(hidden_states[0], dim=0)
    fasta = tmp_path / "readme.fa"
    fasta.write_text(f">readme\n{dna}\n")
    out = tmp_path / "readme.h5"
    assert run_cli("embed", "--fasta", fasta, "--model", tiny_model_dir, "--pooling", "mean-all", "-o", out,
                   "-q").exit_code == 0
    np.testing.assert_allclose(datasets(out)["embeddings"][0], embedding_mean.numpy(), rtol=1e-4, atol=1e-5)
    assert run_cli("embed", "--fasta", fasta, "--model", tiny_model_dir, "-o", out, "--force", "-q").exit_code == 0
    assert not np.allclose(datasets(out)["embeddings"][0], embedding_mean.numpy(), rtol=1e-4, atol=1e-5)


def test_default_output_is_named_after_the_input(tmp_path, monkeypatch, run_cli, tiny_model_dir):
    fasta = tmp_path / "in" / "my.reads.fa.gz"
    fasta.parent.mkdir()
    import gzip

    with gzip.open(fasta, "wt") as fh:
        fh.write(">a\nACGTACGTAGCTAGCTAGCATCGAT\n")
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    result = run_cli("embed", "--fasta", fasta, "--model", tiny_model_dir)
    assert result.exit_code == 0, result.output
    assert "Wrote my.reads.embeddings.h5 (named after the input; -o to choose)" in result.output
    assert "on cpu (fp32)" in result.output
    assert sorted(p.name for p in work.iterdir()) == ["my.reads.embeddings.h5"]
    again = run_cli("embed", "--fasta", fasta, "--model", tiny_model_dir)
    assert again.exit_code == 2 and "my.reads.embeddings.h5: output file already exists" in again.output
