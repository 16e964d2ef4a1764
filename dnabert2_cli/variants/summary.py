"""The summary of a score-variants run: its counters with rates, and the lines the command prints (how the model
computed is said as embed says it: `regions.summary`)."""
from dnabert2.regions.summary import compile_note, kernel_stats, placement


def summary_of(stats, rows_done, loaded, **extra):
    """The summary dict of a run: its counters, rates, device, precision and how the model computed
    (`regions.summary.kernel_stats`: attention backend, packed, compiled, model calls), and `extra` (output, rows,
    ...)."""
    from dnabert2.common.runtime import precision_name

    seconds = max(stats["seconds"], 1e-9)
    return {**kernel_stats(loaded), **stats, **extra, "rows_done": rows_done, "rows_per_s": rows_done / seconds,
            "snvs_per_s": stats["snvs"] / seconds, "device": str(loaded.device),
            "precision": precision_name(loaded.dtype)}


def format_summary(summary, named=False):
    """The lines the command prints: what was scored, how fast, and what was written (`named`: the output was
    named after the input)."""
    statuses = ", ".join(f"{n:,} {s}" for s, n in sorted(summary["statuses"].items(), key=lambda x: -x[1]))
    share = summary["model_seconds"] / max(summary["seconds"], 1e-9)
    resumed = f", resumed at row {summary['resumed_from_row']:,}" if summary.get("resumed_from_row") else ""
    took = f"in {summary['seconds']:.1f} s{placement(summary)}{resumed}"
    if summary["kind"] == "saturate":
        what = f"Saturated {summary['rows_done']:,} sites ({summary['snvs']:,} SNVs) {took}: " \
               f"{summary['snvs_per_s']:,.1f} SNVs/s"
    else:
        what = f"Scored {summary['rows_done']:,} variants ({statuses}) {took}: {summary['rows_per_s']:,.1f} variants/s"
    what += f", {summary['model_rows']:,} model rows, model {100 * share:.0f}% of the time{compile_note(summary)}"
    written = (summary.get(k) for k in ("table", "vcf", "plots"))
    files = [summary["output"], *(path for path in written if path and path != "-")]
    wrote = ", ".join(files[:-1]) + " and " + files[-1] if len(files) > 1 else files[0]
    wrote += " (named after the input; -o to choose)" if named else ""
    if summary.get("table") == "-":
        wrote += "; the table went to standard output"
    return f"{what}\nWrote {wrote}"
