"""The table of a finished score-variants file (--tsv): one line per variant (per SNV with --saturate).

Columns: chrom, pos (1-based), id, ref, alt, status, then one per score: `llr`, `emb_cos`, `emb_l2`, and
`delta_prob_LABEL` / `delta_logit_LABEL` / `delta_value_LABEL` per class. With --saturate, id is the region's name
and two columns follow status: region (its input index) and offset (0-based, on its strand). Empty: not scored.
`--tsv -` writes the table on standard output (the summary stays on standard error).
"""
import json

import numpy as np

from dnabert2.variants.columns import BASES

VARIANT_FIELDS = ("chrom", "pos", "id", "ref", "alt", "status")


ORDER = ("llr", "emb_cos", "emb_l2", "delta_prob", "delta_logit", "delta_value")


def score_names(f):
    """[(dataset, [column names])] of the /scores datasets of an open file, in the order of its methods."""
    labels = [str(x) for x in json.loads(_text(f.attrs.get("label_names", "")) or "[]")]
    methods = json.loads(_text(f.attrs["methods"]))
    out = []
    for name in (n for method in methods for n in ORDER if n.startswith(method) and n in f["scores"]):
        if name.startswith("delta"):
            out.append((f"scores/{name}", [f"{name}_{label}" for label in labels]))
        else:
            out.append((f"scores/{name}", [name]))
    return out


def write_tsv(h5_path, path, force=False, chunk=65536):
    """Write the table of a finished file, atomically; "-": to standard output."""
    import h5py

    from dnabert2.common.files import text_output

    with h5py.File(h5_path, "r") as f, text_output(path, force) as out:
        scores = score_names(f)
        saturate = "sites" in f
        fields = (*VARIANT_FIELDS, "region", "offset") if saturate else VARIANT_FIELDS
        out.write("\t".join([*fields, *(c for _, cols in scores for c in cols)]) + "\n")
        rows = f["done"].shape[0]
        for a in range(0, rows, chunk):
            values = {name: f[name][a:a + chunk] for name, _ in scores}
            lines = _site_lines(f, a, chunk, values) if saturate else _variant_lines(f, a, chunk, values)
            out.writelines(lines)


def _variant_lines(f, a, chunk, values):
    cols = {k: f[f"variants/{k}"][a:a + chunk] for k in VARIANT_FIELDS}
    for i in range(len(cols["pos"])):
        row = [_text(cols[k][i]) for k in VARIANT_FIELDS]
        for name in values:
            row += _numbers(values[name][i])
        yield "\t".join(row) + "\n"


def _site_lines(f, a, chunk, values):
    cols = {k: f[f"sites/{k}"][a:a + chunk] for k in ("chrom", "pos", "name", "ref", "region", "offset")}
    for i in range(len(cols["pos"])):
        ref = _text(cols["ref"][i])
        for b, base in enumerate(BASES):
            if base == ref:
                continue
            row = [_text(cols["chrom"][i]), str(cols["pos"][i]), _text(cols["name"][i]), ref, base, "ok",
                   str(cols["region"][i]), str(cols["offset"][i])]
            for name in values:
                row += _numbers(values[name][i, b])
            yield "\t".join(row) + "\n"


def _numbers(value):
    return ["" if np.isnan(v) else f"{v:.6g}" for v in np.atleast_1d(value)]


def _text(value):
    return value.decode() if isinstance(value, bytes) else str(value)
