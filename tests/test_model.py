"""The DNABERT-2 encoder against a plain forward pass written here from spec/model.md.

The reference below pads nothing away: it runs the whole padded batch with a materialised
softmax(q k^T / sqrt(d) + ALiBi + mask) attention, post-LayerNorm and the GEGLU feed-forward, as the release does.
"""
import math

import pytest
import torch
import torch.nn.functional as F

from dnabert2.errors import InputError
from dnabert2.model import (DNABert2Config, DNABert2ForMaskedLM, DNABert2ForSequenceClassification, DNABert2Model,
                            alibi_slopes)


def small_config(heads=4, head_size=8, layers=2, **overrides):
    return DNABert2Config(vocab_size=64, hidden_size=heads * head_size, num_hidden_layers=layers,
                          num_attention_heads=heads, intermediate_size=2 * heads * head_size, **overrides)


def randomise(model, seed=0):
    """Random values in every parameter (LayerNorm weights and biases too), so nothing is left at 1 or 0 (std 0.1: sharp enough to matter, mild enough for fp32)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            offset = 1.0 if name.lower().endswith("layernorm.weight") else 0.0
            p.copy_(torch.randn(p.shape, generator=gen) * 0.1 + offset)
    return model.eval()


def spec_slopes(n):
    """Slopes straight from model.md's words (a separate writing of the rule, not the package's code)."""
    def pow2(m):
        start = 2 ** (-(2 ** -(math.log2(m) - 3)))
        return [start ** (k + 1) for k in range(m)]
    c = 1
    while c * 2 <= n:
        c *= 2
    return pow2(c) + pow2(2 * c)[::2][: n - c]


def reference_encoder(state, cfg, ids, mask, type_ids=None, prefix=""):
    """Every layer's output [B, S, H] of the release's forward pass, computed on the padded batch."""
    p = {k[len(prefix):]: v.double() for k, v in state.items() if k.startswith(prefix)}
    B, S = ids.shape
    H, n = cfg.hidden_size, cfg.num_attention_heads
    d, inter, eps = H // n, cfg.intermediate_size, cfg.layer_norm_eps
    type_ids = torch.zeros_like(ids) if type_ids is None else type_ids

    def ln(x, name):
        return F.layer_norm(x, (H,), p[name + ".weight"], p[name + ".bias"], eps)

    x = ln(p["embeddings.word_embeddings.weight"][ids] + p["embeddings.token_type_embeddings.weight"][type_ids],
           "embeddings.LayerNorm")
    slopes = torch.tensor(spec_slopes(n), dtype=torch.float64)
    pos = torch.arange(S, dtype=torch.float64)
    alibi = -slopes[:, None, None] * (pos[None, :] - pos[:, None]).abs()  # [n, S, S]
    mask_bias = (1.0 - mask.double())[:, None, None, :] * -10000.0  # [B, 1, 1, S]
    layers = [x]
    for i in range(cfg.num_hidden_layers):
        L = f"encoder.layer.{i}."
        qkv = x @ p[L + "attention.self.Wqkv.weight"].T + p[L + "attention.self.Wqkv.bias"]
        q, k, v = (t.reshape(B, S, n, d).transpose(1, 2) for t in qkv.split(H, dim=-1))
        scores = q @ k.transpose(-1, -2) / math.sqrt(d) + alibi + mask_bias
        att = (torch.softmax(scores, dim=-1) @ v).transpose(1, 2).reshape(B, S, H)
        x = ln(att @ p[L + "attention.output.dense.weight"].T + p[L + "attention.output.dense.bias"] + x,
               L + "attention.output.LayerNorm")
        g = x @ p[L + "mlp.gated_layers.weight"].T
        h = F.gelu(g[..., :inter]) * g[..., inter:]
        x = ln(h @ p[L + "mlp.wo.weight"].T + p[L + "mlp.wo.bias"] + x, L + "mlp.layernorm")
        layers.append(x)
    keep = mask.double()[..., None]
    return [layer * keep for layer in layers]


def batch(lengths, vocab=64, seed=1):
    gen = torch.Generator().manual_seed(seed)
    S = max(lengths)
    ids = torch.randint(5, vocab, (len(lengths), S), generator=gen)
    mask = (torch.arange(S)[None, :] < torch.tensor(lengths)[:, None]).long()
    return ids * mask + 3 * (1 - mask), mask


def test_alibi_slopes_follow_the_spec():
    assert alibi_slopes(12) == pytest.approx([2.0 ** -k for k in range(1, 9)] + [2 ** -0.5, 2 ** -1.5, 2 ** -2.5,
                                                                                  2 ** -3.5])
    assert alibi_slopes(8) == pytest.approx([2.0 ** -k for k in range(1, 9)])
    assert alibi_slopes(3) == pytest.approx([2 ** -4, 2 ** -8, 2 ** -2])
    assert alibi_slopes(1) == pytest.approx([2 ** -8])
    for n in (5, 6, 7, 20):
        assert alibi_slopes(n) == pytest.approx(spec_slopes(n))


@pytest.mark.parametrize("heads", [1, 3, 12])
def test_forward_matches_reference_with_padding(heads):
    torch.manual_seed(0)
    cfg = small_config(heads=heads)
    model = randomise(DNABert2Model(cfg))
    ids, mask = batch([1, 9, 33, 20])
    types = (torch.arange(ids.shape[1]) > 4).long().expand_as(ids) * mask
    with torch.no_grad():
        out = model(ids, attention_mask=mask, token_type_ids=types, output_hidden_states=True)
    ref = reference_encoder(model.state_dict(), cfg, ids, mask, types)
    assert len(out.hidden_states) == cfg.num_hidden_layers + 1
    for ours, theirs in zip(out.hidden_states, ref):
        torch.testing.assert_close(ours.double(), theirs, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(out.last_hidden_state.double(), ref[-1], atol=1e-5, rtol=1e-5)
    assert torch.equal(out.last_hidden_state[mask == 0], torch.zeros_like(out.last_hidden_state[mask == 0]))


def test_long_inputs_attend_in_query_blocks_and_match_reference(monkeypatch):
    from dnabert2.model import attention

    monkeypatch.setattr(attention, "MAX_BIAS_ELEMENTS", 2**20)  # several query blocks at these lengths
    cfg = small_config(heads=3, head_size=4, layers=1)
    model = randomise(DNABert2Model(cfg), seed=3)
    ids, mask = batch([1500, 611, 1], seed=4)
    with torch.no_grad():
        out = model(ids, attention_mask=mask).last_hidden_state
    ref = reference_encoder(model.state_dict(), cfg, ids, mask)[-1]
    torch.testing.assert_close(out.double(), ref, atol=1e-5, rtol=1e-5)


def test_query_blocks_are_sized_to_the_device(monkeypatch):
    """The CPU's blocks stay at MAX_BIAS_ELEMENTS; a GPU's take a share of the card's memory (never less than the
    CPU's), counted in elements of the computing dtype; the memory check follows the same block size."""
    from dnabert2.common.memory import ModelSize, inference_bytes
    from dnabert2.model import attention

    assert attention.bias_block_elements(torch.device("cpu"), 2) == attention.MAX_BIAS_ELEMENTS
    monkeypatch.setattr(attention, "_gpu_memory", lambda index: {0: 140 * 2**30, 1: 2**30}[index])
    gpu, small_gpu = torch.device("cuda", 0), torch.device("cuda", 1)
    assert attention.bias_block_elements(gpu, 2) == int(140 * 2**30 * attention.GPU_BIAS_SHARE) // 2
    assert attention.bias_block_elements(gpu, 4) == int(140 * 2**30 * attention.GPU_BIAS_SHARE) // 4
    assert attention.bias_block_elements(small_gpu, 2) == attention.MAX_BIAS_ELEMENTS
    monkeypatch.setattr(attention, "flash_attn_installed", lambda: False)
    release = DNABert2Config()
    on_cpu, on_gpu = ModelSize.of(release), ModelSize.of(release, torch.bfloat16, gpu)
    assert on_cpu.bias_block == attention.MAX_BIAS_ELEMENTS
    assert on_gpu.bias_block == attention.bias_block_elements(gpu, 2) and on_gpu.half and not on_gpu.flash
    # 8 x 4,096 tokens: the whole 1.6e9-element bias in one block on the large card, 2^26 elements on the CPU
    bias_bytes = 2 * 8 * 12 * 4096 * 4096 * 2
    assert inference_bytes(on_gpu, 8 * 4096, 4096) - inference_bytes(
        ModelSize(768, 3072, 12, 12, half=True), 8 * 4096, 4096) == bias_bytes - 2 * attention.MAX_BIAS_ELEMENTS * 2


