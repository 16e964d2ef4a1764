"""`dnabert2 score-variants` with tiny random models on real sequence (the Kircher et al. 2019 MPRA elements).

Every score is compared with a plain computation written here: cut the windows by hand, tokenise each with the
released tokenizer, find the changed tokens by comparing the two tokenisations token by token, then mask each
one in its own model call (batch of one, the full masked-LM output) and sum the log-probabilities.
"""
import gzip
import subprocess
import sys

import h5py
import numpy as np
import pytest
import torch

from conftest import REPO, assert_same_as_uninterrupted, revcomp, shared_path, sigkill_after_rows
from conftest import h5_datasets as datasets

KIRCHER = ("variants", "kircher2019_satmut_mpra")
HEADER = "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def elements():
    """{name: sequence} of the MPRA elements (real human promoters and enhancers, 187-601 bp)."""
    import pysam

    with pysam.FastaFile(str(shared_path(*KIRCHER, "elements_grch37.fa"))) as fa:
        return {name: fa.fetch(name) for name in fa.references}


def write_fasta(path, records):
    """A FASTA file with its .fai index (made here, so that the runs write nothing beside their outputs)."""
    import pysam

    path.write_text("".join(f">{name}\n{seq}\n" for name, seq in records.items()))
    pysam.faidx(str(path))
    return path


def write_vcf(path, rows, header=HEADER):
    """rows: (chrom, pos, ref, alt) or full 8-column tuples."""
    lines = [r if isinstance(r, str) else "\t".join(map(str, r if len(r) == 8 else (r[0], r[1], ".", r[2], r[3],
                                                                                   ".", ".", "."))) for r in rows]
    path.write_text(header + "".join(line + "\n" for line in lines))
    return path


def text(values):
    return [v.decode() if isinstance(v, bytes) else str(v) for v in values]


@pytest.fixture(scope="module")
def plain(tiny_model_dir, reference_tokenizer_dir):
    """The plain reference: llr and mean embedding of windows, one model call per masked token."""
    from transformers import PreTrainedTokenizerFast

    from dnabert2.model import DNABert2ForMaskedLM

    tok = PreTrainedTokenizerFast(tokenizer_file=str(reference_tokenizer_dir / "tokenizer.json"), unk_token="[UNK]",
                                  cls_token="[CLS]", sep_token="[SEP]", pad_token="[PAD]", mask_token="[MASK]")
    model = DNABert2ForMaskedLM.from_pretrained(tiny_model_dir).eval()
    return Plain(tok, model)


class Plain:
    def __init__(self, tok, model):
        self.tok, self.model = tok, model

    def encode(self, seq):
        enc = self.tok(seq, return_offsets_mapping=True)
        return enc["input_ids"], [tuple(o) for o in enc["offset_mapping"][1:-1]]

    def changed(self, ref, alt, flank):
        """(REF token indices, ALT token indices) to mask: the hull of the tokens without an equal partner, + flank."""
        ref_ids, ref_off = self.encode(ref)
        alt_ids, alt_off = self.encode(alt)
        shortest = min(len(ref), len(alt))
        p = next((i for i in range(shortest) if ref[i] != alt[i]), shortest)
        s = next((i for i in range(shortest - p) if ref[-1 - i] != alt[-1 - i]), shortest - p)
        shift = len(alt) - len(ref)

        def is_shared(k, offs, ids, other_offs, other_ids, length, sign):
            a, b = offs[k]
            if b <= p:
                partner = (a, b)
            elif a >= length - s:
                partner = (a + sign * shift, b + sign * shift)
            else:
                return False
            return any(o == partner and other_ids[j + 1] == ids[k + 1] for j, o in enumerate(other_offs))

        spans = []
        for offs, ids, other_offs, other_ids, length, sign in ((ref_off, ref_ids, alt_off, alt_ids, len(ref), 1),
                                                               (alt_off, alt_ids, ref_off, ref_ids, len(alt), -1)):
            changed = [k for k in range(len(offs)) if not is_shared(k, offs, ids, other_offs, other_ids, length, sign)]
            if changed:
                lo, hi = changed[0], changed[-1] + 1
            else:
                lo = hi = sum(1 for a, b in offs if b <= p)
            spans.append((ids, range(max(0, lo - flank), min(len(offs), hi + flank))))
        return spans

    def masked_input(self, ids, k):
        """The ids the model sees when real token k is masked."""
        ids = list(ids)
        ids[k + 1] = self.tok.mask_token_id
        return tuple(ids)

    def logp(self, ids, k):
        target = ids[k + 1]
        ids = list(self.masked_input(ids, k))
        with torch.no_grad():
            logits = self.model(input_ids=torch.tensor([ids])).logits[0, k + 1]
        return float(torch.log_softmax(logits.double(), -1)[target])

    def llr(self, ref, alt, flank=1):
        (ref_ids, ref_k), (alt_ids, alt_k) = self.changed(ref, alt, flank)
        return sum(self.logp(alt_ids, k) for k in alt_k) - sum(self.logp(ref_ids, k) for k in ref_k)

    def mean(self, seq):
        ids, _ = self.encode(seq)
        with torch.no_grad():
            h = self.model.bert(input_ids=torch.tensor([ids])).last_hidden_state[0, 1:-1]
        return h.double().mean(0).numpy()


