"""What the shipped backbone reads when its pretraining is continued on human and mouse DNA (`pretrain --init
--table`, as a user would further pretrain): the training splits of GUE human and mouse tables and of the
`human_regulatory/` tables (but the Nucleotide Transformer's, held out whole), and two genome tables written here, because `pretrain` reads either genomes or tables
in one run: the hg38 chr2 slice outside every Genomic Benchmarks interval (those are the chr2 evaluation), cut
into CHUNK bp rows, and the human mitochondrion in CHUNK bp rows.

Some GUE tables are left unread on purpose (UNREAD_GUE), so that the pretraining-helps comparison
(scripts/shipped/transfer.py) shows tasks whose tables the backbone never saw next to tasks whose training table
it read. GUE's promoter and splice tables are not read: prom_300_tata's training negatives are shuffled promoters
(not genomic DNA), and the other promoter and splice tables have no training split here.
"""
import csv
from pathlib import Path

from dnabert2.errors import InputError, located

READ_GUE = ("tf/0", "tf/1", "tf/2", "mouse/0", "mouse/2")  # human TF 0-2, mouse TF 0 and 2: train splits read
UNREAD_GUE = ("tf/3", "tf/4", "mouse/3", "mouse/4")  # never read, also not their test splits
# nucleotide_transformer is left out: its promoter tasks are the held-out set from a source neither the backbone
# nor the classifier read (heldout.json)
REGULATORY = ("ensembl_regulatory", "open_chromatin_ensembl", "enhancers_cohn")
CHR2 = ("genomes", "human_hg38_chr2_1-2333275")
CHR2_REF, CHR2_BED = "chr2_1-2333275.fa.gz", "genomic_benchmarks_regions_chr2_1-2333275.bed"
CHRM = ("genomes", "human_chrM", "MT-human.NC_012920.1.fa")
CHUNK = 1000


def genome_rows(sequence, masked, chunk=CHUNK):
    """CHUNK bp pieces of `sequence` (upper-cased) that hold only ACGT and overlap no (start, end) of `masked`."""
    sequence = sequence.upper()
    blocked = bytearray(len(sequence))
    for start, end in masked:
        blocked[max(0, start):min(len(sequence), end)] = b"\x01" * (min(len(sequence), end) - max(0, start))
    rows = []
    for start in range(0, len(sequence) - chunk + 1, chunk):
        piece = sequence[start:start + chunk]
        if not any(blocked[start:start + chunk]) and set(piece) <= set("ACGT"):
            rows.append(piece)
    return rows


def benchmark_intervals(bed):
    """{chrom: [(start, end)]} of a BED file."""
    intervals = {}
    for number, line in enumerate(Path(bed).read_text().splitlines(), start=1):
        fields = line.split("\t")
        if len(fields) < 3:
            raise InputError(located(bed, f"line {number}: expected chrom, start, end"))
        intervals.setdefault(fields[0], []).append((int(fields[1]), int(fields[2])))
    return intervals


def write_genome_table(path, rows):
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["sequence", "label"])
        writer.writerows((row, "genome") for row in rows)


def pretraining_tables(data_root, output):
    """Write OUTPUT/chr2_outside_benchmarks.csv and OUTPUT/human_chrM.csv; return (every table path to give
    `pretrain --table`, in order, and {table: rows})."""
    from dnabert2.tokenizer.fasta import read_fasta

    root, output = Path(data_root), Path(output)
    output.mkdir(parents=True, exist_ok=True)
    chr2 = root.joinpath(*CHR2)
    masked = benchmark_intervals(chr2 / CHR2_BED)
    chr2_rows = [row for header, sequence in read_fasta([chr2 / CHR2_REF])
                 for row in genome_rows(sequence, masked.get(header.split()[0], []))]
    chrm_rows = [row for _, sequence in read_fasta([root.joinpath(*CHRM)]) for row in genome_rows(sequence, [])]
    write_genome_table(output / "chr2_outside_benchmarks.csv", chr2_rows)
    write_genome_table(output / "human_chrM.csv", chrm_rows)
    tables = [root / "gue" / task / "train.csv" for task in READ_GUE]
    tables += [root / "human_regulatory" / name / "train.csv" for name in REGULATORY]
    tables += [output / "chr2_outside_benchmarks.csv", output / "human_chrM.csv"]
    for table in tables:
        if not table.is_file():
            raise InputError(located(table, "not found (give --data-root, the folder holding gue/ and human_regulatory/)"))
    counts = {str(t): sum(1 for _ in open(t)) - 1 for t in tables}
    return tables, counts
