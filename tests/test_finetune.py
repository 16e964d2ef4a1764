"""`dnabert2 finetune` and `dnabert2 benchmark gue` on a tiny random model: GUE subsets, own fixtures, LoRA, seeds,
bad tables. Reference numbers come from plain computations here (sklearn-free metrics, one-example forwards)."""
import csv
import json
import math
import shutil

import numpy as np
import pytest

from conftest import REPO, TEST_DATA, shared_path

# a fast, deterministic setting: one thread (much faster than two on busy CPUs), small steps, high lr
FAST = dict(threads=1, device="cpu", warmup_steps=2, batch_size=32)


def fixture_files(kind, ext):
    return {split: TEST_DATA / f"ft_{kind}_{split}.{ext}" for split in ("train", "dev", "test")}


def read_tsv(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def read_rows(path, delimiter=","):
    """{line number: row dict} of a table."""
    with open(path, newline="") as handle:
        reader = csv.DictReader(handle, delimiter=delimiter)
        return {i + 2: row for i, row in enumerate(reader)}


def plain_classification_metrics(truth, predicted):
    """Accuracy, macro F1/precision/recall and binary or multi-class MCC written out from counts."""
    classes = sorted(set(truth) | set(predicted))
    n = len(truth)
    precision, recall, f1 = [], [], []
    for c in classes:
        tp = sum(1 for t, p in zip(truth, predicted) if t == c and p == c)
        fp = sum(1 for t, p in zip(truth, predicted) if t != c and p == c)
        fn = sum(1 for t, p in zip(truth, predicted) if t == c and p != c)
        precision.append(tp / (tp + fp) if tp + fp else 0.0)
        recall.append(tp / (tp + fn) if tp + fn else 0.0)
        f1.append(2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0)
    correct = sum(1 for t, p in zip(truth, predicted) if t == p)
    t_k = [sum(1 for t in truth if t == c) for c in classes]
    p_k = [sum(1 for p in predicted if p == c) for c in classes]
    denominator = math.sqrt((n * n - sum(x * x for x in p_k)) * (n * n - sum(x * x for x in t_k)))
    mcc = (correct * n - sum(a * b for a, b in zip(t_k, p_k))) / denominator if denominator else 0.0
    return {"accuracy": correct / n, "f1": sum(f1) / len(classes), "precision": sum(precision) / len(classes),
            "recall": sum(recall) / len(classes), "mcc": mcc}


def reference_probabilities(folder, sequences, max_length, pairs=None):
    """Class probabilities of a saved model, one example at a time (no padding), from `dnabert2.load_model`."""
    import torch

    from dnabert2 import load_model

    model, tokenizer = load_model(folder)
    rows = []
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # one example at a time runs far faster on one thread
    with torch.no_grad():
        for i, sequence in enumerate(sequences):
            encoded = tokenizer(sequence, None if pairs is None else pairs[i], truncation=True,
                                max_length=max_length, return_token_type_ids=True, return_tensors="pt")
            logits = model(input_ids=encoded["input_ids"], token_type_ids=encoded["token_type_ids"]).logits[0]
            rows.append(torch.softmax(logits.double(), dim=-1).numpy())
    torch.set_num_threads(threads)
    return np.asarray(rows), model


@pytest.fixture(scope="module")
def tata_run(tiny_model_dir, tmp_path_factory):
    """prom_core_tata subsampled; lr and steps chosen so the best dev loss is not at the last step."""
    from dnabert2 import finetune

    folder = shared_path("gue", "prom", "prom_core_tata")
    out = tmp_path_factory.mktemp("tata") / "out"
    summary = finetune(out, model=tiny_model_dir, data=folder, max_train_rows=256, max_eval_rows=96, max_steps=24,
                       eval_every=4, lr=3e-3, **FAST)
    return folder, out, summary


def test_gue_run_writes_model_folder_and_reports(tata_run):
    folder, out, summary = tata_run
    for name in ("config.json", "model.safetensors", "tokenizer.json", "metrics.json", "predictions.tsv",
                 "training_record.json"):
        assert (out / name).is_file(), name
    try:
        import matplotlib  # noqa: F401
        assert (out / "training_curve.png").read_bytes()[:4] == b"\x89PNG"
    except ImportError:
        assert not (out / "training_curve.png").exists()
    config = json.loads((out / "config.json").read_text())
    assert config["id2label"] == {"0": "0", "1": "1"}
    assert config["problem_type"] == "single_label_classification"
    record = json.loads((out / "training_record.json").read_text())
    assert record["data"]["train"]["rows"] == 256 and record["data"]["train"]["path"].endswith("train.csv")
    assert summary["steps"] == 24 and summary["rows"] == {"train": 256, "dev": 96, "test": 96}


def test_dev_selection_keeps_the_best_checkpoint(tata_run):
    _, out, summary = tata_run
    history = json.loads((out / "training_record.json").read_text())["runs"][0]["history"]
    losses = {h["step"]: h["dev_loss"] for h in history}
    best_step = min(losses, key=losses.get)
    assert summary["runs"][0]["best_step"] == best_step
    assert best_step < max(losses), "the setting must make an earlier checkpoint the best one"
    # the metrics after training are those of the best step, not of the last one
    assert summary["dev"]["loss"] == pytest.approx(losses[best_step], abs=1e-5)
    assert summary["dev"]["loss"] != pytest.approx(losses[max(losses)], abs=1e-5)


def test_metrics_json_equals_metrics_recomputed_from_predictions(tata_run):
    _, out, _ = tata_run
    metrics = json.loads((out / "metrics.json").read_text())
    rows = read_tsv(out / "predictions.tsv")
    assert len(rows) == 96 and list(rows[0])[:3] == ["line", "label", "prediction"]
    for row in rows:  # prediction is the most probable class
        assert row["prediction"] == max(("0", "1"), key=lambda c: float(row[f"prob_{c}"]))
    expected = plain_classification_metrics([r["label"] for r in rows], [r["prediction"] for r in rows])
    for name, value in expected.items():
        assert metrics["test"][name] == pytest.approx(value, abs=1e-9), name


def test_saved_model_predicts_like_the_trained_one(tata_run):
    folder, out, summary = tata_run
    rows = read_tsv(out / "predictions.tsv")
    table = read_rows(folder / "test.csv")
    sequences = [table[int(r["line"])]["sequence"] for r in rows]
    assert [table[int(r["line"])]["label"] for r in rows] == [r["label"] for r in rows]
    probabilities, model = reference_probabilities(out, sequences, summary["max_length"])
    assert model.config.id2label == {0: "0", 1: "1"}
    written = np.asarray([[float(r["prob_0"]), float(r["prob_1"])] for r in rows])
    assert np.allclose(probabilities, written, atol=1e-4)


def test_automatic_max_length_is_the_longest_training_example(tata_run, reference_tokenizer_dir):
    from dnabert2.tokenizer import load_tokenizer

    folder, _, summary = tata_run
    tokenizer = load_tokenizer(reference_tokenizer_dir)
    record = json.loads((tata_run[1] / "training_record.json").read_text())
    assert record["max_length"] == summary["max_length"]
    # the longest example of the whole training file bounds the subsample's
    lengths = [len(tokenizer(r["sequence"])["input_ids"]) for r in read_rows(folder / "train.csv").values()]
    assert 3 <= summary["max_length"] <= max(lengths)


def test_lora_trains_only_adapters_and_saved_model_predicts_alike(tiny_model_dir, tmp_path, shared):
    pytest.importorskip("peft")
    from safetensors.numpy import load_file

    from dnabert2 import finetune

    folder = shared("gue", "tf", "0")
    out = tmp_path / "lora"
    summary = finetune(out, model=tiny_model_dir, data=folder, max_train_rows=128, max_eval_rows=48, max_steps=6,
                       eval_every=3, lr=5e-3, lora=True, lora_r=2, lora_alpha=4, lora_dropout=0.0, **FAST)
    base = load_file(tiny_model_dir / "model.safetensors")
    tuned = load_file(out / "model.safetensors")
    changed = []
    for name, value in tuned.items():
        if name.startswith(("bert.pooler.", "classifier.")):
            continue
        assert name in base, name
        if not np.array_equal(value, base[name]):
            changed.append(name)
            # a merged LoRA update is B @ A: rank at most r
            assert name.endswith("attention.self.Wqkv.weight"), name
            assert np.linalg.matrix_rank((value - base[name]).astype(np.float64), tol=1e-6) <= 2
    assert len(changed) == 2  # the Wqkv of both layers of the tiny model
    record = json.loads((out / "training_record.json").read_text())
    assert record["options"]["lora"] is True and record["options"]["lora_targets"] == ["Wqkv"]
    assert record["options"]["lora_r"] == 2 and summary["parameters"]["trainable"] < summary["parameters"]["total"]
    rows = read_tsv(out / "predictions.tsv")
    table = read_rows(folder / "test.csv")
    probabilities, _ = reference_probabilities(out, [table[int(r["line"])]["sequence"] for r in rows],
                                               summary["max_length"])
    written = np.asarray([[float(r["prob_0"]), float(r["prob_1"])] for r in rows])
    assert np.allclose(probabilities, written, atol=1e-4)


def test_lora_adapter_saved_and_reloaded(tiny_model_dir, tmp_path):
    pytest.importorskip("peft")
    from dnabert2.finetuning import load_finetuned
    from dnabert2 import finetune

    files = fixture_files("strings", "csv")
    out = tmp_path / "adapter"
    finetune(out, model=tiny_model_dir, **files, max_steps=4, eval_every=2, lr=5e-3, lora=True,
             lora_targets=["Wqkv", "wo"], save_adapter=True, **FAST)
    assert (out / "adapter" / "adapter_config.json").is_file() and not (out / "model.safetensors").exists()
    model, tokenizer = load_finetuned(out)
    assert model.config.id2label == {0: "at_rich", 1: "balanced", 2: "gc_rich"}
    rows = read_tsv(out / "predictions.tsv")
    table = read_rows(files["test"])
    import torch

    with torch.no_grad():
        for row in rows[:8]:
            ids = tokenizer(table[int(row["line"])]["sequence"], return_tensors="pt")["input_ids"]
            probs = torch.softmax(model(input_ids=ids).logits[0].double(), -1).numpy()
            assert np.allclose(probs, [float(row[f"prob_{c}"]) for c in ("at_rich", "balanced", "gc_rich")],
                               atol=1e-4)


def test_string_labels_through_the_cli(tiny_model_dir, tmp_path, run_cli):
    files = fixture_files("strings", "csv")
    out = tmp_path / "strings"
    result = run_cli("finetune", "--model", tiny_model_dir, "--train", files["train"], "--dev", files["dev"],
                     "--test", files["test"], "-o", out, "--max-steps", 6, "--eval-every", 3, "--lr", 5e-3,
                     "--warmup-steps", 2, "--threads", 1, "--device", "cpu", "--class-weights", "balanced",
                     "--select-metric", "f1")
    assert result.exit_code == 0, result.output
    assert "test: accuracy" in result.output
    config = json.loads((out / "config.json").read_text())
    assert config["id2label"] == {"0": "at_rich", "1": "balanced", "2": "gc_rich"}
    rows = read_tsv(out / "predictions.tsv")
    assert list(rows[0]) == ["line", "label", "prediction", "prob_at_rich", "prob_balanced", "prob_gc_rich"]
    truth = read_rows(files["test"])
    assert [r["label"] for r in rows] == [truth[int(r["line"])]["label"] for r in rows]
    for row in rows:
        assert sum(float(row[f"prob_{c}"]) for c in ("at_rich", "balanced", "gc_rich")) == pytest.approx(1, abs=1e-4)
    metrics = json.loads((out / "metrics.json").read_text())
    expected = plain_classification_metrics([r["label"] for r in rows], [r["prediction"] for r in rows])
    for name, value in expected.items():
        assert metrics["test"][name] == pytest.approx(value, abs=1e-9), name
    assert metrics["select_metric"] == "f1"


def test_pairs_use_both_sequences(tiny_model_dir, tmp_path):
    from dnabert2 import finetune

    files = fixture_files("pairs", "tsv")
    out = tmp_path / "pairs"
    summary = finetune(out, model=tiny_model_dir, **files, max_steps=4, eval_every=2, lr=5e-3, **FAST)
    assert summary["pairs"] is True and summary["labels"] == ["0", "1"]
    rows = read_tsv(out / "predictions.tsv")
    table = read_rows(files["test"], delimiter="\t")
    probabilities, _ = reference_probabilities(
        out, [table[int(r["line"])]["sequence_a"] for r in rows], summary["max_length"],
        pairs=[table[int(r["line"])]["sequence_b"] for r in rows])
    assert np.allclose(probabilities, [[float(r["prob_0"]), float(r["prob_1"])] for r in rows], atol=1e-4)


def test_regression(tiny_model_dir, tmp_path):
    from dnabert2 import finetune

    files = fixture_files("regression", "csv")
    out = tmp_path / "regression"
    summary = finetune(out, model=tiny_model_dir, **files, max_steps=6, eval_every=3, lr=5e-3,
                       select_metric="mse", **FAST)
    assert summary["task"] == "regression"
    config = json.loads((out / "config.json").read_text())
    assert config["problem_type"] == "regression" and len(config["id2label"]) == 1
    rows = read_tsv(out / "predictions.tsv")
    assert list(rows[0]) == ["line", "label", "prediction"]
    y = np.asarray([float(r["label"]) for r in rows])
    p = np.asarray([float(r["prediction"]) for r in rows])
    truth = read_rows(files["test"])
    assert np.allclose(y, [float(truth[int(r["line"])]["label"]) for r in rows])
    metrics = summary["test"]
    assert metrics["mse"] == pytest.approx(np.mean((y - p) ** 2), rel=1e-5)
    assert metrics["r2"] == pytest.approx(1 - np.sum((y - p) ** 2) / np.sum((y - y.mean()) ** 2), rel=1e-4, abs=1e-6)
    assert metrics["pearson"] == pytest.approx(np.corrcoef(y, p)[0, 1], abs=1e-4)
    def rank(values):  # average rank of ties: (number below) + (number equal + 1) / 2
        return np.asarray([np.sum(values < v) + (np.sum(values == v) + 1) / 2 for v in values])
    assert metrics["spearman"] == pytest.approx(np.corrcoef(rank(y), rank(p))[0, 1], abs=1e-4)


def test_multilabel(tiny_model_dir, tmp_path):
    from dnabert2 import finetune

    files = fixture_files("multilabel", "tsv")
    out = tmp_path / "multilabel"
    summary = finetune(out, model=tiny_model_dir, **files, max_steps=4, eval_every=2, lr=5e-3, **FAST)
    names = ["has_TATA", "has_CpG", "gc_rich"]
    assert summary["task"] == "multilabel" and summary["labels"] == names
    config = json.loads((out / "config.json").read_text())
    assert config["problem_type"] == "multi_label_classification"
    assert list(config["id2label"].values()) == names
    rows = read_tsv(out / "predictions.tsv")
    truth = read_rows(files["test"], delimiter="\t")
    y = np.asarray([[int(truth[int(r["line"])][n]) for n in names] for r in rows])
    assert [r["label"] for r in rows] == [";".join(n for n, v in zip(names, t) if v) for t in y]
    p = np.asarray([[float(r[f"prob_{n}"]) > 0.5 for n in names] for r in rows]).astype(int)
    assert [r["prediction"] for r in rows] == [";".join(n for n, v in zip(names, t) if v) for t in p]
    assert summary["test"]["accuracy"] == pytest.approx(np.mean((y == p).all(axis=1)))
    assert summary["test"]["label_accuracy"] == pytest.approx(np.mean(y == p))


def test_seeds_report_mean_and_std_and_early_stopping(tiny_model_dir, tmp_path):
    from dnabert2 import finetune

    files = fixture_files("strings", "csv")
    out = tmp_path / "seeds"
    # lr this small leaves the predictions (and so the accuracy) unchanged: patience 1 stops at the 2nd evaluation
    summary = finetune(out, model=tiny_model_dir, **files, max_steps=12, eval_every=2, lr=1e-9, seeds=2, seed=7,
                       select_metric="accuracy", patience=1, **FAST)
    assert summary["seeds"] == [7, 8] and len(summary["runs"]) == 2
    for run in summary["runs"]:
        assert run["steps"] == 4 and run["best_step"] == 2
    accuracies = [run["test"]["accuracy"] for run in summary["runs"]]
    assert summary["test"]["accuracy"] == pytest.approx(np.mean(accuracies))
    assert summary["test_std"]["accuracy"] == pytest.approx(np.std(accuracies, ddof=1))
    for seed in (7, 8):
        assert (out / "seeds" / f"seed_{seed}" / "predictions.tsv").is_file()


@pytest.mark.parametrize("name, text, line, reason", [
    ("train.csv", "seq,lbl,x,y\nACGT,1,1,1\n", 1, "missing columns"),
    ("train.csv", "sequence,label\nACGTACGT,1\nACGT\t0\n", 3, "mixed delimiters"),
    ("train.csv", "sequence,label\nACGTACGT,1\nACGZ,0\n", 3, "invalid character 'Z'"),
    ("train.csv", "sequence,label\nACGTACGT,1\n,0\n", 3, "empty sequence"),
    ("dev.csv", "sequence,label\nACGTACGT,1\nACGTAA,7\n", 3, "label '7' does not occur in the training data"),
])
def test_bad_tables_exit_2_with_file_line_and_reason(tiny_model_dir, tmp_path, run_cli, name, text, line, reason):
    good = "sequence,label\nACGTACGT,1\nTTGACC,0\n"
    for split in ("train.csv", "dev.csv"):
        (tmp_path / split).write_text(text if split == name else good)
    result = run_cli("finetune", "--model", tiny_model_dir, "--data", tmp_path, "-o", tmp_path / "out")
    assert result.exit_code == 2, result.output
    assert f"{tmp_path / name}: line {line}: " in result.output and reason in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "out").exists()


