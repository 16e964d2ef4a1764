"""Make test_data/golden_inputs/: the fixed inputs and the fixed tiny models that tests/test_golden.py runs.

Made once and checked in; the goldens compare against outputs made from these very bytes, so nothing here may
depend on the installed torch's random generator:

- `tokenizer`: a 128-token BPE vocabulary learnt by `dnabert2.train_vocab` from test_data/genome_small.fa.gz
  (seed 0); copied into both model folders (tokenizer.json, tokenizer_config.json, special_tokens_map.json).
- `model/`: a masked-LM folder in the released layout (config.json, model.safetensors, tokenizer files): hidden
  size 32, 2 layers, 2 heads, GEGLU width 64, 128 tokens; every weight drawn from numpy's seeded PCG64 generator
  (LayerNorm weights 1 + N(0, 0.1), everything else N(0, 0.1)), not from torch. About 110 KB.
- `classifier/`: the same encoder under a 3-class sequence-classification head (labels background, promoter,
  enhancer; weights from the same generator), whose config.json carries `predict` options (window 200, both
  strands averaged) as the shipped promoter classifier does.
- `ref.fa`: plain FASTA of real sequence: `chr2` is hg38 chr2:1-21,800 (the first 10 kb are N, so regions can
  straddle the N run) and `chrM` the human mitochondrial genome (16,569 bp), both from the shared data.
- `regions.bed`: six BED6 regions in mixed chromosome order, both strands and '.', one across the N run, one of
  2,600 bp (tiled into two 2,000 bp windows), one at the end of chrM.
- `sites.bed`: two short regions (24 and 20 bp, one on '-') for `score-variants --saturate`.
- `variants.vcf`: eleven records over chr2, chrM and an absent chrX, one of each status (ok, a multi-ALT site,
  an insertion, a deletion, ref_mismatch, unknown_chrom, symbolic, too_long, near_end at both ends of chrM).

    python test_data/make_golden_inputs.py [--data-root ../shared/data]
"""
import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
OUT = HERE / "golden_inputs"
SEED = 20250601
LINE_WIDTH = 60
CHR2_END = 21_800
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")
ENCODER = {"vocab_size": 128, "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2,
           "intermediate_size": 64}
LABELS = ["background", "promoter", "enhancer"]
REGIONS = [  # chrom, start, end, name, strand (0-based, half-open)
    ("chr2", 9_900, 10_300, "across_n_run", "+"),
    ("chr2", 15_750, 16_050, "enhancer", "-"),
    ("chr2", 17_000, 19_600, "long_two_windows", "+"),
    ("chrM", 0, 500, "chrM_start", "."),
    ("chr2", 21_000, 21_300, "intergenic", "-"),
    ("chrM", 16_300, 16_569, "chrM_end", "+"),
]
SITES = [("chr2", 20_000, 20_024, "site_plus", "+"), ("chrM", 100, 120, "site_minus", "-")]


def fasta_text(records):
    lines = []
    for name, seq in records:
        lines.append(f">{name}")
        lines.extend(seq[i:i + LINE_WIDTH] for i in range(0, len(seq), LINE_WIDTH))
    return "\n".join(lines) + "\n"


def write_reference(data_root):
    import pysam

    chr2 = pysam.FastaFile(str(data_root / "genomes" / "human_hg38_chr2_1-2333275" / "chr2_1-2333275.fa.gz"))
    chrm_header, chrm = None, []
    for line in (data_root / "genomes" / "human_chrM" / "MT-human.NC_012920.1.fa").read_text().splitlines():
        if line.startswith(">"):
            chrm_header = line
        else:
            chrm.append(line.strip())
    assert chrm_header is not None
    sequences = {"chr2": chr2.fetch("chr2", 0, CHR2_END), "chrM": "".join(chrm)}
    (OUT / "ref.fa").write_text(fasta_text(sequences.items()))
    return sequences


def bed_text(rows):
    return "".join(f"{chrom}\t{start}\t{end}\t{name}\t0\t{strand}\n" for chrom, start, end, name, strand in rows)


