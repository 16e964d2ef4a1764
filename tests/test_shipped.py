"""The models shipped in the package (dnabert2.shipped): present, small, loadable, the defaults of embed/predict,
the promoter classifier ranks real chr2 promoters above genomic background, and the model cards say what the
measured records shipped beside them (evaluation.json, heldout.json, pretraining.json, transfer.json) hold."""
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

from dnabert2.errors import InputError
from dnabert2.shipped import NAMES, model_path
from scripts.shipped.evaluate import GROUPS, auprc, auroc, cpg_oe, read_intervals
from scripts.shipped.promoter_data import LABEL_NAMES, split_of
from scripts.shipped.rebuild import SHIPPED_RECORDS

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "test_data" / "promoters_example.fa"
MAX_BYTES = 25 * 1024 * 1024


def read_fasta_plain(path):
    records, name = {}, None
    for line in Path(path).read_text().splitlines():
        if line.startswith(">"):
            name = line[1:].split()[0]
            records[name] = ""
        else:
            records[name] += line.strip()
    return records


def test_model_path_names_the_folders_and_rejects_others():
    for name in NAMES:
        assert (model_path(name) / "config.json").is_file()
    with pytest.raises(InputError, match="expected one of"):
        model_path("enhancer")


def test_shipped_weights_fit_the_size_limit_and_are_float16():
    from safetensors import safe_open

    total = 0
    for name in NAMES:
        weights = model_path(name) / "model.safetensors"
        total += sum(p.stat().st_size for p in model_path(name).iterdir())
        with safe_open(str(weights), framework="pt") as f:
            assert {f.get_slice(k).get_dtype() for k in f.keys()} == {"F16"}
    assert total <= MAX_BYTES


@pytest.mark.parametrize("name, cls", [("pretrained", "DNABert2ForMaskedLM"),
                                       ("promoter", "DNABert2ForSequenceClassification")])
def test_shipped_folders_load_as_float32_on_cpu(name, cls):
    from safetensors.torch import load_file

    import dnabert2

    model, tokenizer = dnabert2.load_model(model_path(name), device="cpu")
    assert type(model).__name__ == cls
    assert tokenizer.vocab_size == 4096
    stored = load_file(str(model_path(name) / "model.safetensors"))
    params = dict(model.named_parameters())
    checked = 0
    for key, tensor in stored.items():
        if key in params:
            assert params[key].dtype == torch.float32
            assert torch.equal(params[key].detach(), tensor.float())  # fp16 -> fp32 is exact
            checked += 1
    assert checked >= len(params) - 1  # all but at most the tied decoder


def test_predict_without_model_uses_the_promoter_classifier(run_cli, tmp_path):
    """The shipped classifier, with the predict options its config.json carries (300 bp windows, both strands)
    unless the command line gives others."""
    from tokenizers import Tokenizer

    from dnabert2.model import DNABert2ForSequenceClassification

    out, table = tmp_path / "p.h5", tmp_path / "p.tsv"
    result = run_cli("predict", "--fasta", EXAMPLE, "-o", out, "--tsv", table, "--device", "cpu")
    assert result.exit_code == 0, result.output
    assert "With the model's own --window 300 --rc-average (its config.json" in result.output
    sequences = read_fasta_plain(EXAMPLE)
    with h5py.File(out, "r") as f:
        probabilities = f["probabilities"][:]
        assert [str(n) for n in f["labels"].attrs["label_names"]] == ["background", "promoter"]
        assert f.attrs["window"] == 300 and f.attrs["rc_average"]
    assert probabilities.shape == (len(sequences), 2)
    one_strand = tmp_path / "one.h5"
    result = run_cli("predict", "--fasta", EXAMPLE, "-o", one_strand, "--window", "2000", "--no-rc-average",
                     "--device", "cpu")
    assert result.exit_code == 0 and "model's own" not in result.output, result.output
    with h5py.File(one_strand, "r") as f:
        forward = f["probabilities"][:]
        assert f.attrs["window"] == 2000 and not f.attrs["rc_average"]
    # reference: the classifier loaded by hand, the tokenizer from tokenizer.json, softmax of the logits of the
    # sequence and of its reverse complement, averaged
    folder = model_path("promoter")
    net = DNABert2ForSequenceClassification.from_pretrained(folder).float().eval()
    tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
    complement = str.maketrans("ACGTN", "TGCAN")

    def softmax(seq):
        return torch.softmax(net(input_ids=torch.tensor([tok.encode(seq).ids])).logits, dim=-1)[0].numpy()

    with torch.no_grad():
        for row, seq in enumerate(sequences.values()):
            np.testing.assert_allclose(forward[row], softmax(seq), atol=1e-4)
            both = (softmax(seq) + softmax(seq.translate(complement)[::-1])) / 2
            np.testing.assert_allclose(probabilities[row], both, atol=1e-4)
    assert len(table.read_text().splitlines()) == len(sequences) + 1