def test_option_errors_exit_2(tiny_model_dir, tmp_path, run_cli):
    files = fixture_files("regression", "csv")
    result = run_cli("finetune", "--model", tiny_model_dir, "--train", files["train"], "--dev", files["dev"],
                     "-o", tmp_path / "o", "--select-metric", "mcc")
    assert result.exit_code == 2 and "--select-metric mcc" in result.output
    result = run_cli("finetune", "--model", tiny_model_dir, "--train", files["train"], "--dev", files["dev"],
                     "-o", tmp_path / "o", "--save-adapter")
    assert result.exit_code == 2 and "--save-adapter needs --lora" in result.output
    result = run_cli("finetune", "--model", tiny_model_dir, "--train", files["train"], "--dev", files["dev"],
                     "-o", tmp_path / "o", "--lora", "--lora-targets", "Wqkv,query")
    assert result.exit_code == 2 and "--lora-targets query: expected some of Wqkv, dense, gated_layers, wo" \
        in result.output
    result = run_cli("finetune", "--model", tiny_model_dir, "--train", files["train"], "--dev", files["dev"],
                     "-o", tmp_path / "o", "--lora-targets", "Wqkv,wo")
    assert result.exit_code == 2 and "Error: --lora-targets needs --lora" in result.output
    result = run_cli("benchmark", "gue", "--data", tmp_path, "--model", tiny_model_dir, "-o", tmp_path / "b",
                     "--lora-targets", "wo")
    assert result.exit_code == 2 and "Error: --lora-targets needs --lora" in result.output
    assert not (tmp_path / "o").exists() and not (tmp_path / "b").exists()


