"""Attention backends: the flash-attn varlen path through a CPU stand-in, the automatic choice, Auto classes."""
import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F

from dnabert2.errors import InputError
from dnabert2.model import DNABert2ForMaskedLM, attention
from test_model import batch, randomise, small_config

CALLS = []


def flash_attn_varlen_standin(q, k, v, cu_seqlens_q, cu_seqlens_k, max_seqlen_q, max_seqlen_k, dropout_p=0.0,
                              softmax_scale=None, causal=False, alibi_slopes=None):
    """Same signature and meaning as flash_attn_varlen_func (non-causal, ALiBi -slope * |i - j|), computed per
    sequence with SDPA; checks the argument types the real kernel insists on."""
    heads = q.shape[1]
    assert q.dim() == k.dim() == v.dim() == 3 and q.dtype in (torch.float16, torch.bfloat16)
    assert cu_seqlens_q.dtype == cu_seqlens_k.dtype == torch.int32 and torch.equal(cu_seqlens_q, cu_seqlens_k)
    assert alibi_slopes.dtype == torch.float32 and alibi_slopes.shape == (heads,)
    assert isinstance(max_seqlen_q, int) and not causal and cu_seqlens_q[-1].item() == q.shape[0]
    CALLS.append((cu_seqlens_q.tolist(), max_seqlen_q))
    out = torch.empty_like(q)
    for start, end in zip(cu_seqlens_q[:-1].tolist(), cu_seqlens_q[1:].tolist()):
        assert end - start <= max_seqlen_q
        pos = torch.arange(end - start, dtype=torch.float32)
        bias = -alibi_slopes[:, None, None] * (pos[None, :] - pos[:, None]).abs()  # [heads, L, L]
        qs, ks, vs = (t[start:end].transpose(0, 1).float() for t in (q, k, v))  # [heads, L, d]
        out[start:end] = F.scaled_dot_product_attention(qs, ks, vs, attn_mask=bias, dropout_p=dropout_p,
                                                        scale=softmax_scale).transpose(0, 1).to(q.dtype)
    return out


@pytest.fixture
def standin(monkeypatch):
    CALLS.clear()
    monkeypatch.setattr(attention, "_flash_varlen_func", lambda device: flash_attn_varlen_standin)
    return CALLS


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float32])
def test_flash_path_gives_the_sdpa_numbers(standin, dtype):
    cfg = small_config(heads=12, head_size=8)
    model = randomise(DNABert2ForMaskedLM(cfg), seed=20).to(dtype)
    ids, mask = batch([9, 31, 1, 20], seed=21)
    with torch.no_grad():
        model.set_attn_implementation("sdpa")
        sdpa = model(ids, attention_mask=mask, output_hidden_states=True).hidden_states[-1].float()
        model.set_attn_implementation("flash_attention_2")
        flash = model(ids, attention_mask=mask, output_hidden_states=True).hidden_states[-1]
    assert standin == [([0, 9, 40, 41, 61], 31)] * cfg.num_hidden_layers
    assert flash.dtype == dtype  # fp32 models are cast to bf16 for the kernel and back
    assert torch.equal(flash[mask == 0], torch.zeros_like(flash[mask == 0]))
    assert ((flash.float() - sdpa).norm() / sdpa.norm()).item() < 2e-2


def test_flash_path_takes_packed_batches(standin):
    """A packed batch reaches the varlen kernel with its own cu_seqlens and gives the padded batch's numbers."""
    from dnabert2.model import pack_padded, unpack

    model = randomise(DNABert2ForMaskedLM(small_config(heads=4, head_size=8)), seed=24).to(torch.bfloat16)
    ids, mask = batch([9, 31, 1, 20], seed=25)
    model.set_attn_implementation("flash_attention_2")
    packed_ids, cu = pack_padded(ids, mask)
    with torch.no_grad():
        padded = model(ids, attention_mask=mask, output_hidden_states=True).hidden_states[-1]
        packed = model(packed_ids, cu_seqlens=cu, output_hidden_states=True).hidden_states[-1]
    assert standin[-1] == ([0, 9, 40, 41, 61], 31)
    assert torch.equal(unpack(packed, cu), padded)


