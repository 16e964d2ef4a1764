"""Training tables of the shipped promoter classifier, made from the shared data folder.

Positives and negatives: every 300 bp GUE promoter table present (prom_300_tata train/dev/test, prom_300_all and
prom_300_notata dev/test; the GUE negatives are promoter sequences with parts shuffled). The same sequence appears
in several of those tables, so rows are pooled, de-duplicated by sequence and its reverse complement, and split
again by a hash of that canonical sequence: no sequence (either strand) is in two splits. Sequences that carry
both labels are dropped.

Background negatives (optional): real genomic DNA that is not a promoter set, never from the chr2 slice used for
evaluation: the GC-matched human genomic negatives of the ENCODE NFE2 lsgkm set (hg19; any on chr2 below
3 Mbp are left out, so none can overlap the hg38 chr2:1-2,333,275 evaluation slice), 4,000 human genic sequences
from GUE's splice-site tables (dev/test; centre 300 bp of each 400 bp window, any label: splice donors, acceptors
and other genic sites, so real human DNA with its repeats), the human mitochondrion in 300 bp tiles, and random 300 bp windows of the yeast, E. coli, A. thaliana, C. elegans and D. melanogaster genomes.
"""
import csv
import hashlib
import random
from pathlib import Path

from dnabert2.errors import InputError, located

# class names written to the tables (GUE label 0 / 1); finetune sorts them, so ids stay 0 / 1
LABEL_NAMES = ("background", "promoter")
GUE_TABLES = (("prom_300_tata", "train"), ("prom_300_tata", "dev"), ("prom_300_tata", "test"),
              ("prom_300_all", "dev"), ("prom_300_all", "test"),
              ("prom_300_notata", "dev"), ("prom_300_notata", "test"))
LSGKM_NEGATIVES = ("wgEncodeSydhTfbsGm12878Nfe2hStdAlnRep0.neg.tr.fa",
                   "wgEncodeSydhTfbsGm12878Nfe2hStdAlnRep0.neg.test.fa")
# genome file under genomes/ -> the source name counted in the tables' summary
OTHER_GENOMES = {"yeast_s288c_r64/Saccharomyces_cerevisiae.R64-1-1.dna.toplevel.fa.gz": "yeast",
                 "ecoli_k12_mg1655/GCF_000005845.2_ASM584v2_genomic.fna.gz": "ecoli",
                 "model_organisms_1pct/A.thaliana.fa.gz": "a_thaliana",
                 "model_organisms_1pct/C.elegans.fa.gz": "c_elegans",
                 "model_organisms_1pct/D.melanogaster.fa.gz": "d_melanogaster"}
CHRM = "human_chrM/MT-human.NC_012920.1.fa"
LENGTH = 300
SPLICE_ROWS = 4000  # human genic windows from GUE's splice tables used as background
EXCLUDED_CHR2_END = 3_000_000  # lsgkm negatives on hg19 chr2 below this are dropped (evaluation slice nearby)
SPLITS = ("train", "dev", "test")


def split_of(sequence):
    """"test" for a tenth of canonical sequences, "dev" for another tenth, else "train" (by SHA-1 of the
    canonical form: the sequence or its reverse complement, whichever sorts first)."""
    from dnabert2.tokenizer.dna import reverse_complement

    canonical = min(sequence, reverse_complement(sequence))
    bucket = int(hashlib.sha1(canonical.encode()).hexdigest()[:8], 16) % 10
    return "test" if bucket == 0 else "dev" if bucket == 1 else "train"


def gue_rows(data_root):
    """(sequence, label, source) of every GUE 300 bp promoter table present under data_root/gue/prom."""
    rows = []
    for task, split in GUE_TABLES:
        path = Path(data_root) / "gue" / "prom" / task / f"{split}.csv"
        if not path.is_file():
            continue
        with open(path, newline="") as handle:
            for line, row in enumerate(csv.DictReader(handle), start=2):
                sequence, label = row["sequence"].strip().upper(), row["label"].strip()
                if label not in ("0", "1") or not sequence:
                    raise InputError(located(path, f"line {line}: expected sequence,label with label 0 or 1"))
                rows.append((sequence, int(label), f"gue/{task}/{split}"))
    if not rows:
        raise InputError(located(Path(data_root) / "gue" / "prom", "no GUE prom_300 tables found"))
    return rows