def test_length_buckets_cover_every_example_once():
    from dnabert2.common.batching import bucketed_batches as length_batches

    rng = np.random.default_rng(0)
    lengths = rng.integers(3, 200, size=1000)
    batches = length_batches(lengths, 8, np.random.default_rng(1))
    assert sorted(np.concatenate(batches).tolist()) == list(range(1000))
    assert max(len(b) for b in batches) == 8
    # padding inside length-bucketed batches is far below that of random batches
    padded = sum(len(b) * lengths[b].max() - lengths[b].sum() for b in batches)
    random_batches = np.array_split(rng.permutation(1000), 125)
    random_padded = sum(len(b) * lengths[b].max() - lengths[b].sum() for b in random_batches)
    assert padded < random_padded / 5


def test_balanced_class_weights_by_hand():
    from dnabert2.finetuning.tasks import class_weights

    weights = class_weights("classification", np.array([0, 0, 0, 1, 2, 2]), "balanced")
    assert weights.tolist() == pytest.approx([6 / (3 * 3), 6 / (3 * 1), 6 / (3 * 2)])
    weights = class_weights("multilabel", np.array([[1, 0], [0, 0], [1, 1], [0, 0]], dtype=float), "balanced")
    assert weights.tolist() == pytest.approx([2 / 2, 3 / 1])


