"""`dnabert2 convert`: a release-layout folder becomes a clean safetensors model folder."""
import json

import torch

from test_model_checkpoint import inputs, make_release_folder


def test_convert_release_folder(tmp_path, shared, run_cli):
    import dnabert2
    from dnabert2.model import DNABert2ForMaskedLM

    source, cfg, state = make_release_folder(tmp_path / "DNABERT-2-117M", shared, seed=3)
    out = tmp_path / "converted"
    result = run_cli("convert", source, "-o", out)
    assert result.exit_code == 0, result.output
    assert "DNABert2ForMaskedLM (" in result.stderr and f"Wrote {out}/" in result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["config.json", "model.safetensors", "tokenizer.json",
                                                     "tokenizer_config.json"]
    config = json.loads((out / "config.json").read_text())
    assert config["model_type"] == "dnabert2" and "auto_map" not in config
    assert config["architectures"] == ["DNABert2ForMaskedLM"]
    assert (out / "tokenizer.json").read_bytes() == (source / "tokenizer.json").read_bytes()
    original = DNABert2ForMaskedLM.from_pretrained(source)
    converted, tokenizer = dnabert2.load_model(out, device="cpu")
    ids, mask = inputs()
    with torch.no_grad():
        torch.testing.assert_close(converted(ids, attention_mask=mask).logits,
                                   original(ids, attention_mask=mask).logits, atol=0, rtol=0)
    # a second conversion of our own folder, in bf16, keeps the same tensors rounded
    again = tmp_path / "bf16"
    assert run_cli("convert", out, "-o", again, "--precision", "bf16", "--quiet").exit_code == 0
    low, _ = dnabert2.load_model(again, device="cpu", dtype="fp32")
    torch.testing.assert_close(low.bert.embeddings.word_embeddings.weight,
                               original.bert.embeddings.word_embeddings.weight.bfloat16().float())


def test_convert_errors(tmp_path, shared, run_cli):
    result = run_cli("convert", tmp_path / "missing", "-o", tmp_path / "out")
    assert result.exit_code == 2 and "no such model folder" in result.output
    source, _, _ = make_release_folder(tmp_path / "release", shared, seed=4)
    (tmp_path / "taken").mkdir()
    result = run_cli("convert", source, "-o", tmp_path / "taken")
    assert result.exit_code == 2 and "already exists (use --force" in result.output
    (source / "tokenizer.json").unlink()
    result = run_cli("convert", source, "-o", tmp_path / "out")
    assert result.exit_code == 2 and "no tokenizer.json" in result.output
    assert not (tmp_path / "out").exists()
