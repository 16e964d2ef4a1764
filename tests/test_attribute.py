"""`dnabert2 attribute` against plain computations, with tiny random models (fp32, one torch thread).

ism is checked against a loop of `predict` over every mutated sequence (and, for a masked-LM model, against
score-variants --saturate); ig against completeness and a hand-made baseline; the base spreading with a hand-made
tokenizer of known token lengths; --rc-average with a region and its reverse complement; the bigWig tracks,
.npz arrays and logos against the HDF5 file; --resume and --shard against an uninterrupted run.
"""
import json

import h5py
import numpy as np
import pytest
import torch

from conftest import CHR2, assert_same_as_uninterrupted, make_classifier, revcomp, shared_path, sigkill_after_rows

BASES = "ACGT"
SEQ = "GATTACAGCGCGTATAAAGGCTTACCGGATCGATTTGACCA"  # 41 bp


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def scaled_classifier(path, tokenizer_dir, seed, **overrides):
    """A tiny classifier with larger weights than the initialiser's, so that maps are far from 0."""
    return make_classifier(path, tokenizer_dir, seed, scale=4.0, **overrides)


@pytest.fixture(scope="module")
def classifier(tmp_path_factory, reference_tokenizer_dir):
    return scaled_classifier(tmp_path_factory.mktemp("cls3"), reference_tokenizer_dir, 3, num_labels=3,
                           id2label={0: "none", 1: "promoter", 2: "enhancer"})


@pytest.fixture(scope="module")
def binary(tmp_path_factory, reference_tokenizer_dir):
    return scaled_classifier(tmp_path_factory.mktemp("cls2"), reference_tokenizer_dir, 5, num_labels=2)


def region_arrays(result, i, name):
    """Region i's rows of a per-base array of an in-memory result."""
    lo, hi = result["tokens"]["offsets"][i:i + 2]
    return result["tokens"][name][lo:hi]


def logit(p):
    p = np.asarray(p, dtype=np.float64)
    return np.log(p) - np.log1p(-p)


def test_ism_equals_a_predict_loop_over_every_mutated_sequence(classifier):
    import dnabert2

    result = dnabert2.attribute([SEQ], model=classifier, methods="ism", target="promoter", device="cpu",
                                precision="fp32")
    delta = region_arrays(result, 0, "ism_delta")  # [L, 4]
    mutants = [SEQ[:i] + b + SEQ[i + 1:] for i in range(len(SEQ)) for b in BASES if b != SEQ[i]]
    probabilities = dnabert2.predict([SEQ, *mutants], model=classifier, window=1000, device="cpu",
                                     precision="fp32")["probabilities"][:, 1]
    expected = np.zeros((len(SEQ), 4))
    k = 1
    for i in range(len(SEQ)):
        for b in range(4):
            if BASES[b] != SEQ[i]:
                expected[i, b] = logit(probabilities[k]) - logit(probabilities[0])
                k += 1
    assert np.abs(expected).max() > 1e-2  # the map is not trivially 0
    np.testing.assert_allclose(delta, expected, atol=1e-5, rtol=0)
    # the documented derived arrays: hypothetical = delta centred per base, score = the reference base's value
    hypothetical = region_arrays(result, 0, "ism_hypothetical")
    np.testing.assert_allclose(hypothetical, expected - expected.mean(1, keepdims=True), atol=1e-5)
    np.testing.assert_allclose(region_arrays(result, 0, "ism_scores"), -expected.mean(1), atol=1e-5)
    one_hot = region_arrays(result, 0, "one_hot")
    np.testing.assert_allclose(region_arrays(result, 0, "ism_contributions"), one_hot * hypothetical, atol=1e-7)
    assert result["target_value"][0] == pytest.approx(logit(probabilities[0]), abs=1e-5)


def test_ism_of_a_masked_lm_model_is_the_llr_of_score_variants_saturate(tiny_model_dir, tmp_path):
    import dnabert2

    result = dnabert2.attribute([SEQ], model=tiny_model_dir, methods="ism", device="cpu", precision="fp32")
    fasta = tmp_path / "one.fa"
    fasta.write_text(f">one\n{SEQ}\n")
    scores = dnabert2.score_variants(fasta=str(fasta), saturate=True, model=tiny_model_dir, device="cpu",
                                     precision="fp32")
    expected = np.nan_to_num(scores["scores"]["llr"])  # NaN on the reference base
    np.testing.assert_allclose(region_arrays(result, 0, "ism_delta"), expected, atol=1e-6)
    assert np.isnan(result["target_value"][0])