def test_benchmark_gue_runs_found_folders_and_prints_paper_numbers(tiny_model_dir, tmp_path, run_cli, shared):
    root = shared("gue")
    out = tmp_path / "bench"
    result = run_cli("benchmark", "gue", "--data", root, "--model", tiny_model_dir, "-o", out,
                     "--tasks", "prom/prom_core_tata,emp/h3", "--max-train-rows", 64, "--max-eval-rows", 32,
                     "--max-steps", 2, "--threads", 1, "--device", "cpu")
    assert result.exit_code == 0, result.output
    assert "prom/prom_core_tata" in result.output and "74.17" in result.output
    assert "EMP/H3" in result.output and "skipped" in result.output
    rows = {r["dataset"]: r for r in read_tsv(out / "results.tsv")}
    assert rows["EMP/H3"]["status"].startswith("skipped")
    tata = rows["prom/prom_core_tata"]
    assert tata["paper_dnabert2"] == "74.17" and tata["max_length"] == "20" and tata["steps"] == "2"
    run = json.loads((out / "runs" / "prom_prom_core_tata" / "metrics.json").read_text())
    assert float(tata["ours"]) == pytest.approx(100 * run["test"]["mcc"], abs=0.01)
    assert not (out / "runs" / "prom_prom_core_tata" / "model.safetensors").exists()


