"""The tokenizer study's tables (TSV, JSON, printed) and the paper's numbers they stand beside.

Paper numbers are quoted from the DNABERT-2 paper (ICLR 2024): Table 6 (DNABERT-2 117M, `PAPER_DNABERT2` in
`finetuning.gue`) and Table 10 (appendix A.6, the tokenizer ablation: overlapping 6-mers vs BPE 4096, same data,
architecture and hyper-parameters, batch 4096, 128 tokens, 120,000 steps). MCC x 100. Figure 3 gives its
vocabulary-size results as plots only (no numbers in the text), so none are quoted for it.
"""
import math

from dnabert2.finetuning.gue import PAPER_DNABERT2

# Table 10, "K-mer" (overlapping 6-mer) and "BPE" rows, for the datasets with train tables here
PAPER_TABLE10_KMER = {"tf/0": 67.99, "tf/1": 67.06, "tf/2": 59.45, "tf/3": 50.24, "tf/4": 72.80,
                      "mouse/0": 48.96, "mouse/1": 81.69, "mouse/2": 81.71, "mouse/3": 63.17, "mouse/4": 42.83,
                      "prom/prom_core_all": 74.91, "prom/prom_core_notata": 69.23,
                      "prom/prom_core_tata": 74.91, "virus/covid": 62.16, "splice/reconstructed": 77.90}
PAPER_TABLE10_BPE = {"tf/0": 66.99, "tf/1": 70.98, "tf/2": 61.40, "tf/3": 55.10, "tf/4": 71.31,
                     "mouse/0": 48.01, "mouse/1": 81.86, "mouse/2": 82.98, "mouse/3": 73.22, "mouse/4": 46.15,
                     "prom/prom_core_all": 66.28, "prom/prom_core_notata": 67.99,
                     "prom/prom_core_tata": 72.73, "virus/covid": 69.75, "splice/reconstructed": 79.62}
PAPER_COLUMNS = (("paper DNABERT-2 (T6)", PAPER_DNABERT2), ("paper 6-mer (T10)", PAPER_TABLE10_KMER),
                 ("paper BPE (T10)", PAPER_TABLE10_BPE))
VOCAB_COLUMNS = ("tokenizer", "vocab_size", "mean_token_length_nt", "heldout_nt_per_token", "pretrain_eval_loss",
                 "pretrain_eval_accuracy", "window_bp", "pretrain_seconds")


def _fmt(value, digits=2):
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def mean_row(rows, names):
    """Per tokenizer, the mean MCC over the tasks every tokenizer finished (None if none)."""
    done = [r for r in rows if all(r["mcc"].get(n) is not None for n in names)]
    means = {n: (sum(r["mcc"][n] for r in done) / len(done) if done else None) for n in names}
    paper = {label: (sum(table[r["key"]] for r in done) / len(done)
                     if done and all(r["key"] in table for r in done) else None)
             for label, table in PAPER_COLUMNS}
    return {"task": f"mean ({len(done)} tasks)", "key": None, "mcc": means, "mcc_std": {}, "paper": paper}


def task_row(key, task, results):
    """One task's row: MCC x 100 (mean and std over seeds) per tokenizer and the paper's numbers."""
    return {"task": task, "key": key,
            "mcc": {name: r["mcc"] for name, r in results.items()},
            "mcc_std": {name: r["mcc_std"] for name, r in results.items()},
            "paper": {label: table.get(key) for label, table in PAPER_COLUMNS}}


def mcc_tsv(rows, names):
    header = ["task", *[f"{n} mcc" for n in names], *[f"{n} std" for n in names], *[c for c, _ in PAPER_COLUMNS]]
    lines = ["\t".join(header)]
    for row in rows:
        lines.append("\t".join([row["task"], *[_fmt(row["mcc"].get(n)) for n in names],
                                *[_fmt(row["mcc_std"].get(n)) for n in names],
                                *[_fmt(row["paper"][c]) for c, _ in PAPER_COLUMNS]]))
    return "\n".join(lines) + "\n"


def vocab_tsv(vocab_rows):
    lines = ["\t".join(VOCAB_COLUMNS)]
    for row in vocab_rows:
        lines.append("\t".join(_fmt(row.get(c), 4) for c in VOCAB_COLUMNS))
    return "\n".join(lines) + "\n"


def format_tables(vocab_rows, rows, names):
    """The printed report: vocabulary statistics, then MCC per task and tokenizer beside the paper."""
    width = max(len(n) for n in names) + 2
    out = [f"{'tokenizer':<{width}} {'vocab':>6} {'mean len':>8} {'nt/token':>8} {'MLM loss':>8} {'MLM acc':>7} "
           f"{'window bp':>9}"]
    for v in vocab_rows:
        out.append(f"{v['tokenizer']:<{width}} {v['vocab_size']:>6} {_fmt(v['mean_token_length_nt']):>8} "
                   f"{_fmt(v['heldout_nt_per_token']):>8} {_fmt(v['pretrain_eval_loss'], 3):>8} "
                   f"{_fmt(v['pretrain_eval_accuracy'], 3):>7} {_fmt(v['window_bp']):>9}")
    out.append("")
    cell = max(14, width)
    header = f"{'task (MCC x 100)':<20}" + "".join(f"{n:>{cell}}" for n in names) + "".join(
        f"{c:>22}" for c, _ in PAPER_COLUMNS)
    out += [header, "-" * len(header)]
    for row in rows:
        cells = []
        for n in names:
            m, s = row["mcc"].get(n), row["mcc_std"].get(n)
            cells.append("" if m is None else (f"{m:.2f}" + (f" +- {s:.2f}" if s is not None else "")))
        out.append(f"{row['task']:<20}" + "".join(f"{c:>{cell}}" for c in cells)
                   + "".join(f"{_fmt(row['paper'][c]):>22}" for c, _ in PAPER_COLUMNS))
    return "\n".join(out)
