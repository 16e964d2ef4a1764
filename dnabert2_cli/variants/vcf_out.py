"""--out-vcf: the input records as they were, bgzipped and tabix-indexed, with the scores added as INFO fields.

Each field holds one value per ALT allele (Number=A), `.` where the allele was not scored; DNABERT2_STATUS says
why. Fields: DNABERT2_STATUS, DNABERT2_LLR, DNABERT2_EMB_COS, DNABERT2_EMB_L2 and, for a fine-tuned model, one
DNABERT2_DELTA_PROB_<LABEL> / _DELTA_LOGIT_ / _DELTA_VALUE_ per class. Records are copied as text (htslib's
rendering of each), so nothing of the input is changed or dropped.
"""
import os
import re
from pathlib import Path

import numpy as np

from dnabert2.variants.tsv import _text, score_names

DESCRIPTIONS = {
    "llr": "DNABERT-2 zero-shot log-likelihood ratio: sum log p(ALT tokens) - sum log p(REF tokens), each masked",
    "emb_cos": "DNABERT-2 cosine distance between the mean embeddings of the REF and ALT windows",
    "emb_l2": "DNABERT-2 Euclidean distance between the mean embeddings of the REF and ALT windows",
    "delta_prob": "DNABERT-2 fine-tuned model: ALT minus REF probability of class",
    "delta_logit": "DNABERT-2 fine-tuned model: ALT minus REF logit of class",
    "delta_value": "DNABERT-2 fine-tuned regression model: ALT minus REF value of target",
}
STATUS_ID = "DNABERT2_STATUS"


def info_id(column):
    """`delta_prob_TATA box` -> `DNABERT2_DELTA_PROB_TATA_BOX` (the characters an INFO ID may hold)."""
    return "DNABERT2_" + re.sub(r"[^0-9A-Za-z_.]", "_", column).upper()


def write_vcf(h5_path, vcf, path, force=False, chunk=65536):
    """The annotated copy of the VCF/BCF file `vcf` from the finished (or merged) score-variants file `h5_path`
    of it, to `path` (bgzipped, with its tabix index `path.tbi`)."""
    import h5py
    import pysam

    from dnabert2.common.files import output_file
    from dnabert2.errors import InputError
    from dnabert2.variants.records import VcfSource

    path = Path(path)
    index = Path(f"{path}.tbi")
    source = VcfSource(vcf)
    with h5py.File(h5_path, "r") as f, output_file(path, force) as tmp:
        if "variants" not in f or _text(f.attrs.get("shard", "")):
            raise InputError(f"{h5_path}: not the complete score-variants file of a VCF (merge shard files first)")
        fields = _fields(f)
        try:
            with pysam.BGZFile(str(tmp), "wb") as out:
                out.write(_header(source.header_text, fields).encode())
                for line in _lines(source, _rows(f, fields, chunk)):
                    out.write(line.encode())
            pysam.tabix_index(str(tmp), preset="vcf", force=True)
            os.replace(f"{tmp}.tbi", index)
        except BaseException:
            Path(f"{tmp}.tbi").unlink(missing_ok=True)
            raise
    return path


def _fields(f):
    """[(dataset, column in it or None, INFO ID, description)] of the file's scores."""
    out = []
    for name, columns in score_names(f):
        short = name.split("/", 1)[1]
        for c, column in enumerate(columns):
            label = column[len(short) + 1:]
            description = DESCRIPTIONS[short] + (f" {label}" if label else "")
            out.append((name, c if short.startswith("delta") else None, info_id(column), description))
    return out


def _header(text, fields):
    lines = [f'##INFO=<ID={STATUS_ID},Number=A,Type=String,Description="DNABERT-2 score-variants status of the '
             f'allele: ok, near_end (context clipped, scored), ref_mismatch, unknown_chrom, symbolic, too_long">']
    lines += [f'##INFO=<ID={iid},Number=A,Type=Float,Description="{description}">' for _, _, iid, description in
              fields]
    head, _, chrom_line = text.rstrip("\n").rpartition("\n")
    return "\n".join([head, *lines, chrom_line]) + "\n"


def _rows(f, fields, chunk):
    """Per row of the file: [(INFO ID, text)], the status first."""
    rows = f["done"].shape[0]
    for a in range(0, rows, chunk):
        status = f["variants/status"][a:a + chunk]
        values = {name: f[name][a:a + chunk] for name in {name for name, _, _, _ in fields}}
        for i in range(len(status)):
            row = [(STATUS_ID, _text(status[i]))]
            for name, c, iid, _ in fields:
                value = values[name][i] if c is None else values[name][i, c]
                row.append((iid, "." if np.isnan(value) else f"{value:.6g}"))
            yield row


def _lines(source, rows):
    """Each record of the source as text with its ALTs' INFO values appended."""
    for _, rec in source.records():
        text = str(rec).rstrip("\n").split("\t")
        per_alt = [next(rows) for _ in (rec.alts or (".",))]
        added = ";".join(f"{iid}={','.join(row[k][1] for row in per_alt)}" for k, (iid, _) in enumerate(per_alt[0]))
        text[7] = added if text[7] == "." else f"{text[7]};{added}"
        yield "\t".join(text) + "\n"
