"""How well score-variants' scores track measured variant effects: the Kircher et al. 2019 saturation-mutagenesis MPRA.

    dnabert2 score-variants --vcf kircher2019_grch37_elements.vcf.gz --ref elements_grch37.fa \\
        --method llr,emb -o kircher.h5
    python scripts/kircher_eval.py kircher.h5

Per element (one experiment per replicate group: LDLR, SORT1, PKLR-24h, TERT-HEK, ZRSh-13 stand for their groups,
so 21 elements), over its scored variants: the Spearman correlation of each score with the measured log2 effect
(COEF), and the AUROC of |score| separating the significant variants (PVAL < 1e-5) from the rest; the table gives
the median over the elements (and the range). Beside the model's scores, the simplest baselines: the change in
G+C count of the allele, the change in CpG count around it, and random numbers (seed 0). Prints a markdown table.
"""
import argparse
import json
import os
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("DNABERT2_SHARED_DATA", REPO.parent / "shared" / "data"))
KIRCHER = SHARED / "variants" / "kircher2019_satmut_mpra"
# replicate or alternative experiments of one element (data README); the first of each stands for its group
GROUPS = [("LDLR", "LDLR.2"), ("SORT1", "SORT1.2", "SORT1-flip"), ("PKLR-24h", "PKLR-48h"),
          ("TERT-HEK", "TERT-GBM", "TERT-GAa", "TERT-GSc"), ("ZRSh-13", "ZRSh-13h2")]
SIGNIFICANT = 1e-5


def measured(vcf):
    """COEF and PVAL of every row of the VCF (one ALT per record in this file), in file order."""
    import pysam

    coef, pval = [], []
    with pysam.VariantFile(str(vcf)) as records:
        for rec in records:
            for _ in rec.alts:
                coef.append(float(rec.info["COEF"]))
                pval.append(float(rec.info["PVAL"]))
    return np.asarray(coef), np.asarray(pval)


def baselines(chrom, pos, ref, alt, fasta):
    """{name: score per row}: G+C change of the allele, CpG change in the allele +-1 bp, random numbers."""
    import pysam

    gc, cpg = [], []
    with pysam.FastaFile(str(fasta)) as fa:
        sequences = {name: fa.fetch(name).upper() for name in fa.references}
    for c, p, r, a in zip(chrom, pos, ref, alt):
        gc.append(sum(x in "GC" for x in a.upper()) - sum(x in "GC" for x in r.upper()))
        seq = sequences[c]
        before, after = seq[max(0, p - 2):p - 1], seq[p - 1 + len(r):p + len(r)]
        cpg.append((before + a.upper() + after).count("CG") - (before + r.upper() + after).count("CG"))
    rng = np.random.default_rng(0)
    return {"baseline: G+C change": np.asarray(gc, float), "baseline: CpG change": np.asarray(cpg, float),
            "baseline: random": rng.standard_normal(len(gc))}


def per_element(scores, coef, pval, chrom, keep):
    """{element: (spearman, auroc or nan, variants, significant)} for the elements in `keep`."""
    from scipy.stats import spearmanr
    from sklearn.metrics import roc_auc_score

    out = {}
    for element in keep:
        rows = (chrom == element) & np.isfinite(scores)
        s, c, significant = scores[rows], coef[rows], pval[rows] < SIGNIFICANT
        rho = spearmanr(s, c).statistic if len(s) > 2 and np.ptp(s) > 0 else np.nan
        auroc = roc_auc_score(significant, np.abs(s)) if 0 < significant.sum() < len(s) else np.nan
        out[element] = (float(rho), float(auroc), int(rows.sum()), int(significant.sum()))
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("scores", help="the HDF5 file of score-variants on the Kircher VCF")
    parser.add_argument("--vcf", default=str(KIRCHER / "kircher2019_grch37_elements.vcf.gz"))
    parser.add_argument("--ref", default=str(KIRCHER / "elements_grch37.fa"))
    parser.add_argument("--per-element", action="store_true", help="also print each element's numbers")
    args = parser.parse_args()
    import h5py

    with h5py.File(args.scores, "r") as f:
        chrom = f["variants/chrom"].asstr()[:]
        pos, ref, alt = f["variants/pos"][:], f["variants/ref"].asstr()[:], f["variants/alt"].asstr()[:]
        scored = np.isin(f["variants/status"].asstr()[:], ["ok", "near_end"])
        methods = {name: np.where(scored, f[f"scores/{name}"][:].astype(float), np.nan) for name in f["scores"]}
        attrs = {k: f.attrs[k] for k in ("model", "model_weights_sha256", "methods", "context", "rc_average")}
    coef, pval = measured(args.vcf)
    assert len(coef) == len(chrom), "the scores do not come from this VCF"
    methods.update({k: np.where(scored, v, np.nan) for k, v in baselines(chrom, pos, ref, alt, args.ref).items()})
    others = {x for group in GROUPS for x in group[1:]}
    keep = [c for c in dict.fromkeys(chrom) if c not in others]
    print(f"model {attrs['model']} (weights sha256 {attrs['model_weights_sha256']}), methods "
          f"{json.loads(attrs['methods'])}, context {attrs['context']} bp, rc_average {bool(attrs['rc_average'])}")
    kept = scored & np.isin(chrom, keep)
    print(f"{len(keep)} elements, {int(kept.sum()):,} scored variants, {int((pval[kept] < SIGNIFICANT).sum()):,} "
          f"with p < {SIGNIFICANT:g}\n")
    print("| score | median Spearman vs COEF (range) | median AUROC of abs(score), p < 1e-5 (range) |")
    print("|---|---|---|")
    for name, values in methods.items():
        result = per_element(values, coef, pval, chrom, keep)
        rho = np.array([r[0] for r in result.values()])
        auc = np.array([r[1] for r in result.values()])
        print(f"| {name} | {np.nanmedian(rho):+.3f} ({np.nanmin(rho):+.2f} to {np.nanmax(rho):+.2f}) | "
              f"{np.nanmedian(auc):.3f} ({np.nanmin(auc):.2f} to {np.nanmax(auc):.2f}) |")
        if args.per_element:
            for element, (r, a, n, s) in result.items():
                print(f"|   {element} ({n} variants, {s} significant) | {r:+.3f} | {a:.3f} |")


if __name__ == "__main__":
    main()
