"""The summary of an embed or predict run: its counters with rates added, and the two lines the CLI prints."""


def with_rates(stats):
    """Add regions/s and bp/s to a run's counters (regions, bp, seconds, ...); returns them."""
    seconds = max(stats.get("seconds", 0.0), 1e-9)
    stats["regions_per_s"] = stats["regions"] / seconds
    stats["bp_per_s"] = stats["bp"] / seconds
    return stats


def format_summary(verb, summary, named=False):
    """"Embedded N regions (...) in S s on cpu (fp32): R regions/s, B bp/s, model P% of the time" and the
    "Wrote ..." line (`named`: the output was named after the input, so the line says how to choose another)."""
    model_share = summary["model_seconds"] / max(summary["seconds"], 1e-9)
    resumed = f", resumed at row {summary['resumed_from_row']:,}" if summary.get("resumed_from_row") else ""
    where = f" on {summary['device']} ({summary['precision']})" if summary.get("precision") else ""
    counts = (f"{verb} {summary['regions']:,} regions ({summary['bp']:,} bp, {summary['windows']:,} windows, "
              f"{summary['tokens']:,} tokens, {summary['unknown_tokens']:,} [UNK]) in {summary['seconds']:.1f} s"
              f"{where}{resumed}: {summary['regions_per_s']:,.1f} regions/s, {summary['bp_per_s']:,.0f} bp/s, "
              f"model {100 * model_share:.0f}% of the time")
    wrote = f"Wrote {summary['output']}" + (" (named after the input; -o to choose)" if named else "")
    carried = summary.get("model_defaults")
    if carried:
        given = " ".join(f"--window {value}" if key == "window" else "--rc-average" if value else "--no-rc-average"
                         for key, value in carried.items())
        counts += f"\nWith the model's own {given} (its config.json; give the option to change it)"
    table = summary.get("table")
    if table == "-":
        wrote += "; the table went to standard output"
    elif table:
        wrote += f" and {table}"
    return f"{counts}\n{wrote}"