def plain_log_odds(model, embeddings, index):
    """Plain computation: the log-odds of class `index` of a classifier on word embeddings [1, S, H]."""
    with torch.no_grad():
        logits = model(inputs_embeds=embeddings).logits[0].double()
    others = torch.cat([logits[:index], logits[index + 1:]])
    return float(logits[index] - torch.logsumexp(others, 0))


@pytest.mark.parametrize("baseline", ["mask", "mean"])
def test_ig_is_complete_at_64_steps_against_a_plain_baseline(classifier, baseline):
    import dnabert2
    from dnabert2.tokenizer import load_tokenizer

    sequences = [SEQ, SEQ[::-1] + "ACGTTGCA"]
    result = dnabert2.attribute(sequences, model=classifier, methods="ig", target=2, baseline=baseline, steps=64,
                                device="cpu", precision="fp32")
    from dnabert2.model import DNABert2ForSequenceClassification

    tok = load_tokenizer(classifier)
    model = DNABert2ForSequenceClassification.from_pretrained(classifier).eval()
    table = model.bert.embeddings.word_embeddings.weight.detach()
    for i, seq in enumerate(sequences):
        x = table[torch.tensor([tok(seq)["input_ids"]])]  # [1, S, H]
        b = x.clone()
        b[:, 1:-1] = table[tok.mask_token_id] if baseline == "mask" else table[5:].mean(0)  # 5 special tokens
        f_x, f_b = plain_log_odds(model, x, 2), plain_log_odds(model, b, 2)
        total = region_arrays(result, i, "ig_scores").astype(np.float64).sum()
        assert abs(f_x - f_b) > 1e-2
        assert result["target_value"][i] == pytest.approx(f_x, abs=1e-5)
        assert result["baseline_value"][i] == pytest.approx(f_b, abs=1e-5)
        assert abs(total - (f_x - f_b)) <= 0.01 * abs(f_x - f_b)


def hand_made_model(folder):
    """A tiny classifier with a hand-made BPE tokenizer whose tokens have known lengths."""
    from tokenizers import Tokenizer, models, pre_tokenizers, processors

    from dnabert2.model import DNABert2Config, DNABert2ForSequenceClassification
    from dnabert2.tokenizer.bpe import save_tokenizer_folder

    vocab = {t: i for i, t in enumerate(["[UNK]", "[CLS]", "[SEP]", "[PAD]", "[MASK]", "A", "C", "G", "T", "AC",
                                          "ACG", "TT", "TTTT", "GA"])}
    merges = [("A", "C"), ("AC", "G"), ("T", "T"), ("TT", "TT"), ("G", "A")]
    tok = Tokenizer(models.BPE(vocab=vocab, merges=merges, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.post_processor = processors.TemplateProcessing(single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 1),
                                                                                                 ("[SEP]", 2)])
    folder.mkdir()
    save_tokenizer_folder(tok, folder)
    torch.manual_seed(7)
    model = DNABert2ForSequenceClassification(DNABert2Config.from_preset("tiny", vocab_size=len(vocab),
                                                                         num_labels=2)).eval()
    model.save_pretrained(folder)
    return folder


