"""`pretrain --pack`, `--attention` and `--compile`: packed micro-batches give the padded step's loss and gradients
and the padded run's log; held-out evaluation, checkpoints and resume work packed; a compiled encoder saves the
same parameter names and resumes; an attention backend that cannot train on the device is refused before anything
is written."""
import json
from pathlib import Path

import pytest
import torch

from test_pretrain import ECOLI, SARS, TINY_NO_DROPOUT, _cli_args, _log, _pretrain, _weights


@pytest.fixture
def no_dropout_config(tmp_path):
    config = tmp_path / "tiny.json"
    config.write_text(json.dumps(TINY_NO_DROPOUT))
    return str(config)


def _micro_batches(genome, tokenizer_dir, pack):
    from dnabert2.pretraining.batches import FastaSource, MicroBatches
    from dnabert2.pretraining.genomes import WindowSampler, measure_window_bp, read_genomes
    from dnabert2.pretraining.masking import MaskingConfig
    from dnabert2.tokenizer import load_tokenizer

    tok = load_tokenizer(tokenizer_dir)
    genomes = read_genomes([str(genome)])
    sampler = WindowSampler(genomes, measure_window_bp(tok, genomes, 64))
    # short windows too: a batch of mixed lengths, so that padding is really dropped by packing
    source = FastaSource(sampler, tok, 64, seed=1)
    return MicroBatches(source, MaskingConfig.from_tokenizer(tok), 64, tok.pad_token_id, batch_size=6, seed=1,
                        pack=pack), tok


def test_packed_micro_batch_holds_the_padded_one(shared, reference_tokenizer_dir):
    padded, _ = _micro_batches(shared(*SARS), reference_tokenizer_dir, pack=False)
    packed, _ = _micro_batches(shared(*SARS), reference_tokenizer_dir, pack=True)
    a, b = padded[2], packed[2]
    assert set(b) == {"input_ids", "labels", "cu_seqlens"}
    mask = a["attention_mask"].bool()
    lengths = mask.sum(1).tolist()
    assert b["cu_seqlens"].tolist() == [sum(lengths[:i]) for i in range(len(lengths) + 1)]
    assert torch.equal(b["input_ids"][0], a["input_ids"][mask]) and torch.equal(b["labels"][0], a["labels"][mask])


def test_packed_step_equals_the_padded_step(shared, reference_tokenizer_dir):
    """Loss sum, correct predictions and every gradient of a masked-LM step, packed vs padded, fp32, sdpa and eager;
    the windows are cut to mixed lengths so that the padded batch holds padding."""
    from dnabert2.common.kernels import pack_batch
    from dnabert2.model import DNABert2Config, DNABert2ForMaskedLM
    from dnabert2.pretraining.objective import masked_lm_objective

    padded, tok = _micro_batches(shared(*ECOLI), reference_tokenizer_dir, pack=False)
    batch = padded[0]
    keep = torch.tensor([64, 40, 17, 64, 33, 9])[:, None] > torch.arange(64)[None, :]
    batch["attention_mask"] = batch["attention_mask"] * keep
    batch["labels"] = torch.where(keep, batch["labels"], -100)
    batch["input_ids"] = torch.where(keep, batch["input_ids"], tok.pad_token_id)
    assert int(batch["attention_mask"].sum()) < batch["attention_mask"].numel()
    for backend in ("sdpa", "eager"):
        results = []
        for feed in (batch, pack_batch(batch)):
            torch.manual_seed(0)
            config = DNABert2Config(**TINY_NO_DROPOUT, attention_probs_dropout_prob=0.0, attn_implementation=backend)
            model = DNABert2ForMaskedLM(config).train()
            loss_sum, correct = masked_lm_objective(model)(**feed)
            loss_sum.backward()
            results.append((float(loss_sum.detach()), float(correct), {n: p.grad for n, p in model.named_parameters()}))
        (loss_a, correct_a, grads_a), (loss_b, correct_b, grads_b) = results
        assert loss_b == pytest.approx(loss_a, rel=1e-5) and correct_a == correct_b
        for name, grad in grads_a.items():
            assert torch.allclose(grads_b[name], grad, rtol=1e-5, atol=1e-5), (backend, name)