def test_gue_protocol_table_matches_the_paper():
    from dnabert2.finetuning.gue import PAPER_DNABERT2, PROTOCOLS

    assert len(PAPER_DNABERT2) == 28 and set(PAPER_DNABERT2) <= set(PROTOCOLS)
    assert PROTOCOLS["prom/prom_core_tata"].max_length == 20 and PROTOCOLS["prom/prom_core_tata"].epochs == 10
    assert PROTOCOLS["mouse/3"].max_steps == 1000 and PROTOCOLS["virus/covid"].metric == "f1"
    assert PROTOCOLS["emp/h3k4me3"].max_length == 128 and PROTOCOLS["splice/reconstructed"].max_length == 80
    assert np.mean([PAPER_DNABERT2[f"tf/{i}"] for i in range(5)]) == pytest.approx(70.108)


def test_finetuned_folder_drives_dnabert2_predict(tata_run, tmp_path, run_cli, reference_tokenizer_dir):
    import h5py

    from dnabert2.tokenizer import load_tokenizer

    folder, out, summary = tata_run
    rows = read_tsv(out / "predictions.tsv")
    table = read_rows(folder / "test.csv")
    tokenizer = load_tokenizer(reference_tokenizer_dir)
    # predict never truncates; compare the rows fine-tuning did not truncate either
    kept = [r for r in rows if len(tokenizer(table[int(r["line"])]["sequence"])["input_ids"]) <= summary["max_length"]]
    assert len(kept) >= len(rows) // 2
    fasta = tmp_path / "test.fa"
    fasta.write_text("".join(f">line{r['line']}\n{table[int(r['line'])]['sequence']}\n" for r in kept))
    result = run_cli("predict", "--fasta", fasta, "--model", out, "-o", tmp_path / "calls.h5", "--device", "cpu",
                     "--quiet")
    assert result.exit_code == 0, result.output
    with h5py.File(tmp_path / "calls.h5") as f:
        probabilities = f["probabilities"][:]
        labels = f["labels"][:]
        names = [x.decode() if isinstance(x, bytes) else str(x) for x in f["labels"].attrs["label_names"]]
    assert names == ["0", "1"]
    written = np.asarray([[float(r["prob_0"]), float(r["prob_1"])] for r in kept])
    assert np.allclose(probabilities, written, atol=1e-4)
    assert [names[i] for i in labels] == [r["prediction"] for r in kept]


