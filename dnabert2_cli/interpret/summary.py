"""The lines `attribute` and `motifs` print when they finish."""


def format_attribute(summary, named=False):
    """What was attributed, how fast, and what was written (`named`: the output was named after the input)."""
    seconds = max(summary["seconds"], 1e-9)
    resumed = f", resumed at row {summary['resumed_from_row']:,}" if summary.get("resumed_from_row") else ""
    per_method = ", ".join(f"{m} {t / max(summary['regions'], 1):.2f} s/region"
                           for m, t in summary["seconds_per_method"].items())
    target = f"target {summary['target']}" if summary.get("target") else "llr of each SNV"
    lines = [f"Attributed {summary['regions']:,} regions ({summary['bp']:,} bp, {target}) in {seconds:.1f} s on "
             f"{summary['device']} ({summary['precision']}){resumed}: {per_method}"]
    if summary.get("ig_gaps"):
        lines.append(f"WARNING: ig attributions of {summary['ig_gaps']:,} regions miss f(input) - f(baseline) by "
                     f"more than 1% (column ig_gap); raise --steps")
    files = [summary["output"], *(summary[k] for k in ("npz", "bigwig", "plots") if summary.get(k))]
    wrote = ", ".join(files[:-1]) + " and " + files[-1] if len(files) > 1 else files[0]
    lines.append(f"Wrote {wrote}" + (" (named after the input; -o to choose)" if named else ""))
    return "\n".join(lines)
