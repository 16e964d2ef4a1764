"""The `flex` attention backend (FlexAttention, compiled on first use) against the eager path, in fp32 on the CPU.

Its kernel is compiled once per row bucket and head shape (seconds each on the CPU), so the tests share one model
shape and batches of at most 256 tokens.
"""
import warnings

import numpy as np
import pytest
import torch

from dnabert2.common.batching import TokenRows
from dnabert2.errors import InputError
from dnabert2.model import DNABert2ForMaskedLM, DNABert2ForSequenceClassification, attention, flex
from test_model import batch, randomise, small_config

pytestmark = pytest.mark.skipif(flex.flex_unavailable("cpu") is not None,
                                reason=f"FlexAttention cannot run here: {flex.flex_unavailable('cpu')}")
# mixed lengths across two 128-token blocks of the packed row (263 tokens: a 512-token bucket, full and partial
# key blocks), and short ones inside one block
LENGTHS = [[9, 33, 1, 20], [150, 7, 90, 16]]
CONFIG = {"heads": 3, "head_size": 8, "layers": 2}


def both(model, backend, *args, **kwargs):
    model.set_attn_implementation(backend)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model(*args, **kwargs)


@pytest.mark.parametrize("lengths", LENGTHS)
def test_flex_equals_eager_on_padded_batches(lengths):
    model = randomise(DNABert2ForMaskedLM(small_config(**CONFIG)), seed=30)
    ids, mask = batch(lengths, seed=31)
    ref = both(model, "eager", ids, attention_mask=mask, output_hidden_states=True)
    out = both(model, "flex", ids, attention_mask=mask, output_hidden_states=True)
    for ours, theirs in zip(out.hidden_states, ref.hidden_states):
        torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=1e-5)
    assert torch.equal(out.hidden_states[-1][mask == 0], torch.zeros_like(out.hidden_states[-1][mask == 0]))
    keep = mask.bool()
    torch.testing.assert_close(out.logits[keep], ref.logits[keep], atol=1e-5, rtol=1e-5)