def test_without_test_table_predictions_come_from_dev(tiny_model_dir, tmp_path):
    from dnabert2 import finetune

    files = fixture_files("strings", "csv")
    out = tmp_path / "no_test"
    summary = finetune(out, model=tiny_model_dir, train=files["train"], dev=files["dev"], max_steps=2,
                       eval_every=1, lr=1e-3, save_model=False, **FAST)
    assert summary["predictions_split"] == "dev" and "test" not in summary
    rows = read_tsv(out / "predictions.tsv")
    assert [int(r["line"]) for r in rows] == sorted(read_rows(files["dev"]))
    assert not (out / "model.safetensors").exists() and (out / "metrics.json").is_file()
    expected = plain_classification_metrics([r["label"] for r in rows], [r["prediction"] for r in rows])
    assert summary["dev"]["accuracy"] == pytest.approx(expected["accuracy"])


# --- options written once, presets, the default model, resume, the output lock ---

@pytest.mark.parametrize("command, settings", [(("finetune",), "FinetuneSettings"),
                                               (("benchmark", "gue"), "GueSettings")])
def test_click_defaults_are_the_settings_fields(command, settings):
    """Every option's default, on the command line and in --help, is its field's: written once."""
    import dataclasses

    import click

    from dnabert2.cli import cli
    from dnabert2.common.fields import option_fields
    from dnabert2.finetuning import settings as module

    ctx = click.Context(cli)
    found = cli.get_command(ctx, command[0])
    for name in command[1:]:
        found = found.get_command(ctx, name)
    params = {p.name: p for p in found.params}
    cls = getattr(module, settings)
    fields = option_fields(cls)
    assert fields and {f.name for f, _, _ in fields} <= set(params)
    for field, how, _ in fields:
        expected = ",".join(field.default) if how.separator and field.default else field.default
        assert params[field.name].default == expected, field.name
    # the Python API builds the same settings from keywords: no default of its own
    assert all(f.default is not dataclasses.MISSING for f in dataclasses.fields(cls))


def test_lora_targets_are_text_on_the_command_line_and_a_tuple_in_the_settings():
    from dnabert2.finetuning.settings import FinetuneSettings, GueSettings

    assert FinetuneSettings(lora_targets="Wqkv, wo").lora_targets == ("Wqkv", "wo")
    assert FinetuneSettings(lora_targets=["dense"]).lora_targets == ("dense",)
    assert FinetuneSettings().lora_targets == ("Wqkv",)
    assert GueSettings(tasks="prom/*,tf/0").tasks == ("prom/*", "tf/0") and GueSettings().tasks is None


def test_max_length_is_now_max_tokens_and_the_old_names_still_work(tiny_model_dir, tmp_path, run_cli):
    import warnings

    from dnabert2 import finetune

    files = fixture_files("strings", "csv")
    common = ["--model", tiny_model_dir, "--train", files["train"], "--dev", files["dev"], "--max-steps", 1,
              "--threads", 1, "--device", "cpu"]
    result = run_cli("finetune", *common, "-o", tmp_path / "old", "--max-length", 9)
    assert result.exit_code == 0, result.output
    assert "Note: --max-length is now --max-tokens; the old name still works." in result.stderr
    assert "max length 9 tokens" in result.stderr
    record = json.loads((tmp_path / "old" / "training_record.json").read_text())
    assert record["max_length"] == 9 and record["options"]["max_length"] == 9  # the record's keys are kept
    result = run_cli("finetune", *common, "-o", tmp_path / "both", "--max-length", 9, "--max-tokens", 9)
    assert result.exit_code == 2 and "--max-length is the old name of --max-tokens" in result.output
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        summary = finetune(tmp_path / "api", model=tiny_model_dir, train=files["train"], dev=files["dev"],
                           max_steps=1, max_length=8, **FAST)
    assert summary["max_length"] == 8
    assert any("finetune(max_length=...) is now max_tokens=..." in str(w.message) for w in caught)