def test_packed_run_logs_the_padded_losses_and_resumes(tmp_path, shared, reference_tokenizer_dir,
                                                       no_dropout_config):
    """The same run padded and packed (no dropout: dropout draws per tensor shape): the same step losses,
    accuracies and held-out losses; a packed run stopped at step 2 and resumed to 4 ends with the same weights."""
    genome = shared(*ECOLI)
    said = []
    kw = dict(model_config=no_dropout_config, max_steps=4, eval_every=2, save_every=2, eval_samples=24)
    padded = _pretrain(tmp_path / "padded", genome, reference_tokenizer_dir, **kw)
    packed = _pretrain(tmp_path / "packed", genome, reference_tokenizer_dir, pack=True, report=said.append, **kw)
    assert not padded["packed"] and packed["packed"] and packed["attention"] == "sdpa"
    assert "attention auto (sdpa), packed batches" in said[0]
    a, b = _log(tmp_path / "padded"), _log(tmp_path / "packed")
    assert [sorted(r) for r in a] == [sorted(r) for r in b]
    for ra, rb in zip(a, b):
        for key in ("loss", "mlm_accuracy", "eval_loss", "eval_accuracy", "grad_norm"):
            if key in ra:
                assert rb[key] == pytest.approx(ra[key], abs=2e-5), (ra["step"], key)
    split = tmp_path / "split"
    _pretrain(split, genome, reference_tokenizer_dir, pack=True, stop_at_step=2, **kw)
    _pretrain(split, genome, reference_tokenizer_dir, pack=True, resume=True, **kw)
    straight, resumed = _weights(tmp_path / "packed"), _weights(split)
    for key in straight:
        assert torch.allclose(resumed[key], straight[key], rtol=0, atol=1e-6), key


def test_compiled_encoder_saves_the_same_names_and_resumes(tmp_path, shared, reference_tokenizer_dir,
                                                           no_dropout_config):
    """--compile: checkpoints and the final model hold the plain model's parameter names, a compiled run resumes,
    and it trains to the plain run's weights; the compile time is said once and returned."""
    genome = shared(*SARS)
    said = []
    kw = dict(model_config=no_dropout_config, max_steps=2, save_every=1, attention="eager")
    plain = _pretrain(tmp_path / "plain", genome, reference_tokenizer_dir, **kw)
    first = _pretrain(tmp_path / "compiled", genome, reference_tokenizer_dir, compile=True, stop_at_step=1,
                      report=said.append, **kw)
    assert plain["compile_s"] is None and first["compile_s"] > 0 and first["attention"] == "eager"
    assert "attention eager, padded batches, compiled encoder" in said[0]
    assert sum("compiled encoder: the first step took" in line for line in said) == 1
    step = tmp_path / "compiled" / "checkpoints" / "step-00000001"
    assert _weights(step).keys() == _weights(tmp_path / "plain" / "checkpoints" / "step-00000001").keys()
    done = _pretrain(tmp_path / "compiled", genome, reference_tokenizer_dir, compile=True, resume=True, **kw)
    assert done["finished"] and done["step"] == 2
    a, b = _weights(tmp_path / "plain"), _weights(tmp_path / "compiled")
    assert a.keys() == b.keys()
    for key in a:
        assert torch.allclose(b[key], a[key], rtol=0, atol=1e-4), key


def test_compiled_encoder_with_gradient_checkpointing_trains_as_the_plain_run(tmp_path, shared,
                                                                             reference_tokenizer_dir,
                                                                             no_dropout_config):
    """--compile with --gradient-checkpointing: the compiled layers are recomputed in backward and the run ends
    with the plain run's weights."""
    genome = shared(*SARS)
    kw = dict(model_config=no_dropout_config, max_steps=2, save_every=5, attention="eager",
              gradient_checkpointing=True)
    _pretrain(tmp_path / "plain", genome, reference_tokenizer_dir, **kw)
    done = _pretrain(tmp_path / "compiled", genome, reference_tokenizer_dir, compile=True, **kw)
    assert done["finished"] and done["compile_s"] > 0
    a, b = _weights(tmp_path / "plain"), _weights(tmp_path / "compiled")
    for key in a:
        assert torch.allclose(b[key], a[key], rtol=0, atol=1e-4), key


@pytest.mark.parametrize("backend, why", [
    ("flex", "FlexAttention has no backward pass on the CPU"),
    ("flash_attention_2", "it needs a CUDA GPU"),
])
def test_attention_that_cannot_train_here_is_refused_before_anything_is_written(tmp_path, run_cli, shared,
                                                                                 reference_tokenizer_dir, backend,
                                                                                 why):
    out = tmp_path / "out"
    result = run_cli(*_cli_args(shared(*SARS), reference_tokenizer_dir, out, "--attention", backend,
                                "--device", "cpu"))
    assert result.exit_code == 2, result.output
    assert f"--attention {backend} cannot run on cpu: {why}" in result.output
    assert not Path(out).exists()
