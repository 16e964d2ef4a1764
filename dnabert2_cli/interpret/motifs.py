"""`dnabert2.motifs`: TF-MoDISco patterns of an attribute file, matched to JASPAR, into one folder.

The folder (built under a temporary name and renamed into place when complete, so a failed run leaves nothing):
`patterns.tsv` (one row per pattern: sign, seqlets, width, consensus, the best JASPAR matches with p- and
q-values), `patterns.meme` (the patterns' probability matrices, MEME format, for MEME-suite tools),
`logos/PATTERN.png` (contribution and information logos of the pattern) and `logos/PATTERN.match.png` (its best
match, on the strand that matched), `report.html` (all of it on one self-contained page) and
`modisco.h5` (TF-MoDISco's own result file, which `modisco report` reads).
"""
import time
from pathlib import Path

import numpy as np

from dnabert2.common.fields import settings_of
from dnabert2.errors import InputError
from dnabert2.interpret.extra import require
from dnabert2.interpret.settings import MotifSettings


def motifs(attributions=None, settings=None, **options):
    """Motifs of an attribute file: `dnabert2 motifs` as a function. options are the fields of `MotifSettings`
    (output, method, max_seqlets, jaspar, ...), or pass `settings`. Returns a summary dict (patterns, seqlets,
    output)."""
    return run(settings_of(MotifSettings, settings, options, "motifs", attributions=attributions))


def default_output(attributions):
    """`data/peaks.attributions.h5` -> `peaks.motifs` (in the current folder)."""
    name = Path(attributions).name
    for suffix in (".h5", ".attributions"):
        name = name[:-len(suffix)] if name.endswith(suffix) and len(name) > len(suffix) else name
    return f"{name}.motifs"


def run(s):
    from dnabert2.common.files import check_distinct_paths, check_new_output, output_dir
    from dnabert2.interpret import jaspar, modisco
    from dnabert2.regions.source import check_input_file

    s.check()
    require("modiscolite", "memelite", "pyjaspar", "logomaker", "matplotlib", what="dnabert2 motifs")
    if s.attributions is None:
        raise InputError("give the HDF5 file of `dnabert2 attribute`")
    check_input_file("ATTRIBUTIONS", s.attributions, "attribute file")
    output = s.output or default_output(s.attributions)
    check_distinct_paths([("-o", output)], [("ATTRIBUTIONS", s.attributions)])
    check_new_output(output, s.force)
    t0 = time.perf_counter()
    method, one_hot, hypothetical = modisco.read_inputs(s.attributions, s.method)
    database = jaspar.load_motifs(s.jaspar, s.tax_group)
    patterns, raw, seqlets = modisco.find_patterns(one_hot, hypothetical, s, str(s.attributions))
    matches = jaspar.best_matches([p.ppm for p in patterns], database, s.matches)
    summary = {"attributions": str(s.attributions), "method": method, "regions": len(one_hot),
               "seqlets": {"positive": seqlets[0], "negative": seqlets[1]}, "jaspar": s.jaspar,
               "tax_group": s.tax_group, "motifs_compared": len(database), "output": str(output),
               "patterns": [_row(p, m) for p, m in zip(patterns, matches)]}
    with output_dir(output, s.force) as tmp:
        _write(tmp, patterns, matches, raw, one_hot.shape[1], summary)
    summary["seconds"] = time.perf_counter() - t0
    return summary


def _row(pattern, matches):
    return {"pattern": pattern.name, "sign": pattern.sign, "seqlets": pattern.seqlets, "width": len(pattern.ppm),
            "consensus": pattern.consensus,
            "matches": [{"id": m.motif.matrix_id, "name": m.motif.name, "p": m.p_value, "q": m.q_value}
                        for m in matches]}


def _write(folder, patterns, matches, raw, length, summary):
    from modiscolite.io import save_hdf5

    from dnabert2.interpret.report import write_report

    (folder / "logos").mkdir()
    write_table(folder / "patterns.tsv", summary["patterns"], len(matches[0]) if matches else 0)
    write_meme(folder / "patterns.meme", patterns)
    for pattern, found in zip(patterns, matches):
        draw_pattern(folder / "logos" / f"{pattern.name}.png", pattern)
        if found:
            draw_match(folder / "logos" / f"{pattern.name}.match.png", found[0])
    save_hdf5(str(folder / "modisco.h5"), *raw, length)
    write_report(folder, summary)


def write_table(path, rows, n):
    columns = ["pattern", "sign", "seqlets", "width", "consensus"]
    for k in range(1, n + 1):
        columns += [f"match{k}_id", f"match{k}_name", f"match{k}_p", f"match{k}_q"]
    lines = ["\t".join(columns)]
    for row in rows:
        cells = [row["pattern"], row["sign"], str(row["seqlets"]), str(row["width"]), row["consensus"]]
        for m in row["matches"]:
            cells += [m["id"], m["name"], f"{m['p']:.3g}", f"{m['q']:.3g}"]
        lines.append("\t".join(cells))
    path.write_text("\n".join(lines) + "\n")


def write_meme(path, patterns):
    """The patterns' probability matrices in MEME's minimal motif format (uniform background)."""
    lines = ["MEME version 5", "", "ALPHABET= ACGT", "", "strands: + -", "", "Background letter frequencies",
             "A 0.25 C 0.25 G 0.25 T 0.25", ""]
    for pattern in patterns:
        ppm = pattern.ppm / pattern.ppm.sum(1, keepdims=True)
        lines += [f"MOTIF {pattern.name} {pattern.consensus}",
                  f"letter-probability matrix: alength= 4 w= {len(ppm)} nsites= {pattern.seqlets} E= 0"]
        lines += [" " + " ".join(f"{v:.6f}" for v in row) for row in ppm]
        lines.append("")
    path.write_text("\n".join(lines))


def information(ppm):
    """A probability matrix [width, 4] scaled to bits (each position's information content)."""
    p = np.clip(np.asarray(ppm, dtype=np.float64), 1e-9, 1.0)
    p = p / p.sum(1, keepdims=True)
    return p * (2.0 + (p * np.log2(p)).sum(1, keepdims=True))


def draw_pattern(path, pattern):
    from dnabert2.interpret.logos import INCHES_PER_BASE, draw_matrix, figure

    fig = figure(max(4.0, 3 * INCHES_PER_BASE * len(pattern.ppm)), 4.4)
    draw_matrix(fig.add_subplot(3, 1, 1), pattern.cwm, f"{pattern.name}: {pattern.seqlets} seqlets",
                "contribution")
    draw_matrix(fig.add_subplot(3, 1, 2), pattern.hcwm, ylabel="hypothetical")
    draw_matrix(fig.add_subplot(3, 1, 3), information(pattern.ppm), ylabel="bits")
    fig.tight_layout()
    fig.savefig(path)


def draw_match(path, match):
    from dnabert2.interpret.logos import INCHES_PER_BASE, draw_matrix, figure

    strand = " (reverse complement)" if match.reverse else ""
    fig = figure(max(4.0, 3 * INCHES_PER_BASE * len(match.motif.ppm)), 1.8)
    draw_matrix(fig.add_subplot(1, 1, 1), information(match.oriented_ppm),
                f"{match.motif.matrix_id} {match.motif.name}{strand}: q = {match.q_value:.2g}", "bits")
    fig.tight_layout()
    fig.savefig(path)