def test_max_grad_norm_clips_the_gradients(tiny_model_dir, tmp_path):
    from dnabert2 import finetune

    files = fixture_files("strings", "csv")
    runs = {}
    for name, norm in (("default", None), ("one", 1.0), ("tight", 1e-4)):
        extra = {} if norm is None else {"max_grad_norm": norm}
        finetune(tmp_path / name, model=tiny_model_dir, **files, max_steps=3, eval_every=3, lr=5e-3, **extra, **FAST)
        runs[name] = (tmp_path / name / "model.safetensors").read_bytes()
        record = json.loads((tmp_path / name / "training_record.json").read_text())
        assert record["options"]["max_grad_norm"] == (1.0 if norm is None else norm)
    assert runs["default"] == runs["one"] and runs["tight"] != runs["one"]


def test_model_presets_train_a_random_initialisation_with_the_released_tokenizer(tmp_path, run_cli, monkeypatch,
                                                                                 reference_tokenizer_dir,
                                                                                 tiny_model_dir):
    from dnabert2.model import PRESETS

    files = fixture_files("strings", "csv")
    out = tmp_path / "preset"
    result = run_cli("finetune", "--model", "tiny", "--train", files["train"], "--dev", files["dev"], "-o", out,
                     "--max-steps", 2, "--threads", 1, "--device", "cpu")
    assert result.exit_code == 0, result.output
    assert "from a random tiny model," in result.stderr
    config = json.loads((out / "config.json").read_text())
    assert {k: config[k] for k in PRESETS["tiny"]} == PRESETS["tiny"]
    assert json.loads((out / "training_record.json").read_text())["base_model"] == "tiny"
    assert json.loads((out / "tokenizer.json").read_text())["model"]["vocab"] == \
        json.loads((reference_tokenizer_dir / "tokenizer.json").read_text())["model"]["vocab"]
    result = run_cli("finetune", "--model", "tiny", "--train", files["train"], "--dev", files["dev"], "-o",
                     tmp_path / "a", "--lora", "--save-adapter")
    assert result.exit_code == 2 and "--save-adapter with --model tiny: an adapter needs its base model" \
        in result.output
    # a folder of a preset's name (as `convert ... -o dnabert2-117m` makes) is the model, not random weights
    monkeypatch.chdir(tmp_path)
    shutil.copytree(tiny_model_dir, tmp_path / "small")
    result = run_cli("finetune", "--model", "small", "--train", files["train"], "--dev", files["dev"], "-o",
                     tmp_path / "folder", "--max-steps", 1, "--threads", 1, "--device", "cpu")
    assert result.exit_code == 0, result.output
    assert f"from {tmp_path / 'small'}," in result.stderr
    assert json.loads((tmp_path / "folder" / "config.json").read_text())["hidden_size"] == 64


def test_without_model_the_shipped_pretrained_model_is_fine_tuned_and_named(tmp_path, run_cli):
    from dnabert2.shipped import model_path

    files = fixture_files("strings", "csv")
    out = tmp_path / "shipped"
    result = run_cli("finetune", "--train", files["train"], "--dev", files["dev"], "-o", out, "--max-steps", 1,
                     "--threads", 1, "--device", "cpu")
    assert result.exit_code == 0, result.output
    assert f"from the shipped pretrained model ({model_path('pretrained')})," in result.stderr
    assert json.loads((out / "training_record.json").read_text())["base_model"] == str(model_path("pretrained"))


def test_the_progress_bar_is_closed_when_training_raises(tiny_model_dir, tmp_path, monkeypatch):
    from tqdm import tqdm

    import dnabert2.common.runtime as runtime
    from dnabert2 import finetune
    from dnabert2.finetuning.loop import SeedTraining

    def broken(self, indices):
        raise RuntimeError("broken step")

    monkeypatch.setattr(runtime, "show_progress", lambda quiet: True)
    monkeypatch.setattr(SeedTraining, "train_step", broken)
    closed = []
    monkeypatch.setattr(tqdm, "close", lambda self: closed.append(self.desc))
    try:
        finetune(tmp_path / "o", model=tiny_model_dir, **fixture_files("strings", "csv"), max_steps=2, **FAST)
    except RuntimeError as e:  # the traceback still holds the bar here: only train_one's own close counts
        assert str(e) == "broken step"
        assert closed == ["fine-tuning (seed 42)"]
    else:
        pytest.fail("the broken step did not raise")
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # nothing kept: no evaluation was reached