def test_flex_output_mask_and_classifier_equal_eager():
    model = randomise(DNABert2ForSequenceClassification(small_config(num_labels=3, **CONFIG)), seed=32)
    ids, mask = batch(LENGTHS[0], seed=33)
    wanted = torch.zeros_like(mask)
    wanted[:, 0] = 1
    wanted[1, [5, 32]] = wanted[3, 19] = 1
    ref = both(model.bert, "eager", ids, attention_mask=mask)
    some = both(model.bert, "flex", ids, attention_mask=mask, output_mask=wanted)
    keep = wanted.bool()
    torch.testing.assert_close(some.last_hidden_state[keep], ref.last_hidden_state[keep], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(some.pooler_output, ref.pooler_output, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(both(model, "flex", ids, attention_mask=mask).logits,
                               both(model, "eager", ids, attention_mask=mask).logits, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("kind, pooling, layer", [("embed", p, -1) for p in ("mean", "mean-all", "max", "cls", "none")]
                         + [("embed", "mean", 1), ("predict", "mean", -1)])
def test_every_embed_pooling_and_predict_equal_eager(kind, pooling, layer):
    """The head of a region run (regions/heads.py) on a padded batch through eager and flex, and packed through
    flex."""
    from dnabert2.regions.heads import make_head
    from dnabert2.regions.settings import EmbedSettings, PredictSettings

    cfg = small_config(num_labels=2, **CONFIG)
    model = randomise((DNABert2ForSequenceClassification if kind == "predict" else DNABert2ForMaskedLM)(cfg), seed=34)
    model = model if kind == "predict" else model.bert
    settings = EmbedSettings(pooling=pooling, layer=layer) if kind == "embed" else PredictSettings()
    head = make_head(settings, cfg)
    ids, attention_mask = batch(LENGTHS[1], seed=35)
    real = attention_mask.bool().clone()
    real[:, 0] = False  # [CLS] is not a real token of the region
    rows = [row[:n].numpy() for row, n in zip(ids, attention_mask.sum(1))]
    results = {}
    for backend, packed in (("eager", False), ("flex", False), ("flex", True)):
        model.set_attn_implementation(backend)
        batch_rows = TokenRows.of(rows, pad_id=3, packed=packed)  # 3: the padding of `batch`
        mask = batch_rows.lay([row[:len(r)].numpy() for row, r in zip(real, rows)], False, bool)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            results[backend, packed] = head.forward(model, batch_rows, torch.from_numpy(mask), "cpu")
    ref_value, ref_weight = results["eager", False]
    for packed in (False, True):
        value, weight = results["flex", packed]
        if pooling == "none" and packed:  # a list of each window's vectors: as the padded rows cut to their lengths
            value = [np.asarray(v) for v in value]
            for v, r, n in zip(value, ref_value, map(len, rows)):
                np.testing.assert_allclose(v, r[:n], atol=1e-5, rtol=1e-5)
            continue
        np.testing.assert_array_equal(weight, ref_weight)
        if pooling not in ("max", "none"):  # sums weighted by the tokens of each window: what is written is the mean
            value, reference = value / weight[:, None], ref_value / ref_weight[:, None]
        else:
            reference = ref_value
        np.testing.assert_allclose(value, reference, atol=1e-5, rtol=1e-5)


def test_flex_block_mask_is_exactly_the_sequences():
    """Every 128 x 128 block pair of the packed row: skipped when no query sees a key there, full when all do,
    partial (masked inside) otherwise; and the mask inside is 'same sequence, not padding'."""
    lengths = [1, 127, 129, 300, 2, 60]  # 619 tokens in a 1,024-position row
    cu = torch.tensor(np.concatenate([[0], np.cumsum(lengths)]), dtype=torch.int32)
    tokens, length = int(cu[-1]), flex.bucket_length(int(cu[-1]))
    mask = flex.document_block_mask(cu, tokens, length)
    doc = torch.full((length,), -1)
    for s, (a, b) in enumerate(zip(cu[:-1].tolist(), cu[1:].tolist())):
        doc[a:b] = s
    dense = (doc[:, None] == doc[None, :]) & (doc[None, :] >= 0)  # (length, length)
    blocks = dense.view(length // 128, 128, length // 128, 128)
    seen, every = blocks.any(3).any(1), blocks.all(3).all(1)  # (nb, nb)
    full = torch.zeros_like(seen)
    partial = torch.zeros_like(seen)
    for i in range(seen.shape[0]):
        full[i, mask.full_kv_indices[0, 0, i, :mask.full_kv_num_blocks[0, 0, i]].long()] = True
        partial[i, mask.kv_indices[0, 0, i, :mask.kv_num_blocks[0, 0, i]].long()] = True
    assert torch.equal(full, every) and torch.equal(partial, seen & ~every)
    q, k = torch.meshgrid(torch.arange(length), torch.arange(length), indexing="ij")
    assert torch.equal(mask.mask_mod(0, 0, q, k), dense)


def test_flex_refuses_training_on_the_cpu_and_dropout():
    model = randomise(DNABert2ForMaskedLM(small_config(**CONFIG)), seed=36).train()
    model.set_attn_implementation("flex")
    ids, mask = batch(LENGTHS[0], seed=37)
    with pytest.raises(InputError, match="flex cannot run here: .*backward.*use attn_implementation='sdpa'"):
        model(ids, attention_mask=mask, labels=ids).loss.backward()
    dropping = DNABert2ForMaskedLM(small_config(attention_probs_dropout_prob=0.1, **CONFIG)).train()
    dropping.set_attn_implementation("flex")
    with torch.no_grad(), pytest.raises(InputError, match="flex has no attention dropout"):
        dropping(ids, attention_mask=mask)


def test_flex_where_it_cannot_run(monkeypatch):
    """Asked for by name: a clear error. Automatic: flex only where listed and able to run, else SDPA."""
    cpu = torch.device("cpu")
    monkeypatch.setattr(attention, "AUTO_ORDER", {("cpu", False): ("flex", "sdpa")})
    assert attention.choose_backend(None, cpu, torch.float32) == "flex"
    assert attention.choose_backend(None, cpu, torch.float32, grad=True) == "sdpa"  # no backward on the CPU
    assert attention.choose_backend(None, cpu, torch.bfloat16) == "sdpa"
    monkeypatch.setattr(attention, "flex_unavailable", lambda device_type: "torch 2.4 has no FlexAttention")
    monkeypatch.setattr(flex, "flex_unavailable", lambda device_type: "torch 2.4 has no FlexAttention")
    assert attention.choose_backend(None, cpu, torch.float32) == "sdpa"
    assert attention.choose_backend("flex", cpu, torch.float32) == "flex"
    model = DNABert2ForMaskedLM(small_config(attn_implementation="flex"))
    with torch.no_grad(), pytest.raises(InputError, match="flex cannot run: torch 2.4 has no FlexAttention"):
        model(torch.ones(1, 4, dtype=torch.long))


def test_flex_needs_a_compiler_or_triton(monkeypatch):
    flex.flex_unavailable.cache_clear()
    try:
        monkeypatch.setattr(flex.shutil, "which", lambda name: None)
        monkeypatch.setenv("CXX", "g++-missing")
        assert flex.flex_unavailable("cpu") == "no C++ compiler (g++-missing or clang++) for torch.compile on the CPU"
        assert "not on mps" in flex.flex_unavailable("mps")
    finally:
        flex.flex_unavailable.cache_clear()


def test_bucket_lengths():
    assert [flex.bucket_length(n) for n in (1, 128, 129, 256, 257, 5000)] == [128, 128, 256, 256, 512, 8192]
