"""`dnabert2.finetune`: supervised fine-tuning of a DNABERT-2 model on labelled sequence tables
(docs/commands/finetune.md).

The recipe is the paper's: AdamW (lr 3e-5, weight decay 0.01), batch 32, 50 warm-up steps then linear decay,
evaluation on dev every N steps keeping the checkpoint with the lowest dev loss (or the best `select_metric`), test
metrics of that checkpoint, several seeds averaged. Batches are padded only to their longest member, and examples
of similar token length are batched together (shuffled within buckets of 50 batches).
LoRA goes through peft (lora.py); the classifier and pooler are trained in full. The result is saved merged into a
plain model folder, or as a peft adapter with `save_adapter`.

A run locks its output (`OUT.lock`) before it reads any table, so a second run of the same output is refused at
once; it keeps its state at every dev evaluation in OUT.partial/ (resume.py), from which `resume` continues to the
same outputs as a run that never stopped.

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

from dnabert2.common.fields import settings_of
from dnabert2.common.files import check_distinct_paths, output_dir, output_lock
from dnabert2.errors import InputError
from dnabert2.finetuning.metrics import is_better, metric_names
from dnabert2.finetuning.resume import FinishedSeed, PartialRun, check_output, fingerprint
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

    def finished(self):
        """The run as `resume.PartialRun` keeps it."""
        plain = {"seed": self.seed, "best_step": self.best_step, "steps": self.steps, "history": self.history,
                 "dev": self.dev, "test": self.test, "seconds": self.seconds,
                 "train_sequences_per_s": self.train_sequences_per_s}
        outputs = {"dev": self.dev_output, **({"test": self.test_output} if self.test_output is not None else {})}
        return FinishedSeed(plain, outputs)

    @classmethod
    def from_finished(cls, done):
        return cls(**done.plain, dev_output=done.outputs["dev"], test_output=done.outputs.get("test"))


def finetune(output=None, settings=None, **options):
    """Fine-tune a model on train/dev(/test) tables, or the tables of a `data` folder, and write the output folder
    described in the module docstring.

    options are the fields of `FinetuneSettings` (the options of `dnabert2 finetune`: model, data, train, dev,
    test, task, epochs, max_steps, lr, max_tokens, lora, seeds, resume, ...); or pass `settings`, a
    `FinetuneSettings`. `model` is a model folder, the release folder, a hub id or a preset (tiny, small,
    dnabert2-117m: a random initialisation); None: the model shipped in the package. `quiet=False` draws a
    progress bar. Returns the metrics summary (the content of metrics.json) with the device, precision and model
    trained from, and where a resumed run continued (`resumed`: seed and step, or None)."""
    if output is not None:
        options["output"] = output
    settings = settings_of(FinetuneSettings, settings, options, "finetune")
    settings.check()
    if settings.model is None:
        from dnabert2.shipped import DEFAULT_FOR, model_path

        settings.model = str(model_path(DEFAULT_FOR["finetune"]))
    inputs = [("--model", settings.model), ("--data", settings.data), ("--train", settings.train),
              ("--dev", settings.dev), ("--test", settings.test)]
    check_distinct_paths([("-o", settings.output)], [(o, p) for o, p in inputs if isinstance(p, (str, Path))])
    place = _placement(settings)  # --attention that cannot train on the device fails before anything is written
    with output_lock(settings.output):
        return _run(settings, check_output(settings.output, settings.resume, settings.force), place)


def _placement(settings):
    """(device, dtype, common.kernels.Kernels) of the run."""
    from dnabert2.common.kernels import Kernels
    from dnabert2.common.runtime import resolve_device, resolve_dtype

    device = resolve_device(settings.device)
    dtype = resolve_dtype(settings.precision, device)
    return device, dtype, Kernels.of(settings, device, dtype)


def _run(settings, mode, place):
    """The run once its output is locked and decided ("new" or "resume"), on `place` (`_placement`)."""
    from dnabert2.common.runtime import precision_name, torch_threads
    from dnabert2.finetuning.classifier import save_classifier
    from dnabert2.finetuning.reports import base_model_name, metrics_summary, training_record, write_reports

    device, dtype, kernels = place
    with torch_threads(settings.threads):
        labelled = _prepare_data(settings)
        base_model = base_model_name(settings.model)
        partial = PartialRun.open(settings.output, mode, fingerprint(settings, labelled, base_model),
                                  enabled=settings.checkpoint)
        resumed = _resume_point(partial, settings)
        try:
            finished, tokenizer = _train_seeds(labelled, settings, place, partial)
        except BaseException:
            if partial.enabled and partial.folder.exists():
                log.warning("the run so far is kept in %s: continue it with --resume", partial.folder)
            raise
        summary = metrics_summary(finished)
        record = training_record(finished)
        with output_dir(settings.output, settings.force) as tmp:
            if settings.save_model:
                save_classifier(finished.best.model, tokenizer, tmp, settings.lora, settings.save_adapter,
                                finished.base_model)
            write_reports(tmp, finished, summary, record)
        partial.remove()
    return {**summary, "device": str(device), "precision": precision_name(dtype), "model": base_model,
            "resumed": resumed, "attention": kernels.backend, "packed": kernels.packed,
            "compile_s": finished.compile_seconds}  # for the summary line


def _resume_point(partial, settings):
    """{"seed", "step"} where a resumed run continues (the first seed not finished), or None for a new run."""
    if partial.fresh:
        return None
    done = {finished.plain["seed"] for finished in partial.seeds}
    seed = next((s for s in range(settings.seed, settings.seed + settings.seeds) if s not in done), None)
    state = partial.state_of(seed) if seed is not None else None
    return {"seed": seed, "step": state[1]["step"] if state is not None else 0}


def _prepare_data(settings):
    """Read and check the tables, check the selection metric against the task, subsample."""
    labelled = load_tables(settings.train, settings.dev, settings.test, data=settings.data, task=settings.task)
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


def _classifier(settings, labelled, seed, place):
    """(model, tokenizer): the model to train for `seed` on `place`, with the run's attention backend, compiled with
    --compile, LoRA-wrapped with --lora."""
    from dnabert2.finetuning.classifier import build_classifier
    from dnabert2.finetuning.lora import apply_lora

    device, _, kernels = place
    net, tokenizer = build_classifier(settings.model, labelled, seed, device)
    kernels.apply(net)
    if settings.lora:
        net = apply_lora(net, settings.lora_settings())
    return net, tokenizer


def _train_seeds(labelled, settings, place, partial):
    """Train every seed not finished in `partial`; the run with the best dev score keeps its model (run.model),
    the others drop theirs. Returns (FinishedRun, tokenizer)."""
    from dnabert2.finetuning.classifier import set_seed
    from dnabert2.finetuning.encoding import check_batch_memory, encode_all
    from dnabert2.finetuning.loop import TrainingSetup, evaluate, train_one
    from dnabert2.finetuning.reports import FinishedRun, base_model_name
    from dnabert2.finetuning.tasks import class_weights

    device, dtype, kernels = place
    weights = class_weights(labelled.task, labelled.train.targets, settings.class_weights_mode)
    metric = settings.select_metric
    runs = [RunResult.from_finished(done) for done in partial.seeds]
    best = _best_of(runs, metric)
    job, tokenizer, compile_seconds = None, None, None
    seeds = range(settings.seed, settings.seed + settings.seeds)
    for run_seed in seeds:
        if any(r.seed == run_seed for r in runs):
            continue
        net, tokenizer = _classifier(settings, labelled, run_seed, place)
        if job is None:
            encoded, max_length = encode_all(tokenizer, labelled, settings.max_tokens)
            job = TrainingSetup(labelled, encoded, settings, device, dtype, tokenizer.pad_token_id, weights,
                                settings.quiet, kernels)
            check_batch_memory(job.encoded, settings, max_length, net, device, dtype)
        parameters = _parameters(net)
        set_seed(run_seed)
        outcome = train_one(net, job, run_seed, partial.state_of(run_seed), partial.save_checkpoint)
        if kernels.compile and compile_seconds is None:
            compile_seconds = outcome.first_step_seconds
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
        if run_seed != seeds[-1]:
            best_weights = partial.best_weights if best.model is None else best.model.state_dict()
            partial.save_seeds([r.finished() for r in runs], best_weights)
    if best.model is None:  # every seed had finished before this resumed run: rebuild the best one's model
        best.model, tokenizer = _classifier(settings, labelled, best.seed, place)
        best.model.load_state_dict(partial.best_weights)
        best.model.eval()
    if job is None:
        encoded, max_length = encode_all(tokenizer, labelled, settings.max_tokens)
        parameters = _parameters(best.model)
    finished = FinishedRun(base_model_name(settings.model), labelled, settings, runs, max_length, parameters,
                           device, dtype, compile_seconds)
    return finished, tokenizer


def _best_of(runs, metric):
    """The run with the best dev score, the first of equals (as the seeds were compared in order)."""
    best = None
    for run in runs:
        if best is None or is_better(metric, run.dev[metric], best.dev[metric]):
            best = run
    return best


def _parameters(net):
    return {"total": sum(p.numel() for p in net.parameters()),
            "trainable": sum(p.numel() for p in net.parameters() if p.requires_grad)}