def test_predict_options_a_model_carries_apply_unless_given(tmp_path):
    """task_specific_params "predict" in a model folder's config.json: window and rc_average are read, each applies
    only when its option is not given, and anything else is refused naming the file."""
    import json
    import shutil

    import dnabert2
    from dnabert2.regions.loading import predict_defaults

    folder = tmp_path / "model"
    shutil.copytree(model_path("promoter"), folder)
    config = json.loads((folder / "config.json").read_text())
    region = [("long", "ACGTTGCA" * 100)]  # 800 bp: 3 windows of 300 bp, 1 of 2,000 bp

    def run(params, **options):
        (folder / "config.json").write_text(json.dumps({**config, "task_specific_params": params}))
        return dnabert2.predict(region, model=str(folder), device="cpu", precision="fp32", **options)

    carried = run({"predict": {"window": 300, "rc_average": True}})
    assert carried["regions"]["n_windows"][0] == 3 and carried["summary"]["model_defaults"] == {
        "window": 300, "rc_average": True}
    given = run({"predict": {"window": 300, "rc_average": True}}, window=2000, rc_average=False)
    assert given["regions"]["n_windows"][0] == 1 and "model_defaults" not in given["summary"]
    plain = run(None, rc_average=False)
    assert plain["regions"]["n_windows"][0] == 1  # no carried options: 2,000 bp
    np.testing.assert_allclose(given["probabilities"], plain["probabilities"], atol=1e-6)
    partly = run({"predict": {"window": 400}}, rc_average=True)
    assert partly["regions"]["n_windows"][0] == 2 and partly["summary"]["model_defaults"] == {"window": 400}
    for params, match in (({"predict": {"stride": 100}}, 'unknown option "stride"'),
                          ({"predict": {"window": 0}}, '"window" is 0'),
                          ({"predict": {"rc_average": "yes"}}, '"rc_average" is \'yes\''),
                          ({"predict": [300]}, "must be an object")):
        with pytest.raises(InputError, match=match) as error:
            run(params)
        assert "config.json" in str(error.value)
    assert predict_defaults("some/hub-id") == {}


def test_embed_without_model_uses_the_pretrained_model(run_cli, tmp_path):
    out = tmp_path / "e.h5"
    result = run_cli("embed", "--fasta", EXAMPLE, "-o", out, "-q", "--device", "cpu")
    assert result.exit_code == 0, result.output
    with h5py.File(out, "r") as f:
        vectors = f["embeddings"][:]
        assert Path(f.attrs["model"]).resolve() == model_path("pretrained").resolve()
    assert vectors.shape == (len(read_fasta_plain(EXAMPLE)), 128)
    assert np.isfinite(vectors).all() and np.abs(vectors).sum() > 0


def test_promoters_outscore_background_on_chr2(shared, tmp_path):
    import dnabert2

    root = shared("genomes", "human_hg38_chr2_1-2333275")
    intervals = read_intervals(root / "genomic_benchmarks_regions_chr2_1-2333275.bed")
    promoters = [r for r in intervals if r[4] == "promoter"][::3]  # 23 of 67
    background = [r for r in intervals if r[4] == "random"][::8]  # 23 of 183
    assert len(promoters) > 20 and len(background) > 20
    bed = tmp_path / "few.bed"
    bed.write_text("".join(f"{c}\t{s}\t{e}\t{n}\n" for c, s, e, n, _ in promoters + background))
    result = dnabert2.predict(model=str(model_path("promoter")), bed=str(bed),
                              ref=str(root / "chr2_1-2333275.fa.gz"), resize=300, device="cpu")
    p = np.asarray(result["probabilities"])[:, 1]
    assert p[:len(promoters)].mean() > p[len(promoters):].mean()


def test_model_cards_name_their_commands_and_numbers():
    pretrained = (model_path("pretrained") / "README.md").read_text()
    promoter = (model_path("promoter") / "README.md").read_text()
    assert "dnabert2 pretrain --init" in pretrained and "--table" in pretrained and "dnabert2 convert" in pretrained
    assert "dnabert2 finetune --model" in promoter and "dnabert2 predict --bed" in promoter
    assert "dnabert2 predict --fasta" in promoter  # the held-out evaluation's commands
    for card in (pretrained, promoter):
        assert "python scripts/shipped/rebuild.py" in card and "wall time" in card.lower()
    assert "AUROC" in promoter and "## Held-out evaluation (defined before training" in promoter
    assert promoter.index("## Held-out evaluation") < promoter.index("## Report only")


def test_split_keeps_a_sequence_and_its_reverse_complement_together():
    rng = np.random.default_rng(0)
    complement = str.maketrans("ACGT", "TGCA")
    splits = []
    for _ in range(300):
        seq = "".join(rng.choice(list("ACGT"), 50))
        splits.append(split_of(seq))
        assert split_of(seq) == split_of(seq.translate(complement)[::-1])
    assert {"train", "dev", "test"} == set(splits)
    assert 0.6 < splits.count("train") / len(splits) < 0.95


def test_auroc_counts_pairs():
    assert auroc([0.9, 0.4], [0.5, 0.1]) == 0.75
    assert auroc([0.5], [0.5]) == 0.5
    with pytest.raises(InputError):
        auroc([], [0.1])


def test_promoter_tables_pool_deduplicate_and_split_without_leaks(tmp_path):
    from scripts.shipped.promoter_data import build_tables

    rng = np.random.default_rng(1)
    complement = str.maketrans("ACGT", "TGCA")
    seqs = ["".join(rng.choice(list("ACGT"), 60)) for _ in range(200)]
    folder = tmp_path / "gue" / "prom"
    (folder / "prom_300_tata").mkdir(parents=True)
    (folder / "prom_300_all").mkdir()
    tata = [(s, i % 2) for i, s in enumerate(seqs[:120])]
    # prom_300_all repeats 40 of them (20 as reverse complements) and adds 80 new ones
    every = [(s.translate(complement)[::-1] if i < 20 else s, i % 2) for i, s in enumerate(seqs[:40])]
    every += [(s, 1) for s in seqs[120:]]
    conflicting = seqs[-1]
    every.append((conflicting, 0))
    for path, rows in ((folder / "prom_300_tata" / "train.csv", tata), (folder / "prom_300_all" / "dev.csv", every)):
        path.write_text("sequence,label\n" + "".join(f"{s},{y}\n" for s, y in rows))
    counts = build_tables(tmp_path, tmp_path / "tables", background=False, shuffled_negatives=True)
    assert counts["input_rows"] == len(tata) + len(every) and counts["dropped_conflicting"] == 1
    splits = {}
    for split in ("train", "dev", "test"):
        lines = (tmp_path / "tables" / f"{split}.csv").read_text().splitlines()
        assert lines[0] == "sequence,label"
        splits[split] = {tuple(line.split(",")) for line in lines[1:]}
    canonical = {split: {min(s, s.translate(complement)[::-1]) for s, _ in rows} for split, rows in splits.items()}
    assert sum(len(c) for c in canonical.values()) == 199  # 200 distinct sequences, less the conflicting one
    assert not (canonical["train"] & canonical["test"]) and not (canonical["train"] & canonical["dev"])
    assert not (canonical["dev"] & canonical["test"])
    labelled = dict(tata + [(s, y) for s, y in every[20:]])
    for rows in splits.values():
        for s, y in rows:
            assert labelled.get(s, labelled.get(s.translate(complement)[::-1])) == LABEL_NAMES.index(y)