def window_bounds(length, pos, ref_length, context, step=32):
    """(lo, hi, clipped) of the REF window of an allele (1-based pos) worked out by hand (docs/commands/
    score-variants.md): context // 2 * 2 + len(REF) bp, one more when that and the contig's length differ in
    parity; its middle the point length / 2 + j * step nearest the allele's middle (ties: the one nearer the
    contig's middle); step at most context // 2, 0: centred on the allele; clipped at the ends."""
    half, start = context // 2, pos - 1
    step = min(step, half)
    size = 2 * half + ref_length + ((length - ref_length) % 2 if step else 0)
    middle = start + ref_length / 2
    if step:
        best = min(range(-length, length + 1), key=lambda j: (abs(length / 2 + j * step - middle), abs(j)))
        lo = round(length / 2 + best * step - size / 2)
    else:
        lo = start - half
    return max(0, lo), min(length, lo + size), lo < 0 or lo + size > length


def windows(seq, pos, ref, alt, context, step=32):
    """The REF and ALT windows of a variant (1-based pos) cut by hand."""
    start = pos - 1
    lo, hi, _ = window_bounds(len(seq), pos, len(ref), context, step)
    ref_w = seq[lo:hi].upper()
    return ref_w, ref_w[:start - lo] + alt + ref_w[start - lo + len(ref):]


def expected_llr(plain, seq, pos, ref, alt, context, rc_average=False, flank=1, step=32):
    ref_w, alt_w = windows(seq, pos, ref, alt, context, step)
    score = plain.llr(ref_w, alt_w, flank)
    if rc_average:
        score = (score + plain.llr(revcomp(ref_w), revcomp(alt_w), flank)) / 2
    return score


# SNVs, insertions, deletions and an MNP, at the very start, the very end and inside, on two elements
VARIANTS = [("F9", 1, None, "A"), ("F9", 2, None, "AGT"), ("F9", 3, 3, "-"), ("F9", 40, None, "T"),
            ("F9", 41, None, "ACGTTGCA"), ("F9", 60, 4, "-"), ("F9", 150, 2, "GC"), ("F9", 301, None, "C"),
            ("F9", 302, 2, "-"), ("F9", 303, None, "G"), ("HBB", 90, None, "C"), ("HBB", 91, 6, "-"),
            ("HBB", 186, None, "TTTTTTT")]


def variant_rows(elements, variants):
    """(chrom, pos, REF, ALT) from (chrom, pos, REF length or None for an SNV/insertion, ALT or '-' = deletion)."""
    rows = []
    for chrom, pos, ref_len, alt in variants:
        seq = elements[chrom]
        ref = seq[pos - 1:pos - 1 + (ref_len or 1)]
        if alt == "-":
            alt = ref[0]  # a deletion anchored on its first base
        elif ref_len is None and len(alt) > 1:
            alt = ref + alt  # an insertion after the anchor base
        elif ref_len is None and alt == ref:
            alt = "ACGT"[("ACGT".index(ref.upper()) + 1) % 4]
        rows.append((chrom, pos, ref, alt))
    return rows


@pytest.mark.parametrize("rc_average", [False, True])
@pytest.mark.parametrize("step", [None, 0, 7])  # the default grid (32, taken as 30 at --context 60), centred, 7 bp
def test_llr_equals_a_plain_per_token_computation(tmp_path, elements, plain, tiny_model_dir, run_cli, rc_average,
                                                  step):
    ref = write_fasta(tmp_path / "ref.fa", {k: elements[k] for k in ("F9", "HBB")})
    rows = variant_rows(elements, VARIANTS)
    vcf = write_vcf(tmp_path / "v.vcf", rows)
    out = tmp_path / "s.h5"
    result = run_cli("score-variants", "--vcf", vcf, "--ref", ref, "--model", tiny_model_dir, "-o", out,
                     "--context", 60, "--batch-tokens", 300, "-q", *(["--rc-average"] if rc_average else []),
                     *(["--window-step", step] if step is not None else []))
    assert result.exit_code == 0, result.output
    got = datasets(out)
    step = 32 if step is None else step
    statuses = ["near_end" if window_bounds(len(elements[c]), p, len(r), 60, step)[2] else "ok" for c, p, r, _ in rows]
    assert text(got["variants/status"]) == statuses and {"ok", "near_end"} == set(statuses)
    for i, (chrom, pos, r, a) in enumerate(rows):
        want = expected_llr(plain, elements[chrom], pos, r, a, 60, rc_average, step=step)
        assert got["scores/llr"][i] == pytest.approx(want, abs=1e-5), (chrom, pos, r, a)
    assert (got["variants/n_masked_ref"] >= 1).all() and (got["variants/n_masked_alt"] >= 1).all()


