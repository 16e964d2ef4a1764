"""The reports of a fine-tuning run: metrics.json, training_record.json, predictions.tsv, training_curve.png and
seeds/ (see docs/commands/finetune.md)."""
import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dnabert2 import __version__

log = logging.getLogger(__name__)


@dataclass
class FinishedRun:
    """Everything the reports of a fine-tuning run are written from."""
    base_model: str             # the model trained from: resolved folder path, or the hub id as given
    data: object                # LabelledData (tables.py)
    settings: object            # FinetuneSettings (settings.py)
    runs: list                  # RunResult of every seed (run.py)
    max_length: int
    parameters: dict            # {'total', 'trainable'} parameter counts
    device: object              # torch.device
    dtype: object               # torch dtype of autocast
    compile_seconds: float = None  # --compile: the first training step of the first seed trained (compiling)

    @property
    def best(self):
        """The seed with the best dev score: the one that kept its model."""
        return next(run for run in self.runs if run.model is not None)


def base_model_name(model):
    """The resolved path of a model folder, or a preset name or hub id as given."""
    return str(Path(model).resolve()) if Path(model).exists() else str(model)


def _metric_summary(runs, split):
    names = sorted(getattr(runs[0], split))
    values = {name: np.asarray([getattr(run, split)[name] for run in runs], dtype=np.float64) for name in names}
    mean = {name: float(v.mean()) for name, v in values.items()}
    std = {name: float(v.std(ddof=1)) if len(v) > 1 else 0.0 for name, v in values.items()}
    return mean, std


def metrics_summary(finished):
    """The content of metrics.json."""
    data, settings, runs = finished.data, finished.settings, finished.runs
    summary = {
        "task": data.task,
        "labels": data.label_names,
        "pairs": data.pairs,
        "select_metric": settings.select_metric,
        "seeds": [run.seed for run in runs],
        "selected_seed": finished.best.seed,
        "rows": {name: len(split.table) for name, split in data.splits().items()},
        "max_length": finished.max_length,
        "steps": settings.schedule(len(data.train.table))[0],
        "parameters": finished.parameters,
        "predictions_split": "test" if data.test is not None else "dev",
    }
    for split in ("dev", "test"):
        if split == "dev" or data.test is not None:
            summary[split], summary[f"{split}_std"] = _metric_summary(runs, split)
    summary["runs"] = [{"seed": r.seed, "best_step": r.best_step, "steps": r.steps, "dev": r.dev, "test": r.test,
                        "seconds": round(r.seconds, 3), "train_sequences_per_s": round(r.train_sequences_per_s, 2)}
                       for r in runs]
    return summary


# the options training_record.json lists, in its order
RECORDED_OPTIONS = ("epochs", "max_steps", "batch_size", "lr", "warmup_steps", "weight_decay", "max_grad_norm",
                    "eval_every", "select_metric", "patience", "class_weights_mode", "max_tokens", "lora",
                    "lora_targets", "lora_r", "lora_alpha", "lora_dropout", "save_adapter", "seeds", "seed",
                    "max_train_rows", "max_eval_rows", "save_model")
# record keys that are not the field's name: the key from before --max-length became --max-tokens is kept
RECORD_KEYS = {"max_tokens": "max_length"}


def training_record(finished):
    """The content of training_record.json: where everything came from and how it was trained."""
    import torch

    from dnabert2.common.files import sha256_files

    data, settings = finished.data, finished.settings
    options = {RECORD_KEYS.get(name, name): getattr(settings, name) for name in RECORDED_OPTIONS}
    options["lora_targets"] = list(settings.lora_targets)
    options.update(total_steps=settings.schedule(len(data.train.table))[0], device=str(finished.device),
                   precision=str(finished.dtype).replace("torch.", ""))
    return {
        "dnabert2_version": __version__,
        "torch_version": torch.__version__,
        "base_model": finished.base_model,
        "task": data.task,
        "labels": data.label_names,
        "pairs": data.pairs,
        "max_length": finished.max_length,
        "data": {name: {"path": str(Path(split.table.path).resolve()), "rows": len(split.table),
                        "sha256": sha256_files([split.table.path])} for name, split in data.splits().items()},
        "options": options,
        "seeds": [run.seed for run in finished.runs],
        "selected_seed": finished.best.seed,
        "runs": [{"seed": r.seed, "best_step": r.best_step, "steps": r.steps, "history": r.history}
                 for r in finished.runs],
    }


