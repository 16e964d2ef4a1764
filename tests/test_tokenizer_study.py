"""Further pretraining on task tables (`pretrain --table`) and the tokenizer study (`benchmark tokenizers`)."""
import gzip
import json

import numpy as np
import pytest

from dnabert2.shipped import model_path

MOTIFS = ["ACGTTGCAGGCTAGCTAACG", "TTTTGGGGCCCCAAAATTGC", "GATCGATCGGCCTAGGATCA", "CAGTCAGTTGACTGACAGTC"]


def motif_table(path, rows, seed=0, sep=","):
    """A labelled table whose sequences are chains of four fixed 20-bp motifs: easy to learn for a masked LM."""
    rng = np.random.default_rng(seed)
    lines = [f"sequence{sep}label"]
    for i in range(rows):
        lines.append("".join(MOTIFS[j] for j in rng.integers(0, 4, 5)) + f"{sep}{i % 2}")
    path.write_text("\n".join(lines) + "\n")
    return path


def evals(folder):
    return [json.loads(line) for line in (folder / "log.jsonl").read_text().splitlines() if "eval_loss" in line]


def test_further_pretraining_on_a_table_lowers_its_heldout_loss(tmp_path, run_cli):
    table = motif_table(tmp_path / "train.csv", 400)
    out = tmp_path / "further"
    result = run_cli("pretrain", "--init", model_path("pretrained"), "--table", table, "--max-steps", "20",
                     "--batch-size", "8", "--lr", "2e-3", "--warmup-steps", "2", "--eval-every", "10",
                     "--heldout-fraction", "0.1", "--workers", "0", "--threads", "1", "-o", out, "-q")
    assert result.exit_code == 0, result.output
    losses = [r["eval_loss"] for r in evals(out)]
    assert [r["step"] for r in evals(out)] == [0, 10, 20]
    # held-out rows: 40 of the table's rows, never trained on; 6.1 -> 3.3 nats when written
    assert losses[0] > losses[1] > losses[2] and losses[2] < losses[0] - 2.0, losses
    run = json.loads((out / "run.json").read_text())
    assert run["data"] == {"tables": [str(table.resolve())]}
    # run.json keeps the key of the option's old name (--eval-fraction), so that runs made before still resume
    assert run["eval_fraction"] == 0.1 and "heldout_fraction" not in run


def test_table_pretraining_resumes_and_the_model_finetunes(tmp_path, run_cli):
    data = tmp_path / "task"
    data.mkdir()
    motif_table(data / "train.tsv", 64, seed=1, sep="\t")
    motif_table(data / "dev.tsv", 16, seed=2, sep="\t")
    motif_table(data / "test.tsv", 16, seed=3, sep="\t")
    plain = motif_table(tmp_path / "extra.csv", 32, seed=4)
    gz = tmp_path / "extra.csv.gz"
    gz.write_bytes(gzip.compress(plain.read_bytes()))  # tables as finetune reads them: TSV, CSV, gzip
    common = ["pretrain", "--init", model_path("pretrained"), "--table", data / "train.tsv", "--table", gz,
              "--max-steps", "6", "--batch-size", "4", "--save-every", "3", "--eval-every", "3", "--workers", "0",
              "--log-every", "1", "--threads", "1", "-o", tmp_path / "further", "-q"]
    first = run_cli(*common, "--stop-at-step", "3")
    assert first.exit_code == 0, first.output
    assert not (tmp_path / "further" / "model.safetensors").exists()
    again = run_cli(*common)
    assert again.exit_code == 2 and "--resume" in again.output
    resumed = run_cli(*common, "--resume")
    assert resumed.exit_code == 0, resumed.output
    assert (tmp_path / "further" / "model.safetensors").is_file()
    steps = [json.loads(line)["step"] for line in (tmp_path / "further" / "log.jsonl").read_text().splitlines()
             if "loss" in line and "eval_loss" not in line]
    assert steps == list(range(1, 7))
    tuned = run_cli("finetune", "--model", tmp_path / "further", "--data", data, "--max-steps", "3",
                    "--batch-size", "8", "--threads", "1", "-o", tmp_path / "tuned", "-q")
    assert tuned.exit_code == 0, tuned.output
    assert "mcc" in json.loads((tmp_path / "tuned" / "metrics.json").read_text())["test"]


