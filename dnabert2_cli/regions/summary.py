"""The summary of an embed or predict run: its counters with rates added, and the two lines the CLI prints; how the
model computed (attention backend, packed calls, compiled encoder, the first call's time), for score-variants too.

The summary dict always names the attention backend used (`attention`), `packed` and `compiled`, and counts the
model calls (`model_calls`, `first_call_seconds`). The printed line names them only where they differ from the
default (sdpa, padded, not compiled), so a default run prints what it always did. With --compile or flex (both
compile on their first calls) a second line gives the first model call's time, compilation included, beside the
later calls' average: the difference is about what compiling cost.
"""


def with_rates(stats):
    """Add regions/s and bp/s to a run's counters (regions, bp, seconds, ...); returns them."""
    seconds = max(stats.get("seconds", 0.0), 1e-9)
    stats["regions_per_s"] = stats["regions"] / seconds
    stats["bp_per_s"] = stats["bp"] / seconds
    return stats


def count_call(stats, seconds):
    """Add one model call's `seconds` to a run's counters (`model_seconds`, `model_calls`, `first_call_seconds`)."""
    stats["model_seconds"] += seconds
    stats["model_calls"] = stats.get("model_calls", 0) + 1
    if stats.get("first_call_seconds") is None:
        stats["first_call_seconds"] = seconds


def kernel_stats(loaded):
    """The counters that say how a run's model computed (start of its stats)."""
    return {"attention": loaded.attention, "packed": loaded.packed, "compiled": loaded.compiled, "model_calls": 0,
            "first_call_seconds": None}


def placement(summary):
    """" on cpu (fp32)", with the attention backend, packing and compiling named where not the default."""
    from dnabert2.model.attention import DEFAULT_BACKEND

    if not summary.get("precision"):
        return ""
    how = [summary["precision"]]
    if summary.get("attention", DEFAULT_BACKEND) != DEFAULT_BACKEND or summary.get("packed") or summary.get("compiled"):
        how.append(f"{summary.get('attention')} attention")
        how += ["packed"] * bool(summary.get("packed")) + ["compiled"] * bool(summary.get("compiled"))
    return f" on {summary['device']} ({', '.join(how)})"


def compile_note(summary):
    """"\nFirst model call (compiling) X s; the other N calls Y s on average" with --compile or flex, else ""."""
    if not (summary.get("compiled") or summary.get("attention") == "flex") or not summary.get("model_calls"):
        return ""
    calls, first = summary["model_calls"], summary["first_call_seconds"]
    note = f"\nFirst model call (compiling) {first:.1f} s"
    if calls > 1:
        note += f"; the other {calls - 1:,} calls {(summary['model_seconds'] - first) / (calls - 1):.2f} s on average"
    return note


def format_summary(verb, summary, named=False):
    """"Embedded N regions (...) in S s on cpu (fp32): R regions/s, B bp/s, model P% of the time" and the
    "Wrote ..." line (`named`: the output was named after the input, so the line says how to choose another)."""
    model_share = summary["model_seconds"] / max(summary["seconds"], 1e-9)
    resumed = f", resumed at row {summary['resumed_from_row']:,}" if summary.get("resumed_from_row") else ""
    where = placement(summary)
    counts = (f"{verb} {summary['regions']:,} regions ({summary['bp']:,} bp, {summary['windows']:,} windows, "
              f"{summary['tokens']:,} tokens, {summary['unknown_tokens']:,} [UNK]) in {summary['seconds']:.1f} s"
              f"{where}{resumed}: {summary['regions_per_s']:,.1f} regions/s, {summary['bp_per_s']:,.0f} bp/s, "
              f"model {100 * model_share:.0f}% of the time{compile_note(summary)}")
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
