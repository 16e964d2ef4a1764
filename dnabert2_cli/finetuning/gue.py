"""`dnabert2 benchmark gue`: the GUE fine-tuning protocol of the DNABERT-2 paper, run on every dataset folder found.

The per-task settings (max tokens, epochs, evaluation interval) are those of the original fine-tuning scripts, and
the paper's DNABERT-2 test scores (Table 6, MCC x 100; Covid macro F1 x 100; three seeds averaged) are printed
beside ours. A dataset folder is any folder holding train/dev/test tables; it is matched to the protocol by its
last two path components (`prom/prom_core_tata`, `EMP/H3`, `tf/0`, ...). Folders the table does not know run with
the fine-tuning defaults and show no paper number. Folders without a train file are listed as skipped.
"""
import json
import logging
import math
from dataclasses import dataclass
from pathlib import Path

from dnabert2.common.fields import settings_of
from dnabert2.common.files import check_new_output, output_dir, output_lock
from dnabert2.errors import InputError
from dnabert2.finetuning.settings import GueSettings, LoraFields, RunSize, shared_options
from dnabert2.finetuning.tables import table_names

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Protocol:
    max_length: int          # max tokens per sequence
    epochs: int
    eval_every: int          # evaluate (and keep the best by dev loss) every N steps
    max_steps: int = None    # step cap on top of the epochs (mouse: 1,000)
    metric: str = "mcc"      # the metric the paper reports


def _protocols():
    table = {}
    for mark in ("H3", "H3K14ac", "H3K36me3", "H3K4me1", "H3K4me2", "H3K4me3", "H3K79me3", "H3K9ac", "H4", "H4ac"):
        table[f"emp/{mark.lower()}"] = Protocol(128, 3, 200)
    table["prom/prom_core_all"] = table["prom/prom_core_notata"] = Protocol(20, 4, 400)
    table["prom/prom_core_tata"] = Protocol(20, 10, 200)
    table["prom/prom_300_all"] = table["prom/prom_300_notata"] = Protocol(70, 4, 400)
    table["prom/prom_300_tata"] = Protocol(70, 10, 200)
    table["splice/reconstructed"] = Protocol(80, 5, 200)
    table["virus/covid"] = Protocol(256, 8, 200, metric="f1")
    for i in range(5):
        table[f"mouse/{i}"] = Protocol(30, 5, 200, max_steps=1000)
        table[f"tf/{i}"] = Protocol(30, 3, 200)
    return table


PROTOCOLS = _protocols()

# the paper's DNABERT-2 test scores (x 100), keyed like PROTOCOLS
PAPER_DNABERT2 = {
    "emp/h3": 78.27, "emp/h3k14ac": 52.57, "emp/h3k36me3": 56.88, "emp/h3k4me1": 50.52, "emp/h3k4me2": 31.13,
    "emp/h3k4me3": 36.27, "emp/h3k79me3": 67.39, "emp/h3k9ac": 55.63, "emp/h4": 80.71, "emp/h4ac": 50.43,
    "prom/prom_300_all": 86.77, "prom/prom_300_notata": 94.27, "prom/prom_300_tata": 71.59,
    "prom/prom_core_all": 69.37, "prom/prom_core_notata": 68.04, "prom/prom_core_tata": 74.17,
    "tf/0": 71.99, "tf/1": 76.06, "tf/2": 66.52, "tf/3": 58.54, "tf/4": 77.43,
    "mouse/0": 56.76, "mouse/1": 84.77, "mouse/2": 79.32, "mouse/3": 66.47, "mouse/4": 52.66,
    "virus/covid": 71.02, "splice/reconstructed": 84.99,
}
DEFAULT_PROTOCOL = Protocol(max_length=None, epochs=3, eval_every=200)


def dataset_key(folder):
    """'prom/prom_core_tata' for .../GUE/prom/prom_core_tata (lower-cased last two path components)."""
    folder = Path(folder)
    return f"{folder.parent.name}/{folder.name}".lower()


def find_datasets(root):
    """Every folder under root (root included) holding a dev table, sorted by path."""
    root = Path(root)
    if not root.is_dir():
        raise InputError(f"--data {root}: not a folder")
    folders = set()
    for path in root.rglob("*"):
        if path.is_file() and path.name.lower() in table_names("dev"):
            folders.add(path.parent)
    if not folders:
        raise InputError(f"--data {root}: no dataset folders (folders holding train/dev/test .csv or .tsv) found")
    return sorted(folders)


def _has(folder, split):
    return any((folder / name).is_file() for name in table_names(split))


