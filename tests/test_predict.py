"""`dnabert2 predict` with random tiny fine-tuned folders (classification and regression) on the chr2 promoters."""
import functools

import h5py
import numpy as np
import pytest
import torch

from conftest import make_classifier, shared_path

CHR2 = ("genomes", "human_hg38_chr2_1-2333275")
COMPLEMENT = {"A": "T", "C": "G", "G": "C", "T": "A", "N": "N"}


def revcomp(seq):
    return "".join(COMPLEMENT[c] for c in reversed(seq))


@pytest.fixture(scope="module")
def classifier_dir(tmp_path_factory, reference_tokenizer_dir):
    return make_classifier(tmp_path_factory.mktemp("cls"), reference_tokenizer_dir, 1, num_labels=3,
                       id2label={0: "none", 1: "promoter", 2: "enhancer"})


@pytest.fixture(scope="module")
def regressor_dir(tmp_path_factory, reference_tokenizer_dir):
    return make_classifier(tmp_path_factory.mktemp("reg"), reference_tokenizer_dir, 2, num_labels=1,
                       problem_type="regression")


@pytest.fixture(scope="module")
def data():
    import pysam

    ref = shared_path(*CHR2, "chr2_1-2333275.fa.gz")
    return {"ref": ref, "bed": shared_path(*CHR2, "promoters_chr2_1-2333275.bed"), "genome": pysam.FastaFile(str(ref))}


@functools.lru_cache(maxsize=None)
def loaded(folder):
    from transformers import PreTrainedTokenizerFast

    from dnabert2.model import DNABert2ForSequenceClassification

    return PreTrainedTokenizerFast.from_pretrained(folder), DNABert2ForSequenceClassification.from_pretrained(folder).eval()


def logits_of(folder, seq):
    """Plain computation: the classifier on [CLS] seq [SEP]."""
    tok, model = loaded(folder)
    ids = torch.tensor([tok(seq.upper())["input_ids"]])
    with torch.no_grad():
        return model(input_ids=ids).logits[0].numpy(), ids.shape[1] - 2


def sequences(data):
    out = []
    for line in open(data["bed"]):
        f = line.rstrip("\n").split("\t")
        seq = data["genome"].fetch(f[0], int(f[1]), int(f[2])).upper()
        out.append((f, revcomp(seq) if f[5] == "-" else seq))
    return out


def test_classifier_probabilities_labels_and_table(tmp_path, data, classifier_dir, run_cli):
    out, table = tmp_path / "calls.h5", tmp_path / "calls.tsv"
    result = run_cli("predict", "--bed", data["bed"], "--ref", data["ref"], "--model", classifier_dir, "-o", out,
                     "--tsv", table)
    assert result.exit_code == 0, result.output
    assert "Predicted 67 regions" in result.output
    with h5py.File(out, "r") as f:
        probabilities, labels = f["probabilities"][:], f["labels"][:]
        assert [x.decode() if isinstance(x, bytes) else x for x in f["labels"].attrs["label_names"]] == [
            "none", "promoter", "enhancer"]
        assert f.attrs["complete"] == True and "embeddings" not in f  # noqa: E712
    assert probabilities.shape == (67, 3) and labels.shape == (67,) and labels.dtype == np.int32
    rows = sequences(data)
    for i, (fields, seq) in enumerate(rows[:20]):
        logits, _ = logits_of(classifier_dir, seq)
        want = np.exp(logits - logits.max())
        np.testing.assert_allclose(probabilities[i], want / want.sum(), rtol=1e-4, atol=1e-6)
    np.testing.assert_array_equal(labels, probabilities.argmax(1))
    lines = table.read_text().splitlines()
    assert lines[0] == "chrom\tstart\tend\tname\tstrand\tlabel\tp_none\tp_promoter\tp_enhancer"
    first = lines[1].split("\t")
    assert first[:5] == [rows[0][0][0], rows[0][0][1], rows[0][0][2], rows[0][0][3], "+"]
    assert first[5] == ["none", "promoter", "enhancer"][labels[0]]
    np.testing.assert_allclose([float(x) for x in first[6:]], probabilities[0], rtol=1e-5)
    assert len(lines) == 68


def test_long_region_gets_token_weighted_mean_of_window_probabilities(tmp_path, data, classifier_dir, run_cli):
    seq = data["genome"].fetch("chr2", 800000, 802500).upper()
    fasta = tmp_path / "long.fa"
    fasta.write_text(f">long\n{seq}\n")
    out, bed = tmp_path / "long.h5", tmp_path / "long.bed"
    result = run_cli("predict", "--fasta", fasta, "--model", classifier_dir, "-o", out, "--window", 1000,
                     "--tsv", bed, "-q")
    assert result.exit_code == 0, result.output
    probs, weights = [], []
    for start in (0, 1000, 2000):
        logits, n = logits_of(classifier_dir, seq[start:start + 1000])
        p = np.exp(logits - logits.max())
        probs.append(p / p.sum())
        weights.append(n)
    with h5py.File(out, "r") as f:
        np.testing.assert_allclose(f["probabilities"][0], np.average(probs, axis=0, weights=weights), rtol=1e-4)
        top = f["probabilities"][0].max()
    fields = bed.read_text().splitlines()[1].split("\t")
    assert fields[:6] == ["long", "0", "2500", "long", str(int(round(1000 * top))), "+"]