def write_tata_train(root, seed, rows, length):
    """root/gue/prom/prom_300_tata/train.csv: `rows` random sequences of `length` bp, labels 0, 1, 0, ..."""
    folder = root / "gue" / "prom" / "prom_300_tata"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    table = [("".join(rng.choice(list("ACGT"), length)), i % 2) for i in range(rows)]
    (folder / "train.csv").write_text("sequence,label\n" + "".join(f"{s},{y}\n" for s, y in table))


def test_promoter_tables_leave_out_shuffled_negatives_by_default(tmp_path):
    from scripts.shipped.promoter_data import build_tables

    write_tata_train(tmp_path, seed=2, rows=40, length=60)
    counts = build_tables(tmp_path, tmp_path / "tables", background=False)
    assert counts["input_rows"] == 20
    assert sum(counts[split]["positives"] for split in ("train", "dev", "test")) == 20


def test_auprc_is_average_precision():
    assert auprc([0.9, 0.8], [0.1]) == 1.0
    # ranking 1, 0, 1: precision 1 at the first positive, 2/3 at the second
    assert auprc([0.9, 0.5], [0.7]) == pytest.approx((1 + 2 / 3) / 2)
    assert auprc([0.5, 0.5], [0.5, 0.5]) == 0.5  # one tied step
    with pytest.raises(InputError):
        auprc([0.1], [])


def test_cpg_oe_is_the_observed_over_expected_ratio():
    assert cpg_oe("CGCG") == pytest.approx(2 * 4 / (2 * 2))
    assert cpg_oe("CCGG") == pytest.approx(1 * 4 / (2 * 2))
    assert cpg_oe("AAAA") == 0.0


def _records(name):
    import json

    return {file: json.loads((model_path(name) / file).read_text()) for file in SHIPPED_RECORDS[name]}


def test_shipped_folders_carry_the_records_their_cards_were_written_from():
    for name, files in SHIPPED_RECORDS.items():
        for file in files:
            assert (model_path(name) / file).is_file(), f"{name}/{file} missing"


def test_promoter_card_numbers_are_the_evaluation_record():
    from scripts.shipped.cards import evaluation_tables

    evaluation = _records("promoter")["evaluation.json"]
    card = (model_path("promoter") / "README.md").read_text()
    overall, per_class = evaluation_tables(evaluation)
    assert overall in card and per_class in card
    for mode, m in evaluation["modes"].items():
        assert m["command"].split(" -o ")[1].split(" ", 1)[1] in card  # the options after the output path
        for scorer in ("classifier", "cpg_oe", "gc"):
            value = f"{m['scores'][scorer]['all']['auroc']:.3f} | {m['scores'][scorer]['all']['auprc']:.3f}"
            assert value in card
    assert sum(evaluation["counts"].values()) == evaluation["background"] + evaluation["counts"]["promoter"]


def test_pretrained_card_numbers_are_the_pretraining_and_transfer_records():
    from scripts.shipped.cards import probe_section, transfer_section
    from scripts.shipped.pretrain_data import READ_GUE

    records = _records("pretrained")
    card = (model_path("pretrained") / "README.md").read_text()
    run = records["pretraining.json"]["continued"]
    transfer = records["transfer.json"]
    assert transfer_section(transfer, run["steps"]) in card and probe_section(transfer["masked_lm_probe"]) in card
    assert f"{run['eval_loss_last']:.3f} at step {run['eval_step_last']}" in card
    assert run["command"] in card
    assert len(transfer["tasks"]) >= 4
    marks = {task: row["backbone_read_train"] for task, row in transfer["tasks"].items()}
    assert marks == {task: task in READ_GUE for task in transfer["tasks"]} and any(marks.values())
    assert not all(marks.values())  # tasks whose tables the backbone never read are shown too
    for row in transfer["tasks"].values():
        for arm in ("pretrained", "random_init"):
            seeds = row[arm]["per_seed"]
            assert len(seeds) >= 3
            assert row[arm]["mcc"] == pytest.approx(float(np.mean(seeds)), abs=1e-9)
            assert row[arm]["mcc_std"] == pytest.approx(float(np.std(seeds, ddof=1)), abs=1e-9)
    for task, probe in transfer["masked_lm_probe"].items():
        assert {"base", "pretrained", "random_init", "unigram", "unigram_dev"} <= set(probe), task