def test_tokens_are_spread_over_the_bases_they_cover(tmp_path):
    import dnabert2
    from dnabert2.interpret.bases import spread
    from dnabert2.tokenizer import load_tokenizer

    folder = hand_made_model(tmp_path / "hand")
    seq = "ACGTTTTACGAT"  # -> ACG TTTT ACG A T: 3, 4, 3, 1 and 1 bases
    tok = load_tokenizer(folder)
    encoded = tok(seq, return_offsets_mapping=True)
    assert tok.convert_ids_to_tokens(encoded["input_ids"][1:-1]) == ["ACG", "TTTT", "ACG", "A", "T"]
    offsets = encoded["offset_mapping"][1:-1]
    np.testing.assert_allclose(spread([3.0, 8.0, 6.0, 5.0, -1.0], offsets, len(seq)),
                               [1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 5, -1])
    np.testing.assert_allclose(spread([3.0, 8.0, 6.0, 5.0, -1.0], offsets, len(seq), "copy"),
                               [3, 3, 3, 8, 8, 8, 8, 6, 6, 6, 5, -1])

    result = dnabert2.attribute([seq], model=folder, methods=["ig", "attention"], device="cpu", precision="fp32")
    spans = [(0, 3), (3, 7), (7, 10), (10, 11), (11, 12)]
    np.testing.assert_array_equal(region_arrays(result, 0, "start"), [a for a, b in spans for _ in range(b - a)])
    np.testing.assert_array_equal(region_arrays(result, 0, "end"), [b for a, b in spans for _ in range(b - a)])
    ig = region_arrays(result, 0, "ig_scores")
    attention = region_arrays(result, 0, "attention_scores")
    # plain attention: the [CLS] row of the last layer, head mean, one weight per token
    from dnabert2.model import DNABert2ForSequenceClassification

    model = DNABert2ForSequenceClassification.from_pretrained(folder).eval()
    with torch.no_grad():
        probs = model(input_ids=torch.tensor([encoded["input_ids"]]), output_attentions=True).attentions[-1]
    weights = probs[0, :, 0, 1:-1].mean(0).numpy()
    for k, (a, b) in enumerate(spans):
        np.testing.assert_allclose(ig[a:b], ig[a], rtol=1e-6)  # one share per base of a token
        np.testing.assert_allclose(attention[a:b], weights[k], rtol=1e-5)  # the token's whole weight per base
    assert ig[3] * 4 == pytest.approx(ig[3:7].sum())


def mirrored(a):
    return a[::-1, ::-1] if a.ndim == 2 else a[::-1]


def test_a_region_and_its_reverse_complement_give_mirrored_maps_with_rc_average(binary):
    import dnabert2

    seq = SEQ + "TTGACAGG"
    methods = ["ism", "ig", "grad-x-input", "attention"]
    result = dnabert2.attribute([seq, revcomp(seq)], model=binary, methods=methods, rc_average=True, steps=16,
                                device="cpu", precision="fp32")
    for name in ("ism_delta", "ism_scores", "ig_scores", "grad_x_input_scores", "attention_scores",
                 "ig_contributions", "ism_hypothetical"):
        forward, reverse = region_arrays(result, 0, name), region_arrays(result, 1, name)
        assert np.abs(forward).max() > 0, name
        np.testing.assert_allclose(forward, mirrored(reverse), atol=1e-5, err_msg=name)
    assert result["target_value"][0] == pytest.approx(result["target_value"][1], abs=1e-6)
    # without --rc-average the two strands differ
    one = dnabert2.attribute([seq, revcomp(seq)], model=binary, methods="ig", steps=16, device="cpu",
                             precision="fp32")
    assert np.abs(region_arrays(one, 0, "ig_scores") - mirrored(region_arrays(one, 1, "ig_scores"))).max() > 1e-4


@pytest.fixture(scope="module")
def chr2():
    return shared_path(*CHR2, "chr2_1-2333275.fa.gz")


def test_bigwig_tracks_read_back_equal_the_file(tmp_path, binary, chr2, run_cli):
    import pyBigWig

    bed = tmp_path / "peaks.bed"
    bed.write_text("chr2\t230000\t230090\tfwd\t0\t+\nchr2\t120000\t120070\trev\t0\t-\nchr2\t1000000\t1000050\n")
    out = tmp_path / "a.h5"
    result = run_cli("attribute", "--bed", bed, "--ref", chr2, "--model", binary, "-o", out, "--method", "ig,ism",
                     "--steps", 8, "--bigwig", tmp_path / "tracks", "--device", "cpu")
    assert result.exit_code == 0, result.stderr
    with h5py.File(out) as f:
        offsets = f["tokens/offsets"][:]
        for method in ("ig", "ism"):
            track = pyBigWig.open(str(tmp_path / "tracks" / f"{method}.bw"))
            assert track.chroms() == {"chr2": 2333275}
            for i in range(3):
                lo, hi = offsets[i:i + 2]
                values = f[f"tokens/{method}_scores"][lo:hi]
                if f["regions/strand"].asstr()[i] == "-":
                    values = values[::-1]
                chrom, start, end = f["regions/chrom"].asstr()[i], f["regions/start"][i], f["regions/end"][i]
                np.testing.assert_allclose(track.values(chrom, int(start), int(end)), values, rtol=1e-6)
            assert np.isnan(track.values("chr2", 119990, 120000)).all()  # no value outside the regions
            track.close()