def test_regression_writes_values(tmp_path, data, regressor_dir, run_cli):
    out = tmp_path / "values.h5"
    result = run_cli("predict", "--bed", data["bed"], "--ref", data["ref"], "--model", regressor_dir, "-o", out, "-q")
    assert result.exit_code == 0, result.output
    with h5py.File(out, "r") as f:
        values = f["values"][:]
        assert "probabilities" not in f and "labels" not in f
    assert values.shape == (67, 1)
    for i, (_, seq) in enumerate(sequences(data)[:10]):
        np.testing.assert_allclose(values[i], logits_of(regressor_dir, seq)[0], rtol=1e-4, atol=1e-6)


def test_predict_needs_a_fine_tuned_folder(tmp_path, data, tiny_model_dir, run_cli):
    result = run_cli("predict", "--bed", data["bed"], "--ref", data["ref"], "--model", tiny_model_dir,
                     "-o", tmp_path / "x.h5")
    assert result.exit_code == 2
    assert "not a fine-tuned classification or regression model" in result.output
    import dnabert2
    from dnabert2.errors import InputError

    # the library function needs a model; the CLI falls back to the shipped promoter classifier (test_shipped.py)
    with pytest.raises(InputError, match="--model: give a model folder"):
        dnabert2.predict(bed=data["bed"], ref=data["ref"], output=tmp_path / "x.h5")
    assert list(tmp_path.iterdir()) == []


def test_library_predict_returns_arrays(classifier_dir):
    import dnabert2

    seq = "ACGTTGCAAGGCTTAGCATCGATCGGATCCA" * 4
    result = dnabert2.predict([seq], model=classifier_dir)
    logits, _ = logits_of(classifier_dir, seq)
    want = np.exp(logits - logits.max())
    np.testing.assert_allclose(result["probabilities"][0], want / want.sum(), rtol=1e-4)
    assert result["label_names"] == ["none", "promoter", "enhancer"]


def test_table_to_standard_output_and_default_output_name(tmp_path, monkeypatch, data, classifier_dir, run_cli):
    """`--tsv -` prints the table (and nothing else) on stdout; without -o the file is named after the input."""
    import shutil

    bed = tmp_path / "in" / "promoters.bed"
    bed.parent.mkdir()
    shutil.copy(data["bed"], bed)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    result = run_cli("predict", "--bed", bed, "--ref", data["ref"], "--model", classifier_dir, "--tsv", "-")
    assert result.exit_code == 0, result.stderr
    assert sorted(p.name for p in work.iterdir()) == ["promoters.predictions.h5"]
    assert "Wrote promoters.predictions.h5 (named after the input; -o to choose); the table went to standard " \
           "output" in result.stderr
    assert "Predicted 67 regions" in result.stderr and "Predicted" not in result.stdout
    lines = result.stdout.splitlines()
    assert lines[0] == "chrom\tstart\tend\tname\tstrand\tlabel\tp_none\tp_promoter\tp_enhancer"
    assert len(lines) == 68
    with h5py.File(work / "promoters.predictions.h5", "r") as f:
        probabilities = f["probabilities"][:]
    np.testing.assert_allclose([[float(x) for x in line.split("\t")[6:]] for line in lines[1:]], probabilities,
                               rtol=1e-5)
    # what `| sort -k8,8gr | head` gives: the regions by their promoter probability
    top = sorted(lines[1:], key=lambda line: -float(line.split("\t")[7]))[0].split("\t")
    assert float(top[7]) == pytest.approx(probabilities[:, 1].max(), rel=1e-5)
    # -o keeps working, and a named table beside it
    out, table = tmp_path / "calls.h5", tmp_path / "calls.tsv"
    assert run_cli("predict", "--bed", bed, "--ref", data["ref"], "--model", classifier_dir, "-o", out, "--tsv",
                   table, "-q").exit_code == 0
    assert table.read_text().splitlines() == lines


def test_table_to_a_closed_pipe_is_no_error(tmp_path, data, classifier_dir):
    """`dnabert2 predict ... --tsv - | head -3`: head leaves early; predict still exits 0 and keeps its file."""
    import subprocess
    import sys

    out = tmp_path / "calls.h5"
    command = [sys.executable, "-m", "dnabert2", "predict", "--bed", str(data["bed"]), "--ref", str(data["ref"]),
               "--model", str(classifier_dir), "-o", str(out), "--tsv", "-", "-q"]
    done = subprocess.run(" ".join(command) + " | head -3; echo rc=${PIPESTATUS[0]}", shell=True, executable="/bin/bash",
                          capture_output=True, text=True)
    lines = done.stdout.splitlines()
    assert lines[0].startswith("chrom\tstart") and len(lines) == 4 and lines[-1] == "rc=0", done.stderr
    assert out.is_file() and "Traceback" not in done.stderr and "Broken pipe" not in done.stderr
