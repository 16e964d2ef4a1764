#!/usr/bin/env bash
# The real-data chain of docs/commands/motifs.md, as it was run: ENCODE GM12878 NFE2 peaks vs GC-matched genomic
# negatives (shared data encode_nfe2_lsgkm) -> finetune from the shipped pretrained model -> attribute the test
# peaks -> motifs. Run from a clone: bash scripts/interpret/nfe2_chain.sh OUT_DIR (about 30-40 minutes on 2 shared
# CPU cores). The dev split is 10% of train.csv (seed 0); test.csv is the lsgkm test set.
set -euo pipefail
OUT=${1:?usage: nfe2_chain.sh OUT_DIR}
HERE=$(cd "$(dirname "$0")" && pwd)
DATA=${DNABERT2_SHARED_DATA:-$HERE/../../../shared/data}/encode_nfe2_lsgkm
mkdir -p "$OUT" && cd "$OUT"
python - "$DATA" <<'PY'
import csv, random, shutil, sys
rows = list(csv.reader(open(f"{sys.argv[1]}/train.csv")))
head, body = rows[0], rows[1:]
random.Random(0).shuffle(body)
n_dev = len(body) // 10
for name, part in (("dev.csv", body[:n_dev]), ("train.csv", body[n_dev:])):
    with open(name, "w", newline="") as f:
        csv.writer(f).writerows([head, *part])
shutil.copy(f"{sys.argv[1]}/test.csv", "test.csv")
shutil.copy(f"{sys.argv[1]}/fasta/wgEncodeSydhTfbsGm12878Nfe2hStdAlnRep0.test.fa", "test_peaks.fa")
PY
PRETRAINED=$(python -c "from dnabert2.shipped import model_path; print(model_path('pretrained'))")
dnabert2 finetune --model "$PRETRAINED" --train train.csv --dev dev.csv --test test.csv -o nfe2_model --epochs 20 \
    --lr 5e-4 --batch-size 32 --warmup-steps 50 --eval-every 37 --max-tokens 100 --seed 42 --threads 1 --force
python "$HERE/kmer_baseline.py" "$DATA/train.csv" test.csv nfe2_model/predictions.tsv
dnabert2 attribute --fasta test_peaks.fa --model nfe2_model --method ism,ig,grad-x-input,attention --rc-average \
    -o test_peaks.attributions.h5 --plot logos --force
dnabert2 motifs test_peaks.attributions.h5 -o motifs_ism --min-seqlets 50 --force
dnabert2 motifs test_peaks.attributions.h5 -o motifs_ig --method ig --min-seqlets 50 --force
