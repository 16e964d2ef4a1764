"""Loading a folder laid out like the DNABERT-2-117M release: its config.json (remote-code keys, no model_type)
with smaller sizes, and a random pytorch_model.bin holding the released tensor names."""
import json
import logging
import shutil

import pytest
import torch
import torch.nn.functional as F

from dnabert2.errors import InputError
from dnabert2.model import (DNABert2Config, DNABert2ForMaskedLM, DNABert2ForSequenceClassification,
                            DNABert2Model)
from test_model import reference_encoder

SIZES = {"hidden_size": 48, "num_hidden_layers": 2, "num_attention_heads": 12, "intermediate_size": 64}


def released_names(cfg, prefix="bert.", heads=True):
    """Tensor names and shapes of the release (spec/model.md), written out here, not taken from the package."""
    V, H, I, T = cfg["vocab_size"], cfg["hidden_size"], cfg["intermediate_size"], cfg["type_vocab_size"]
    names = {f"{prefix}embeddings.word_embeddings.weight": (V, H),
             f"{prefix}embeddings.token_type_embeddings.weight": (T, H),
             f"{prefix}embeddings.LayerNorm.weight": (H,), f"{prefix}embeddings.LayerNorm.bias": (H,)}
    for i in range(cfg["num_hidden_layers"]):
        L = f"{prefix}encoder.layer.{i}."
        names.update({L + "attention.self.Wqkv.weight": (3 * H, H), L + "attention.self.Wqkv.bias": (3 * H,),
                      L + "attention.output.dense.weight": (H, H), L + "attention.output.dense.bias": (H,),
                      L + "attention.output.LayerNorm.weight": (H,), L + "attention.output.LayerNorm.bias": (H,),
                      L + "mlp.gated_layers.weight": (2 * I, H), L + "mlp.wo.weight": (H, I), L + "mlp.wo.bias": (H,),
                      L + "mlp.layernorm.weight": (H,), L + "mlp.layernorm.bias": (H,)})
    if heads:
        names.update({"cls.predictions.transform.dense.weight": (H, H), "cls.predictions.transform.dense.bias": (H,),
                      "cls.predictions.transform.LayerNorm.weight": (H,),
                      "cls.predictions.transform.LayerNorm.bias": (H,), "cls.predictions.decoder.bias": (V,)})
    return names


def make_release_folder(folder, shared, prefix="bert.", heads=True, seed=0):
    """config.json of the release with smaller sizes, random weights under the released names, tokenizer files."""
    cfg = json.loads(shared("reference_checkpoint", "config.json").read_text())
    assert "model_type" not in cfg and "auto_map" in cfg
    cfg.update(SIZES)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(cfg, indent=2))
    gen = torch.Generator().manual_seed(seed)
    state = {name: torch.randn(shape, generator=gen) * 0.1 + (1.0 if name.lower().endswith("layernorm.weight") else 0)
             for name, shape in released_names(cfg, prefix, heads).items()}
    if heads:  # tied: the same tensor under both names, as torch.save wrote it in the release
        state["cls.predictions.decoder.weight"] = state[f"{prefix}embeddings.word_embeddings.weight"]
    torch.save(state, folder / "pytorch_model.bin")
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copyfile(shared("reference_checkpoint", name), folder / name)
    return folder, DNABert2Config(**cfg), state


def reference_logits(state, cfg, ids, mask):
    s = {k: v.double() for k, v in state.items()}
    h = reference_encoder(state, cfg, ids, mask, prefix="bert.")[-1]
    t = F.gelu(h @ s["cls.predictions.transform.dense.weight"].T + s["cls.predictions.transform.dense.bias"])
    t = F.layer_norm(t, (cfg.hidden_size,), s["cls.predictions.transform.LayerNorm.weight"],
                     s["cls.predictions.transform.LayerNorm.bias"], cfg.layer_norm_eps)
    return t @ s["cls.predictions.decoder.weight"].T + s["cls.predictions.decoder.bias"]


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    from conftest import shared_path

    return make_release_folder(tmp_path_factory.mktemp("release") / "DNABERT-2-117M", shared_path)


def inputs():
    ids = torch.tensor([[1, 5, 900, 77, 2, 3, 3], [1, 8, 6, 4000, 12, 300, 2]])
    return ids, (ids != 3).long()


def test_release_folder_loads_as_masked_lm_with_nothing_missing(release, caplog):
    folder, cfg, state = release
    with caplog.at_level(logging.WARNING):
        model, info = DNABert2ForMaskedLM.from_pretrained(folder, output_loading_info=True)
    assert info["missing_keys"] == [] and info["unexpected_keys"] == []
    assert not caplog.records
    assert not model.training and model.config.model_type == "dnabert2"
    assert model.cls.predictions.decoder.weight is model.bert.embeddings.word_embeddings.weight
    ids, mask = inputs()
    with torch.no_grad():
        logits = model(ids, attention_mask=mask).logits
    torch.testing.assert_close(logits.double(), reference_logits(state, cfg, ids, mask), atol=1e-5, rtol=1e-5)