def test_shipped_evaluation_reproduces_on_chr2(shared, tmp_path):
    """The centred-300 bp AUROC and AUPRC in the card are what the shipped classifier gives today (both strands
    averaged, as the evaluation runs it)."""
    import dnabert2

    evaluation = _records("promoter")["evaluation.json"]
    root = shared("genomes", "human_hg38_chr2_1-2333275")
    kept = [r for r in read_intervals(root / "genomic_benchmarks_regions_chr2_1-2333275.bed") if r[4] is not None]
    bed = tmp_path / "all.bed"
    bed.write_text("".join(f"{c}\t{s}\t{e}\t{n}\n" for c, s, e, n, _ in kept))
    result = dnabert2.predict(model=str(model_path("promoter")), bed=str(bed), ref=str(root / "chr2_1-2333275.fa.gz"),
                              resize=300, rc_average=True, device="cpu", precision="fp32")
    p = np.asarray(result["probabilities"])[:, 1]
    promoter = [float(x) for x, r in zip(p, kept) if r[4] == "promoter"]
    background = [float(x) for x, r in zip(p, kept) if r[4] != "promoter"]
    expected = evaluation["modes"]["centre_300bp"]["scores"]["classifier"]["all"]
    assert auroc(promoter, background) == pytest.approx(expected["auroc"], abs=2e-3)
    assert auprc(promoter, background) == pytest.approx(expected["auprc"], abs=5e-3)
    for group in GROUPS:
        mean = float(np.mean([x for x, r in zip(p, kept) if r[4] == group]))
        assert mean == pytest.approx(evaluation["modes"]["centre_300bp"]["mean_probability"][group], abs=2e-3)


def test_example_records_are_real_chr2_windows_with_their_true_class(shared):
    from dnabert2.tokenizer.fasta import read_fasta

    root = shared("genomes", "human_hg38_chr2_1-2333275")
    chromosome = dict(read_fasta([root / "chr2_1-2333275.fa.gz"]))["chr2"]
    records = read_fasta_plain(EXAMPLE)
    classes = []
    for name, sequence in records.items():
        label, location, truth = name.split("|")
        chrom, span = location.split(":")
        start, end = (int(x) for x in span.split("-"))
        assert chrom == "chr2" and end - start + 1 == 300 == len(sequence)
        assert sequence == chromosome[start - 1:end].upper()
        classes.append(truth)
    assert classes.count("true=promoter") == 4 and classes.count("true=background") == 4


def test_example_file_is_what_its_script_makes(shared, tmp_path):
    import subprocess
    import sys

    data_root = shared("genomes").parent
    out = tmp_path / "example.fa"
    subprocess.run([sys.executable, str(REPO / "test_data" / "make_promoters_example.py"), "--data-root",
                    str(data_root), "-o", str(out)], check=True)
    assert out.read_text() == EXAMPLE.read_text()


def test_predict_table_shows_the_true_class_next_to_the_prediction(run_cli, tmp_path):
    table = tmp_path / "p.tsv"
    result = run_cli("predict", "--fasta", EXAMPLE, "-o", tmp_path / "p.h5", "--tsv", table, "-q", "--device", "cpu")
    assert result.exit_code == 0, result.output
    header, *rows = [line.split("\t") for line in table.read_text().splitlines()]
    name, label = header.index("name"), header.index("label")
    assert all("|true=" in row[name] for row in rows)
    assert {row[label] for row in rows} <= {"promoter", "background"}


def test_promoters_get_a_higher_mean_probability_than_every_background_class():
    evaluation = _records("promoter")["evaluation.json"]
    for mode in ("centre_300bp", "tiled_300bp"):
        means = evaluation["modes"][mode]["mean_probability"]
        assert all(means["promoter"] > means[group] for group in GROUPS[1:]), (mode, means)


def test_dinucleotide_shuffle_keeps_every_dinucleotide_count_and_both_ends():
    import random

    from scripts.shipped.augment import dinucleotide_shuffle

    rng = random.Random(3)
    changed = 0
    for _ in range(300):
        sequence = "".join(rng.choice("ACGT") for _ in range(rng.randint(3, 300)))
        shuffled = dinucleotide_shuffle(sequence, rng)
        assert sorted(zip(sequence, sequence[1:])) == sorted(zip(shuffled, shuffled[1:]))
        assert (shuffled[0], shuffled[-1], len(shuffled)) == (sequence[0], sequence[-1], len(sequence))
        changed += shuffled != sequence
    assert changed > 250  # short ones may come back unchanged; long ones practically never
    assert dinucleotide_shuffle("AC", rng) == "AC"


def test_augmented_rows_are_crops_of_either_strand_with_their_label():
    from dnabert2.tokenizer.dna import reverse_complement
    from scripts.shipped.augment import augmented

    rng = np.random.default_rng(4)
    rows = [("".join(rng.choice(list("ACGT"), 300)), i % 2, f"src{i}") for i in range(50)]
    out = augmented(rows, copies=3, min_length=150, shuffled_fraction=0.3, seed=5)
    assert len(out) == 150
    by_source = {source: (sequence, label) for sequence, label, source in rows}
    strands, shuffled = set(), 0
    for piece, label, source in out:
        original, expected = by_source[source.replace("+dishuffled", "")]
        assert label == expected and 150 <= len(piece) <= 300
        if source.endswith("+dishuffled"):
            shuffled += 1
        elif piece in original:
            strands.add("+")
        else:
            assert piece in reverse_complement(original)
            strands.add("-")
    assert strands == {"+", "-"} and 20 <= shuffled <= 70
    assert augmented(rows, copies=3, seed=5) == augmented(rows, copies=3, seed=5)


