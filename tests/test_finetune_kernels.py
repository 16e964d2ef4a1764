"""`finetune --pack`, `--attention`, `--compile`: packed batches train and score as padded ones (pairs: token
types packed too); the summary line names what was asked for; a backend that cannot train on the device is
refused before anything is written."""
import json
import shutil

import pytest

from test_finetune import FAST, fixture_files, read_tsv


@pytest.fixture
def no_dropout_model(tiny_model_dir, tmp_path):
    """The tiny model folder without dropout (dropout draws its numbers per tensor shape, which packing changes)."""
    folder = tmp_path / "tiny_no_dropout"
    shutil.copytree(tiny_model_dir, folder)
    config = json.loads((folder / "config.json").read_text())
    config.update(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    (folder / "config.json").write_text(json.dumps(config))
    return folder


def test_packed_pairs_train_and_score_as_padded(no_dropout_model, tmp_path):
    from dnabert2 import finetune

    files = fixture_files("pairs", "tsv")
    runs = {}
    for pack in (False, True):
        out = tmp_path / f"pack_{pack}"
        runs[pack] = (finetune(out, model=no_dropout_model, **files, max_steps=4, eval_every=2, lr=5e-3, pack=pack,
                               batch_size=8, **{k: v for k, v in FAST.items() if k != "batch_size"}),
                      read_tsv(out / "predictions.tsv"))
    (padded, padded_rows), (packed, packed_rows) = runs[False], runs[True]
    assert not padded["packed"] and packed["packed"] and packed["attention"] == "sdpa"
    for name, value in padded["test"].items():
        assert packed["test"][name] == pytest.approx(value, abs=1e-5), name
    for a, b in zip(padded_rows, packed_rows):
        assert a["line"] == b["line"] and a["prediction"] == b["prediction"]
        assert float(b["prob_1"]) == pytest.approx(float(a["prob_1"]), abs=1e-5)


def test_summary_line_names_the_backend_and_packing(tiny_model_dir, tmp_path, run_cli):
    files = fixture_files("strings", "csv")
    out = tmp_path / "out"
    result = run_cli("finetune", "--model", tiny_model_dir, "--train", files["train"], "--dev", files["dev"],
                     "--test", files["test"], "-o", out, "--max-steps", 2, "--eval-every", 2, "--threads", 1,
                     "--device", "cpu", "--attention", "eager", "--pack")
    assert result.exit_code == 0, result.output
    assert "on cpu (fp32); attention eager, packed batches\n" in result.output


@pytest.mark.parametrize("backend, why", [
    ("flex", "FlexAttention has no backward pass on the CPU"),
    ("flash_attention_2", "it needs a CUDA GPU"),
])
def test_attention_that_cannot_train_here_is_refused_before_anything_is_written(tiny_model_dir, tmp_path, run_cli,
                                                                                 backend, why):
    files = fixture_files("strings", "csv")
    result = run_cli("finetune", "--model", tiny_model_dir, "--train", files["train"], "--dev", files["dev"],
                     "-o", tmp_path / "out", "--device", "cpu", "--attention", backend)
    assert result.exit_code == 2, result.output
    assert f"--attention {backend} cannot run on cpu: {why}" in result.output
    assert list(tmp_path.iterdir()) == []


def test_benchmark_gue_refuses_flex_training_on_the_cpu_before_anything_is_written(tiny_model_dir, tmp_path,
                                                                                    run_cli):
    result = run_cli("benchmark", "gue", "--data", tmp_path / "nowhere", "--model", tiny_model_dir, "-o",
                     tmp_path / "out", "--device", "cpu", "--attention", "flex")
    assert result.exit_code == 2, result.output
    assert "--attention flex cannot run on cpu: FlexAttention has no backward pass on the CPU" in result.output
    assert not (tmp_path / "out").exists() and not list(tmp_path.glob("out*"))