def test_release_folder_as_encoder_reports_the_pooler_in_one_line(release, caplog):
    folder, cfg, state = release
    with caplog.at_level(logging.WARNING):
        model = DNABert2Model.from_pretrained(folder)
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 1, lines  # the masked-LM head's tensors are left out quietly: an encoder has no head
    assert "has no pooler weights: initialised randomly" in lines[0] and "pooler.dense.weight" in lines[0]
    ids, mask = inputs()
    with torch.no_grad():
        out = model(ids, attention_mask=mask)
    ref = reference_encoder(state, cfg, ids, mask, prefix="bert.")[-1]
    torch.testing.assert_close(out.last_hidden_state.double(), ref, atol=1e-5, rtol=1e-5)
    assert out.pooler_output.shape == (2, cfg.hidden_size)


def test_bare_encoder_without_prefix_loads(tmp_path, shared, caplog):
    folder, cfg, state = make_release_folder(tmp_path / "encoder", shared, prefix="", heads=False, seed=1)
    with caplog.at_level(logging.WARNING):
        model, info = DNABert2Model.from_pretrained(folder, output_loading_info=True)
    assert info["missing_keys"] == ["pooler.dense.bias", "pooler.dense.weight"] and not info["unexpected_keys"]
    assert len(caplog.records) == 1
    ids, mask = inputs()
    with torch.no_grad():
        out = model(ids, attention_mask=mask).last_hidden_state
    torch.testing.assert_close(out.double(), reference_encoder(state, cfg, ids, mask)[-1], atol=1e-5, rtol=1e-5)
    # and into a head model, whose base lives under `bert.`
    clf, info = DNABert2ForSequenceClassification.from_pretrained(folder, num_labels=3, output_loading_info=True)
    assert sorted(info["missing_keys"]) == ["bert.pooler.dense.bias", "bert.pooler.dense.weight", "classifier.bias",
                                            "classifier.weight"]
    assert clf.config.num_labels == 3
    with torch.no_grad():
        torch.testing.assert_close(clf.bert(ids, attention_mask=mask).last_hidden_state, out)


def test_round_trip_through_save_pretrained(release, tmp_path):
    from transformers import AutoConfig, AutoModelForMaskedLM

    folder, cfg, state = release
    model = DNABert2ForMaskedLM.from_pretrained(folder)
    model.save_pretrained(tmp_path / "ours")
    saved = json.loads((tmp_path / "ours" / "config.json").read_text())
    assert saved["model_type"] == "dnabert2" and "auto_map" not in saved
    assert (tmp_path / "ours" / "model.safetensors").is_file()
    assert type(AutoConfig.from_pretrained(tmp_path / "ours")).__name__ == "DNABert2Config"
    back = AutoModelForMaskedLM.from_pretrained(tmp_path / "ours")
    assert type(back) is DNABert2ForMaskedLM
    ids, mask = inputs()
    with torch.no_grad():
        torch.testing.assert_close(back(ids, attention_mask=mask).logits, model(ids, attention_mask=mask).logits,
                                   atol=0, rtol=0)


def test_load_model_picks_the_head_and_tokenizer(release):
    import dnabert2

    folder, cfg, state = release
    model, tokenizer = dnabert2.load_model(folder, device="cpu")
    assert type(model) is DNABert2ForMaskedLM and not model.training and model.dtype == torch.float32
    enc = tokenizer(["acgtACGTTTGA"], return_tensors="pt")
    assert enc["input_ids"][0, 0].item() == 1 and enc["input_ids"][0, -1].item() == 2
    base, _ = dnabert2.load_model(folder, task="base", device="cpu", dtype="bf16")
    assert type(base) is DNABert2Model and base.dtype == torch.bfloat16
    with pytest.raises(InputError, match="task 'lm'"):
        dnabert2.load_model(folder, task="lm")
    with pytest.raises(InputError, match="no such model folder"):
        dnabert2.load_model(folder.parent / "nowhere")


def test_weights_that_do_not_fit_the_config_are_refused(tmp_path, shared):
    folder, cfg, state = make_release_folder(tmp_path / "short", shared, seed=2)
    config = json.loads((folder / "config.json").read_text())
    config["num_hidden_layers"] = 3
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(InputError, match=r"weights of DNABert2ForMaskedLM are missing, e.g. bert.encoder.layer.2"):
        DNABert2ForMaskedLM.from_pretrained(folder)
    config["num_hidden_layers"], config["intermediate_size"] = 2, 32
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(InputError, match="does not fit this config"):
        DNABert2ForMaskedLM.from_pretrained(folder)
    (folder / "pytorch_model.bin").write_bytes(b"not a pickle")
    with pytest.raises(InputError, match="not a readable PyTorch weights file"):
        DNABert2ForMaskedLM.from_pretrained(folder)