def background_rows(data_root, per_genome, seed):
    """(sequence, 0, source) genomic background windows (see the module docstring)."""
    from dnabert2.tokenizer.fasta import read_fasta

    root = Path(data_root)
    rows = []
    for name in LSGKM_NEGATIVES:
        for header, sequence in read_fasta([root / "encode_nfe2_lsgkm" / "fasta" / name]):
            chrom, _, span = header.split()[0].partition(":")
            if chrom == "chr2" and int(span.split("-")[0]) < EXCLUDED_CHR2_END:
                continue
            sequence = _centre(sequence.upper(), LENGTH)
            if set(sequence) <= set("ACGT"):
                rows.append((sequence, 0, "lsgkm_human_negatives"))
    splice = []
    for split in ("dev", "test"):
        path = root / "gue" / "splice" / "reconstructed" / f"{split}.csv"
        if path.is_file():
            with open(path, newline="") as handle:
                splice += [_centre(row["sequence"].strip().upper(), LENGTH) for row in csv.DictReader(handle)]
    splice = sorted(s for s in set(splice) if set(s) <= set("ACGT"))
    random.Random(seed).shuffle(splice)
    rows += [(sequence, 0, "gue_splice_human") for sequence in splice[:SPLICE_ROWS]]
    chrm = "".join(s for _, s in read_fasta([root / "genomes" / CHRM])).upper()
    for start in range(0, len(chrm) - LENGTH + 1, LENGTH):
        piece = chrm[start:start + LENGTH]
        if set(piece) <= set("ACGT"):
            rows.append((piece, 0, "human_chrM"))
    rng = random.Random(seed)
    for relative in OTHER_GENOMES:
        records = [s.upper() for _, s in read_fasta([root / "genomes" / relative]) if len(s) >= LENGTH]
        weights = [len(s) for s in records]
        taken = 0
        for _ in range(per_genome * 20):
            if taken == per_genome:
                break
            sequence = rng.choices(records, weights)[0]
            start = rng.randrange(len(sequence) - LENGTH + 1)
            piece = sequence[start:start + LENGTH]
            if set(piece) <= set("ACGT"):
                rows.append((piece, 0, OTHER_GENOMES[relative]))
                taken += 1
    return rows


def _centre(sequence, length):
    if len(sequence) <= length:
        return sequence
    start = (len(sequence) - length) // 2
    return sequence[start:start + length]


def build_tables(data_root, output, background_per_genome=400, seed=0):
    """Write output/{train,dev,test}.csv (sequence,label) and return counts per split, label and source.

    background_per_genome=0 leaves the genomic background out (GUE rows only)."""
    rows = gue_rows(data_root)
    if background_per_genome:
        rows += background_rows(data_root, background_per_genome, seed)
    labels, sources = {}, {}
    for sequence, label, source in rows:
        labels.setdefault(sequence, set()).add(label)
        sources.setdefault(sequence, source)
    by_split = {split: [] for split in SPLITS}
    conflicting = 0
    for sequence, seen in labels.items():
        if len(seen) > 1:
            conflicting += 1
            continue
        by_split[split_of(sequence)].append((sequence, seen.pop(), sources[sequence]))
    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    counts = {"input_rows": len(rows), "unique_sequences": len(labels), "dropped_conflicting": conflicting}
    shuffle = random.Random(seed)
    for split, items in by_split.items():
        items.sort()
        shuffle.shuffle(items)
        with open(output / f"{split}.csv", "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["sequence", "label"])
            writer.writerows((sequence, LABEL_NAMES[label]) for sequence, label, _ in items)
        per_source = {}
        for _, label, source in items:
            key = f"{source} label {label}"
            per_source[key] = per_source.get(key, 0) + 1
        counts[split] = {"rows": len(items), "positives": sum(label for _, label, _ in items),
                         "by_source": dict(sorted(per_source.items()))}
    return counts