def test_promoter_tables_augment_the_train_split_only(tmp_path):
    from scripts.shipped.promoter_data import build_tables

    write_tata_train(tmp_path, seed=6, rows=200, length=300)
    plain = build_tables(tmp_path, tmp_path / "plain", background=False, shuffled_negatives=True)
    augment = {"copies": 2, "min_length": 150, "shuffled_fraction": 0.5}
    grown = build_tables(tmp_path, tmp_path / "grown", background=False, shuffled_negatives=True, augment=augment)
    assert grown["augment"] == augment and grown["train"]["rows"] == 2 * plain["train"]["rows"]
    for split in ("dev", "test"):
        assert (tmp_path / "plain" / f"{split}.csv").read_text() == (tmp_path / "grown" / f"{split}.csv").read_text()
    lengths = [len(line.split(",")[0]) for line in (tmp_path / "grown" / "train.csv").read_text().splitlines()[1:]]
    assert min(lengths) >= 150 and max(lengths) <= 300 and len(set(lengths)) > 10
    assert any(key.endswith("+dishuffled label 1") for key in grown["train"]["by_source"])


def _model_folder(path, tensors, config=None):
    """A model folder with config.json, model.safetensors and a tokenizer file."""
    import json

    from safetensors.torch import save_file

    path.mkdir(parents=True)
    (path / "config.json").write_text(json.dumps(config or {"model_type": "dnabert2", "hidden_size": 4}))
    (path / "tokenizer.json").write_text('{"model": "same"}')
    save_file(tensors, str(path / "model.safetensors"))
    return path


def test_average_weights_is_the_mean_of_the_runs(tmp_path):
    from safetensors.torch import load_file

    from scripts.shipped.average import average_weights

    runs = [_model_folder(tmp_path / f"run{i}", {"w": torch.full((2, 3), float(i)), "b": torch.tensor([i, 2.0 * i]),
                                                 "ids": torch.arange(4)}) for i in (1, 2, 6)]
    summary = average_weights(runs, tmp_path / "avg")
    averaged = load_file(str(tmp_path / "avg" / "model.safetensors"))
    assert torch.equal(averaged["w"], torch.full((2, 3), 3.0)) and averaged["w"].dtype == torch.float32
    assert torch.equal(averaged["b"], torch.tensor([3.0, 6.0]))
    assert torch.equal(averaged["ids"], torch.arange(4))  # non-float tensors equal in every run are kept
    assert summary["tensors"] == 3 and summary["parameters"] == 6 + 2 + 4
    for name in ("config.json", "tokenizer.json"):
        assert (tmp_path / "avg" / name).read_bytes() == (runs[0] / name).read_bytes()


@pytest.mark.parametrize("other, config, match", [
    ({"w": torch.ones(2, 3), "extra": torch.ones(1)}, None, "tensor names differ"),
    ({"w": torch.ones(3, 2)}, None, r"tensor w is .*\(3, 2\)"),
    ({"w": torch.ones(2, 3, dtype=torch.float16)}, None, "tensor w is torch.float16"),
    ({"w": torch.ones(2, 3)}, {"model_type": "dnabert2", "hidden_size": 8}, "differs .* in hidden_size"),
])
def test_average_weights_refuses_runs_that_differ(tmp_path, other, config, match):
    from scripts.shipped.average import average_weights

    first = _model_folder(tmp_path / "a", {"w": torch.zeros(2, 3)})
    second = _model_folder(tmp_path / "b", other, config)
    with pytest.raises(InputError, match=match):
        average_weights([first, second], tmp_path / "avg")
    assert not (tmp_path / "avg").exists()


def test_average_weights_of_a_model_with_itself_is_that_model(tmp_path):
    from safetensors.torch import load_file

    import dnabert2
    from scripts.shipped.average import average_weights

    average_weights([model_path("promoter")] * 2, tmp_path / "avg")
    stored, averaged = (load_file(str(folder / "model.safetensors")) for folder in (model_path("promoter"),
                                                                                   tmp_path / "avg"))
    assert stored.keys() == averaged.keys() and all(torch.equal(stored[k], averaged[k]) for k in stored)
    model, _ = dnabert2.load_model(tmp_path / "avg", device="cpu")
    assert type(model).__name__ == "DNABert2ForSequenceClassification"


def test_finetune_options_change_only_the_seed():
    from scripts.shipped.rebuild import FINETUNE_OPTIONS, RECIPES, RUNS, finetune_options, run_name

    assert finetune_options(42) == FINETUNE_OPTIONS
    changed = [(a, b) for a, b in zip(FINETUNE_OPTIONS, finetune_options(7)) if a != b]
    assert changed == [("42", "7")]
    assert {recipe for recipe, _ in RUNS} <= set(RECIPES)
    assert len({run_name(*run) for run in RUNS}) == len(RUNS)


def test_promoter_card_holds_the_heldout_record_and_the_runs():
    import json

    from scripts.shipped.cards import calibration_reading, heldout_summary, heldout_tables, heldout_verdict

    heldout = _records("promoter")["heldout.json"]
    evaluation = _records("promoter")["evaluation.json"]
    card = (model_path("promoter") / "README.md").read_text()
    for text in (heldout_tables(heldout), heldout_summary(heldout), heldout_verdict(heldout),
                 calibration_reading(evaluation["calibration"])):
        assert text in card
    spec = json.loads((REPO / "scripts" / "shipped" / "heldout.json").read_text())
    assert heldout["spec"] == spec and sorted(heldout["sets"]) == sorted(s["name"] for s in spec["sets"])
    for entry in heldout["sets"].values():
        for m in entry["modes"].values():
            assert set(m["scores"]) == {"classifier", "cpg_oe", "gc", "kmer_logistic"}
            assert m["command"] in card
    soup = evaluation["soup"]  # the soup's record follows its own rule: best run first, kept when no worse
    assert [r["log_loss"] for r in soup["ranking"]] == sorted(r["log_loss"] for r in soup["ranking"])
    best = soup["ranking"][0]["log_loss"]
    for step in soup["tries"]:
        assert step["kept"] == (step["log_loss"] <= best)
        best = min(best, step["log_loss"])
    assert soup["log_loss"] == best


