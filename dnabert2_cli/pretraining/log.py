"""The training log of `pretrain`: `log.jsonl` (one JSON object per logged step and per evaluation) and the
loss-curve PNG drawn from it (matplotlib is optional)."""
import json
import logging
from pathlib import Path

from dnabert2.common.files import staged_file, write_text

log = logging.getLogger(__name__)

LOG_FILE = "log.jsonl"
CURVE_FILE = "loss_curve.png"


def append_record(out, record):
    """Add one record (a step's training figures or an evaluation) to the log."""
    with open(Path(out) / LOG_FILE, "a") as fh:
        fh.write(json.dumps(record) + "\n")


def read_log(out):
    """Every complete record of the log (a line cut short by a killed process is skipped)."""
    path = Path(out) / LOG_FILE
    if not path.is_file():
        return []
    records = []
    for line in path.read_text().splitlines():
        line = line.strip()
        if line:
            try:
                records.append(json.loads(line))
            except ValueError:
                continue  # a line cut short by a killed process
    return records


def truncate_log(out, step):
    """Keep log records up to `step` (a resumed run logs the later steps again)."""
    records = [r for r in read_log(out) if r.get("step", 0) <= step]
    write_text(Path(out) / LOG_FILE, "".join(json.dumps(r) + "\n" for r in records))


def plot_loss_curve(out):
    """loss_curve.png from log.jsonl; returns its path, or None when matplotlib is not installed."""
    try:  # a Figure with its own Agg canvas: no pyplot, so a notebook's backend is left alone
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        log.info("matplotlib is not installed: no loss curve")
        return None
    records = read_log(out)
    train = [(r["step"], r["loss"]) for r in records if "loss" in r]
    held = [(r["step"], r["eval_loss"]) for r in records if "eval_loss" in r]
    if not train and not held:
        return None  # nothing logged yet
    fig = Figure(figsize=(6, 4), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    if train:
        ax.plot(*zip(*train), label="training loss", lw=1)
    if held:
        ax.plot(*zip(*held), "o-", label="held-out loss", lw=1.5, ms=3)
    ax.set_xlabel("step")
    ax.set_ylabel("masked-LM loss (nats)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    path = Path(out) / CURVE_FILE
    with staged_file(path) as tmp:
        fig.savefig(tmp, format="png")
    return path
