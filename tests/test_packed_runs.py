"""Packed model calls in embed, predict and score-variants: the same numbers as today's padded batches.

A run packs its model calls (the windows laid end to end, batches cut by real tokens) where its attention backend
works on the token matrix (`--attention flex`, flash_attention_2), or when the internal `pack` setting forces it:
forced with sdpa, every output is compared cheaply with the padded path (fp32, to 1e-5), on windows of mixed
lengths and a token budget small enough that the two paths cut different batches. Then a few runs with
`--attention flex` (compiled on first use: one shared bucket where possible) and `--compile`. A backend the device
cannot run is refused up front: rows of tests/test_failures.py.
"""
import numpy as np
import pytest

import dnabert2
from conftest import make_classifier, shared_path
from dnabert2.common.batching import TokenRows, sorted_batches
from dnabert2.model import flex

pytestmark = pytest.mark.usefixtures("one_torch_thread")

KIRCHER = ("variants", "kircher2019_satmut_mpra")
# windows of 500 bp (about 100 tokens) and the shorter ends of regions: mixed lengths
LENGTHS = [30, 260, 730, 1210, 95, 1630]
BUDGET = 300  # tokens per call: several batches, cut differently padded and packed


@pytest.fixture(scope="module")
def regions():
    rng = np.random.default_rng(25)
    return [(f"r{i}", "".join(rng.choice(list("ACGT"), n))) for i, n in enumerate(LENGTHS)]


@pytest.fixture(scope="module")
def classifier(tmp_path_factory, reference_tokenizer_dir):
    return make_classifier(tmp_path_factory.mktemp("cls") / "cls", reference_tokenizer_dir, seed=5, num_labels=3)


def both(call, *args, **options):
    """The run's arrays padded and packed (sdpa both times)."""
    return call(*args, pack=False, **options), call(*args, pack=True, **options)


def assert_same_arrays(padded, packed, atol=1e-5):
    for name, value in padded.items():
        if name == "summary":
            continue
        if isinstance(value, dict):
            assert_same_arrays(value, packed[name], atol)
        elif np.asarray(value).dtype.kind == "f":
            np.testing.assert_allclose(packed[name], value, atol=atol, rtol=atol, err_msg=name)
        else:
            np.testing.assert_array_equal(packed[name], value, err_msg=name)


def test_packed_batches_are_cut_by_real_tokens():
    lengths = [5, 100, 3, 40, 60, 200, 1]
    padded = sorted_batches(lengths, token_budget=110)
    packed = sorted_batches(lengths, token_budget=110, packed=True)
    assert [b.tolist() for b in padded] == [[6, 2, 0], [3], [4], [1], [5]]  # rows x longest
    assert [b.tolist() for b in packed] == [[6, 2, 0, 3, 4], [1], [5]]  # sum of lengths
    rows = TokenRows.of([np.arange(3), np.arange(5) + 10], pad_id=0, packed=True)
    assert rows.ids.tolist() == [[0, 1, 2, 10, 11, 12, 13, 14]] and rows.cu_seqlens.tolist() == [0, 3, 8]
    assert rows.starts.tolist() == [0, 3] and rows.lay([[1, 1, 0], [0, 1, 1, 1, 0]], 0, bool).sum() == 5
    padded_rows = TokenRows.of([np.arange(3), np.arange(5) + 10], pad_id=0)
    assert padded_rows.ids.shape == (2, 5) and padded_rows.starts.tolist() == [0, 5]


@pytest.mark.parametrize("options", [{"pooling": p} for p in ("mean", "mean-all", "max", "cls", "none")]
                         + [{"per_base": True}, {"layer": 1, "pooling": "mean"}, {"layer": 0, "pooling": "max"},
                            {"rc_average": True, "stride": 300}])
def test_packed_embed_equals_padded(regions, tiny_model_dir, options):
    padded, packed = both(dnabert2.embed, regions, model=tiny_model_dir, window=500, batch_tokens=BUDGET, **options)
    assert padded["summary"]["packed"] is False and packed["summary"]["packed"] is True
    assert packed["summary"]["model_calls"] < padded["summary"]["model_calls"]  # fuller batches
    assert_same_arrays(padded, packed)


@pytest.mark.parametrize("rc_average", [False, True])
def test_packed_predict_equals_padded(regions, classifier, rc_average):
    padded, packed = both(dnabert2.predict, regions, model=classifier, window=500, batch_tokens=BUDGET,
                          rc_average=rc_average)
    assert_same_arrays(padded, packed)


