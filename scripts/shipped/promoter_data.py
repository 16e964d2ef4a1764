"""Training tables of the shipped promoter classifier, made from the shared data folder.

Positives: the promoters (label 1) of every 300 bp GUE promoter table present (prom_300_tata train/dev/test,
prom_300_all and prom_300_notata dev/test). GUE's own negatives (label 0) are promoter sequences with parts
shuffled: they keep a promoter's CpG content, so a model trained against them learns "natural vs shuffled" and
that CpG-rich DNA is *not* a promoter, the opposite of what holds in a genome. They are left out by default
(`shuffled_negatives=True` puts them back).

Negatives: real human genomic DNA that is not a promoter set, never from the chr2 slice used for evaluation:
- GUE's human splice-site tables (dev/test; centre 300 bp of each 400 bp window, any label: genic DNA with its
  exons, introns and repeats),
- the negatives of GUE's human TF tables (`gue/tf/0-4` train, real human 101 bp sequence, not shuffled), joined
  three at a time into 303 bp rows so they have the length of a promoter window,
- the GC-matched human genomic negatives of the ENCODE NFE2 lsgkm set (hg19; any on chr2 below 3 Mbp are left
  out, so none can overlap the hg38 chr2:1-2,333,275 evaluation slice),
- the human mitochondrion in 300 bp tiles.
Other species' genomes are not used: their CpG is not depleted as in vertebrate DNA, so they would teach that
CpG-rich DNA is background.

All rows are pooled, de-duplicated by sequence and its reverse complement, and split again by a hash of that
canonical sequence: no sequence (either strand) is in two splits. Sequences that carry both labels are dropped.
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
# other genomes under genomes/ (pretraining data; not used in the promoter tables, see the module docstring)
OTHER_GENOMES = {"yeast_s288c_r64/Saccharomyces_cerevisiae.R64-1-1.dna.toplevel.fa.gz": "yeast",
                 "ecoli_k12_mg1655/GCF_000005845.2_ASM584v2_genomic.fna.gz": "ecoli",
                 "model_organisms_1pct/A.thaliana.fa.gz": "a_thaliana",
                 "model_organisms_1pct/C.elegans.fa.gz": "c_elegans",
                 "model_organisms_1pct/D.melanogaster.fa.gz": "d_melanogaster"}
CHRM = "human_chrM/MT-human.NC_012920.1.fa"
LENGTH = 300
TF_TASKS = ("0", "1", "2", "3", "4")
TF_JOINED = 3  # GUE TF rows are 101 bp: three joined give a 303 bp background row
TF_ROWS = 6000  # joined TF-negative rows: 18,000 of the 64,216 TF train negatives
EXCLUDED_CHR2_END = 3_000_000  # lsgkm negatives on hg19 chr2 below this are dropped (evaluation slice nearby)
SPLITS = ("train", "dev", "test")
# the train split's augmentation (scripts/shipped/augment.py): two crops of 150-300 bp per row, either strand,
# every crop dinucleotide-shuffled
AUGMENT = {"copies": 2, "min_length": 150, "shuffled_fraction": 1.0}


def split_of(sequence):
    """"test" for a tenth of canonical sequences, "dev" for another tenth, else "train" (by SHA-1 of the
    canonical form: the sequence or its reverse complement, whichever sorts first)."""
    from dnabert2.tokenizer.dna import reverse_complement

    canonical = min(sequence, reverse_complement(sequence))
    bucket = int(hashlib.sha1(canonical.encode()).hexdigest()[:8], 16) % 10
    return "test" if bucket == 0 else "dev" if bucket == 1 else "train"


def gue_rows(data_root, shuffled_negatives=False):
    """(sequence, label, source) of every GUE 300 bp promoter table present under data_root/gue/prom: the
    promoters, and the shuffled negatives too when shuffled_negatives."""
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
                if label == "1" or shuffled_negatives:
                    rows.append((sequence, int(label), f"gue/{task}/{split}"))
    if not rows:
        raise InputError(located(Path(data_root) / "gue" / "prom", "no GUE prom_300 tables found"))
    return rows


def background_rows(data_root, seed):
    """(sequence, 0, source) human genomic background rows (see the module docstring)."""
    root = Path(data_root)
    return (_lsgkm_rows(root) + _splice_rows(root) + _tf_negative_rows(root, seed) + _chrm_rows(root))


def _lsgkm_rows(root):
    from dnabert2.tokenizer.fasta import read_fasta

    rows = []
    for name in LSGKM_NEGATIVES:
        for header, sequence in read_fasta([root / "encode_nfe2_lsgkm" / "fasta" / name]):
            chrom, _, span = header.split()[0].partition(":")
            if chrom == "chr2" and int(span.split("-")[0]) < EXCLUDED_CHR2_END:
                continue
            sequence = _centre(sequence.upper(), LENGTH)
            if set(sequence) <= set("ACGT"):
                rows.append((sequence, 0, "lsgkm_human_negatives"))
    return rows


def _splice_rows(root):
    splice = []
    for split in ("dev", "test"):
        path = root / "gue" / "splice" / "reconstructed" / f"{split}.csv"
        if path.is_file():
            splice += [_centre(sequence, LENGTH) for sequence, _ in _table(path)]
    return [(sequence, 0, "gue_splice_human") for sequence in sorted(set(splice)) if set(sequence) <= set("ACGT")]


def _tf_negative_rows(root, seed):
    negatives = []
    for task in TF_TASKS:
        path = root / "gue" / "tf" / task / "train.csv"
        if path.is_file():
            negatives += [sequence for sequence, label in _table(path) if label == "0"]
    negatives = sorted(s for s in set(negatives) if set(s) <= set("ACGT"))
    random.Random(seed).shuffle(negatives)
    joined = ("".join(negatives[i:i + TF_JOINED]) for i in range(0, len(negatives) - TF_JOINED + 1, TF_JOINED))
    return [(sequence, 0, "gue_tf_negatives_joined") for sequence in list(joined)[:TF_ROWS]]


def _chrm_rows(root):
    from dnabert2.tokenizer.fasta import read_fasta

    chrm = "".join(s for _, s in read_fasta([root / "genomes" / CHRM])).upper()
    pieces = (chrm[start:start + LENGTH] for start in range(0, len(chrm) - LENGTH + 1, LENGTH))
    return [(piece, 0, "human_chrM") for piece in pieces if set(piece) <= set("ACGT")]


def _table(path):
    """(sequence, label) rows of a sequence,label CSV, upper-cased."""
    with open(path, newline="") as handle:
        for line, row in enumerate(csv.DictReader(handle), start=2):
            if not row.get("sequence") or row.get("label") is None:
                raise InputError(located(path, f"line {line}: expected sequence,label"))
            yield row["sequence"].strip().upper(), row["label"].strip()


def _centre(sequence, length):
    if len(sequence) <= length:
        return sequence
    start = (len(sequence) - length) // 2
    return sequence[start:start + length]


def build_tables(data_root, output, background=True, shuffled_negatives=False, seed=0, augment=None):
    """Write output/{train,dev,test}.csv (sequence,label) and return counts per split, label and source.

    background=False leaves the human genomic background out; shuffled_negatives=True adds GUE's negatives;
    augment (keyword arguments of scripts.shipped.augment.augmented, e.g. AUGMENT) replaces the train split by
    its augmented copies (dev and test stay as they are)."""
    rows = gue_rows(data_root, shuffled_negatives)
    if background:
        rows += background_rows(data_root, seed)
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
    if augment is not None:
        from scripts.shipped.augment import augmented

        counts["augment"] = dict(augment)
        by_split["train"] = augmented(sorted(by_split["train"]), seed=seed, **augment)
    for split, items in by_split.items():
        items.sort()
        random.Random(f"{seed}/{split}").shuffle(items)  # one generator per split: dev/test order never
        # depends on the train split
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
