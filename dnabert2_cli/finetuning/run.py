"""`dnabert2.finetune`: supervised fine-tuning of a DNABERT-2 model on labelled sequence tables
(docs/commands/finetune.md).

The recipe is the paper's: AdamW (lr 3e-5, weight decay 0.01), batch 32, 50 warm-up steps then linear decay,
evaluation on dev every N steps keeping the checkpoint with the lowest dev loss (or the best `select_metric`), test
metrics of that checkpoint, several seeds averaged. Batches are padded only to their longest member, and examples
of similar token length are batched together (shuffled within buckets of 50 batches).
LoRA goes through peft (lora.py); the classifier and pooler are trained in full. The result is saved merged into a
plain model folder, or as a peft adapter with `save_adapter`.

Output folder (written atomically):
    config.json, model.safetensors, tokenizer files   a model folder `dnabert2 predict` and `load_model` read
    adapter/                                         with save_adapter instead of model.safetensors
    metrics.json        dev and test metrics (mean, std over seeds, every run)
    predictions.tsv     test (else dev) rows: line, label, prediction, per-class probabilities (best-dev seed)
    training_record.json  data files, options, label names, max length, steps, dev history of every seed
    training_curve.png  train and dev loss per step (when matplotlib is importable)
    seeds/seed_N/       metrics.json, predictions.tsv of each seed when several seeds ran
"""
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dnabert2.common.files import check_distinct_paths, check_new_output, output_dir
from dnabert2.errors import InputError
from dnabert2.finetuning.metrics import is_better, metric_names
from dnabert2.finetuning.settings import FinetuneSettings
from dnabert2.finetuning.tables import load_tables, subsample

log = logging.getLogger(__name__)


@dataclass
class RunResult:
    """One seed's training and its dev (and test) scores; `model` is kept only by the best seed."""
    seed: int
    best_step: int
    steps: int
    history: list
    dev: dict
    test: dict
    dev_output: tuple = None    # (probabilities or values, predictions) on dev
    test_output: tuple = None
    model: object = None
    seconds: float = 0.0
    train_sequences_per_s: float = 0.0


def finetune(output, *, model, train=None, dev=None, test=None, data=None, task="auto", device="auto",
             precision="auto", threads=None, force=False, quiet=True, **options):
    """Fine-tune `model` (a model folder, the release folder or a hub id) on train/dev(/test) tables, or the
    tables of a `data` folder, and write the output folder described in the module docstring.

    options are the fields of `FinetuneSettings`: epochs, max_steps, batch_size, lr, warmup_steps, weight_decay,
    eval_every, select_metric, patience, class_weights_mode, max_length, lora, lora_targets, lora_r, lora_alpha,
    lora_dropout, save_adapter, seeds, seed, max_train_rows, max_eval_rows, save_model.
    Returns the metrics summary (the content of metrics.json) as a dict."""
    from dnabert2.common.runtime import resolve_device, resolve_dtype, torch_threads
    from dnabert2.finetuning.classifier import save_classifier
    from dnabert2.finetuning.reports import metrics_summary, training_record, write_reports

    output = Path(output)
    inputs = [("--model", model), ("--data", data), ("--train", train), ("--dev", dev), ("--test", test)]
    check_distinct_paths([("-o", output)], [(o, p) for o, p in inputs if isinstance(p, (str, Path))])
    check_new_output(output, force)
    try:
        settings = FinetuneSettings(**options)
    except TypeError as e:
        raise TypeError(f"finetune: {e}") from None
    settings.check()
    torch_device = resolve_device(device)
    dtype = resolve_dtype(precision, torch_device)
    with torch_threads(threads):
        labelled = _prepare_data(settings, train, dev, test, data, task)
        finished, tokenizer = _train_seeds(model, labelled, settings, torch_device, dtype, quiet)
        summary = metrics_summary(finished)
        record = training_record(finished)
        with output_dir(output, force) as tmp:
            if settings.save_model:
                save_classifier(finished.best.model, tokenizer, tmp, settings.lora, settings.save_adapter,
                                finished.base_model)
            write_reports(tmp, finished, summary, record)
    from dnabert2.common.runtime import precision_name

    return {**summary, "device": str(torch_device), "precision": precision_name(dtype)}  # for the summary line


def _prepare_data(settings, train, dev, test, data, task):
    """Read and check the tables, check the selection metric against the task, subsample."""
    labelled = load_tables(train, dev, test, data=data, task=task)
    if settings.select_metric != "loss" and settings.select_metric not in metric_names(labelled.task):
        raise InputError(f"--select-metric {settings.select_metric}: expected loss or one of "
                         f"{', '.join(metric_names(labelled.task))} for {labelled.task}")
    labelled.train = subsample(labelled.train, settings.max_train_rows, settings.seed)
    labelled.dev = subsample(labelled.dev, settings.max_eval_rows, settings.seed)
    labelled.test = subsample(labelled.test, settings.max_eval_rows, settings.seed)
    if labelled.task == "classification" and len(np.unique(labelled.train.targets)) < 2:
        raise InputError(f"--max-train-rows {settings.max_train_rows}: the subsample of "
                         f"{labelled.train.table.path} holds one class only; take more rows")
    return labelled


def _train_seeds(model_path, labelled, settings, device, dtype, quiet):
    """Train every seed; the run with the best dev score keeps its model (run.model), the others drop theirs.
    Returns (FinishedRun, tokenizer)."""
    from dnabert2.finetuning.classifier import build_classifier, set_seed
    from dnabert2.finetuning.encoding import check_batch_memory, encode_all
    from dnabert2.finetuning.lora import apply_lora
    from dnabert2.finetuning.loop import TrainingSetup, evaluate, train_one
    from dnabert2.finetuning.reports import FinishedRun, base_model_name
    from dnabert2.finetuning.tasks import class_weights

    weights = class_weights(labelled.task, labelled.train.targets, settings.class_weights_mode)
    metric = settings.select_metric
    runs, best, job = [], None, None
    for run_seed in range(settings.seed, settings.seed + settings.seeds):
        net, tokenizer = build_classifier(model_path, labelled, run_seed, device)
        if job is None:
            encoded, max_length = encode_all(tokenizer, labelled, settings.max_length)
            job = TrainingSetup(labelled, encoded, settings, device, dtype, tokenizer.pad_token_id, weights, quiet)
        if settings.lora:
            net = apply_lora(net, settings.lora_settings())
        if not runs:
            check_batch_memory(job.encoded, settings, max_length, net, device, dtype)
        parameters = {"total": sum(p.numel() for p in net.parameters()),
                      "trainable": sum(p.numel() for p in net.parameters() if p.requires_grad)}
        set_seed(run_seed)
        outcome = train_one(net, job, run_seed)
        scored = {name: evaluate(net, job, name) for name in ("dev", "test") if name in job.encoded}
        test_metrics, test_output = scored.get("test", ({}, None))
        run = RunResult(run_seed, outcome.best_step, outcome.steps, outcome.history, scored["dev"][0], test_metrics,
                        scored["dev"][1], test_output, None, outcome.seconds, outcome.train_sequences_per_s)
        runs.append(run)
        if best is None or is_better(metric, run.dev[metric], best.dev[metric]):
            if best is not None:
                best.model = None
            best, run.model = run, net
        del net
        log.info("seed %d: best step %d, dev %s %.4f, %.1f s", run_seed, outcome.best_step, metric,
                 run.dev[metric], outcome.seconds)
    finished = FinishedRun(base_model_name(model_path), labelled, settings, runs, max_length, parameters, device,
                           dtype)
    return finished, tokenizer
