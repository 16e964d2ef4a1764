"""Make test_data/promoters_example.fa: eight real 300 bp human sequences for the README's first command.

Four promoters and four background windows (one enhancer, one open-chromatin region, one random human window,
one intergenic window) of hg38 chr2:1-2,333,275, from the Genomic Benchmarks intervals of the shared data folder
(`genomes/human_hg38_chr2_1-2333275/`). That slice is kept out of the shipped models' training and pretraining:
it is their evaluation set. Each record is the 300 bp window centred on its interval (as `predict --resize 300`
places it), upper-cased. Which intervals: the promoters are spread evenly over the 67 promoter intervals in BED
order (the 1st, 18th, 35th and 52nd), the background windows are the first interval of each background class in
BED order, so the choice does not depend on any model's score.

Headers read `>NAME|chr2:START-END|true=CLASS`: START-END are 1-based inclusive hg38 coordinates (as the UCSC
browser shows them), CLASS is `promoter` or `background`; NAME says which Genomic Benchmarks class the interval
belongs to. `dnabert2 predict` keeps the header's first word as the region name, so its table shows the true class
next to the prediction.

    python test_data/make_promoters_example.py [--data-root ../shared/data]
"""
import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from scripts.shipped.evaluate import BED, GROUPS, REF, SLICE, default_data_root, read_intervals  # noqa: E402

LENGTH = 300
PROMOTERS = 4
LINE_WIDTH = 60


def chosen(intervals):
    """[(name, chrom, start, end, true_class)] of the example records (see the module docstring)."""
    from dnabert2.regions.region import resized

    promoters = [row for row in intervals if row[4] == "promoter"]
    step = -(-len(promoters) // PROMOTERS)
    picked = [(f"promoter_{i + 1}", row) for i, row in enumerate(promoters[::step][:PROMOTERS])]
    for group in GROUPS[1:]:
        picked.append((group, next(row for row in intervals if row[4] == group)))
    records = []
    for name, (chrom, start, end, _, group) in picked:
        start, end = resized(start, end, LENGTH)
        records.append((name, chrom, start, end, "promoter" if group == "promoter" else "background"))
    return records


def write_example(data_root, output):
    from dnabert2.tokenizer.fasta import read_fasta

    root = Path(data_root).joinpath(*SLICE)
    chromosomes = {header.split()[0]: sequence for header, sequence in read_fasta([root / REF])}
    lines = []
    for name, chrom, start, end, true_class in chosen(read_intervals(root / BED)):
        sequence = chromosomes[chrom][start:end].upper()
        lines.append(f">{name}|{chrom}:{start + 1}-{end}|true={true_class}")
        lines += [sequence[i:i + LINE_WIDTH] for i in range(0, len(sequence), LINE_WIDTH)]
    Path(output).write_text("\n".join(lines) + "\n")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-root", default=None, help="shared data folder (default: $DNABERT2_SHARED_DATA "
                        "or ../shared/data)")
    parser.add_argument("-o", "--output", default=str(Path(__file__).with_name("promoters_example.fa")))
    args = parser.parse_args(argv)
    write_example(default_data_root(args.data_root), args.output)


if __name__ == "__main__":
    main()