def test_heldout_verdict_follows_the_numbers():
    import copy

    from scripts.shipped.cards import heldout_verdict

    cell = {"scores": {"classifier": {"versus_cpg_oe": {"difference": 0.05, "low": 0.01, "high": 0.09}}},
            "mean_probability": {"promoter": 0.7, "enhancer": 0.2}}
    heldout = {"sets": {"a": {"modes": {"whole": cell}}, "b": {"modes": {"whole": copy.deepcopy(cell)}}}}
    assert heldout_verdict(heldout).count("Target met.") == 2
    heldout["sets"]["b"]["modes"]["whole"]["scores"]["classifier"]["versus_cpg_oe"] = {
        "difference": -0.01, "low": -0.05, "high": 0.03}
    heldout["sets"]["b"]["modes"]["whole"]["mean_probability"]["enhancer"] = 0.6
    verdict = heldout_verdict(heldout)
    assert "below on b whole" in verdict and verdict.count("Target not met.") == 2
    assert "except b whole (enhancer 0.600)" in verdict


def test_heldout_sets_filter_tasks_and_drop_sequences_with_two_classes(tmp_path):
    from scripts.shipped.heldout import centre, kmer_features, set_rows

    table = tmp_path / "t.csv"
    table.write_text("sequence,label,task\nAAAC,promoter,p\nCCCG,background,p\nGGGT,promoter,other\n"
                     "AAAC,promoter,p2\nTTTA,promoter,p\nTTTA,background,p\n")
    rows = set_rows(tmp_path, {"tables": ["t.csv"], "tasks": ["p", "p2"], "positive": ["promoter"],
                               "negative": ["background"]})
    assert rows == [("AAAC", "promoter"), ("CCCG", "background")]
    assert centre("A" * 100 + "C" * 300 + "A" * 100) == "C" * 300 and centre("ACGT") == "ACGT"
    features = kmer_features(["ACGTACGTAA", "TTACGTACGT"])  # a sequence and its reverse complement
    assert features.shape == (2, 256) and np.allclose(features.sum(1), 1) and np.allclose(features[0], features[1])


def test_pretraining_genome_rows_leave_out_benchmark_intervals_and_n():
    from scripts.shipped.pretrain_data import genome_rows

    sequence = "A" * 1000 + "C" * 1000 + "G" * 500 + "N" + "G" * 499 + "T" * 1000 + "AC"
    rows = genome_rows(sequence.lower(), [(1500, 1600)], chunk=1000)
    assert rows == ["A" * 1000, "T" * 1000]


def test_promoter_tables_keep_regulatory_splits_and_drop_rows_sharing_50bp_with_held_out(tmp_path):
    from scripts.shipped.promoter_data import REGULATORY, build_tables

    write_tata_train(tmp_path, seed=3, rows=40, length=120)
    rng = np.random.default_rng(4)
    held = "".join(rng.choice(list("ACGT"), 200))
    made = {}
    for folder, labels in REGULATORY:
        (tmp_path / "human_regulatory" / folder).mkdir(parents=True)
        for split in ("train", "dev"):
            rows = [("".join(rng.choice(list("ACGT"), 100)), name) for name in labels for _ in range(3)]
            made.update({s: (split, labels[n]) for s, n in rows})
            (tmp_path / "human_regulatory" / folder / f"{split}.csv").write_text(
                "sequence,label\n" + "".join(f"{s},{n}\n" for s, n in rows))
    leaking = next(s for s, (split, _) in made.items() if split == "train")
    sharing = leaking[:40] + held[100:160]  # 60 bp of the held-out sequence
    path = tmp_path / "human_regulatory" / REGULATORY[0][0] / "train.csv"
    path.write_text(path.read_text().replace(leaking, sharing))
    counts = build_tables(tmp_path, tmp_path / "tables", background=False, regulatory=True, held_out=[held],
                          plain_train=tmp_path / "plain.csv", sources_dir=tmp_path / "sources")
    assert counts["dropped_sharing_50bp_with_held_out"] == 1
    assert not (tmp_path / "sources" / "train.csv").exists()  # the train split is each recipe's own
    for split in ("dev", "test"):  # the same rows, in the same order, with their source
        with_source = [line.rsplit(",", 1) for line in (tmp_path / "sources" / f"{split}.csv").read_text().splitlines()]
        assert [row[0] for row in with_source] == (tmp_path / "tables" / f"{split}.csv").read_text().splitlines()
        regulatory = {f"{f}_{n}" for f, names in REGULATORY for n in names}
        assert all(row[1] in regulatory or row[1].startswith("gue/prom") for row in with_source[1:])
    for split in ("train", "dev", "test"):
        for line in (tmp_path / "tables" / f"{split}.csv").read_text().splitlines()[1:]:
            sequence, label = line.split(",")
            if sequence in made:
                assert made[sequence] == (split, LABEL_NAMES.index(label))
    assert sharing not in (tmp_path / "plain.csv").read_text()
    plain, train = ((tmp_path / f).read_text().splitlines() for f in ("plain.csv", "tables/train.csv"))
    assert sorted(plain) == sorted(train)  # without augmentation the train split is the plain one, shuffled


def test_platt_scaling_recovers_a_known_scale_and_shift():
    from scripts.shipped.calibrate import fit_platt, log_loss

    rng = np.random.default_rng(0)
    z = rng.normal(size=20_000)
    y = (rng.random(z.size) < 1 / (1 + np.exp(-(2.5 * z - 0.7)))).astype(int)
    a, c = fit_platt(z, y)
    assert abs(a - 2.5) < 0.1 and abs(c + 0.7) < 0.06
    assert log_loss(z, y, a, c) <= min(log_loss(z, y, 2.5, -0.7), log_loss(z, y))  # the fit is the optimum


