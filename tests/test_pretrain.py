"""`dnabert2 pretrain`: data sampling, learning, exact resume, kill-safe checkpoints, DDP, corpus, bad input."""
import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from dnabert2.pretraining.masking import MaskingConfig
from dnabert2.pretraining.batches import FastaSource, MicroBatches, micro_batch_loader
from dnabert2.pretraining.genomes import WindowSampler, read_genome, read_genomes

ECOLI = ("genomes", "ecoli_k12_mg1655", "GCF_000005845.2_ASM584v2_genomic.fna.gz")
SARS = ("genomes", "sars_cov_2", "NC_045512.2.fasta")
CHRM = ("genomes", "human_chrM", "MT-human.NC_012920.1.fa")
COMPLEMENT = str.maketrans("ACGT", "TGCA")
TINY_NO_DROPOUT = {"vocab_size": 4096, "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
                   "intermediate_size": 128, "hidden_dropout_prob": 0.0}


def _revcomp(s):
    return s.translate(COMPLEMENT)[::-1]


def _fasta_text(path):
    from Bio import SeqIO
    import gzip

    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt") as fh:
        return "".join(str(r.seq) for r in SeqIO.parse(fh, "fasta"))


@pytest.fixture(scope="module")
def tok(reference_tokenizer_dir):
    from dnabert2.tokenizer import load_tokenizer

    return load_tokenizer(reference_tokenizer_dir)


@pytest.fixture(scope="module")
def gapped_genome(tmp_path_factory, reference_tokenizer_dir):
    """20 kb of SARS-CoV-2 with N runs at 5,000 and 12,000 and soft-masked (lower-case) bases in between."""
    from conftest import shared_path

    seq = _fasta_text(shared_path(*SARS))[:20000]
    seq = seq[:5000] + "N" * 30 + seq[5030:8000].lower() + seq[8000:12000] + "NNRYN" * 10 + seq[12050:]
    path = tmp_path_factory.mktemp("genome") / "gapped.fa"
    path.write_text(">gapped\n" + "\n".join(seq[i:i + 70] for i in range(0, len(seq), 70)) + "\n")
    return path, seq


def _pretrain(out, genome, tokenizer_dir, **kw):
    import dnabert2

    settings = dict(tokenizer=tokenizer_dir, model_config="tiny", max_tokens=64, batch_size=4, max_steps=4,
                    eval_every=0, save_every=1000, log_every=1, num_workers=0, threads=1, eval_samples=16, seed=3)
    settings.update(kw)
    return dnabert2.pretrain([genome], out, **settings)


def _log(out):
    return [json.loads(line) for line in (Path(out) / "log.jsonl").read_text().splitlines() if line.strip()]


def _weights(folder):
    from safetensors.torch import load_file

    return load_file(str(Path(folder) / "model.safetensors"))


# ---------------------------------------------------------------------------------------------------- data

def test_windows_come_from_training_pieces_on_both_strands(gapped_genome, tok):
    path, seq = gapped_genome
    genome = read_genome(path, heldout_fraction=0.1)
    upper = seq.upper()
    usable = sum(len(r) for r in __import__("re").findall("[ACGT]{50,}", upper))
    assert genome.train_bases + sum(len(p) for p in genome.heldout) == usable
    assert abs(sum(len(p) for p in genome.heldout) - math.ceil(0.1 * usable)) == 0
    train = [p.tobytes().decode() for p in genome.train]
    held = "".join(p.tobytes().decode() for p in genome.heldout)
    assert upper.endswith(held)  # the held-out part is the end of the sequence
    sampler = WindowSampler([genome], 500)
    reverse = 0
    for i in range(300):
        w = sampler.window(np.random.default_rng([0, i]))
        assert set(w) <= set("ACGT") and 0 < len(w) <= 500
        forward = any(w in p for p in train)
        backward = any(_revcomp(w) in p for p in train)
        assert forward or backward, "window not inside a training piece"
        reverse += backward and not forward
    assert 105 < reverse < 195  # about half reverse strand (binomial sd ~ 8.7)


