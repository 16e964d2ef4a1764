"""Speed of `dnabert2 score-variants` (run by hand; prints two tables).

    python bench/variants.py                       # shipped model: 300 variants; 117M width: 20 variants
    python bench/variants.py --quick               # 200 and 10 variants, saturation up to 600 bp
    python bench/variants.py --variants 2000 --big-variants 100 --threads 2

1. `--method llr` on the first variants of the Kircher et al. 2019 saturation-mutagenesis VCF (every SNV and
   one-base deletion of real promoters and enhancers), against a straightforward per-variant loop written here
   with the same model: cut the two windows (the command's, `windows.place`), tokenise them, find the changed
   tokens, then one model call per masked token (the full masked-LM output, batch of one). The two must give the same numbers (asserted). Models:
   the one shipped in the package, and a random model at the released DNABERT-2-117M width (speed does not depend
   on the weights). Timings leave out loading the model; both sides run with the same torch threads, in turn,
   `--repeat` times (3), and the best time of each side is reported (the machine is shared).
2. `--saturate` (llr, shipped model) of one region of 150, 300, 600 and 1,200 bp of the human chr2 slice: seconds,
   SNVs/s and model rows; the cost grows about with the square of the length (3 x length SNVs, each a window of the
   whole region).
"""
import argparse
import gzip
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np

from random_model import random_model  # noqa: E402  (bench/ is the script's folder)

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("DNABERT2_SHARED_DATA", REPO.parent / "shared" / "data"))
KIRCHER = SHARED / "variants" / "kircher2019_satmut_mpra"
ELEMENTS = KIRCHER / "elements_grch37.fa"
CHR2_REF = SHARED / "genomes" / "human_hg38_chr2_1-2333275" / "chr2_1-2333275.fa.gz"


def first_variants(path, n):
    """A VCF of the first `n` records of the Kircher VCF."""
    with gzip.open(KIRCHER / "kircher2019_grch37_elements.vcf.gz", "rt") as fh, open(path, "w") as out:
        kept = 0
        for line in fh:
            if not line.startswith("#"):
                if kept == n:
                    break
                kept += 1
            out.write(line)
    return path


def ours(vcf, model, threads):
    import dnabert2

    result = dnabert2.score_variants(vcf, ref=str(ELEMENTS), model=str(model), methods="llr", threads=threads,
                                     device="cpu", precision="fp32")
    return result["scores"]["llr"], result["summary"]


def per_variant_loop(vcf, model_dir, threads, context=300, flank=1):
    """The loop a user writes by hand: per variant, per changed token, one masked copy through the model."""
    import pysam
    import torch

    from dnabert2 import load_model
    from dnabert2.variants.tokens import changed_tokens, tokenise
    from dnabert2.variants.windows import place

    model, tokenizer = load_model(model_dir, task="masked-lm", device="cpu", dtype="fp32")
    previous = torch.get_num_threads()
    torch.set_num_threads(threads or previous)
    scores = []
    start = time.perf_counter()
    with pysam.FastaFile(str(ELEMENTS)) as fasta, pysam.VariantFile(str(vcf)) as records, torch.inference_mode():
        for rec in records:
            for alt in rec.alts:
                window = place(rec.start, len(rec.ref), fasta.get_reference_length(rec.chrom), context)
                begin = window.start  # the command's REF window (on its grid of centres)
                ref_w = fasta.fetch(rec.chrom, begin, window.end).upper()
                alt_w = ref_w[:rec.start - begin] + alt + ref_w[rec.start - begin + len(rec.ref):]
                ref_t, alt_t = tokenise(tokenizer, [ref_w, alt_w])
                spans = changed_tokens(ref_w, alt_w, ref_t, alt_t, flank)
                total = 0.0
                for sign, tokens, (lo, hi) in ((-1, ref_t, spans[0]), (1, alt_t, spans[1])):
                    for k in range(lo, hi):
                        ids = torch.tensor(tokens.ids)[None].clone()
                        target = int(ids[0, k + 1])
                        ids[0, k + 1] = tokenizer.mask_token_id
                        logits = model(input_ids=ids).logits[0, k + 1]
                        total += sign * float(torch.log_softmax(logits.float(), -1)[target])
                scores.append(total)
    seconds = time.perf_counter() - start
    torch.set_num_threads(previous)
    return np.asarray(scores), seconds


def llr_table(tmp, cases, threads, repeat):
    print(f"{'model':<22} {'variants':>8} {'ours s':>8} {'ours var/s':>11} {'model rows':>10} {'loop s':>8} "
          f"{'loop var/s':>11} {'speed-up':>9} {'max |diff|':>11}")
    for label, model, n in cases:
        vcf = first_variants(tmp / f"first{n}.vcf", n)
        seconds = loop_seconds = float("inf")
        for _ in range(repeat):  # the two sides in turn; the best time of each
            mine, summary = ours(vcf, model, threads)
            loop, took = per_variant_loop(vcf, model, threads)
            seconds, loop_seconds = min(seconds, summary["seconds"]), min(loop_seconds, took)
        diff = float(np.max(np.abs(mine - loop)))
        assert diff < 1e-3, f"{label}: score-variants and the per-variant loop differ by {diff}"
        print(f"{label:<22} {n:>8,} {seconds:>8.2f} {n / seconds:>11.2f} "
              f"{summary['model_rows']:>10,} {loop_seconds:>8.2f} {n / loop_seconds:>11.2f} "
              f"{loop_seconds / seconds:>8.1f}x {diff:>11.1e}")


def saturation_table(tmp, model, lengths, threads):
    import dnabert2

    print(f"\n{'region bp':>9} {'SNVs':>6} {'seconds':>8} {'SNVs/s':>8} {'model rows':>10} {'model tokens':>12}")
    for length in lengths:
        bed = tmp / f"sat{length}.bed"
        bed.write_text(f"chr2\t1500000\t{1500000 + length}\tr{length}\t0\t+\n")
        result = dnabert2.score_variants(bed=str(bed), ref=str(CHR2_REF), saturate=True, model=str(model),
                                         methods="llr", threads=threads, device="cpu", precision="fp32")
        s = result["summary"]
        print(f"{length:>9,} {s['snvs']:>6,} {s['seconds']:>8.1f} {s['snvs_per_s']:>8.1f} {s['model_rows']:>10,} "
              f"{s['model_tokens']:>12,}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--variants", type=int, default=300, help="variants for the shipped model")
    parser.add_argument("--big-variants", type=int, default=20, help="variants at the 117M width")
    parser.add_argument("--lengths", default="150,300,600,1200", help="saturation region lengths (bp)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument("--repeat", type=int, default=3,
                        help="runs of each side, in turn; the best time of each is reported (a shared machine)")
    args = parser.parse_args()
    import torch

    from dnabert2.shipped import model_path

    shipped = model_path("pretrained")
    n, big = (200, 10) if args.quick else (args.variants, args.big_variants)
    lengths = [150, 300, 600] if args.quick else [int(x) for x in args.lengths.split(",") if x]
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
          f"{args.threads or torch.get_num_threads()} threads; load average {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        big_model = random_model(tmp / "dnabert2-117m", "dnabert2-117m")
        llr_table(tmp, [("shipped pretrained", shipped, n), ("random 117M width", big_model, big)], args.threads,
                  args.repeat)
        if lengths:  # --lengths "": no saturation table
            saturation_table(tmp, shipped, lengths, args.threads)


if __name__ == "__main__":
    main()