def write_reports(folder, finished, summary, record):
    """metrics.json, training_record.json, predictions.tsv, training_curve.png, and seeds/ for several seeds."""
    split_name = summary["predictions_split"]
    data = finished.data
    split = getattr(data, split_name)
    (folder / "metrics.json").write_text(json.dumps(summary, indent=2) + "\n")
    (folder / "training_record.json").write_text(json.dumps(record, indent=2) + "\n")
    output_of = (lambda run: run.test_output) if split_name == "test" else (lambda run: run.dev_output)
    write_predictions(folder / "predictions.tsv", data, split, *output_of(finished.best))
    plot_curves(folder / "training_curve.png", finished.runs, finished.settings.select_metric)
    if len(finished.runs) > 1:
        for run in finished.runs:
            seed_folder = folder / "seeds" / f"seed_{run.seed}"
            seed_folder.mkdir(parents=True)
            (seed_folder / "metrics.json").write_text(json.dumps(
                {"seed": run.seed, "best_step": run.best_step, "dev": run.dev, "test": run.test}, indent=2) + "\n")
            write_predictions(seed_folder / "predictions.tsv", data, split, *output_of(run))


def write_predictions(path, data, split, scores, predictions):
    """One row per example: line (in its file), [id], label, prediction, then prob_<class> (classification,
    multi-label). Multi-label labels and predictions are the ';'-joined names of the positive labels."""
    table = split.table
    names = data.label_names
    header = ["line"] + (["id"] if table.ids is not None else []) + ["label", "prediction"]
    if data.task != "regression":
        header += [f"prob_{name}" for name in names]
    lines = ["\t".join(header)]
    for row in range(len(table)):
        fields = [str(table.lines[row])] + ([table.ids[row]] if table.ids is not None else [])
        if data.task == "classification":
            fields += [names[int(split.targets[row])], names[int(predictions[row])]]
            fields += [f"{p:.6g}" for p in scores[row]]
        elif data.task == "multilabel":
            fields += [";".join(n for n, v in zip(names, split.targets[row]) if v > 0.5),
                       ";".join(n for n, v in zip(names, predictions[row]) if v)]
            fields += [f"{p:.6g}" for p in scores[row]]
        else:
            fields += [f"{float(split.targets[row]):.8g}", f"{float(predictions[row]):.8g}"]
        lines.append("\t".join(fields))
    Path(path).write_text("\n".join(lines) + "\n")


def plot_curves(path, runs, select_metric):
    """Train and dev loss (and the selection metric) per step of every seed; skipped without matplotlib."""
    try:  # a Figure with its own Agg canvas: no pyplot, so a notebook's backend is left alone
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        log.info("matplotlib is not installed: no training curve")
        return False
    panels = 2 if select_metric != "loss" else 1
    figure = Figure(figsize=(6 * panels, 4))
    FigureCanvasAgg(figure)
    axes = figure.subplots(1, panels, squeeze=False)
    for run in runs:
        steps = [h["step"] for h in run.history]
        train = [(h["step"], h["train_loss"]) for h in run.history if h["train_loss"] is not None]
        if train:
            axes[0, 0].plot(*zip(*train), marker=".", label=f"train loss (seed {run.seed})")
        axes[0, 0].plot(steps, [h["dev_loss"] for h in run.history], marker="o", label=f"dev loss (seed {run.seed})")
        axes[0, 0].axvline(run.best_step, color="grey", linestyle=":", linewidth=1)
        if panels == 2:
            axes[0, 1].plot(steps, [h[f"dev_{select_metric}"] for h in run.history], marker="o",
                            label=f"seed {run.seed}")
    labels = [("loss", axes[0, 0])] + ([(f"dev {select_metric}", axes[0, 1])] if panels == 2 else [])
    for ylabel, ax in labels:
        ax.set_xlabel("step")
        ax.set_ylabel(ylabel)
        ax.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    return True