def benchmark_gue(data=None, model=None, output=None, settings=None, **options):
    """Fine-tune `model` on every GUE dataset folder under `data` with the paper's protocol; write
    OUTPUT/results.tsv, OUTPUT/results.json and one fine-tuning folder per dataset under OUTPUT/runs/.

    options are the fields of `GueSettings` (the options of `dnabert2 benchmark gue`): `tasks` (glob patterns on
    keys such as 'prom/*'), `max_train_rows`, `max_eval_rows` and `max_steps` shrink the run for smoke tests;
    `lora` (True) with lora_targets, lora_r, lora_alpha, lora_dropout; seeds, seed, batch_size, keep_models,
    device, precision, threads, attention, compile, pack, force; or pass `settings`, a `GueSettings`. `model` as
    for `finetune` (None: the model shipped in the package). Returns the result rows."""
    import fnmatch

    for name, value in (("data", data), ("model", model), ("output", output)):
        if value is not None:
            options[name] = value
    s = settings_of(GueSettings, settings, options, "benchmark_gue")
    s.check()
    _check_kernels(s)
    with output_lock(s.output):
        check_new_output(s.output, s.force)
        folders = find_datasets(s.data)
        if s.tasks:
            folders = [f for f in folders if any(fnmatch.fnmatch(dataset_key(f), p.lower()) for p in s.tasks)]
            if not folders:
                raise InputError(f"--tasks {','.join(s.tasks)}: matches none of the dataset folders under {s.data}")
        with output_dir(s.output, s.force) as tmp:
            rows = [_run_dataset(folder, s, tmp) for folder in folders]
            (tmp / "results.json").write_text(json.dumps(rows, indent=2) + "\n")
            (tmp / "results.tsv").write_text(format_tsv(rows))
    return rows


def _check_kernels(s):
    """InputError, before the output is locked, when --attention cannot train on the device (as `finetune` would
    say at its first dataset)."""
    from dnabert2.common.kernels import Kernels
    from dnabert2.common.runtime import resolve_device, resolve_dtype

    device = resolve_device(s.device)
    Kernels.of(s, device, resolve_dtype(s.precision, device))


def _run_dataset(folder, s, tmp):
    """Fine-tune on one dataset folder with its protocol into tmp/runs/; its row of the results table."""
    from dnabert2.common.kernels import PackSettings
    from dnabert2.common.runtime import DeviceSettings, KernelSettings
    from dnabert2.finetuning.run import finetune

    key = dataset_key(folder)
    protocol = PROTOCOLS.get(key, DEFAULT_PROTOCOL)
    row = {"dataset": f"{folder.parent.name}/{folder.name}", "metric": protocol.metric,
           "paper_dnabert2": PAPER_DNABERT2.get(key), "ours": None, "ours_std": None, "train_rows": None,
           "steps": None, "max_length": protocol.max_length, "status": "ok"}
    if not (_has(folder, "train") and _has(folder, "test")):
        row["status"] = "skipped: no train or test table"
        log.warning("%s: skipped (no train or test table)", folder)
        return row
    steps = protocol.max_steps
    if s.max_steps is not None:
        steps = s.max_steps if steps is None else min(steps, s.max_steps)
    run_dir = tmp / "runs" / row["dataset"].replace("/", "_")
    run_dir.parent.mkdir(parents=True, exist_ok=True)
    summary = finetune(run_dir, model=s.model, data=str(folder), epochs=protocol.epochs, max_steps=steps,
                       eval_every=protocol.eval_every, max_tokens=protocol.max_length, save_model=s.keep_models,
                       checkpoint=False, quiet=s.quiet,
                       **shared_options(s, RunSize, LoraFields, DeviceSettings, KernelSettings, PackSettings))
    row["ours"] = 100.0 * summary["test"][protocol.metric]
    row["ours_std"] = 100.0 * summary["test_std"][protocol.metric]
    row["train_rows"] = summary["rows"]["train"]
    row["steps"] = summary["steps"]
    row["max_length"] = summary["max_length"]
    return row


def _number(value):
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.2f}"


def format_tsv(rows):
    columns = ["dataset", "metric", "ours", "ours_std", "paper_dnabert2", "train_rows", "steps", "max_length",
               "status"]
    lines = ["\t".join(columns)]
    for row in rows:
        lines.append("\t".join(_number(row[c]) if isinstance(row[c], float) else ("" if row[c] is None
                                                                                  else str(row[c]))
                               for c in columns))
    return "\n".join(lines) + "\n"


def format_table(rows):
    """A fixed-width table: dataset, metric, ours (mean +- std over seeds), the paper's DNABERT-2, difference."""
    header = f"{'dataset':<24} {'metric':<6} {'ours':>15} {'paper':>7} {'diff':>7}  notes"
    lines = [header, "-" * len(header)]
    for row in rows:
        ours = "" if row["ours"] is None else f"{row['ours']:.2f} +- {row['ours_std']:.2f}"
        paper = _number(row["paper_dnabert2"])
        diff = (f"{row['ours'] - row['paper_dnabert2']:+.2f}"
                if row["ours"] is not None and row["paper_dnabert2"] is not None else "")
        notes = row["status"] if row["status"] != "ok" else f"{row['train_rows']} train rows, {row['steps']} steps"
        lines.append(f"{row['dataset']:<24} {row['metric']:<6} {ours:>15} {paper:>7} {diff:>7}  {notes}")
    return "\n".join(lines)