def vcf_text(ref):
    """Variant records (1-based POS) chosen so every status score-variants reports appears once."""
    def base(chrom, pos, n=1):
        return ref[chrom][pos - 1:pos - 1 + n].upper()

    other = {"A": "C", "C": "G", "G": "T", "T": "A"}
    rows = [
        ("chr2", 10_010, "snv_after_n", base("chr2", 10_010), other[base("chr2", 10_010)]),
        ("chr2", 12_000, "multi_alt", base("chr2", 12_000),
         ",".join([b for b in "ACGT" if b != base("chr2", 12_000)][:2])),
        ("chr2", 13_050, "deletion", base("chr2", 13_050, 4), base("chr2", 13_050)),
        ("chr2", 14_000, "insertion", base("chr2", 14_000), base("chr2", 14_000) + "GATTACA"),
        ("chr2", 15_000, "ref_mismatch", other[base("chr2", 15_000)], base("chr2", 15_000)),
        ("chr2", 16_000, "symbolic", base("chr2", 16_000), "<DEL>"),
        ("chr2", 17_000, "too_long", base("chr2", 17_000, 61), base("chr2", 17_000)),
        ("chr2", 20_500, "snv_ok", base("chr2", 20_500), other[base("chr2", 20_500)]),
        ("chrM", 20, "near_start", base("chrM", 20), other[base("chrM", 20)]),
        ("chrM", 16_560, "near_end", base("chrM", 16_560), other[base("chrM", 16_560)]),
        ("chrX", 100, "unknown_chrom", "A", "G"),
    ]
    header = ["##fileformat=VCFv4.2", f"##contig=<ID=chr2,length={len(ref['chr2'])}>",
              f"##contig=<ID=chrM,length={len(ref['chrM'])}>", "##contig=<ID=chrX,length=156040895>",
              "##ALT=<ID=DEL,Description=\"Deletion\">",
              "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO"]
    body = [f"{chrom}\t{pos}\t{name}\t{r}\t{a}\t.\tPASS\t." for chrom, pos, name, r, a in rows]
    return "\n".join(header + body) + "\n"


def drawn(state, rng):
    """{name: tensor} of the same shapes as `state`, drawn from numpy's seeded generator (module docstring)."""
    import torch

    out = {}
    for name, tensor in state.items():
        values = rng.normal(0.0, 0.1, size=tuple(tensor.shape))
        if "layernorm" in name.lower() and name.endswith(".weight"):
            values += 1.0
        out[name] = torch.from_numpy(values.astype(np.float32))
    return out


def write_models(tokenizer_dir):
    from dnabert2.model import DNABert2Config, DNABert2ForMaskedLM, DNABert2ForSequenceClassification

    rng = np.random.default_rng(SEED)
    mlm = DNABert2ForMaskedLM(DNABert2Config(**ENCODER))
    mlm.load_state_dict(drawn(mlm.state_dict(), rng))
    mlm.save_pretrained(OUT / "model")
    config = DNABert2Config(**ENCODER, num_labels=len(LABELS), problem_type="single_label_classification",
                            id2label=dict(enumerate(LABELS)), label2id={n: i for i, n in enumerate(LABELS)},
                            architectures=["DNABert2ForSequenceClassification"],
                            task_specific_params={"predict": {"window": 200, "rc_average": True}})
    classifier = DNABert2ForSequenceClassification(config)
    state = classifier.state_dict()
    head = {n: t for n, t in state.items() if n.startswith(("bert.pooler.", "classifier."))}
    encoder = {"bert." + n: t for n, t in mlm.bert.state_dict().items()}  # the masked-LM's encoder, unchanged
    classifier.load_state_dict({**encoder, **drawn(head, rng)})
    classifier.save_pretrained(OUT / "classifier")
    for folder in ("model", "classifier"):
        for name in TOKENIZER_FILES:
            shutil.copyfile(tokenizer_dir / name, OUT / folder / name)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", type=Path, default=REPO.parent / "shared" / "data")
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))
    import dnabert2

    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir()
    with tempfile.TemporaryDirectory() as tmp:
        tokenizer_dir = Path(tmp) / "bpe_128"
        dnabert2.train_vocab([HERE / "genome_small.fa.gz"], tokenizer_dir, size=ENCODER["vocab_size"], seed=0)
        write_models(tokenizer_dir)
    ref = write_reference(args.data_root)
    (OUT / "regions.bed").write_text(bed_text(REGIONS))
    (OUT / "sites.bed").write_text(bed_text(SITES))
    (OUT / "variants.vcf").write_text(vcf_text(ref))
    sizes = {p.relative_to(OUT).as_posix(): p.stat().st_size for p in sorted(OUT.rglob("*")) if p.is_file()}
    print(json.dumps(sizes, indent=1))
    print(f"wrote {OUT} ({sum(sizes.values()):,} bytes)")


if __name__ == "__main__":
    main()