@pytest.mark.parametrize("length,context,step", [(1000, 300, 32), (331, 300, 32), (400, 60, 7), (97, 40, 32)])
def test_ref_windows_sit_on_a_grid_symmetric_about_the_contig_middle(length, context, step):
    from dnabert2.variants.windows import place

    half, usable = context // 2, min(step, context // 2)
    for n in (1, 2, 6):
        spans = set()
        for a in range(length - n + 1):
            w = place(a, n, length, context, step)
            assert (w.start, w.end, w.clipped) == window_bounds(length, a + 1, n, context, step)
            assert w.offset == a - w.start and w.start <= a and a + n <= w.end
            if not w.clipped:
                assert min(a - w.start, w.end - a - n) >= half - usable / 2
                assert w.end - w.start in (2 * half + n, 2 * half + n + 1)
            mirror = place(length - a - n, n, length, context, step)  # the allele on the reverse complement
            assert (mirror.start, mirror.end, mirror.clipped) == (length - w.end, length - w.start, w.clipped)
            centred = place(a, n, length, context, 0)
            assert (centred.start, centred.end) == (max(0, a - half), min(length, a + n + half))
            spans.add((w.start, w.end))
        assert len(spans) <= length // usable + 2  # nearby alleles of one length share their window


def test_a_variant_on_the_reverse_complemented_reference_gets_the_same_rc_average_score(tmp_path, elements,
                                                                                        tiny_model_dir, run_cli):
    seq = elements["HNF4A"]
    ref = write_fasta(tmp_path / "ref.fa", {"fwd": seq, "rev": revcomp(seq.upper())})
    rows = variant_rows({"fwd": seq}, [("fwd", 5, None, "G"), ("fwd", 100, 3, "-"), ("fwd", 101, None, "CAT"),
                                       ("fwd", 200, None, "A"), ("fwd", 280, 2, "TA")])
    mirrored = [("rev", len(seq) - (p - 1) - len(r) + 1, revcomp(r.upper()), revcomp(a)) for _, p, r, a in rows]
    vcf = write_vcf(tmp_path / "v.vcf", rows + mirrored)
    scores = {}
    for extra in ([], ["--rc-average"]):
        out = tmp_path / f"s{len(extra)}.h5"
        result = run_cli("score-variants", "--vcf", vcf, "--ref", ref, "--model", tiny_model_dir, "-o", out,
                         "--context", 80, "--method", "llr,emb", "-q", *extra)
        assert result.exit_code == 0, result.output
        scores[bool(extra)] = datasets(out)
    n = len(rows)
    for name in ("scores/llr", "scores/emb_cos", "scores/emb_l2"):
        both = scores[True][name]
        np.testing.assert_allclose(both[:n], both[n:], rtol=1e-5, atol=1e-6, err_msg=name)
        one = scores[False][name]
        assert not np.allclose(one[:n], one[n:], rtol=1e-3, atol=1e-5), name  # one strand alone differs
        np.testing.assert_allclose(both[:n], (one[:n] + one[n:]) / 2, rtol=1e-5, atol=1e-6, err_msg=name)


def test_emb_is_the_distance_of_the_mean_embeddings(tmp_path, elements, plain, tiny_model_dir, run_cli):
    ref = write_fasta(tmp_path / "ref.fa", {"IRF4": elements["IRF4"]})
    rows = variant_rows(elements, [("IRF4", 200, None, "A"), ("IRF4", 10, 2, "-"), ("IRF4", 300, None, "GGG")])
    out = tmp_path / "s.h5"
    result = run_cli("score-variants", "--vcf", write_vcf(tmp_path / "v.vcf", rows), "--ref", ref, "--model",
                     tiny_model_dir, "-o", out, "--method", "emb", "-q")
    assert result.exit_code == 0, result.output
    got = datasets(out)
    assert "scores/llr" not in got
    for i, (chrom, pos, r, a) in enumerate(rows):
        ref_w, alt_w = windows(elements[chrom], pos, r, a, 300)
        m_ref, m_alt = plain.mean(ref_w), plain.mean(alt_w)
        cosine = m_ref @ m_alt / np.linalg.norm(m_ref) / np.linalg.norm(m_alt)
        assert got["scores/emb_cos"][i] == pytest.approx(1 - cosine, abs=1e-6)
        assert got["scores/emb_l2"][i] == pytest.approx(np.linalg.norm(m_alt - m_ref), rel=1e-4, abs=1e-6)