def test_genome_weights_pick_files(gapped_genome, shared):
    path, _ = gapped_genome
    genomes = read_genomes([path, shared(*CHRM)], heldout_fraction=0.0)
    texts = ["".join(p.tobytes().decode() for p in g.train) for g in genomes]
    sampler = WindowSampler(genomes, 200, weights=[1, 3])
    picked = [0, 0]
    for i in range(400):
        w = sampler.window(np.random.default_rng([1, i]))
        owners = [f for f, t in enumerate(texts) if w in t or _revcomp(w) in t]
        assert len(owners) == 1
        picked[owners[0]] += 1
    assert abs(picked[1] / 400 - 0.75) < 4 * math.sqrt(0.75 * 0.25 / 400)


def test_micro_batches_do_not_depend_on_ranks_or_workers(gapped_genome, tok):
    path, _ = gapped_genome
    genomes = read_genomes([path], heldout_fraction=0.05)
    source = FastaSource(WindowSampler(genomes, 300), tok, 64, seed=5)
    masking = MaskingConfig.from_tokenizer(tok)
    one = MicroBatches(source, masking, 64, tok.pad_token_id, batch_size=6, seed=5)
    ranks = [MicroBatches(source, masking, 64, tok.pad_token_id, batch_size=3, seed=5, rank=r, world_size=2)
             for r in range(2)]
    for k in range(3):
        whole = one[k]
        for key in whole:
            assert torch.equal(whole[key], torch.cat([ranks[0][k][key], ranks[1][k][key]]))
    # a later start (the resumed data position) continues the same stream
    later = MicroBatches(source, masking, 64, tok.pad_token_id, batch_size=6, seed=5, start=12)
    assert torch.equal(later[0]["input_ids"], one[2]["input_ids"])
    # worker processes deliver the same batches in the same order as the main process
    direct = [one[k] for k in range(1, 5)]
    with_workers = micro_batch_loader(one, num_workers=2, start_batch=1)
    for expected, got in zip(direct, with_workers):
        assert torch.equal(expected["input_ids"], got["input_ids"])
        assert torch.equal(expected["labels"], got["labels"])
    b = one[0]
    assert (b["input_ids"][:, 0] == tok.cls_token_id).all()
    assert ((b["labels"] == -100) | (b["attention_mask"] == 1)).all()


# ---------------------------------------------------------------------------------------------------- training

def test_tiny_model_learns_and_writes_a_model_folder(tmp_path, shared, reference_tokenizer_dir):
    """Held-out loss after a few hundred steps falls well below the first evaluation and below ln(vocab)."""
    out = tmp_path / "run"
    summary = _pretrain(out, shared(*ECOLI), reference_tokenizer_dir, max_steps=150, batch_size=8, lr=3e-3,
                        warmup_steps=10, eval_every=50, save_every=50, keep_checkpoints=2, log_every=10,
                        num_workers=2, eval_samples=32)
    assert summary["finished"] and summary["step"] == 150
    records = _log(out)
    evals = [r for r in records if "eval_loss" in r]
    assert [r["step"] for r in evals] == [0, 50, 100, 150]
    first, last = evals[0]["eval_loss"], evals[-1]["eval_loss"]
    assert abs(first - math.log(4096)) < 0.5  # random init predicts about uniformly
    assert last < math.log(4096) - 1.0 and last < first - 1.0
    steps = [r for r in records if "loss" in r]
    assert [r["step"] for r in steps] == list(range(10, 151, 10))
    for r in steps:
        assert set(r) >= {"step", "loss", "mlm_accuracy", "lr", "tokens_per_s", "grad_norm"}
        assert r["tokens_per_s"] > 0 and 0 <= r["mlm_accuracy"] <= 1
    # warm-up to the peak over 10 steps, then linear decay to 0 at step 150 (step s runs at schedule index s - 1)
    assert steps[0]["lr"] == pytest.approx(3e-3 * 9 / 10)
    assert steps[1]["lr"] == pytest.approx(3e-3 * (150 - 19) / 140)
    assert steps[-1]["lr"] == pytest.approx(3e-3 * 1 / 140)
    # only the newest two checkpoints are kept
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["step-00000100", "step-00000150"]
    assert (out / "loss_curve.png").stat().st_size > 1000

    # the output folder is a model folder for dnabert2 and for transformers
    import dnabert2
    from transformers import AutoModelForMaskedLM

    model, tokenizer = dnabert2.load_model(out, device="cpu", dtype="fp32")
    auto = AutoModelForMaskedLM.from_pretrained(out).eval()
    ids = tokenizer(["ACGTAGGCTAGCTAGGATCGATCGGATCTAGCTAGCAT"], return_tensors="pt")
    with torch.no_grad():
        a = model(**ids).logits
        b = auto(**ids).logits
    assert torch.allclose(a, b, atol=1e-5)
    assert type(model).__name__ == "DNABert2ForMaskedLM"