def variant_run(tmp_path, model, methods, **options):
    """score-variants of a few SNVs and indels of one MPRA element, and a saturation of its first 40 bp."""
    import pysam

    with pysam.FastaFile(str(shared_path(*KIRCHER, "elements_grch37.fa"))) as fa:
        seq = fa.fetch("LDLR")
    (tmp_path / "ref.fa").write_text(f">LDLR\n{seq}\n")
    pysam.faidx(str(tmp_path / "ref.fa"))
    rows = [(30, seq[29], "A" if seq[29] != "A" else "C"), (101, seq[100:103], seq[100]),
            (150, seq[149], seq[149] + "TTG"), (151, seq[150], "G" if seq[150] != "G" else "T")]
    (tmp_path / "v.vcf").write_text("##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n" + "".join(
        f"LDLR\t{pos}\t.\t{ref}\t{alt}\t.\t.\t.\n" for pos, ref, alt in rows))
    variants = dnabert2.score_variants(str(tmp_path / "v.vcf"), ref=str(tmp_path / "ref.fa"), model=model,
                                       methods=methods, context=120, batch_tokens=BUDGET, **options)
    (tmp_path / "site.fa").write_text(f">site\n{seq[:40]}\n")
    saturated = dnabert2.score_variants(saturate=True, fasta=str(tmp_path / "site.fa"), model=model, methods=methods,
                                        context=60, batch_tokens=BUDGET, **options)
    return {"variants": variants, "saturated": saturated}


@pytest.mark.parametrize("rc_average", [False, True])
def test_packed_score_variants_equal_padded(tmp_path, tiny_model_dir, classifier, rc_average):
    for model, methods in ((tiny_model_dir, "llr,emb"), (classifier, "delta,emb")):
        padded = variant_run(tmp_path, model, methods, pack=False, rc_average=rc_average)
        packed = variant_run(tmp_path, model, methods, pack=True, rc_average=rc_average)
        assert packed["variants"]["summary"]["packed"] and not padded["variants"]["summary"]["packed"]
        assert_same_arrays(padded, packed)


def test_compiled_embed_equals_plain_and_says_the_first_call(tmp_path, regions, tiny_model_dir, run_cli):
    fasta = tmp_path / "in.fa"
    fasta.write_text("".join(f">{name}\n{seq}\n" for name, seq in regions))
    args = ["embed", "--fasta", fasta, "--model", tiny_model_dir, "--window", 500, "--batch-tokens", BUDGET]
    plain = run_cli(*args, "-o", tmp_path / "plain.h5")
    compiled = run_cli(*args, "-o", tmp_path / "compiled.h5", "--compile")
    assert plain.exit_code == 0 and compiled.exit_code == 0, compiled.output
    assert "(fp32)" in plain.output and "First model call" not in plain.output
    assert "(fp32, sdpa attention, compiled)" in compiled.output
    assert "First model call (compiling)" in compiled.output and "calls" in compiled.output
    import h5py

    with h5py.File(tmp_path / "plain.h5") as a, h5py.File(tmp_path / "compiled.h5") as b:
        np.testing.assert_allclose(b["embeddings"][:], a["embeddings"][:], atol=1e-5, rtol=1e-5)


needs_flex = pytest.mark.skipif(flex.flex_unavailable("cpu") is not None,
                                reason=f"FlexAttention cannot run here: {flex.flex_unavailable('cpu')}")


@needs_flex
def test_flex_runs_packed_and_equal_sdpa(tmp_path, regions, tiny_model_dir, classifier):
    """Each run is one packed call of the same windows (one 1,024-token bucket: one compilation for them all)."""
    budget = {"window": 500, "batch_tokens": 1000}
    for options in ({"pooling": "none"}, {"pooling": "mean", "layer": 1}):
        padded = dnabert2.embed(regions, model=tiny_model_dir, **budget, **options)
        packed = dnabert2.embed(regions, model=tiny_model_dir, attention="flex", **budget, **options)
        summary = packed["summary"]
        assert (summary["attention"], summary["packed"], summary["model_calls"]) == ("flex", True, 1)
        assert_same_arrays(padded, packed)
    assert_same_arrays(dnabert2.predict(regions, model=classifier, **budget),
                       dnabert2.predict(regions, model=classifier, attention="flex", **budget))


@needs_flex
def test_flex_score_variants_equal_sdpa(tmp_path, tiny_model_dir):
    padded = variant_run(tmp_path, tiny_model_dir, "llr,emb")
    packed = variant_run(tmp_path, tiny_model_dir, "llr,emb", attention="flex")
    assert packed["variants"]["summary"]["attention"] == "flex" and packed["variants"]["summary"]["packed"]
    assert_same_arrays(padded, packed)