def test_balanced_weights_give_each_class_half_and_its_groups_alike():
    from scripts.shipped.calibrate import balanced_weights

    groups = ["gue"] * 6 + ["ensembl"] * 2 + ["splice"] * 3 + ["cohn"]
    labels = [1] * 8 + [0] * 4
    w = balanced_weights(groups, labels)
    assert w.sum() == pytest.approx(1.0)
    assert w[:6].sum() == pytest.approx(0.25) and w[6:8].sum() == pytest.approx(0.25)  # two positive groups
    assert w[8:11].sum() == pytest.approx(0.25) and w[11] == pytest.approx(0.25)
    with pytest.raises(InputError, match="both labels"):
        balanced_weights(["a", "b"], [1, 1])


def test_weighted_platt_scaling_equals_the_fit_on_repeated_rows():
    """A row of weight 3 counts as three rows: the weighted fit is the fit on the rows repeated."""
    from scripts.shipped.calibrate import fit_platt, log_loss

    rng = np.random.default_rng(1)
    z = rng.normal(size=400)
    y = (rng.random(z.size) < 1 / (1 + np.exp(-(1.5 * z + 0.4)))).astype(int)
    repeat = rng.integers(1, 4, size=z.size)
    a, c = fit_platt(z, y, weights=repeat)
    a2, c2 = fit_platt(np.repeat(z, repeat), np.repeat(y, repeat))
    assert a == pytest.approx(a2, rel=1e-6) and c == pytest.approx(c2, rel=1e-6, abs=1e-9)
    assert log_loss(z, y, a, c, repeat) == pytest.approx(log_loss(np.repeat(z, repeat), np.repeat(y, repeat), a, c))
    assert (a, c) != pytest.approx(fit_platt(z, y))  # the weights change the fit
    with pytest.raises(InputError, match="weights"):
        fit_platt(z, y, weights=-repeat)


def test_source_copies_give_a_source_more_crops():
    from scripts.shipped.augment import augmented

    rows = [("ACGT" * 100, 1, "ensembl_regulatory_promoter"), ("TTGCA" * 80, 0, "gue_splice_human")]
    out = augmented(rows, copies=2, shuffled_fraction=0.0, source_copies={"ensembl_regulatory_": 7}, seed=3)
    sources = [source for _, _, source in out]
    assert sources.count("ensembl_regulatory_promoter") == 7 and sources.count("gue_splice_human") == 2


@pytest.mark.parametrize("z, y, match", [
    ([0.1, 0.5, 0.9], [1, 1, 1], "both classes"),
    ([-2.0, -1.0, 1.0, 2.0, 0.5, -0.5], [1, 1, 0, 0, 1, 0], "do not rank these rows"),
    ([-2.0, -1.0, 1.0, 2.0], [0, 0, 1, 1], "separate these rows perfectly"),
])
def test_platt_scaling_refuses_rows_it_cannot_calibrate_on(z, y, match):
    from scripts.shipped.calibrate import fit_platt

    with pytest.raises(InputError, match=match):
        fit_platt(z, y)


def _tiny_classifier(path, seed):
    """A random tiny two-class classifier folder (promoter labels, the shipped tokenizer)."""
    from dnabert2.model import DNABert2Config, DNABert2ForSequenceClassification
    from dnabert2.tokenizer import load_tokenizer

    torch.manual_seed(seed)
    config = DNABert2Config.from_preset("tiny")
    config.num_labels = 2
    config.id2label, config.label2id = dict(enumerate(LABEL_NAMES)), {name: i for i, name in enumerate(LABEL_NAMES)}
    model = DNABert2ForSequenceClassification(config)
    with torch.no_grad():
        model.classifier.weight.normal_(0, 0.5)
    model.save_pretrained(path)
    load_tokenizer(model_path("promoter")).save_pretrained(path)
    return path


def _random_sequences(count, seed=1):
    rng = np.random.default_rng(seed)
    return ["".join(rng.choice(list("ACGT"), size=int(n))) for n in rng.integers(60, 200, size=count)]


def _dev_table(path, sequences, z, seed=1):
    """A sequence,label table whose labels follow the scores z, noisily (perfectly ranked rows have no finite
    calibration); returns (path, labels)."""
    rng = np.random.default_rng(seed)
    t = (z - z.mean()) / z.std()
    labels = np.where(rng.random(z.size) < 1 / (1 + np.exp(-2 * t)), "promoter", "background")
    path.write_text("sequence,label\n" + "".join(f"{s},{l}\n" for s, l in zip(sequences, labels)))
    return path, labels


def test_calibration_folds_the_scale_into_the_classifier(tmp_path):
    """The calibrated folder's log-odds are a z + c of the original's, exactly what the record says, and the dev
    log-loss does not get worse."""
    from scripts.shipped.calibrate import calibrate, fold, log_odds

    _tiny_classifier(tmp_path / "model", seed=0)
    sequences = _random_sequences(40)
    z = log_odds(tmp_path / "model", sequences)
    fold(tmp_path / "model", tmp_path / "folded", 2.0, -0.5)
    np.testing.assert_allclose(log_odds(tmp_path / "folded", sequences), 2.0 * z - 0.5, atol=1e-5)

    table, labels = _dev_table(tmp_path / "dev.csv", sequences, z)
    record = calibrate(tmp_path / "model", table, tmp_path / "calibrated")
    assert record["rows"] == 40 and record["positives"] == int((labels == "promoter").sum()) and record["scale"] > 0
    np.testing.assert_allclose(log_odds(tmp_path / "calibrated", sequences),
                               record["scale"] * z + record["shift"], rtol=1e-4, atol=1e-4)  # float32 sums
    assert record["log_loss"]["after"] <= record["log_loss"]["before"]