def test_npz_and_logos_are_written_from_the_file(tmp_path, binary, run_cli):
    fasta = tmp_path / "in.fa"
    fasta.write_text(f">a\n{SEQ}\n>b\n{revcomp(SEQ)}\n")
    out = tmp_path / "a.h5"
    result = run_cli("attribute", "--fasta", fasta, "--model", binary, "-o", out, "--method", "ism",
                     "--method", "attention", "--npz", tmp_path / "npz", "--plot", tmp_path / "logos",
                     "--device", "cpu")
    assert result.exit_code == 0, result.stderr
    ohe = np.load(tmp_path / "npz" / "ohe.npz")["arr_0"]
    ism = np.load(tmp_path / "npz" / "ism.npz")["arr_0"]
    assert ohe.shape == ism.shape == (2, 4, len(SEQ))
    with h5py.File(out) as f:
        np.testing.assert_array_equal(ohe[1].T, f["tokens/one_hot"][len(SEQ):])
        np.testing.assert_array_equal(ism[0].T, f["tokens/ism_hypothetical"][:len(SEQ)])
    assert sorted(p.name for p in (tmp_path / "logos").iterdir()) == ["00000_a.png", "00001_b.png"]
    assert sorted(p.name for p in (tmp_path / "npz").iterdir()) == ["attention.npz", "ism.npz", "ohe.npz"]


def test_resume_after_a_kill_and_shards_give_the_uninterrupted_file(tmp_path, binary, run_cli):
    from dnabert2.regions.merging import merge

    rng = np.random.default_rng(4)
    fasta = tmp_path / "many.fa"
    fasta.write_text("".join(f">r{i}\n{''.join(rng.choice(list(BASES), 150))}\n" for i in range(40)))
    out = tmp_path / "out.h5"
    args = ["attribute", "--fasta", fasta, "--model", binary, "-o", out, "--method", "ig,attention", "--steps", 8,
            "--device", "cpu", "--threads", 1, "-q"]
    done, total = sigkill_after_rows(args, tmp_path / "out.partial.h5", 3)
    assert 3 <= done < total == 40
    result = run_cli(*args, "--resume")
    assert result.exit_code == 0, result.stderr
    with h5py.File(out) as f:
        assert f.attrs["resumed"] == 1
    whole = [*args[:6], tmp_path / "whole.h5", *args[7:]]
    assert_same_as_uninterrupted(run_cli, out, whole)
    for k in range(2):
        assert run_cli(*whole[:6], tmp_path / f"s{k}.h5", *whole[7:], "--shard", f"{k}/2").exit_code == 0
    merge([tmp_path / "s0.h5", tmp_path / "s1.h5"], tmp_path / "merged.h5")
    with h5py.File(tmp_path / "merged.h5") as a, h5py.File(tmp_path / "whole.h5") as b:
        for name in ("tokens/ig_scores", "tokens/offsets", "tokens/attention_contributions", "target_value"):
            np.testing.assert_array_equal(a[name][:], b[name][:], err_msg=name)
        assert json.loads(a.attrs["methods"]) == ["ig", "attention"]


def test_a_regressor_is_explained_by_its_value(tmp_path, reference_tokenizer_dir):
    import dnabert2
    from dnabert2.model import DNABert2ForSequenceClassification
    from dnabert2.tokenizer import load_tokenizer

    folder = scaled_classifier(tmp_path / "reg", reference_tokenizer_dir, 9, num_labels=1, problem_type="regression")
    result = dnabert2.attribute([SEQ], model=folder, methods="ig", device="cpu", precision="fp32")
    model = DNABert2ForSequenceClassification.from_pretrained(folder).eval()
    with torch.no_grad():
        value = float(model(input_ids=torch.tensor([load_tokenizer(folder)(SEQ)["input_ids"]])).logits[0, 0])
    assert result["target_value"][0] == pytest.approx(value, abs=1e-5)
    gap = result["target_value"][0] - result["baseline_value"][0]
    assert abs(region_arrays(result, 0, "ig_scores").sum() - gap) <= 0.01 * abs(gap)