def test_flash_path_in_bf16_is_close_to_fp32_reference(standin):
    cfg = small_config(heads=4, head_size=16)
    model = randomise(DNABert2ForMaskedLM(cfg), seed=22)
    ids, mask = batch([16, 5], seed=23)
    with torch.no_grad():
        ref = model(ids, attention_mask=mask).logits
        model.to(torch.bfloat16).set_attn_implementation("flash_attention_2")
        low = model(ids, attention_mask=mask).logits.float()
    assert ((low - ref).norm() / ref.norm()).item() < 2e-2


def test_flash_without_cuda_fails_clearly():
    with pytest.raises(InputError, match="flash_attention_2 needs a CUDA device"):
        attention._flash_varlen_func(torch.device("cpu"))
    model = DNABert2ForMaskedLM(small_config(attn_implementation="flash_attention_2"))
    with pytest.raises(InputError, match="flash_attention_2 needs a CUDA device"):
        model(torch.ones(1, 4, dtype=torch.long))


def test_packed_layout_rows_by_sequence():
    layout = attention.TokenLayout.packed(torch.tensor([0, 3, 4, 8]), 8)
    assert (layout.batch, layout.seqlen, layout.num_tokens, layout.max_seqlen) == (1, 8, 8, 4)
    rows = layout.by_sequence
    assert (rows.batch, rows.seqlen) == (3, 4) and rows.cu_seqlens.tolist() == [0, 3, 4, 8]
    assert layout.sequence_starts.tolist() == [0, 3, 4]
    assert attention.TokenLayout.from_mask(torch.ones(2, 5)).sequence_starts.tolist() == [0, 5]
    x = torch.arange(8.0)
    assert rows.pad(x).tolist() == [[0, 1, 2, 0], [3, 0, 0, 0], [4, 5, 6, 7]]


def test_backend_is_chosen_per_call(monkeypatch):
    cuda, cpu = torch.device("cuda"), torch.device("cpu")
    monkeypatch.setattr(attention, "flash_attn_installed", lambda: True)
    assert attention.choose_backend(None, cuda, torch.bfloat16) == "flash_attention_2"
    assert attention.choose_backend(None, cuda, torch.float32) == "sdpa"
    assert attention.choose_backend(None, cpu, torch.bfloat16) == "sdpa"
    assert attention.choose_backend("sdpa", cuda, torch.bfloat16) == "sdpa"
    assert attention.choose_backend("flash_attention_2", cuda, torch.bfloat16, need_weights=True) == "eager"
    monkeypatch.setattr(attention, "flash_attn_installed", lambda: False)
    assert attention.choose_backend(None, cuda, torch.bfloat16) == "sdpa"


def test_token_layout_round_trip():
    mask = torch.tensor([[1, 1, 1, 0], [1, 0, 0, 0], [1, 1, 1, 1]])
    layout = attention.TokenLayout.from_mask(mask)
    assert layout.cu_seqlens.tolist() == [0, 3, 4, 8] and layout.max_seqlen == 4 and layout.num_tokens == 8
    x = torch.arange(24.0).view(3, 4, 2)
    flat = layout.unpad(x)
    assert flat[:, 0].tolist() == [0, 2, 4, 8, 16, 18, 20, 22]
    assert torch.equal(layout.pad(flat), x * mask[..., None])


def test_import_stays_free_of_torch():
    code = "import sys, dnabert2; print(sorted({'torch', 'transformers'} & set(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_auto_classes_know_dnabert2():
    from transformers import AutoConfig, AutoModel, AutoModelForMaskedLM, AutoModelForSequenceClassification

    from dnabert2.model import DNABert2Config, DNABert2Model

    config = AutoConfig.for_model("dnabert2", hidden_size=32, num_hidden_layers=1, num_attention_heads=4,
                                  intermediate_size=32, num_labels=3)
    assert type(config) is DNABert2Config
    assert type(AutoModel.from_config(config)) is DNABert2Model
    assert type(AutoModelForMaskedLM.from_config(config)) is DNABert2ForMaskedLM
    assert type(AutoModelForSequenceClassification.from_config(config)).__name__ == "DNABert2ForSequenceClassification"
