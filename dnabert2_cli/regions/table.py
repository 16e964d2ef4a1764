"""The table of a finished predict file (`predict --tsv`): a TSV, or a BED6+ file when the name ends in .bed, or
the TSV on standard output for "-" (so that it can be piped)."""
from dnabert2.common.files import text_output


def write_table(h5_path, path, force=False, chunk=65536):
    """A TSV (or BED6+ when `path` ends in .bed) of a finished predict file, written atomically; "-": stdout."""
    import h5py

    bed = str(path).lower().endswith(".bed")
    with h5py.File(h5_path, "r") as f, text_output(path, force) as out:
        names = [str(x) for x in _json_list(f.attrs.get("label_names", ""))]
        regression = "values" in f
        key = "values" if regression else "probabilities"
        single = not regression and f["labels"].ndim == 1
        cols = [f"p_{x}" if not regression else x for x in names]
        first = "#chrom\tstart\tend\tname\tscore\tstrand\t" if bed else "chrom\tstart\tend\tname\tstrand\t"
        out.write(first + ("label\t" if single else "") + "\t".join(cols) + "\n")
        n = f["done"].shape[0]
        for a in range(0, n, chunk):
            r = {k: f[f"regions/{k}"][a:a + chunk] for k in ("chrom", "start", "end", "name", "strand")}
            values = f[key][a:a + chunk]
            labels = f["labels"][a:a + chunk] if single else None
            for i in range(len(values)):
                row = [_text(r["chrom"][i]), str(r["start"][i]), str(r["end"][i]), _text(r["name"][i])]
                if bed:
                    row.append(str(0 if regression else int(round(1000 * float(values[i].max())))))
                row.append(_text(r["strand"][i]))
                if single:
                    row.append(names[labels[i]])
                row.extend(f"{v:.6g}" for v in values[i])
                out.write("\t".join(row) + "\n")


def _text(value):
    return value.decode() if isinstance(value, bytes) else str(value)


def _json_list(value):
    import json

    if isinstance(value, bytes):
        value = value.decode()
    if not value:
        return []
    return json.loads(value) if isinstance(value, str) else list(value)