def test_rebuild_steps_side_by_side_are_all_recorded_and_kept_on_rerun(tmp_path, monkeypatch):
    import json
    import subprocess

    from scripts.shipped import steps

    calls = []
    monkeypatch.setattr(steps.subprocess, "run", lambda argv, check: calls.append(argv[3:]))
    jobs = [(f"step{i}", ["--version", str(i)], tmp_path, f"inputs{i}") for i in range(5)]
    records = steps.run_steps(tmp_path, jobs, parallel=3)
    assert sorted(calls) == sorted(["--version", str(i)] for i in range(5))
    assert [r["command"] for r in records] == [f"dnabert2 --version {i}" for i in range(5)]
    recorded = json.loads((tmp_path / "steps.json").read_text())
    assert sorted(recorded) == [f"step{i}" for i in range(5)]  # no step's record lost to another's write
    calls.clear()
    changed = [*jobs[:4], ("step4", ["--version", "4"], tmp_path, "new inputs")]
    steps.run_steps(tmp_path, changed, parallel=2)
    assert calls == [["--version", "4"]]  # only the step whose inputs changed runs again

    def fail(argv, check):
        raise subprocess.CalledProcessError(1, argv)

    monkeypatch.setattr(steps.subprocess, "run", fail)
    with pytest.raises(subprocess.CalledProcessError):
        steps.run_steps(tmp_path, [("broken", ["--version"], tmp_path / "absent", "")], parallel=2)
    assert "broken" not in json.loads((tmp_path / "steps.json").read_text())


def test_greedy_soup_adds_runs_best_first_while_the_loss_does_not_rise():
    from scripts.shipped.soup import greedy

    alone = {"a": 0.60, "b": 0.55, "c": 0.58, "d": 0.70}
    soups = {("b", "c"): 0.54, ("b", "c", "a"): 0.56, ("b", "c", "d"): 0.54}
    chosen, ranking, tries = greedy(list("abcd"), lambda soup: alone[soup[0]] if len(soup) == 1 else soups[tuple(soup)])
    assert ranking == [("b", 0.55), ("c", 0.58), ("a", 0.60), ("d", 0.70)]
    assert tries == [(["b", "c"], 0.54, True), (["b", "c", "a"], 0.56, False), (["b", "c", "d"], 0.54, True)]
    assert chosen == ["b", "c", "d"]  # a run that leaves the loss as it was joins (the paper's >= on accuracy)
    assert greedy(["x"], lambda soup: 1.0) == (["x"], [("x", 1.0)], [])
    with pytest.raises(InputError, match="at least one run"):
        greedy([], lambda soup: 1.0)


def test_greedy_soup_writes_the_average_it_scored_and_leaves_out_a_run_that_hurts(tmp_path):
    """A good run, an identical copy of it (joins: the average is the same model) and an unrelated random run
    (left out: labels follow the good run's scores); the record's losses are those of the folders themselves."""
    import shutil

    from safetensors.torch import load_file

    from scripts.shipped.calibrate import log_odds
    from scripts.shipped.soup import calibrated_dev_loss, greedy_soup

    good = _tiny_classifier(tmp_path / "good", seed=0)
    shutil.copytree(good, tmp_path / "copy")
    other = _tiny_classifier(tmp_path / "other", seed=5)
    sequences = _random_sequences(60)
    table, labels = _dev_table(tmp_path / "dev.csv", sequences, log_odds(good, sequences))
    y = (labels == "promoter").astype(int)
    record = greedy_soup([other, good, tmp_path / "copy"], table, tmp_path / "soup")
    assert record["chosen"] == [str(good), str(tmp_path / "copy")]
    assert [r["folder"] for r in record["ranking"]][-1] == str(other)
    for entry in record["ranking"]:
        assert entry["log_loss"] == pytest.approx(calibrated_dev_loss(entry["folder"], sequences, y))
    assert record["log_loss"] == pytest.approx(calibrated_dev_loss(tmp_path / "soup", sequences, y))
    assert [t["kept"] for t in record["tries"]] == [True, False]
    soup, alone = (load_file(str(f / "model.safetensors")) for f in (tmp_path / "soup", good))
    assert all(torch.equal(soup[k], alone[k]) for k in alone)  # the average of a run and its copy is the run
    assert not (tmp_path / "soup.try").exists()


def test_paired_bootstrap_interval_holds_the_difference_and_resolves_a_clear_one():
    from scripts.shipped.evaluate import paired_bootstrap

    rng = np.random.default_rng(0)
    groups = ["promoter"] * 30 + ["enhancer"] * 200
    labels = np.array([1] * 30 + [0] * 200)
    good, weak = labels + rng.normal(0, 0.5, 230), labels + rng.normal(0, 3, 230)
    result = paired_bootstrap(good, weak, groups, resamples=500)
    expected = auroc(list(good[:30]), list(good[30:])) - auroc(list(weak[:30]), list(weak[30:]))
    assert result["difference"] == pytest.approx(expected)
    assert 0 < result["low"] < result["difference"] < result["high"]  # a clear lead leaves 0 out
    level = paired_bootstrap(good, good, groups, resamples=50)
    assert level["difference"] == level["low"] == level["high"] == 0  # paired: the same draw for both scores
    with pytest.raises(InputError, match="at least one promoter and one background"):
        paired_bootstrap([0.1, 0.2], [0.3, 0.4], ["promoter", "promoter"])