def test_resume_continues_exactly(tmp_path, shared, reference_tokenizer_dir):
    """N steps, then --resume to 2N, equals 2N steps in one go (dropout on, so RNG states must be restored)."""
    genome = shared(*ECOLI)
    straight, split = tmp_path / "straight", tmp_path / "split"
    _pretrain(straight, genome, reference_tokenizer_dir, max_steps=8, save_every=4)
    first = _pretrain(split, genome, reference_tokenizer_dir, max_steps=8, save_every=4, stop_at_step=4)
    assert not first["finished"] and not (split / "model.safetensors").exists()
    assert (split / "checkpoints" / "step-00000004").is_dir()
    second = _pretrain(split, genome, reference_tokenizer_dir, max_steps=8, save_every=4, resume=True)
    assert second["finished"] and second["step"] == 8
    a, b = _weights(straight), _weights(split)
    assert a.keys() == b.keys()
    for key in a:
        assert torch.allclose(a[key], b[key], rtol=0, atol=1e-6), key
    losses = lambda out: [(r["step"], r["loss"]) for r in _log(out) if "loss" in r]  # noqa: E731
    assert losses(straight) == losses(split)
    assert [r["step"] for r in _log(split)] == list(range(1, 9))


def test_sigkill_while_writing_a_checkpoint_keeps_the_previous_one(tmp_path, shared, reference_tokenizer_dir):
    out = tmp_path / "run"
    config = tmp_path / "model.json"  # a checkpoint of ~10 MB (weights and optimiser state) takes a while to write
    config.write_text(json.dumps({"hidden_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4,
                                  "intermediate_size": 256, "vocab_size": 4096}))
    cmd = [sys.executable, "-m", "dnabert2", "pretrain", "--genome", str(shared(*ECOLI)),
           "--tokenizer", str(reference_tokenizer_dir), "--model-config", str(config), "-o", str(out),
           "--max-steps", "1000", "--save-every", "1", "--keep-checkpoints", "2", "--batch-size", "2",
           "--max-tokens", "32", "--eval-every", "0", "--workers", "0", "--threads", "1", "-q"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    root = out / "checkpoints"
    deadline = time.time() + 120
    killed_mid_write = False
    try:
        while time.time() < deadline and proc.poll() is None:
            names = os.listdir(root) if root.is_dir() else []
            if any(n.startswith("step-") for n in names) and any(n.endswith(".tmp") for n in names):
                proc.send_signal(signal.SIGKILL)
                killed_mid_write = True
                break
            time.sleep(0.002)  # leave the CPU to the training process between looks
    finally:
        if proc.poll() is None and not killed_mid_write:
            proc.kill()
        proc.wait()
    assert killed_mid_write, proc.stderr.read().decode()[-2000:]
    assert proc.returncode == -signal.SIGKILL
    leftovers = [n for n in os.listdir(root) if n.endswith(".tmp")]
    complete = sorted(n for n in os.listdir(root) if n.startswith("step-"))
    assert leftovers and complete

    import dnabert2
    from dnabert2.pretraining.checkpoints import latest_checkpoint, load_trainer_state

    step, folder = latest_checkpoint(out)
    assert folder.name == complete[-1]
    model, _ = dnabert2.load_model(folder, device="cpu", dtype="fp32")
    assert model.config.hidden_size == 128
    state = load_trainer_state(folder)
    assert state["step"] == step and state["samples_seen"] == 2 * step

    # --resume continues from it, clears the half-written folder and finishes the run
    summary = dnabert2.pretrain([shared(*ECOLI)], out, tokenizer=reference_tokenizer_dir, model_config=str(config),
                                max_steps=step + 1, save_every=1, keep_checkpoints=2, batch_size=2, max_tokens=32,
                                eval_every=0, num_workers=0, threads=1, resume=True)
    assert summary["finished"] and summary["step"] == step + 1
    assert not [n for n in os.listdir(root) if n.endswith(".tmp")]


def test_sigterm_checkpoints_and_stops_cleanly(tmp_path, shared, reference_tokenizer_dir):
    """A batch scheduler's SIGTERM ends the run after the current step, with a checkpoint to resume from."""
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "dnabert2", "pretrain", "--genome", str(shared(*SARS)),
           "--tokenizer", str(reference_tokenizer_dir), "--model-config", "tiny", "-o", str(out),
           "--max-steps", "100000", "--save-every", "100000", "--log-every", "100000", "--batch-size", "2",
           "--max-tokens", "32", "--eval-every", "0", "--workers", "0", "--threads", "1"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None and not (out / "log.jsonl").exists():
        time.sleep(0.05)
    time.sleep(1.0)  # a few steps into training
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err[-2000:]
    assert "stopped (resume with --resume)" in err
    from dnabert2.pretraining.checkpoints import latest_checkpoint

    step, folder = latest_checkpoint(out)
    assert step >= 1 and _log(out)[-1]["step"] == step
    assert not (out / "model.safetensors").exists()  # not finished: no final model yet


def test_two_gloo_processes_match_one_with_the_doubled_batch(tmp_path, shared, reference_tokenizer_dir):
    config = tmp_path / "tiny.json"
    config.write_text(json.dumps(TINY_NO_DROPOUT))
    genome = shared(*ECOLI)
    two, one = tmp_path / "two", tmp_path / "one"
    common = ["--genome", str(genome), "--tokenizer", str(reference_tokenizer_dir), "--model-config", str(config),
              "--max-steps", "3", "--max-tokens", "64", "--log-every", "1", "--eval-every", "0",
              "--workers", "0", "--threads", "1", "--seed", "3", "-q"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                             "-m", "dnabert2", "pretrain", *common, "--batch-size", "2", "-o", str(two)],
                            capture_output=True, text=True, timeout=170, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    _pretrain(one, genome, reference_tokenizer_dir, model_config=str(config), max_steps=3, batch_size=4)
    a, b = _weights(one), _weights(two)
    for key in a:
        assert torch.allclose(a[key], b[key], rtol=0, atol=1e-5), key
    la = [r for r in _log(one) if "loss" in r]
    lb = [r for r in _log(two) if "loss" in r]
    assert [r["step"] for r in lb] == [1, 2, 3]
    for x, y in zip(la, lb):
        assert x["loss"] == pytest.approx(y["loss"], abs=1e-5)
        assert x["grad_norm"] == pytest.approx(y["grad_norm"], abs=1e-5)
    state = json.loads((two / "checkpoints" / "step-00000003" / "trainer_state.json").read_text())
    assert state["world_size"] == 2 and state["samples_seen"] == 12


def test_prepared_corpus_holds_the_same_windows_and_trains(tmp_path, gapped_genome, tok, reference_tokenizer_dir,
                                                         run_cli):
    path, _ = gapped_genome
    corpus = tmp_path / "corpus"
    result = run_cli("pretrain", "--prepare", "--genome", path, "--tokenizer", reference_tokenizer_dir,
                     "--windows", "40", "--max-tokens", "64", "--seed", "7", "--workers", "0", "-o", corpus)
    assert result.exit_code == 0, result.output
    meta = json.loads((corpus / "corpus.json").read_text())
    rows = np.load(corpus / meta["shards"][0]["file"])
    assert rows.shape == (40, 64) and rows.dtype == np.uint16
    # row i is sample i of the on-the-fly stream with the same seed
    genomes = read_genomes([path], heldout_fraction=0.01)
    from dnabert2.pretraining.genomes import measure_window_bp

    source = FastaSource(WindowSampler(genomes, measure_window_bp(tok, genomes, 64)), tok, 64, seed=7)
    for i, expected in enumerate(source.rows(range(40))):
        got = rows[i][rows[i] != tok.pad_token_id]
        assert np.array_equal(got, expected)
    assert meta["eval"]["rows"] >= 1
    # training reads every row once per pass, in a different order each pass (blocks of 16 rows, the last partial)
    from dnabert2.pretraining.corpus import CorpusSource

    reader = CorpusSource(corpus, seed=1, block=16)
    passes = [[reader.row_of(i) for i in range(k * 40, (k + 1) * 40)] for k in range(3)]
    for order in passes:
        assert sorted(order) == list(range(40))
    assert len({tuple(order) for order in passes}) == 3
    got = reader.rows([45])[0]
    assert np.array_equal(got, rows[passes[1][5]][rows[passes[1][5]] != tok.pad_token_id])

    import dnabert2

    # the Python API prepares the same corpus (prepare=True returns its description)
    again = dnabert2.pretrain([path], tmp_path / "again", prepare=True, tokenizer=reference_tokenizer_dir,
                              windows=40, max_tokens=64, seed=7, num_workers=0)
    assert again == meta
    for name in ("corpus.json", meta["shards"][0]["file"], "eval.npy"):
        assert (tmp_path / "again" / name).read_bytes() == (corpus / name).read_bytes()

    out = tmp_path / "model"
    summary = dnabert2.pretrain(corpus=corpus, output=out, model_config="tiny", max_tokens=64, batch_size=4,
                                max_steps=3, eval_every=3, num_workers=0, threads=1, eval_samples=8)
    assert summary["finished"]
    assert any("eval_loss" in r for r in _log(out))
    dnabert2.load_model(out, device="cpu", dtype="fp32")
    # shorter windows than the corpus rows: rows are cut, keeping [SEP]
    short = CorpusSource(corpus, seed=1, max_tokens=16).rows(range(3))
    assert all(len(r) == 16 and r[0] == tok.cls_token_id and r[-1] == tok.sep_token_id for r in short)
    summary = dnabert2.pretrain(corpus=corpus, output=tmp_path / "short", model_config="tiny", max_tokens=16,
                                batch_size=4, max_steps=1, eval_every=1, num_workers=0, threads=1, eval_samples=8)
    assert summary["finished"]


def test_gradient_checkpointing_and_mixed_precision(tmp_path, shared, reference_tokenizer_dir):
    """Checkpointing changes memory, not results; bf16 and fp16 (with loss scaling) train to nearby losses."""
    config = tmp_path / "tiny.json"
    config.write_text(json.dumps(TINY_NO_DROPOUT))
    genome = shared(*SARS)
    runs = {}
    for name, kw in {"fp32": {}, "checkpointed": {"gradient_checkpointing": True},
                     "bf16": {"precision": "bf16"}, "fp16": {"precision": "fp16"}}.items():
        _pretrain(tmp_path / name, genome, reference_tokenizer_dir, model_config=str(config), max_steps=2,
                  save_every=2, **kw)
        runs[name] = (_weights(tmp_path / name), [r["loss"] for r in _log(tmp_path / name)])
    base_w, base_loss = runs["fp32"]
    w, loss = runs["checkpointed"]
    assert loss == pytest.approx(base_loss, abs=1e-6)
    assert all(torch.allclose(w[k], base_w[k], atol=1e-6) for k in base_w)
    for name in ("bf16", "fp16"):
        assert runs[name][1] == pytest.approx(base_loss, abs=0.05), name
    state = torch.load(tmp_path / "fp16" / "checkpoints" / "step-00000002" / "trainer_state.pt", weights_only=True)
    assert state["scaler"]["scale"] > 0  # the fp16 loss scaler is saved for --resume


def test_init_continues_from_a_model_folder(tmp_path, shared, tiny_model_dir):
    out = tmp_path / "run"
    import dnabert2

    summary = dnabert2.pretrain([shared(*SARS)], out, init=tiny_model_dir, max_tokens=64, batch_size=4,
                                max_steps=2, eval_every=0, num_workers=0, threads=1)
    assert summary["finished"]
    before, after = _weights(tiny_model_dir), _weights(out)
    assert before.keys() == after.keys()
    # a small learning-rate step moves every trained tensor a little, from the init weights, not from scratch
    key = "bert.embeddings.word_embeddings.weight"
    change = (after[key] - before[key]).abs().max()
    assert 0 < change < 0.01


# ---------------------------------------------------------------------------------------------------- bad input

def _cli_args(genome, tokenizer, out, *extra):
    return ["pretrain", "--genome", genome, "--tokenizer", tokenizer, "--model-config", "tiny", "--max-steps", "2",
            "--batch-size", "2", "--max-tokens", "32", "--eval-every", "0", "--workers", "0", "-o", out, *extra]


def test_genome_without_usable_sequence(tmp_path, run_cli, reference_tokenizer_dir):
    genome = tmp_path / "ns.fa"
    genome.write_text(">chrN\n" + "N" * 500 + "\n>short\nACGTNACGT\n")
    result = run_cli(*_cli_args(genome, reference_tokenizer_dir, tmp_path / "out"))
    assert result.exit_code == 2
    assert f"{genome}: no usable sequence" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "out").exists()


