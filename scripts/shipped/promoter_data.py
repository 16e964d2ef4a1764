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
- the human mitochondrion in 300 bp tiles,
- since issue 24, real regulatory DNA that is not a promoter (`human_regulatory/`): the Ensembl Regulatory Build's
  enhancers and open-chromatin regions, Ensembl open-chromatin regions and their random genomic intervals, Cohn et
  al.'s enhancers and their genomic negatives; and the Ensembl promoters as more positives. These rows keep the
  split they have there (train or dev); their test splits are never read (scripts/shipped/heldout.json), and no
  row sharing a 50 bp substring (either strand) with a held-out sequence enters any split.
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
# issue 24's recipes: crops of 150-300 bp, either strand, none shuffled (the regulatory background leaves more than
# composition to learn) or half of them shuffled; the greedy soup picks among the runs on the dev split
AUGMENT_REAL = {"copies": 2, "min_length": 150, "max_length": LENGTH, "shuffled_fraction": 0.0}
AUGMENT_HALF = {"copies": 2, "min_length": 150, "max_length": LENGTH, "shuffled_fraction": 0.5}
# issue 24's second round: the Ensembl Regulatory Build rows were 2% of the training promoters and their dev
# promoters averaged 0.26 against GUE's 0.51, so their long (~600 bp) rows give many more crops (their promoters and
# their enhancer and open-chromatin background alike, so the source does not tell the class), as do the Ensembl
# open-chromatin rows and their random genomic intervals
AUGMENT_BALANCED = {**AUGMENT_REAL, "source_copies": {"ensembl_regulatory_": 20, "open_chromatin_ensembl_": 4}}
# human_regulatory tables: (folder, {class name: label}); their own train/dev splits are kept, test never read
REGULATORY = (("ensembl_regulatory", {"promoter": 1, "enhancer": 0, "ocr": 0}),
              ("open_chromatin_ensembl", {"ocr": 0, "background": 0}),
              ("enhancers_cohn", {"enhancer": 0, "background": 0}))
OVERLAP = 50  # bp: a training row sharing this many with a held-out sequence (either strand) is dropped


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


def regulatory_rows(data_root):
    """(sequence, label, source, split) of the train and dev splits of REGULATORY (split: "train" or "dev")."""
    rows = []
    for folder, labels in REGULATORY:
        for split in ("train", "dev"):
            path = Path(data_root) / "human_regulatory" / folder / f"{split}.csv"
            if not path.is_file():
                raise InputError(located(path, "not found (the human_regulatory tables of the shared data)"))
            for sequence, name in _table(path):
                if name not in labels:
                    raise InputError(located(path, f"unknown class {name!r} (expected {', '.join(labels)})"))
                rows.append((sequence, labels[name], f"{folder}_{name}", split))
    return rows


def overlap_keys(sequences, k=OVERLAP):
    """Hashes of every k-mer of the sequences and of their reverse complements."""
    from dnabert2.tokenizer.dna import reverse_complement

    keys = set()
    for sequence in sequences:
        for strand in (sequence, reverse_complement(sequence)):
            keys.update(hash(strand[i:i + k]) for i in range(len(strand) - k + 1))
    return keys


def shares_kmer(sequence, keys, k=OVERLAP):
    return any(hash(sequence[i:i + k]) in keys for i in range(len(sequence) - k + 1))


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


def source_group(source):
    """The source group a row's source belongs to for source-balanced weights (the GUE promoter tables are one)."""
    return "gue_promoters" if source.startswith("gue/prom") else source.replace("+dishuffled", "")


def read_sources(path):
    """The `source` column of a table written with sources (build_tables' sources/DEV.csv), in row order."""
    with open(path, newline="") as handle:
        return [row["source"] for row in csv.DictReader(handle)]


def build_tables(data_root, output, background=True, shuffled_negatives=False, seed=0, augment=None,
                 regulatory=False, held_out=(), plain_train=None, sources_dir=None):
    """Write output/{train,dev,test}.csv (sequence,label) and return counts per split, label and source.

    background=False leaves the human genomic background out; shuffled_negatives=True adds GUE's negatives;
    regulatory=True adds the human_regulatory rows (regulatory_rows, in their own split); rows sharing OVERLAP bp
    with a sequence of `held_out` are dropped; augment (keyword arguments of scripts.shipped.augment.augmented,
    e.g. AUGMENT) replaces the train split by its augmented copies (dev and test stay as they are), and
    plain_train (a path), when given, receives the train split as it was before (for baselines trained on it);
    sources_dir (a folder), when given, receives the dev and test splits again with a third column, their rows'
    source (the same for every recipe; the train split is each recipe's own)."""
    rows = [(*row, None) for row in gue_rows(data_root, shuffled_negatives)]
    if background:
        rows += [(*row, None) for row in background_rows(data_root, seed)]
    if regulatory:
        rows += regulatory_rows(data_root)
    keys = overlap_keys(held_out) if held_out else set()
    overlapping = 0
    labels, sources, fixed = {}, {}, {}
    for sequence, label, source, split in rows:
        if keys and shares_kmer(sequence, keys):
            overlapping += 1
            continue
        labels.setdefault(sequence, set()).add(label)
        sources.setdefault(sequence, source)
        if split is not None:
            fixed.setdefault(sequence, split)
    by_split = {split: [] for split in SPLITS}
    conflicting = 0
    for sequence, seen in labels.items():
        if len(seen) > 1:
            conflicting += 1
            continue
        by_split[fixed.get(sequence) or split_of(sequence)].append((sequence, seen.pop(), sources[sequence]))
    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    counts = {"input_rows": len(rows), "unique_sequences": len(labels), "dropped_conflicting": conflicting,
              "dropped_sharing_50bp_with_held_out": overlapping}
    if plain_train is not None:
        _write_rows(plain_train, sorted(by_split["train"]))
    if augment is not None:
        from scripts.shipped.augment import augmented

        counts["augment"] = dict(augment)
        by_split["train"] = augmented(sorted(by_split["train"]), seed=seed, **augment)
    for split, items in by_split.items():
        items.sort()
        random.Random(f"{seed}/{split}").shuffle(items)  # one generator per split: dev/test order never
        # depends on the train split
        _write_rows(output / f"{split}.csv", items)
        if sources_dir is not None and split != "train":
            _write_rows(Path(sources_dir) / f"{split}.csv", items, with_source=True)
        per_source = {}
        for _, label, source in items:
            key = f"{source} label {label}"
            per_source[key] = per_source.get(key, 0) + 1
        counts[split] = {"rows": len(items), "positives": sum(label for _, label, _ in items),
                         "by_source": dict(sorted(per_source.items()))}
    return counts


def _write_rows(path, items, with_source=False):
    """(sequence, label, source) rows -> a sequence,label CSV with the label names (and source, with_source)."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["sequence", "label", "source"][:3 if with_source else 2])
        writer.writerows((sequence, LABEL_NAMES[label], source)[:3 if with_source else 2]
                         for sequence, label, source in items)
