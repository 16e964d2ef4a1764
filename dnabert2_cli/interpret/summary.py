"""The lines `attribute` and `motifs` print when they finish."""


def _count(n, noun):
    return f"{n:,} {noun}" + ("" if n == 1 else "s")


def format_attribute(summary, named=False):
    """What was attributed, how fast, and what was written (`named`: the output was named after the input)."""
    seconds = max(summary["seconds"], 1e-9)
    resumed = f", resumed at row {summary['resumed_from_row']:,}" if summary.get("resumed_from_row") else ""
    per_method = ", ".join(f"{m} {t / max(summary['regions'], 1):.2f} s/region"
                           for m, t in summary["seconds_per_method"].items())
    target = f"target {summary['target']}" if summary.get("target") else "llr of each SNV"
    lines = [f"Attributed {_count(summary['regions'], 'region')} ({summary['bp']:,} bp, {target}) in {seconds:.1f} s "
             f"on {summary['device']} ({summary['precision']}){resumed}: {per_method}"]
    if summary.get("ig_gaps"):
        lines.append(f"WARNING: ig attributions of {summary['ig_gaps']:,} regions miss f(input) - f(baseline) by "
                     f"more than 1% (column ig_gap); raise --steps")
    files = [summary["output"], *(summary[k] for k in ("npz", "bigwig", "plots") if summary.get(k))]
    wrote = ", ".join(files[:-1]) + " and " + files[-1] if len(files) > 1 else files[0]
    lines.append(f"Wrote {wrote}" + (" (named after the input; -o to choose)" if named else ""))
    return "\n".join(lines)


def format_motifs(summary):
    """The patterns found, the best match of the top one, and the folder written."""
    seqlets = summary["seqlets"]
    lines = [f"TF-MoDISco on the {summary['method']} contributions of {summary['regions']:,} regions: "
             f"{seqlets['positive']:,} positive and {seqlets['negative']:,} negative seqlets, "
             f"{_count(len(summary['patterns']), 'pattern')} in {summary['seconds']:.1f} s"]
    for row in summary["patterns"][:5]:
        best = row["matches"][0] if row["matches"] else None
        match = f"best JASPAR match {best['id']} {best['name']} (q = {best['q']:.2g})" if best else "no match"
        lines.append(f"  {row['pattern']}: {row['seqlets']} seqlets, {row['consensus']}, {match}")
    lines.append(f"Wrote {summary['output']}/ (patterns.tsv, patterns.meme, logos/, report.html, modisco.h5)")
    return "\n".join(lines)