def test_tokenizer_folder_with_missing_files(tmp_path, run_cli, shared):
    empty = tmp_path / "tok"
    empty.mkdir()
    result = run_cli(*_cli_args(shared(*SARS), empty, tmp_path / "out"))
    assert result.exit_code == 2
    assert f"{empty}: no tokenizer.json" in result.output


def test_config_vocabulary_differs_from_tokenizer(tmp_path, run_cli, shared, reference_tokenizer_dir):
    config = tmp_path / "cfg.json"
    config.write_text(json.dumps({**TINY_NO_DROPOUT, "vocab_size": 512}))
    args = _cli_args(shared(*SARS), reference_tokenizer_dir, tmp_path / "out")
    args[args.index("tiny")] = str(config)
    result = run_cli(*args)
    assert result.exit_code == 2
    assert f"{config}: vocab_size 512 differs from the tokenizer's 4096 tokens" in result.output


def test_output_folder_holding_another_run(tmp_path, run_cli, shared, reference_tokenizer_dir):
    out = tmp_path / "out"
    genome = shared(*SARS)
    assert run_cli(*_cli_args(genome, reference_tokenizer_dir, out, "--save-every", "1")).exit_code == 0
    again = run_cli(*_cli_args(genome, reference_tokenizer_dir, out))
    assert again.exit_code == 2
    assert f"{out}: holds a pretraining run with checkpoints up to step 2; use --resume" in again.output
    other = run_cli(*_cli_args(genome, reference_tokenizer_dir, out, "--resume", "--seed", "7"))
    assert other.exit_code == 2
    assert f"{out}: holds checkpoints of another run (it differs in: seed)" in other.output
    # a folder that is not a pretraining run is refused too, and --force replaces it
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    refused = run_cli(*_cli_args(genome, reference_tokenizer_dir, foreign, "--resume"))
    assert refused.exit_code == 2 and "is not a pretraining run" in refused.output
    assert (foreign / "notes.txt").exists()
    replaced = run_cli(*_cli_args(genome, reference_tokenizer_dir, foreign, "--force"))
    assert replaced.exit_code == 0 and not (foreign / "notes.txt").exists()
    assert (foreign / "model.safetensors").is_file()
    # --resume on a folder that does not exist yet starts the run (job scripts can always pass it)
    fresh = run_cli(*_cli_args(genome, reference_tokenizer_dir, tmp_path / "new", "--resume"))
    assert fresh.exit_code == 0 and (tmp_path / "new" / "model.safetensors").is_file()


@pytest.mark.parametrize("extra, text", [
    (["--prepare", "--table", "t.csv"], "Error: --prepare reads --genome files; --table trains on the tables directly"),
    (["--prepare", "--corpus", "c"], "Error: --prepare reads --genome files; --corpus is prepared already"),
    (["x.fa", "--genome-weights", "1,x"], "Error: --genome-weights '1,x': expected comma-separated numbers"),
])
def test_prepare_needs_genomes_and_weights_are_numbers(tmp_path, run_cli, extra, text):
    result = run_cli("pretrain", *extra, "-o", tmp_path / "out")
    assert result.exit_code == 2 and text in result.output, result.output
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("extra, text", [
    (["--batch-size", "0"], "--batch-size: must be at least 1"),
    (["--mask-fraction", "0.95"], "sum to at most 1"),
    (["--genome-weights", "1,2"], "--genome-weights: 2 weight(s) for 1 genome file(s)"),
    (["--init", "somewhere"], "either --model-config"),
])
def test_bad_options(tmp_path, run_cli, shared, reference_tokenizer_dir, extra, text):
    result = run_cli(*_cli_args(shared(*SARS), reference_tokenizer_dir, tmp_path / "out", *extra))
    assert result.exit_code == 2, result.output
    assert text in result.output