def _start(args):
    import subprocess
    import sys

    return subprocess.Popen([sys.executable, "-m", "dnabert2", *map(str, args)], cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def _kill_when(proc, ready, timeout=240):
    """SIGKILL `proc` as soon as `ready()` holds (it must, while the process still runs)."""
    import os
    import signal
    import time

    deadline = time.time() + timeout
    while time.time() < deadline and proc.poll() is None and not ready():
        time.sleep(0.005)
    assert proc.poll() is None, proc.stderr.read()
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()


def _checkpoint(partial):
    """The seed and step of the partial run's checkpoint (read as --resume reads it)."""
    from dnabert2.finetuning.resume import CHECKPOINT_FILE, _load

    plain = _load(partial / CHECKPOINT_FILE, partial)[1]
    return plain["seed"], plain["step"]


def test_sigkill_then_resume_equals_an_uninterrupted_run(tiny_model_dir, tmp_path, run_cli, shared):
    """Two seeds: killed in the first seed's training, resumed and killed again in the second's, resumed to the
    end: every output file equals that of a run that never stopped, byte for byte (metrics.json: but for the wall
    times)."""
    folder = shared("gue", "prom", "prom_core_tata")
    out, whole = tmp_path / "out", tmp_path / "whole"
    args = ["finetune", "--model", tiny_model_dir, "--data", folder, "--max-train-rows", 256, "--max-eval-rows", 64,
            "--max-steps", 24, "--eval-every", 4, "--lr", 3e-3, "--warmup-steps", 2, "--seeds", 2, "--threads", 1,
            "--device", "cpu", "-q"]
    partial = tmp_path / "out.partial"
    _kill_when(_start([*args, "-o", out]), lambda: (partial / "checkpoint.pt").exists())
    seed, step = _checkpoint(partial)
    assert seed == 42 and 4 <= step < 24 and not (partial / "seeds.pt").exists()
    # no --resume: refused, the partial run named
    result = run_cli(*args, "-o", out)
    assert result.exit_code == 2 and f"{partial}: an interrupted run of this output exists" in result.output

    def in_second_seed():
        try:
            return (partial / "seeds.pt").exists() and _checkpoint(partial)[0] == 43
        except Exception:  # noqa: BLE001 - replaced while read
            return False

    _kill_when(_start([*args, "-o", out, "--resume"]), in_second_seed)
    seed, step = _checkpoint(partial)
    assert seed == 43 and step >= 4
    result = run_cli(*[a for a in args if a != "-q"], "-o", out, "--resume")
    assert result.exit_code == 0, result.output
    assert f"Resumed seed 43 at step {step}" in result.stderr
    assert run_cli(*args, "-o", whole).exit_code == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "whole"]  # no partial, lock or temporary left
    files = sorted(p.relative_to(whole) for p in whole.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file())
    assert len(files) > 10
    for name in files:
        if name.name != "metrics.json":
            assert (out / name).read_bytes() == (whole / name).read_bytes(), name
            continue
        a, b = (json.loads((folder_ / name).read_text()) for folder_ in (out, whole))
        for metrics in (a, b):
            for run in metrics.get("runs", []):
                del run["seconds"], run["train_sequences_per_s"]
        assert a == b, name


def test_a_second_run_of_one_output_is_refused_at_once(tiny_model_dir, tmp_path, run_cli):
    """The output lock is taken before any table is read: a second finetune of the same -o (with or without
    --resume) stops at once naming the first, which finishes normally."""
    import time

    files = fixture_files("strings", "csv")
    out = tmp_path / "out"
    args = ["finetune", "--model", tiny_model_dir, "--train", files["train"], "--dev", files["dev"], "-o", out,
            "--max-steps", 200, "--eval-every", 100, "--threads", 1, "--device", "cpu", "-q"]
    first = _start(args)
    lock = tmp_path / "out.lock"
    deadline = time.time() + 120
    while time.time() < deadline and first.poll() is None and not (lock.exists() and lock.read_text().strip()):
        time.sleep(0.01)
    second = run_cli(*args)
    resumed = run_cli(*args, "--resume")
    assert first.poll() is None, "the first run must still be training when the second is refused"
    for result in (second, resumed):
        assert result.exit_code == 2, result.output
        assert result.stderr.strip() == (f"Error: {out}: in use by a running process (pid {first.pid}): another run "
                                         "is writing this output; wait for it to finish or choose another output "
                                         "path")
    assert first.wait(timeout=600) == 0, first.stderr.read()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    assert (out / "metrics.json").is_file()


def test_settings_object_and_keywords_build_the_same_run(tiny_model_dir, tmp_path):
    from dnabert2 import finetune
    from dnabert2.finetuning.settings import FinetuneSettings

    files = fixture_files("strings", "csv")
    by_keywords = finetune(tmp_path / "a", model=tiny_model_dir, **files, max_steps=2, **FAST)
    settings = FinetuneSettings(output=str(tmp_path / "b"), model=str(tiny_model_dir), **files, max_steps=2, **FAST)
    by_settings = finetune(settings=settings)
    assert settings.output == str(tmp_path / "b")  # the caller's settings are left as they were
    assert (tmp_path / "a" / "model.safetensors").read_bytes() == (tmp_path / "b" / "model.safetensors").read_bytes()
    assert by_keywords["test"] == by_settings["test"]
    with pytest.raises(TypeError, match="finetune\\(\\) got an unexpected keyword argument 'learning_rate'"):
        finetune(tmp_path / "c", model=tiny_model_dir, learning_rate=1e-3)
    with pytest.raises(TypeError, match="give settings or keyword options \\(lr\\), not both"):
        finetune(settings=settings, lr=1e-3)