def other(base, k=1):
    return "ACGT"[("ACGT".index(base.upper()) + k) % 4]


def test_statuses_split_alts_table_and_annotated_vcf(tmp_path, elements, tiny_model_dir, run_cli):
    import pysam

    seq = elements["HBB"]
    seq = seq[:140] + "NNNNN" + seq[145:160].lower() + seq[160:]  # N and soft-masked bases in the reference
    ref = write_fasta(tmp_path / "ref.fa", {"HBB": seq})
    records = [
        ("HBB", 55, "rs1", seq[54], f"{other(seq[54])},{other(seq[54], 2)},<DEL>", ".", ".", "X=1"),  # 3 ALTs
        ("HBB", 60, ".", "".join(other(c) for c in seq[59:63]), "A", ".", "PASS", "."),  # REF is not the reference
        ("HBB", 70, ".", seq[69].lower(), other(seq[69]), ".", ".", "."),  # lower-case REF, upper-case reference
        ("HBB", 100, ".", seq[99], "*", ".", ".", "."),  # spanning deletion
        ("HBB", 120, ".", seq[119:180], seq[119], ".", ".", "."),  # a 60 bp deletion
        ("HBB", 152, "low", seq[151].upper(), "T", ".", ".", "."),  # lower-case reference, N in the context
        ("HBB", 185, ".", seq[184], f"{seq[184]}[chr9:100[", ".", ".", "."),  # breakend, near the end
        ("HBB", 186, ".", seq[185], other(seq[185]), ".", ".", "."),  # near the end
        ("HBB", 187, ".", seq[186], ".", ".", ".", "."),  # no ALT
        ("chrX", 5, ".", "A", "C", ".", ".", "."),  # a contig the reference lacks
    ]
    vcf = write_vcf(tmp_path / "v.vcf", records)
    out, tsv, annotated = tmp_path / "s.h5", tmp_path / "s.tsv", tmp_path / "s.vcf.gz"
    result = run_cli("score-variants", "--vcf", vcf, "--ref", ref, "--model", tiny_model_dir, "-o", out, "--tsv",
                     tsv, "--out-vcf", annotated, "--context", 60)
    assert result.exit_code == 0, result.output
    statuses = ["ok", "ok", "symbolic", "ref_mismatch", "ok", "symbolic", "too_long", "ok", "symbolic", "near_end",
                "symbolic", "unknown_chrom"]
    assert "Scored 12 variants" in result.output
    got = datasets(out)
    assert text(got["variants/status"]) == statuses
    assert got["variants/record"].tolist() == [1, 1, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
    assert got["variants/alt_index"].tolist() == [0, 1, 2] + [0] * 9
    assert text(got["variants/alt"])[:3] == records[0][4].split(",")
    scored = np.isin(statuses, ["ok", "near_end"])
    assert np.isfinite(got["scores/llr"][scored]).all() and np.isnan(got["scores/llr"][~scored]).all()
    assert got["variants/n_unknown_tokens"].tolist()[:8] == [0, 0, 0, 0, 0, 0, 0, 5]
    lines = tsv.read_text().splitlines()
    assert lines[0] == "chrom\tpos\tid\tref\talt\tstatus\tllr" and len(lines) == 13
    assert lines[4].split("\t")[-2:] == ["ref_mismatch", ""]
    assert float(lines[1].split("\t")[-1]) == pytest.approx(got["scores/llr"][0], rel=1e-5)
    with pysam.VariantFile(str(annotated)) as vf:  # bgzipped and tabix-indexed: a region query works
        assert "DNABERT2_LLR" in vf.header.info and vf.header.info["DNABERT2_LLR"].number == "A"
        hits = list(vf.fetch("HBB", 50, 58))
        assert [h.pos for h in hits] == [55] and hits[0].info["X"] == "1"
        assert hits[0].info["DNABERT2_STATUS"] == ("ok", "ok", "symbolic")
        assert hits[0].info["DNABERT2_LLR"][2] is None
        assert hits[0].info["DNABERT2_LLR"][0] == pytest.approx(got["scores/llr"][0], rel=1e-5)
        assert len(list(vf.fetch())) == 10  # every record, none dropped


def test_delta_of_a_fine_tuned_model(tmp_path, elements, reference_tokenizer_dir, run_cli):
    from dnabert2.model import DNABert2Config, DNABert2ForSequenceClassification
    from dnabert2.tokenizer import load_tokenizer

    torch.manual_seed(3)
    model = DNABert2ForSequenceClassification(DNABert2Config.from_preset(
        "tiny", num_labels=2, id2label={0: "other", 1: "promoter"})).eval()
    folder = tmp_path / "cls"
    model.save_pretrained(folder)
    load_tokenizer(reference_tokenizer_dir).save_pretrained(folder)
    ref = write_fasta(tmp_path / "ref.fa", {"LDLR": elements["LDLR"]})
    rows = variant_rows(elements, [("LDLR", 150, None, "A"), ("LDLR", 151, 3, "-")])
    vcf = write_vcf(tmp_path / "v.vcf", rows)
    out = tmp_path / "s.h5"
    result = run_cli("score-variants", "--vcf", vcf, "--ref", ref, "--model", folder, "-o", out, "-q",
                     "--tsv", tmp_path / "s.tsv")
    assert result.exit_code == 0, result.output
    got = datasets(out)
    assert sorted(k for k in got if k.startswith("scores/")) == ["scores/delta_logit", "scores/delta_prob"]
    tok = load_tokenizer(folder)
    for i, (chrom, pos, r, a) in enumerate(rows):
        ref_w, alt_w = windows(elements[chrom], pos, r, a, 300)
        with torch.no_grad():
            logits = [model(input_ids=torch.tensor([tok(w)["input_ids"]])).logits[0].double() for w in (ref_w, alt_w)]
        np.testing.assert_allclose(got["scores/delta_logit"][i], (logits[1] - logits[0]).numpy(), atol=1e-5)
        probs = [torch.softmax(x, -1) for x in logits]
        np.testing.assert_allclose(got["scores/delta_prob"][i], (probs[1] - probs[0]).numpy(), atol=1e-6)
    header = (tmp_path / "s.tsv").read_text().splitlines()[0].split("\t")
    assert header[6:] == ["delta_prob_other", "delta_prob_promoter", "delta_logit_other", "delta_logit_promoter"]
    wrong = run_cli("score-variants", "--vcf", vcf, "--ref", ref, "--model", folder, "-o", tmp_path / "x.h5",
                    "--method", "llr")
    assert wrong.exit_code == 2 and "--method llr needs a masked-LM model" in wrong.output


def test_saturation_matrix_reuses_the_ref_and_draws_maps(tmp_path, elements, plain, tiny_model_dir, run_cli):
    seqs = {"a": elements["TERT-HEK"][:30], "b": elements["HBB"][:24].lower() + "N"}
    fasta = write_fasta(tmp_path / "regions.fa", seqs)
    out, tsv, maps = tmp_path / "sat.h5", tmp_path / "sat.tsv", tmp_path / "maps"
    result = run_cli("score-variants", "--saturate", "--fasta", fasta, "--model", tiny_model_dir, "-o", out,
                     "--tsv", tsv, "--plot", maps, "--lookahead", 16)
    assert result.exit_code == 0, result.output
    assert "Saturated 55 sites (166 SNVs)" in result.output  # 30 * 3 + 24 * 3 + 4 (N becomes A, C, G and T)
    got = datasets(out)
    assert got["scores/llr"].shape == (55, 4)
    assert got["sites/region"].tolist() == [0] * 30 + [1] * 25 and got["sites/offset"][30] == 0
    most = fewest = 0  # model rows with the REF region's masked copies run once; with each distinct input once
    for r, (name, seq) in enumerate(seqs.items()):
        seq = seq.upper()
        matrix = got["scores/llr"][got["sites/region"] == r]
        masked_ref, inputs = set(), set()
        for i, base in enumerate(seq):
            for b, new in enumerate("ACGT"):
                if new == base:
                    assert np.isnan(matrix[i, b])
                    continue
                alt = seq[:i] + new + seq[i + 1:]
                assert matrix[i, b] == pytest.approx(plain.llr(seq, alt), abs=1e-5), (name, i, new)
                (ref_ids, ref_k), (alt_ids, alt_k) = plain.changed(seq, alt, 1)
                masked_ref |= set(ref_k)
                most += len(alt_k)
                inputs |= {plain.masked_input(ids, k) for ids, ks in ((ref_ids, ref_k), (alt_ids, alt_k)) for k in ks}
        most += len(masked_ref)  # each masked REF token of the region runs once
        fewest += len(inputs)
    rows = int(result.output.split(" model rows")[0].split()[-1].replace(",", ""))
    assert fewest < most and fewest <= rows < most  # SNVs inside one token: the ALT copy is the REF copy
    assert len(tsv.read_text().splitlines()) == 1 + 166
    assert sorted(p.name for p in maps.iterdir()) == ["00000_a.png", "00001_b.png"]
    assert (maps / "00000_a.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_saturation_of_a_minus_strand_region_and_plain_passes_run_the_ref_once(tmp_path, elements, tiny_model_dir,
                                                                              run_cli, plain):
    ref = write_fasta(tmp_path / "ref.fa", {"UC88": elements["UC88"]})
    bed = tmp_path / "r.bed"
    bed.write_text("UC88\t100\t120\tminus\t0\t-\n")
    out = tmp_path / "sat.h5"
    result = run_cli("score-variants", "--saturate", "--bed", bed, "--ref", ref, "--model", tiny_model_dir, "-o",
                     out, "--method", "emb")
    assert result.exit_code == 0, result.output
    assert "61 model rows" in result.output  # the REF region once, then each of the 60 SNVs
    got = datasets(out)
    seq = revcomp(elements["UC88"][100:120].upper())
    assert "".join(text(got["sites/ref"])) == seq
    assert got["sites/pos"].tolist() == list(range(120, 100, -1))  # 1-based genomic position of each base
    i, b = 3, "ACGT".index("ACGT"[("ACGT".index(seq[3]) + 1) % 4])
    alt = seq[:i] + "ACGT"[b] + seq[i + 1:]
    m_ref, m_alt = plain.mean(seq), plain.mean(alt)
    assert got["scores/emb_l2"][i, b] == pytest.approx(np.linalg.norm(m_alt - m_ref), rel=1e-4)


def test_library_call_returns_arrays(elements, tiny_model_dir, tmp_path):
    import dnabert2

    ref = write_fasta(tmp_path / "ref.fa", {"F9": elements["F9"]})
    vcf = write_vcf(tmp_path / "v.vcf", variant_rows(elements, [("F9", 100, None, "A"), ("F9", 120, None, "C")]))
    result = dnabert2.score_variants(vcf, ref=ref, model=tiny_model_dir, methods="llr,emb")
    assert sorted(result["scores"]) == ["emb_cos", "emb_l2", "llr"]
    assert result["variants"]["pos"].tolist() == [100, 120] and result["summary"]["rows_done"] == 2


def kircher_args(tmp_path, model, out, *extra):
    vcf = tmp_path / "kircher.vcf"
    if not vcf.exists():
        with gzip.open(shared_path(*KIRCHER, "kircher2019_grch37_elements.vcf.gz"), "rt") as fh:
            lines = fh.readlines()
        header = [x for x in lines if x.startswith("#")]
        vcf.write_text("".join(header + [x for x in lines if x.startswith("HBB\t")][:240]))
    return ["score-variants", "--vcf", str(vcf), "--ref", str(shared_path(*KIRCHER, "elements_grch37.fa")),
            "--model", str(model), "-o", str(out), "--context", "40", "--lookahead", "4", "--batch-tokens", "64",
            "--threads", "1", "-q", *map(str, extra)]


def test_sigkill_then_resume_equals_an_uninterrupted_run(tmp_path, tiny_model_dir, run_cli):
    out, partial = tmp_path / "run.h5", tmp_path / "run.partial.h5"
    done, total = sigkill_after_rows(kircher_args(tmp_path, tiny_model_dir, out), partial, 40)
    assert 40 <= done < total == 240 and not out.exists()
    resumed = subprocess.run([sys.executable, "-m", "dnabert2", *kircher_args(tmp_path, tiny_model_dir, out,
                                                                              "--resume")],
                             cwd=REPO, capture_output=True, text=True, timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    assert not partial.exists()
    assert_same_as_uninterrupted(run_cli, out, kircher_args(tmp_path, tiny_model_dir, tmp_path / "whole.h5"))
    with h5py.File(out, "r") as f:
        assert f.attrs["resumed"] == 1 and f.attrs["kind"] == "score-variants"


def test_shards_merged_equal_one_run(tmp_path, tiny_model_dir, run_cli):
    one, s0, s1, merged = (tmp_path / f"{n}.h5" for n in ("one", "s0", "s1", "merged"))
    assert run_cli(*kircher_args(tmp_path, tiny_model_dir, one)).exit_code == 0
    for k, path in ((0, s0), (1, s1)):
        assert run_cli(*kircher_args(tmp_path, tiny_model_dir, path, "--shard", f"{k}/2")).exit_code == 0
    result = run_cli("merge", s1, s0, "-o", merged)
    assert result.exit_code == 0, result.output
    a, b = datasets(one), datasets(merged)
    assert a.keys() == b.keys()
    for name in a:
        if name.startswith("scores/"):
            np.testing.assert_allclose(a[name], b[name], rtol=1e-5, atol=1e-6, err_msg=name)
        else:
            np.testing.assert_array_equal(a[name], b[name], err_msg=name)
    from dnabert2.variants.vcf_out import write_vcf

    vcf = kircher_args(tmp_path, tiny_model_dir, one)[2]
    write_vcf(merged, vcf, tmp_path / "merged.vcf.gz")  # the annotated VCF of a sharded run, from the merged file
    with gzip.open(tmp_path / "merged.vcf.gz", "rt") as fh:
        lines = [x for x in fh if not x.startswith("#")]
    assert len(lines) == 240 and all("DNABERT2_LLR=" in x and "COEF=" in x for x in lines)


def ten_thousand(elements):
    """10,000 sorted SNVs along BCL11A (600 bp): several per position."""
    seq = elements["BCL11A"]
    return [("BCL11A", 1 + i * 600 // 10_000, seq[i * 600 // 10_000], other(seq[i * 600 // 10_000], 1 + i % 3))
            for i in range(10_000)]


@pytest.mark.parametrize("case, message", [
    ("not_vcf", "v.vcf: not a VCF file: the header is missing"),
    ("broken_last", "v.vcf: line 10003: 3 columns, a VCF record needs at least 8"),
    ("bad_alt", "v.vcf: line 5: ALT allele 'AZ' holds 'Z', not DNA letters"),
    ("unsorted", "v.vcf: line 5: BCL11A:5 comes after BCL11A:12; --out-vcf writes a tabix-indexed VCF"),
    ("empty", "v.vcf: no variants in this file"),
    ("no_ref", "the variants need the reference genome"),
    ("bad_name", "--out-vcf out.vcf: the annotated VCF is bgzipped"),
    ("missing", "--vcf nothing.vcf: VCF file not found"),
])
def test_bad_input_exits_2_naming_file_and_line_and_leaves_nothing(tmp_path, elements, tiny_model_dir, run_cli,
                                                                  case, message):
    ref = write_fasta(tmp_path / "ref.fa", {"BCL11A": elements["BCL11A"]})
    vcf = tmp_path / "v.vcf"
    good = [("BCL11A", 9, elements["BCL11A"][8], "A"), ("BCL11A", 12, elements["BCL11A"][11], "C")]
    if case == "not_vcf":
        vcf.write_text("this is a table\nwith two lines\n")
    elif case == "broken_last":
        write_vcf(vcf, ten_thousand(elements))
        with open(vcf, "a") as fh:
            fh.write("BCL11A\t17\t.\n")
    elif case == "bad_alt":
        write_vcf(vcf, good + [("BCL11A", 20, elements["BCL11A"][19], "AZ")])
    elif case == "unsorted":
        write_vcf(vcf, good + [("BCL11A", 5, elements["BCL11A"][4], "A")])
    elif case == "empty":
        write_vcf(vcf, [])
    else:
        write_vcf(vcf, good)
    args = {"no_ref": ["--vcf", vcf], "missing": ["--vcf", "nothing.vcf", "--ref", ref]}.get(case, ["--vcf", vcf,
                                                                                                  "--ref", ref])
    out_vcf = "out.vcf" if case == "bad_name" else tmp_path / "out.vcf.gz"
    before = sorted(p.name for p in tmp_path.iterdir())
    result = run_cli("score-variants", *args, "--model", tiny_model_dir, "-o", tmp_path / "s.h5", "--tsv",
                     tmp_path / "s.tsv", "--out-vcf", out_vcf)
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_ten_thousand_variants_with_ref_mismatches_and_unknown_contigs_get_a_status_each(tmp_path, elements,
                                                                                      tiny_model_dir, run_cli):
    """Bad rows of a good file are reported, not fatal: scored only where they can be (here: none, to stay fast)."""
    rows = ten_thousand(elements)
    rows = [(c if i % 2 else "chr2", p, r if i % 3 else "G" if r != "G" else "T", a) for i, (c, p, r, a) in
            enumerate(rows)]
    rows = [row for row in rows if row[0] == "chr2" or row[2] != elements["BCL11A"][row[1] - 1]]
    ref = write_fasta(tmp_path / "ref.fa", {"BCL11A": elements["BCL11A"]})
    out = tmp_path / "s.h5"
    result = run_cli("score-variants", "--vcf", write_vcf(tmp_path / "v.vcf", rows), "--ref", ref, "--model",
                     tiny_model_dir, "-o", out)
    assert result.exit_code == 0, result.output
    statuses = text(datasets(out)["variants/status"])
    assert len(statuses) == len(rows) > 6000
    assert set(statuses) == {"ref_mismatch", "unknown_chrom"}
    assert statuses[:3] == ["unknown_chrom", "unknown_chrom", "ref_mismatch"]


def test_bcf_bgzipped_and_plain_gzip_vcf_give_the_same_rows(tmp_path, elements, tiny_model_dir, run_cli):
    """A VCF compressed with plain `gzip` (not bgzip: htslib cannot seek in it) is read as a stream: the same
    rows, scores and annotated VCF as the bgzipped one."""
    import pysam

    from dnabert2.regions.refindex import compression

    ref = write_fasta(tmp_path / "ref.fa", {"F9": elements["F9"]})
    header = HEADER.replace("#CHROM", f"##contig=<ID=F9,length={len(elements['F9'])}>\n#CHROM")
    plain = write_vcf(tmp_path / "v.vcf", variant_rows(elements, [("F9", 100, None, "A"), ("F9", 120, 2, "-")]),
                      header)
    (tmp_path / "g.vcf.gz").write_bytes(gzip.compress(plain.read_bytes()))
    assert compression(tmp_path / "g.vcf.gz") == "gzip"
    files = {}
    for name, mode in (("v.vcf", None), ("v.vcf.gz", "wz"), ("v.bcf", "wb"), ("g.vcf.gz", None)):
        path = tmp_path / name
        if mode:
            with pysam.VariantFile(str(plain)) as src, pysam.VariantFile(str(path), mode, header=src.header) as out:
                for rec in src:
                    out.write(rec)
        result = run_cli("score-variants", "--vcf", path, "--ref", ref, "--model", tiny_model_dir, "-o",
                         tmp_path / f"{name}.h5", "--out-vcf", tmp_path / f"{name}.out.vcf.gz", "-q")
        assert result.exit_code == 0, result.output
        files[name] = datasets(tmp_path / f"{name}.h5")
    for name in ("v.vcf.gz", "v.bcf", "g.vcf.gz"):
        assert files[name].keys() == files["v.vcf"].keys()
        for dataset in files[name]:
            np.testing.assert_array_equal(files[name][dataset], files["v.vcf"][dataset], err_msg=dataset)
    assert not np.isnan(files["g.vcf.gz"]["scores/llr"]).any()
    with gzip.open(tmp_path / "g.vcf.gz.out.vcf.gz", "rt") as a, gzip.open(tmp_path / "v.vcf.gz.out.vcf.gz", "rt") as b:
        assert a.read() == b.read()


def test_tsv_dash_writes_the_table_on_standard_output(tmp_path, elements, tiny_model_dir, run_cli, monkeypatch):
    """`--tsv -` as predict's: the table on stdout (to pipe it), the same as --tsv FILE; the summary on stderr."""
    ref = write_fasta(tmp_path / "ref.fa", {"F9": elements["F9"]})
    vcf = write_vcf(tmp_path / "v.vcf", variant_rows(elements, [("F9", 100, None, "A"), ("F9", 120, 2, "-")]))
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    args = ["score-variants", "--vcf", vcf, "--ref", ref, "--model", tiny_model_dir]
    piped = run_cli(*args, "--tsv", "-")
    assert piped.exit_code == 0, piped.stderr
    assert sorted(p.name for p in work.iterdir()) == ["v.scores.h5"]  # no file named -
    assert "Scored 2 variants" in piped.stderr and "Scored" not in piped.stdout
    assert "Wrote v.scores.h5 (named after the input; -o to choose); the table went to standard output" in \
        piped.stderr
    to_file = run_cli(*args, "-o", tmp_path / "s.h5", "--tsv", tmp_path / "s.tsv")
    assert to_file.exit_code == 0, to_file.stderr
    lines = (tmp_path / "s.tsv").read_text().splitlines()
    assert piped.stdout.splitlines() == lines and len(lines) == 3 and lines[0].startswith("chrom\tpos\tid")


@pytest.mark.parametrize("args, message", [
    (["--vcf", "{vcf}", "--ref", "{ref}", "--plot", "{tmp}/maps"], "--plot is only used with --saturate"),
    (["--saturate", "--vcf", "{vcf}", "--ref", "{ref}"], "--saturate scores every SNV of regions"),
    (["--vcf", "{vcf}", "--ref", "{ref}", "--method", "llr,bogus"], "--method 'bogus': expected one of"),
    (["--vcf", "{vcf}", "--ref", "{ref}", "--shard", "0/2", "--out-vcf", "{tmp}/o.vcf.gz"], "--out-vcf needs every"),
    (["--saturate", "--fasta", "{long}"], "is 10,004 bp; --saturate scores every SNV of a region in one window"),
    (["--vcf", "{vcf}", "--ref", "{ref}", "--context", "1"], "--context 1: must be at least 2"),
])
def test_bad_usage_exits_2_and_leaves_nothing(tmp_path, elements, tiny_model_dir, run_cli, args, message):
    ref = write_fasta(tmp_path / "ref.fa", {"F9": elements["F9"]})
    vcf = write_vcf(tmp_path / "v.vcf", variant_rows(elements, [("F9", 100, None, "A")]))
    long = tmp_path / "long.fa"
    long.write_text(">long\n" + "ACGT" * 2501 + "\n")
    before = sorted(p.name for p in tmp_path.iterdir())
    names = {"vcf": vcf, "ref": ref, "tmp": tmp_path, "long": long}
    result = run_cli("score-variants", *[a.format(**names) for a in args], "--model", tiny_model_dir, "-o",
                     tmp_path / "s.h5")
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == before