def test_sequence_output_does_not_depend_on_its_batch():
    cfg = small_config(heads=12, head_size=4)
    model = randomise(DNABert2Model(cfg), seed=5)
    ids, mask = batch([7, 150, 64], seed=6)
    with torch.no_grad():
        together = model(ids, attention_mask=mask).last_hidden_state
        alone = model(ids[:1, :7]).last_hidden_state
        pair = model(ids[:1, :64], attention_mask=mask[:1, :64]).last_hidden_state
    torch.testing.assert_close(together[0, :7], alone[0], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(pair[0, :7], alone[0], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("backend", ["sdpa", "eager"])
@pytest.mark.parametrize("lengths", [[9, 33, 1, 20], [12, 12]])  # padded, and no padding at all
def test_output_mask_gives_the_full_forward_at_the_wanted_positions(backend, lengths):
    cfg = small_config(heads=3, layers=3)
    model = randomise(DNABert2Model(cfg), seed=11)
    model.set_attn_implementation(backend)
    ids, mask = batch(lengths, seed=12)
    gen = torch.Generator().manual_seed(13)
    wanted = (torch.rand(ids.shape, generator=gen) < 0.3).long()
    wanted[0, 0] = wanted[-1, lengths[-1] - 1] = 1
    wanted[1, lengths[1]:] = 1  # padded positions asked for stay 0
    with torch.no_grad():
        full = model(ids, attention_mask=mask, output_hidden_states=True)
        some = model(ids, attention_mask=mask, output_mask=wanted, output_hidden_states=True)
        cls = model(ids, attention_mask=mask, output_mask=torch.zeros_like(ids).index_fill(1, torch.tensor([0]), 1))
    keep = (wanted * mask).bool()
    torch.testing.assert_close(some.last_hidden_state[keep], full.last_hidden_state[keep], atol=1e-6, rtol=1e-6)
    assert torch.equal(some.last_hidden_state[~keep], torch.zeros_like(some.last_hidden_state[~keep]))
    for ours, theirs in zip(some.hidden_states[:-1], full.hidden_states[:-1]):
        assert torch.equal(ours, theirs)
    assert some.hidden_states[-1] is some.last_hidden_state
    assert some.pooler_output is None  # position 0 is not wanted in every row
    torch.testing.assert_close(cls.pooler_output, full.pooler_output, atol=1e-6, rtol=1e-6)


def test_eager_attentions_equal_sdpa_and_are_probabilities():
    cfg = small_config(heads=4)
    model = randomise(DNABert2ForMaskedLM(cfg), seed=7)
    ids, mask = batch([5, 12], seed=8)
    with torch.no_grad():
        fast = model(ids, attention_mask=mask)
        slow = model(ids, attention_mask=mask, output_attentions=True)
    assert len(slow.attentions) == cfg.num_hidden_layers
    probs = slow.attentions[0]
    assert probs.shape == (2, 4, 12, 12)
    torch.testing.assert_close(probs.sum(-1), torch.ones(2, 4, 12))
    assert probs[0, :, :, 5:].abs().max() < 1e-30  # padded keys get nothing
    torch.testing.assert_close(slow.logits, fast.logits, atol=1e-5, rtol=1e-5)
    model.set_attn_implementation("eager")
    assert model.config._attn_implementation == "eager"
    with torch.no_grad():
        torch.testing.assert_close(model(ids, attention_mask=mask).logits, fast.logits, atol=1e-5, rtol=1e-5)


def test_unknown_attention_backend_is_refused():
    with pytest.raises(InputError, match="attn_implementation 'triton'"):
        DNABert2Model(small_config(attn_implementation="triton"))


def test_masked_lm_head_and_loss():
    cfg = small_config()
    model = randomise(DNABert2ForMaskedLM(cfg), seed=9)
    model.tie_weights()
    assert model.cls.predictions.decoder.weight is model.bert.embeddings.word_embeddings.weight
    ids, mask = batch([6, 10], seed=10)
    labels = torch.full_like(ids, -100)
    labels[0, 2], labels[1, 7] = 11, 40
    with torch.no_grad():
        out = model(ids, attention_mask=mask, labels=labels, output_hidden_states=True)
    state = {k: v.double() for k, v in model.state_dict().items()}
    h = out.hidden_states[-1].double()
    t = F.gelu(h @ state["cls.predictions.transform.dense.weight"].T + state["cls.predictions.transform.dense.bias"])
    t = F.layer_norm(t, (cfg.hidden_size,), state["cls.predictions.transform.LayerNorm.weight"],
                     state["cls.predictions.transform.LayerNorm.bias"], cfg.layer_norm_eps)
    logits = t @ state["bert.embeddings.word_embeddings.weight"].T + state["cls.predictions.decoder.bias"]
    torch.testing.assert_close(out.logits.double(), logits, atol=1e-5, rtol=1e-5)
    manual = (F.cross_entropy(logits[0, 2:3], labels[0, 2:3]) + F.cross_entropy(logits[1, 7:8], labels[1, 7:8])) / 2
    assert out.loss.item() == pytest.approx(manual.item(), rel=1e-5)


def test_released_size_has_the_released_parameter_count():
    with torch.device("meta"):
        model = DNABert2ForMaskedLM(DNABert2Config())
    assert sum(p.numel() for p in model.parameters()) == 117_074_176
    assert len(model.state_dict()) == 142
    with torch.device("meta"):
        assert sum(p.numel() for p in DNABert2Model(DNABert2Config()).parameters()) == 117_074_176 - 596_224 + 590_592


@pytest.mark.parametrize("problem, labels, loss_fn", [
    ("single_label_classification", torch.tensor([2, 0, 1]), lambda lg, y: F.cross_entropy(lg, y)),
    ("multi_label_classification", torch.tensor([[1.0, 0, 1], [0, 0, 0], [0, 1, 1]]),
     lambda lg, y: F.binary_cross_entropy_with_logits(lg, y)),
])
def test_classification_losses(problem, labels, loss_fn):
    cfg = small_config(num_labels=3, problem_type=problem)
    model = randomise(DNABert2ForSequenceClassification(cfg), seed=11)
    ids, mask = batch([4, 9, 2], seed=12)
    with torch.no_grad():
        out = model(ids, attention_mask=mask, labels=labels)
        h = model.bert(ids, attention_mask=mask).last_hidden_state[:, 0]
    state = model.state_dict()
    logits = torch.tanh(h @ state["bert.pooler.dense.weight"].T + state["bert.pooler.dense.bias"]) \
        @ state["classifier.weight"].T + state["classifier.bias"]
    torch.testing.assert_close(out.logits, logits, atol=1e-5, rtol=1e-5)
    assert out.loss.item() == pytest.approx(loss_fn(logits, labels).item(), rel=1e-5)


def test_regression_is_inferred_from_one_label():
    model = randomise(DNABert2ForSequenceClassification(small_config(num_labels=1)), seed=13)
    ids, mask = batch([4, 9], seed=14)
    y = torch.tensor([0.5, -1.0])
    with torch.no_grad():
        out = model(ids, attention_mask=mask, labels=y)
    assert model.config.problem_type == "regression"
    assert out.loss.item() == pytest.approx(F.mse_loss(out.logits.squeeze(-1), y).item(), rel=1e-6)


def test_bf16_close_to_fp32_and_half_runs():
    cfg = small_config(heads=4, head_size=16)
    torch.manual_seed(15)
    model = DNABert2ForMaskedLM(cfg).eval()
    ids, mask = batch([30, 17], seed=16)
    with torch.no_grad():
        ref = model.bert(ids, attention_mask=mask).last_hidden_state
        bf16 = model.to(torch.bfloat16).bert(ids, attention_mask=mask).last_hidden_state
        model.half()
        half = model(ids, attention_mask=mask, output_hidden_states=True)
        model.float()
        with torch.autocast("cpu", dtype=torch.bfloat16):
            auto = model.bert(ids, attention_mask=mask).last_hidden_state
    assert bf16.dtype == torch.bfloat16
    for low in (bf16, auto):
        assert ((low.float() - ref).norm() / ref.norm()).item() < 2e-2
    assert half.logits.dtype == torch.float16 and torch.isfinite(half.logits).all()
    assert ((half.hidden_states[-1].float() - ref).norm() / ref.norm()).item() < 2e-2


def test_gradient_checkpointing_gives_the_same_gradients():
    cfg = small_config(hidden_dropout_prob=0.0)
    ids, mask = batch([8, 5], seed=17)
    labels = ids.masked_fill(mask == 0, -100)
    grads = []
    for checkpointing in (False, True):
        model = randomise(DNABert2ForMaskedLM(cfg), seed=18).train()
        if checkpointing:
            model.activation_checkpointing_enable()
            assert model.bert.encoder.gradient_checkpointing
        model(ids, attention_mask=mask, labels=labels).loss.backward()
        grads.append(model.bert.encoder.layer[0].attention.self.Wqkv.weight.grad.clone())
    torch.testing.assert_close(grads[0], grads[1])


def test_config_presets_and_checks(tmp_path):
    tiny = DNABert2Config.from_preset("tiny", num_hidden_layers=3)
    assert (tiny.hidden_size, tiny.num_hidden_layers, tiny.vocab_size, tiny.model_type) == (64, 3, 4096, "dnabert2")
    assert DNABert2Config.from_preset("dnabert2-117m").to_diff_dict() == DNABert2Config().to_diff_dict()
    with pytest.raises(InputError, match="unknown model preset 'huge'"):
        DNABert2Config.from_preset("huge")
    with pytest.raises(InputError, match=r"hidden_size \(100\) must be divisible by num_attention_heads \(12\)"):
        DNABert2Config(hidden_size=100)
    labelled = DNABert2Config.from_preset("tiny", id2label={0: "enhancer", 1: "promoter", 2: "other"})
    labelled.save_pretrained(tmp_path)
    back = DNABert2Config.from_pretrained(tmp_path)
    assert back.id2label == {0: "enhancer", 1: "promoter", 2: "other"} and back.label2id["promoter"] == 1
    assert back.num_labels == 3


def test_input_checks():
    model = DNABert2Model(small_config())
    with pytest.raises(InputError, match="attention_mask has shape"):
        model(torch.ones(2, 5, dtype=torch.long), attention_mask=torch.ones(2, 4))
    with pytest.raises(InputError, match="input_ids must be"):
        model(torch.ones(5, dtype=torch.long))
