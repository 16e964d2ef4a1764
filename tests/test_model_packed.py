"""Packed batches (sequences laid end to end, `cu_seqlens`) against the padded batch and the eager path, fp32 CPU."""
import warnings

import pytest
import torch

from dnabert2.errors import InputError
from dnabert2.model import (DNABert2ForMaskedLM, DNABert2ForSequenceClassification, flex, pack_padded,
                            pack_sequences, unpack)
from test_model import batch, randomise, small_config

LENGTHS = [9, 33, 1, 20, 150]
CONFIG = {"heads": 3, "head_size": 8, "layers": 2}  # the shape test_model_flex.py compiles flex for
FORWARD_BACKENDS = ["sdpa", "eager"] + (["flex"] if flex.flex_unavailable("cpu") is None else [])


def run(model, backend, *args, **kwargs):
    model.set_attn_implementation(backend)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model(*args, **kwargs)


@pytest.mark.parametrize("backend", FORWARD_BACKENDS)
def test_packed_masked_lm_equals_padded_eager(backend):
    model = randomise(DNABert2ForMaskedLM(small_config(**CONFIG)), seed=40)
    ids, mask = batch(LENGTHS, seed=41)
    types = (torch.arange(ids.shape[1]) > 4).long().expand_as(ids) * mask
    ref = run(model, "eager", ids, attention_mask=mask, token_type_ids=types, output_hidden_states=True)
    packed_ids, cu = pack_padded(ids, mask)
    packed_types, _ = pack_padded(types, mask)
    assert packed_ids.shape == (1, sum(LENGTHS)) and cu.tolist() == [0, 9, 42, 43, 63, 213]
    padded = run(model, backend, ids, attention_mask=mask, token_type_ids=types, output_hidden_states=True)
    packed = run(model, backend, packed_ids, cu_seqlens=cu, token_type_ids=packed_types, output_hidden_states=True)
    assert packed.hidden_states[-1].shape == (1, sum(LENGTHS), 24)
    keep = mask.bool()
    for p, q, r in zip(packed.hidden_states, padded.hidden_states, ref.hidden_states):
        torch.testing.assert_close(unpack(p, cu), r, atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(q, r, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(packed.logits[0], ref.logits[keep], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(padded.logits[keep], ref.logits[keep], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("backend", FORWARD_BACKENDS)
def test_packed_classifier_pooler_and_output_mask(backend):
    model = randomise(DNABert2ForSequenceClassification(small_config(num_labels=3, **CONFIG)), seed=42)
    ids, mask = batch(LENGTHS, seed=43)
    packed_ids, cu = pack_padded(ids, mask)
    ref = run(model, "eager", ids, attention_mask=mask)
    torch.testing.assert_close(run(model, backend, packed_ids, cu_seqlens=cu).logits, ref.logits, atol=1e-5,
                               rtol=1e-5)
    ref_base = run(model.bert, "eager", ids, attention_mask=mask)
    wanted = torch.zeros_like(mask)
    wanted[:, 0] = 1
    wanted[4, [17, 149]] = wanted[1, 30] = 1
    packed_wanted, _ = pack_padded(wanted, mask)
    some = run(model.bert, backend, packed_ids, cu_seqlens=cu, output_mask=packed_wanted)
    torch.testing.assert_close(some.pooler_output, ref_base.pooler_output, atol=1e-5, rtol=1e-5)
    keep = wanted.bool()
    torch.testing.assert_close(unpack(some.last_hidden_state, cu)[keep], ref_base.last_hidden_state[keep],
                               atol=1e-5, rtol=1e-5)
    packed_wanted[0, 9] = 0  # the second sequence's first token is not wanted: no pooled output
    assert run(model.bert, backend, packed_ids, cu_seqlens=cu, output_mask=packed_wanted).pooler_output is None


@pytest.mark.parametrize("backend", ["sdpa", "eager"])
def test_packed_training_step_gives_the_padded_gradients(backend):
    cfg = small_config(num_labels=2, hidden_dropout_prob=0.0, **CONFIG)
    ids, mask = batch(LENGTHS, seed=44)
    labels = torch.tensor([0, 1, 1, 0, 1])
    mlm_labels = ids.masked_fill((mask == 0) | (torch.arange(ids.shape[1]) % 3 != 0), -100)
    packed_ids, cu = pack_padded(ids, mask)
    packed_mlm_labels, _ = pack_padded(mlm_labels, mask)
    for make, padded_labels, packed_labels in ((DNABert2ForSequenceClassification, labels, labels),
                                               (DNABert2ForMaskedLM, mlm_labels, packed_mlm_labels)):
        grads, losses = [], []
        for name, inputs, target, impl in (("padded eager", {"attention_mask": mask}, padded_labels, "eager"),
                                           ("packed", {"cu_seqlens": cu}, packed_labels, backend)):
            model = randomise(make(cfg), seed=45).train()
            model.set_attn_implementation(impl)
            loss = model(packed_ids if name == "packed" else ids, labels=target, **inputs).loss
            loss.backward()
            losses.append(loss.item())
            grads.append({n: p.grad for n, p in model.named_parameters() if p.grad is not None})
        assert losses[0] == pytest.approx(losses[1], rel=1e-5)
        assert grads[0].keys() == grads[1].keys()
        for name in grads[0]:
            torch.testing.assert_close(grads[1][name], grads[0][name], atol=1e-5, rtol=1e-5, msg=name)


def test_packed_eager_attentions_are_per_sequence():
    model = randomise(DNABert2ForMaskedLM(small_config(**CONFIG)), seed=46)
    ids, mask = batch([5, 12], seed=47)
    packed_ids, cu = pack_padded(ids, mask)
    padded = run(model, "sdpa", ids, attention_mask=mask, output_attentions=True).attentions
    packed = run(model, "sdpa", packed_ids, cu_seqlens=cu, output_attentions=True).attentions
    assert packed[0].shape == (2, 3, 12, 12)
    torch.testing.assert_close(packed[1], padded[1])


def test_pack_sequences_and_unpack_round_trip():
    rows = [[5, 6, 7], [8], torch.tensor([9, 10])]
    ids, cu = pack_sequences(rows)
    assert ids.tolist() == [[5, 6, 7, 8, 9, 10]] and cu.tolist() == [0, 3, 4, 6] and cu.dtype == torch.int32
    assert unpack(ids[..., None], cu)[..., 0].tolist() == [[5, 6, 7], [8, 0, 0], [9, 10, 0]]


def test_packing_errors():
    with pytest.raises(InputError, match="no empty one"):
        pack_sequences([[5, 6], []])
    with pytest.raises(InputError, match="needs right padding"):
        pack_padded(torch.ones(2, 3, dtype=torch.long), torch.tensor([[1, 1, 1], [0, 1, 1]]))
    with pytest.raises(InputError, match="unpack takes packed values"):
        unpack(torch.ones(2, 3), torch.tensor([0, 3]))
    model = DNABert2ForMaskedLM(small_config(**CONFIG))
    ids = torch.ones(1, 6, dtype=torch.long)
    for kwargs, message in (
            ({"cu_seqlens": torch.tensor([0, 6]), "attention_mask": torch.ones(1, 6)}, "not both"),
            ({"cu_seqlens": torch.tensor([0.0, 6.0])}, "1-D integer tensor"),
            ({"cu_seqlens": torch.tensor([0, 4])}, r"rise strictly from 0 to the 6 tokens .* got \[0, 4\]"),
            ({"cu_seqlens": torch.tensor([0, 3, 3, 6])}, "no empty sequence")):
        with pytest.raises(InputError, match=message):
            model(ids, **kwargs)
    with pytest.raises(InputError, match=r"packed batch is one row: .* got \[2, 3\]"):
        model(ids.view(2, 3), cu_seqlens=torch.tensor([0, 3]))