@pytest.mark.parametrize("extra, text", [
    (["--genome", "GENOME"], "not several"),
    (["--table", "missing.csv"], "missing.csv"),
])
def test_table_option_errors(tmp_path, run_cli, shared, extra, text):
    table = motif_table(tmp_path / "train.csv", 8)
    genome = shared("genomes", "sars_cov_2", "NC_045512.2.fasta")
    args = [genome if a == "GENOME" else a for a in extra]
    if "missing.csv" not in extra:
        args += ["--table", table]
    result = run_cli("pretrain", "--init", model_path("pretrained"), *args, "-o", tmp_path / "out", "-q")
    assert result.exit_code == 2 and text in result.output, result.output
    assert not (tmp_path / "out").exists()


def test_tokenizer_study_end_to_end_at_micro_scale(tmp_path, run_cli, shared):
    genome = shared("genomes", "sars_cov_2", "NC_045512.2.fasta")
    task = tmp_path / "tf" / "0"  # named like GUE's tf/0, so the paper's numbers show
    task.mkdir(parents=True)
    for split, n, seed in (("train", 48, 1), ("dev", 16, 2), ("test", 16, 3)):
        motif_table(task / f"{split}.csv", n, seed=seed)
    args = ["benchmark", "tokenizers", genome, "--tasks", task, "--tokenizers", "bpe:64,kmer:3,kmer:3:3",
            "--vocab-max-bases", "20000", "--pretrain-steps", "3", "--pretrain-batch", "4", "--max-tokens", "32",
            "--finetune-max-steps", "2", "--finetune-eval-every", "2", "--max-train-rows", "32",
            "--max-eval-rows", "16", "--seeds", "2", "--threads", "1", "-o", tmp_path / "study"]
    result = run_cli(*args)
    assert result.exit_code == 0, result.output
    out = tmp_path / "study"
    vocab = (out / "vocab.tsv").read_text().splitlines()
    assert [line.split("\t")[0] for line in vocab[1:]] == ["bpe-64", "3mer-overlapping", "3mer-non-overlapping"]
    assert [int(line.split("\t")[1]) for line in vocab[1:]] == [64, 5 + 64, 5 + 64 + 4]
    results = json.loads((out / "results.json").read_text())
    row = results["tasks"][0]
    assert row["task"] == "tf/0"
    # the baseline: the first tokenizer's model left untrained (no bpe:4096 listed), fine-tuned the same way
    assert set(row["mcc"]) == {"bpe-64", "3mer-overlapping", "3mer-non-overlapping", "bpe-64 untrained"}
    assert (out / "models" / "bpe-64-untrained" / "model.safetensors").is_file()
    assert not (out / "models" / "bpe-64-untrained" / "log.jsonl").exists()
    assert row["paper"]["paper DNABERT-2 (T6)"] == 71.99 and row["paper"]["paper 6-mer (T10)"] == 67.99
    assert all(-100 <= v <= 100 for v in row["mcc"].values())
    assert "tf/0" in result.output and "71.99" in result.output and "mean (1 tasks)" in result.output
    # --resume reuses every finished piece: same numbers, nothing retrained
    stamp = (out / "models" / "bpe-64" / "model.safetensors").stat().st_mtime_ns
    again = run_cli(*args, "--resume")
    assert again.exit_code == 0, again.output
    assert (out / "models" / "bpe-64" / "model.safetensors").stat().st_mtime_ns == stamp
    assert json.loads((out / "results.json").read_text())["tasks"] == results["tasks"]
    refused = run_cli(*args)
    assert refused.exit_code == 2 and "exists" in refused.output


@pytest.mark.parametrize("args, option", [
    (["--tokenizers", "bpe"], "--tokenizers"), (["--tokenizers", "kmer:6:3"], "--tokenizers"),
    (["--tokenizers", "wordpiece:100"], "--tokenizers"), (["--tokenizers", "bpe:x"], "--tokenizers"),
    (["--tokenizers", "bpe:256,kmer:6", "--baseline", "kmer:5"], "--baseline"),
])
def test_tokenizer_study_refuses_bad_specs(tmp_path, run_cli, shared, args, option):
    genome = shared("genomes", "sars_cov_2", "NC_045512.2.fasta")
    task = shared("gue", "mouse", "3")
    result = run_cli("benchmark", "tokenizers", genome, "--tasks", task, *args, "-o", tmp_path / "s")
    assert result.exit_code == 2 and option in result.output, result.output
    assert not (tmp_path / "s").exists()
