"""`dnabert2.finetune`: supervised fine-tuning of a DNABERT-2 model on labelled sequence tables.

The recipe is the paper's (model.md): AdamW (lr 3e-5, weight decay 0.01), batch 32, 50 warm-up steps then linear
decay, evaluation on dev every N steps keeping the checkpoint with the lowest dev loss (or the best
`select_metric`), test metrics of that checkpoint, several seeds averaged. Batches are padded only to their longest
member, and examples of similar token length are batched together (shuffled within buckets of 50 batches).
LoRA goes through peft and targets the attention's `Wqkv` by default (the original script's `query,value` do not
exist in this model); the classifier and pooler are trained in full. The result is saved merged into a plain model
folder, or as a peft adapter with `save_adapter`.

Output folder (written atomically):
    config.json, model.safetensors, tokenizer files   a model folder `dnabert2 predict` and `load_model` read
    adapter/                                         with save_adapter instead of model.safetensors
    metrics.json        dev and test metrics (mean, std over seeds, every run)
    predictions.tsv     test (else dev) rows: line, label, prediction, per-class probabilities (best-dev seed)
    training_record.json  data files, options, label names, max length, steps, dev history of every seed
    training_curve.png  train and dev loss per step (when matplotlib is importable)
    seeds/seed_N/       metrics.json, predictions.tsv of each seed when several seeds ran
"""
import contextlib
import hashlib
import json
import logging
import math
import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from dnabert2 import __version__
from dnabert2.common.files import check_new_output, output_dir
from dnabert2.errors import InputError
from dnabert2.finetuning.metrics import compute_metrics, is_better, metric_names
from dnabert2.finetuning.tables import load_tables, subsample

log = logging.getLogger(__name__)

PROBLEM_TYPES = {"classification": "single_label_classification", "regression": "regression",
                 "multilabel": "multi_label_classification"}
# LoRA target name -> the module path inside every encoder layer
LORA_TARGETS = {"Wqkv": "attention.self.Wqkv", "dense": "attention.output.dense",
                "gated_layers": "mlp.gated_layers", "wo": "mlp.wo"}
BUCKET_BATCHES = 50  # batches per length bucket: examples are length-sorted within buckets of this many batches
ADAMW_BETAS = (0.9, 0.999)  # the original script ran transformers' Trainer with its AdamW defaults
ADAMW_EPS = 1e-8
MAX_GRAD_NORM = 1.0


@dataclass
class Encoded:
    """Token ids of one split (lists of ints per example), their lengths, and the targets."""
    input_ids: list
    token_type_ids: list
    lengths: np.ndarray  # tokens per example after truncation
    targets: np.ndarray
    truncated: int = 0   # examples that were longer than the max length


@dataclass
class RunResult:
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


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def encode_split(tokenizer, split, max_length):
    """Tokenise one split ([CLS] A [SEP] or [CLS] A [SEP] B [SEP]), truncating to max_length tokens."""
    table = split.table
    pairs = table.sequences_b
    full = tokenizer(table.sequences, pairs, add_special_tokens=True, truncation=False,
                     return_attention_mask=False, return_token_type_ids=True)
    lengths = np.asarray([len(ids) for ids in full["input_ids"]], dtype=np.int64)
    truncated = int((lengths > max_length).sum()) if max_length else 0
    if truncated:
        full = tokenizer(table.sequences, pairs, add_special_tokens=True, truncation=True, max_length=max_length,
                         return_attention_mask=False, return_token_type_ids=True)
        lengths = np.asarray([len(ids) for ids in full["input_ids"]], dtype=np.int64)
    return Encoded(full["input_ids"], full["token_type_ids"], lengths, split.targets, truncated)


def automatic_max_length(tokenizer, split):
    """The longest training example in tokens (specials included), so that nothing in train is truncated."""
    encoded = encode_split(tokenizer, split, None)
    return int(encoded.lengths.max())


def length_batches(lengths, batch_size, rng=None):
    """Lists of example indices. With rng: shuffled, sorted by length within buckets of BUCKET_BATCHES batches,
    batch order shuffled. Without: sorted by length (longest first) for evaluation."""
    n = len(lengths)
    if rng is None:
        order = np.argsort(-np.asarray(lengths), kind="stable")
        return [order[i:i + batch_size] for i in range(0, n, batch_size)]
    order = rng.permutation(n)
    bucket = batch_size * BUCKET_BATCHES
    batches = []
    for start in range(0, n, bucket):
        chunk = order[start:start + bucket]
        chunk = chunk[np.argsort(np.asarray(lengths)[chunk], kind="stable")]
        batches += [chunk[i:i + batch_size] for i in range(0, len(chunk), batch_size)]
    rng.shuffle(batches)
    return batches


def collate(encoded, indices, pad_id, device):
    """Pad the chosen examples to the longest of them -> input_ids, attention_mask, token_type_ids [B, S]."""
    import torch

    width = int(encoded.lengths[indices].max())
    ids = torch.full((len(indices), width), pad_id, dtype=torch.long)
    types = torch.zeros((len(indices), width), dtype=torch.long)
    mask = torch.zeros((len(indices), width), dtype=torch.long)
    for row, i in enumerate(indices):
        length = int(encoded.lengths[i])
        ids[row, :length] = torch.as_tensor(encoded.input_ids[i])
        types[row, :length] = torch.as_tensor(encoded.token_type_ids[i])
        mask[row, :length] = 1
    return {"input_ids": ids.to(device), "attention_mask": mask.to(device), "token_type_ids": types.to(device)}


def loss_function(task, weights=None):
    """(logits, targets) -> scalar loss: cross-entropy, MSE, or binary cross-entropy per label."""
    import torch.nn.functional as F

    if task == "classification":
        return lambda logits, targets: F.cross_entropy(logits.float(), targets, weight=weights)
    if task == "regression":
        return lambda logits, targets: F.mse_loss(logits.float().squeeze(-1), targets)
    return lambda logits, targets: F.binary_cross_entropy_with_logits(logits.float(), targets, pos_weight=weights)


def class_weights(task, targets, mode):
    """'balanced' weights: n / (classes x count) per class; multi-label: negatives / positives per label."""
    import torch

    if mode in (None, "none"):
        return None
    if task == "classification":
        counts = np.bincount(targets, minlength=int(targets.max()) + 1).astype(np.float64)
        weights = len(targets) / (len(counts) * np.maximum(counts, 1))
    elif task == "multilabel":
        positives = targets.sum(axis=0)
        weights = (len(targets) - positives) / np.maximum(positives, 1)
    else:
        raise InputError("--class-weights applies to classification and multi-label tasks, not regression")
    return torch.as_tensor(weights, dtype=torch.float32)


def outputs_from_logits(task, logits):
    """logits [N, C] -> (scores, predictions): probabilities and class ids / 0-1 matrix / regression values."""
    logits = np.asarray(logits, dtype=np.float64)
    if task == "classification":
        shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
        probabilities = shifted / shifted.sum(axis=1, keepdims=True)
        return probabilities, probabilities.argmax(axis=1)
    if task == "multilabel":
        probabilities = 1.0 / (1.0 + np.exp(-logits))
        return probabilities, (probabilities > 0.5).astype(np.int64)
    values = logits[:, 0]
    return values, values


def evaluate(model, encoded, task, num_labels, batch_size, pad_id, device, dtype):
    """Unweighted loss, metrics and (scores, predictions) in the split's row order."""
    import torch

    from dnabert2.common.runtime import autocast

    loss_of = loss_function(task)
    logits = np.zeros((len(encoded.lengths), model.config.num_labels), dtype=np.float32)
    total, count = 0.0, 0
    model.eval()
    with torch.no_grad():
        for indices in length_batches(encoded.lengths, batch_size):
            batch = collate(encoded, indices, pad_id, device)
            with autocast(device, dtype):
                out = model(**batch).logits
            targets = torch.as_tensor(encoded.targets[indices]).to(device)
            total += float(loss_of(out, targets)) * len(indices)
            count += len(indices)
            logits[indices] = out.float().cpu().numpy()
    scores, predictions = outputs_from_logits(task, logits)
    truth = encoded.targets.astype(np.int64) if task != "regression" else encoded.targets
    metrics = compute_metrics(task, truth, predictions, num_labels)
    metrics["loss"] = total / max(count, 1)
    return metrics, (scores, predictions)


def _set_seed(seed):
    import torch

    random.seed(seed)
    np.random.seed(seed % (2 ** 32))
    torch.manual_seed(seed)


def build_classifier(model_path, data, seed, device):
    """The encoder from `model_path` under a fresh head for this task (head initialised from `seed`)."""
    import copy

    from dnabert2.common.models import load_model
    from dnabert2.model import DNABert2ForSequenceClassification

    import torch

    _set_seed(seed)
    # float32 weights on the CPU first: training runs mixed precision through autocast, never in bf16 weights
    with _transformers_quiet():  # a masked-LM folder lacks the pooler and has an unused head: expected here
        encoder, tokenizer = load_model(model_path, task="base", device="cpu", dtype=torch.float32)
    config = copy.deepcopy(encoder.config)
    config.num_labels = 1 if data.task == "regression" else len(data.label_names)
    config.problem_type = PROBLEM_TYPES[data.task]
    config.id2label = {i: name for i, name in enumerate(data.label_names)}
    config.label2id = {name: i for i, name in enumerate(data.label_names)}
    config.architectures = ["DNABert2ForSequenceClassification"]
    _set_seed(seed)
    model = DNABert2ForSequenceClassification(config)
    _load_encoder(model, encoder)
    del encoder
    return model.to(device), tokenizer


@contextlib.contextmanager
def _transformers_quiet():
    """transformers logs only errors and shows no progress bars inside this block."""
    from transformers.utils import logging as hf_logging

    verbosity, bars = hf_logging.get_verbosity(), hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()


def _load_encoder(model, encoder):
    """Copy the encoder's weights into model.bert; only a pooler may be missing (it then stays as initialised)."""
    missing, unexpected = model.bert.load_state_dict(encoder.state_dict(), strict=False)
    wrong = [k for k in missing if not k.startswith("pooler.")] + list(unexpected)
    if wrong:
        raise RuntimeError(f"encoder weights do not fit the classifier: {', '.join(wrong[:5])}")


def apply_lora(model, targets, r, alpha, dropout):
    """Wrap with peft LoRA on the named encoder modules; the pooler and classifier stay fully trainable."""
    from peft import LoraConfig, get_peft_model

    check_lora(targets)
    pattern = r".*encoder\.layer\.\d+\.(" + "|".join(LORA_TARGETS[t].replace(".", r"\.") for t in targets) + ")"
    config = LoraConfig(r=r, lora_alpha=alpha, lora_dropout=dropout, target_modules=pattern, bias="none",
                        modules_to_save=["classifier", "pooler"])
    with _no_peft_future_warnings():
        return get_peft_model(model, config)


@contextlib.contextmanager
def _no_peft_future_warnings():
    """peft asks transformers about gradient checkpointing through a name transformers has deprecated."""
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
        yield


def check_lora(targets):
    """InputError for unknown LoRA targets or a missing peft, before any data is read."""
    unknown = [t for t in targets if t not in LORA_TARGETS]
    if unknown or not targets:
        raise InputError(f"--lora-targets {','.join(unknown) or '(none)'}: expected some of "
                         f"{', '.join(LORA_TARGETS)}")
    try:
        import peft  # noqa: F401
    except ImportError:
        raise InputError("--lora needs the peft package: pip install 'dnabert2[lora]'") from None


def _trainable_state(model):
    return {name: p.detach().cpu().clone() for name, p in model.named_parameters() if p.requires_grad}


def train_one(model, tokenizer, encoded, data, *, seed, total_steps, eval_every, batch_size, lr, warmup_steps,
              weight_decay, select_metric, patience, weights, device, dtype, quiet, max_epochs):
    """The training loop of one seed; restores the best dev checkpoint at the end. Returns (history, best_step,
    steps_run, seconds, training sequences per second not counting the dev evaluations)."""
    import torch

    from dnabert2.common.runtime import autocast
    from dnabert2.commands.options import show_progress
    from dnabert2.common.optim import linear_schedule, make_optimizer

    num_labels = len(data.label_names)
    pad_id = tokenizer.pad_token_id
    optimizer = make_optimizer(model, lr, weight_decay, betas=ADAMW_BETAS, eps=ADAMW_EPS)
    scheduler = linear_schedule(optimizer, warmup_steps, total_steps)
    scaler = torch.amp.GradScaler("cuda") if (device.type == "cuda" and dtype == torch.float16) else None
    loss_of = loss_function(data.task, None if weights is None else weights.to(device))
    rng = np.random.default_rng(seed)
    history, best, best_step, best_state, stale = [], None, 0, None, 0
    running, running_n, seen, step, eval_seconds, start = 0.0, 0, 0, 0, 0.0, time.perf_counter()
    progress = None
    if show_progress(quiet):
        from tqdm import tqdm
        progress = tqdm(total=total_steps, desc=f"fine-tuning (seed {seed})", unit="step", leave=False)

    def evaluate_dev():
        nonlocal best, best_step, best_state, stale, running, running_n, eval_seconds
        eval_start = time.perf_counter()
        metrics, _ = evaluate(model, encoded["dev"], data.task, num_labels, batch_size, pad_id, device, dtype)
        record = {"step": step, "epoch": round(step / max(1, math.ceil(len(encoded["train"].lengths) / batch_size)),
                                                 3),
                  "train_loss": running / running_n if running_n else None,
                  "lr": scheduler.get_last_lr()[0], **{f"dev_{k}": v for k, v in metrics.items()}}
        history.append(record)
        log.info(json.dumps(record))
        running, running_n = 0.0, 0
        if is_better(select_metric, metrics[select_metric], best):
            best, best_step, best_state, stale = metrics[select_metric], step, _trainable_state(model), 0
        else:
            stale += 1
        model.train()
        eval_seconds += time.perf_counter() - eval_start

    model.train()
    stop = False
    for epoch in range(max_epochs):
        for indices in length_batches(encoded["train"].lengths, batch_size, rng):
            batch = collate(encoded["train"], indices, pad_id, device)
            targets = torch.as_tensor(encoded["train"].targets[indices]).to(device)
            with autocast(device, dtype):
                logits = model(**batch).logits
            loss = loss_of(logits, targets)
            optimizer.zero_grad(set_to_none=True)
            if scaler is not None:
                scaler.scale(loss).backward()
                scaler.unscale_(optimizer)
                torch.nn.utils.clip_grad_norm_(model.parameters(), MAX_GRAD_NORM)
                scaler.step(optimizer)
                scaler.update()
            else:
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), MAX_GRAD_NORM)
                optimizer.step()
            scheduler.step()
            step += 1
            seen += len(indices)
            running += float(loss.detach())
            running_n += 1
            if progress is not None:
                progress.update(1)
            if step % eval_every == 0 or step == total_steps:
                evaluate_dev()
                if patience is not None and stale >= patience:
                    log.info("early stop at step %d: no dev improvement in %d evaluations", step, patience)
                    stop = True
            if stop or step >= total_steps:
                stop = True
                break
        if stop:
            break
    if progress is not None:
        progress.close()
    if not history or history[-1]["step"] != step:
        evaluate_dev()
    seconds = time.perf_counter() - start
    train_seconds = seconds - eval_seconds
    current = {name: p for name, p in model.named_parameters() if p.requires_grad}
    with torch.no_grad():
        for name, value in best_state.items():
            current[name].copy_(value.to(current[name].device))
    model.eval()
    return history, best_step, step, seconds, seen / train_seconds if train_seconds > 0 else 0.0


def _metric_summary(runs, split):
    names = sorted(getattr(runs[0], split))
    values = {name: np.asarray([getattr(run, split)[name] for run in runs], dtype=np.float64) for name in names}
    mean = {name: float(v.mean()) for name, v in values.items()}
    std = {name: float(v.std(ddof=1)) if len(v) > 1 else 0.0 for name, v in values.items()}
    return mean, std


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
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        log.info("matplotlib is not installed: no training curve")
        return False
    panels = 2 if select_metric != "loss" else 1
    figure, axes = plt.subplots(1, panels, figsize=(6 * panels, 4), squeeze=False)
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
    axes[0, 0].set_xlabel("step")
    axes[0, 0].set_ylabel("loss")
    axes[0, 0].legend(fontsize=7)
    if panels == 2:
        axes[0, 1].set_xlabel("step")
        axes[0, 1].set_ylabel(f"dev {select_metric}")
        axes[0, 1].legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return True


@dataclass
class Settings:
    """The options of a fine-tuning run (see `finetune`), checked before any data is read."""
    epochs: float = None             # passes over train; None with max_steps None means 3
    max_steps: int = None            # optimiser steps; with epochs, whichever ends first
    batch_size: int = 32
    lr: float = 3e-5                 # peak learning rate after the warm-up
    warmup_steps: int = 50
    weight_decay: float = 0.01
    eval_every: int = 200            # dev evaluation interval in steps (and at the end)
    select_metric: str = "loss"      # dev metric that picks the checkpoint (loss: lowest, others: highest, mse lowest)
    patience: int = None             # stop after this many evaluations without improvement
    class_weights_mode: str = "none"  # none | balanced
    max_length: int = None           # tokens per example; None: the longest training example
    lora: bool = False
    lora_targets: tuple = ("Wqkv",)
    lora_r: int = 8
    lora_alpha: int = 16
    lora_dropout: float = 0.05
    save_adapter: bool = False       # with lora: write the adapter instead of merged weights
    seeds: int = 1                   # runs with seeds seed, seed + 1, ...
    seed: int = 42
    max_train_rows: int = None       # random subsets for quick runs
    max_eval_rows: int = None
    save_model: bool = True          # False: metrics and predictions only (benchmark runs)

    def check(self):
        checks = [
            (self.epochs is not None and self.epochs <= 0, f"--epochs {self.epochs}: must be positive"),
            (self.max_steps is not None and self.max_steps <= 0, f"--max-steps {self.max_steps}: must be positive"),
            (self.batch_size <= 0, f"--batch-size {self.batch_size}: must be positive"),
            (not self.lr > 0, f"--lr {self.lr}: must be positive"),
            (self.warmup_steps < 0, f"--warmup-steps {self.warmup_steps}: must be 0 or more"),
            (self.weight_decay < 0, f"--weight-decay {self.weight_decay}: must be 0 or more"),
            (self.eval_every <= 0, f"--eval-every {self.eval_every}: must be positive"),
            (self.patience is not None and self.patience <= 0, f"--patience {self.patience}: must be positive"),
            (self.seeds <= 0, f"--seeds {self.seeds}: must be positive"),
            (self.max_length is not None and self.max_length < 3,
             f"--max-length {self.max_length}: must be at least 3 tokens"),
            (self.class_weights_mode not in (None, "none", "balanced"),
             f"--class-weights {self.class_weights_mode!r}: expected none or balanced"),
            (self.lora_r <= 0, f"--lora-r {self.lora_r}: must be positive"),
            (self.lora_alpha <= 0, f"--lora-alpha {self.lora_alpha}: must be positive"),
            (not 0 <= self.lora_dropout < 1, f"--lora-dropout {self.lora_dropout}: must be in [0, 1)"),
            (self.save_adapter and not self.lora, "--save-adapter needs --lora"),
        ]
        for bad, message in checks:
            if bad:
                raise InputError(message)
        if self.lora:
            check_lora(list(self.lora_targets))

    def schedule(self, train_rows):
        """(total optimiser steps, epochs to loop over) for this many training rows."""
        steps_per_epoch = math.ceil(train_rows / self.batch_size)
        if self.max_steps is not None and self.epochs is None:
            return self.max_steps, math.ceil(self.max_steps / steps_per_epoch)
        epochs = 3 if self.epochs is None else self.epochs
        epoch_steps = math.ceil(epochs * steps_per_epoch)
        total = epoch_steps if self.max_steps is None else min(self.max_steps, epoch_steps)
        return total, math.ceil(epochs)


@contextlib.contextmanager
def _torch_threads(threads):
    """torch uses `threads` CPU threads inside the block (all when None), then what it used before."""
    import torch

    previous = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def finetune(output, *, model, train=None, dev=None, test=None, data=None, task="auto", device="auto",
             precision="auto", threads=None, force=False, quiet=True, **options):
    """Fine-tune `model` (a model folder, the release folder or a hub id) on train/dev(/test) tables, or the
    tables of a `data` folder, and write the output folder described in the module docstring.

    options are the fields of `Settings`: epochs, max_steps, batch_size, lr, warmup_steps, weight_decay,
    eval_every, select_metric, patience, class_weights_mode, max_length, lora, lora_targets, lora_r, lora_alpha,
    lora_dropout, save_adapter, seeds, seed, max_train_rows, max_eval_rows, save_model.
    Returns the metrics summary (the content of metrics.json) as a dict."""
    from dnabert2.common.runtime import resolve_device, resolve_dtype

    output = Path(output)
    check_new_output(output, force)
    try:
        settings = Settings(**options)
    except TypeError as e:
        raise TypeError(f"finetune: {e}") from None
    settings.check()
    torch_device = resolve_device(device)
    dtype = resolve_dtype(precision, torch_device)
    with _torch_threads(threads):
        labelled = _prepare_data(settings, train, dev, test, data, task)
        runs, tokenizer, max_length, parameters = _train_seeds(model, labelled, settings, torch_device, dtype, quiet)
        best = next(run for run in runs if run.model is not None)
        summary = _summary(labelled, settings, runs, best, max_length, parameters)
        record = _record(model, labelled, settings, runs, best, max_length, torch_device, dtype)
        with output_dir(output, force) as tmp:
            if settings.save_model:
                with _transformers_quiet():
                    _save_model(best.model, tokenizer, tmp, settings.lora, settings.save_adapter,
                                record["base_model"])
            _write_reports(tmp, labelled, settings, runs, best, summary, record)
    return summary


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


def _encode_all(tokenizer, labelled, max_length):
    """Token ids of every split, truncated to max_length (None: the longest training example)."""
    if max_length is None:
        max_length = automatic_max_length(tokenizer, labelled.train)
        log.info("max length from the training data: %d tokens", max_length)
    encoded = {name: encode_split(tokenizer, split, max_length) for name, split in labelled.splits().items()}
    for name, enc in encoded.items():
        if enc.truncated:
            log.warning("%s: %d of %d examples truncated to %d tokens", name, enc.truncated, len(enc.lengths),
                        max_length)
    return encoded, max_length


def _train_seeds(model_path, labelled, settings, device, dtype, quiet):
    """Train every seed; the run with the best dev score keeps its model (run.model), the others drop theirs.
    Returns (runs, tokenizer, max_length, parameter counts)."""
    weights = class_weights(labelled.task, labelled.train.targets, settings.class_weights_mode)
    total_steps, max_epochs = settings.schedule(len(labelled.train.table))
    metric = settings.select_metric
    runs, best, encoded, max_length = [], None, None, settings.max_length
    for run_seed in range(settings.seed, settings.seed + settings.seeds):
        net, tokenizer = build_classifier(model_path, labelled, run_seed, device)
        if encoded is None:
            encoded, max_length = _encode_all(tokenizer, labelled, max_length)
        if settings.lora:
            net = apply_lora(net, list(settings.lora_targets), settings.lora_r, settings.lora_alpha,
                             settings.lora_dropout)
        parameters = {"total": sum(p.numel() for p in net.parameters()),
                      "trainable": sum(p.numel() for p in net.parameters() if p.requires_grad)}
        _set_seed(run_seed)
        history, best_step, steps_run, seconds, speed = train_one(
            net, tokenizer, encoded, labelled, seed=run_seed, total_steps=total_steps,
            eval_every=settings.eval_every, batch_size=settings.batch_size, lr=settings.lr,
            warmup_steps=settings.warmup_steps, weight_decay=settings.weight_decay, select_metric=metric,
            patience=settings.patience, weights=weights, device=device, dtype=dtype, quiet=quiet,
            max_epochs=max_epochs)
        scored = {name: evaluate(net, encoded[name], labelled.task, len(labelled.label_names),
                                 settings.batch_size, tokenizer.pad_token_id, device, dtype)
                  for name in ("dev", "test") if name in encoded}
        test_metrics, test_output = scored.get("test", ({}, None))
        run = RunResult(run_seed, best_step, steps_run, history, scored["dev"][0], test_metrics, scored["dev"][1],
                        test_output, None, seconds, speed)
        runs.append(run)
        if best is None or is_better(metric, run.dev[metric], best.dev[metric]):
            if best is not None:
                best.model = None
            best, run.model = run, net
        del net
        log.info("seed %d: best step %d, dev %s %.4f, %.1f s", run_seed, best_step, metric, run.dev[metric],
                 seconds)
    return runs, tokenizer, max_length, parameters


def _summary(labelled, settings, runs, best, max_length, parameters):
    """The content of metrics.json."""
    summary = {
        "task": labelled.task,
        "labels": labelled.label_names,
        "pairs": labelled.pairs,
        "select_metric": settings.select_metric,
        "seeds": [run.seed for run in runs],
        "selected_seed": best.seed,
        "rows": {name: len(split.table) for name, split in labelled.splits().items()},
        "max_length": max_length,
        "steps": settings.schedule(len(labelled.train.table))[0],
        "parameters": parameters,
        "predictions_split": "test" if labelled.test is not None else "dev",
    }
    for split in ("dev", "test"):
        if split == "dev" or labelled.test is not None:
            summary[split], summary[f"{split}_std"] = _metric_summary(runs, split)
    summary["runs"] = [{"seed": r.seed, "best_step": r.best_step, "steps": r.steps, "dev": r.dev, "test": r.test,
                        "seconds": round(r.seconds, 3), "train_sequences_per_s": round(r.train_sequences_per_s, 2)}
                       for r in runs]
    return summary


def _record(model, labelled, settings, runs, best, max_length, device, dtype):
    """The content of training_record.json: where everything came from and how it was trained."""
    import torch

    options = asdict(settings)
    options["lora_targets"] = list(settings.lora_targets)
    options.update(total_steps=settings.schedule(len(labelled.train.table))[0], device=str(device),
                   precision=str(dtype).replace("torch.", ""))
    return {
        "dnabert2_version": __version__,
        "torch_version": torch.__version__,
        "base_model": str(Path(model).resolve()) if Path(model).exists() else str(model),
        "task": labelled.task,
        "labels": labelled.label_names,
        "pairs": labelled.pairs,
        "max_length": max_length,
        "data": {name: {"path": str(Path(split.table.path).resolve()), "rows": len(split.table),
                        "sha256": _sha256(split.table.path)} for name, split in labelled.splits().items()},
        "options": options,
        "seeds": [run.seed for run in runs],
        "selected_seed": best.seed,
        "runs": [{"seed": r.seed, "best_step": r.best_step, "steps": r.steps, "history": r.history} for r in runs],
    }


def _write_reports(folder, labelled, settings, runs, best, summary, record):
    """metrics.json, training_record.json, predictions.tsv, training_curve.png, and seeds/ for several seeds."""
    split_name = summary["predictions_split"]
    split = getattr(labelled, split_name)
    (folder / "metrics.json").write_text(json.dumps(summary, indent=2) + "\n")
    (folder / "training_record.json").write_text(json.dumps(record, indent=2) + "\n")
    output_of = (lambda run: run.test_output) if split_name == "test" else (lambda run: run.dev_output)
    write_predictions(folder / "predictions.tsv", labelled, split, *output_of(best))
    plot_curves(folder / "training_curve.png", runs, settings.select_metric)
    if len(runs) > 1:
        for run in runs:
            seed_folder = folder / "seeds" / f"seed_{run.seed}"
            seed_folder.mkdir(parents=True)
            (seed_folder / "metrics.json").write_text(json.dumps(
                {"seed": run.seed, "best_step": run.best_step, "dev": run.dev, "test": run.test}, indent=2) + "\n")
            write_predictions(seed_folder / "predictions.tsv", labelled, split, *output_of(run))


def _save_model(model, tokenizer, folder, lora, save_adapter, base_model):
    """Merged: a plain model folder. Adapter: folder/adapter/ (peft files and the head's config.json)."""
    if lora and save_adapter:
        adapter = folder / "adapter"
        model.save_pretrained(adapter)
        config = model.get_base_model().config
        config.save_pretrained(adapter)
        _point_adapter_at(adapter, base_model)
    else:
        if lora:
            with _no_peft_future_warnings():
                model = model.merge_and_unload()
        model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)


def _point_adapter_at(adapter, base_model):
    path = adapter / "adapter_config.json"
    config = json.loads(path.read_text())
    config["base_model_name_or_path"] = base_model
    path.write_text(json.dumps(config, indent=2) + "\n")


def load_finetuned(path, device=None):
    """(model, tokenizer) from a fine-tuning output: a merged model folder, or one holding adapter/."""
    path = Path(path)
    from dnabert2.common.models import load_model

    if not (path / "adapter").is_dir():
        with _transformers_quiet():
            return load_model(path, task="classification", device=device, dtype="fp32")
    from peft import PeftModel

    from dnabert2.model import DNABert2Config, DNABert2ForSequenceClassification
    from dnabert2.tokenizer import load_tokenizer

    adapter = path / "adapter"
    base_model = json.loads((adapter / "adapter_config.json").read_text())["base_model_name_or_path"]
    with _transformers_quiet():
        encoder, _ = load_model(base_model, task="base", device="cpu", dtype="fp32")
    tokenizer = load_tokenizer(path)
    config = DNABert2Config.from_pretrained(adapter)
    model = DNABert2ForSequenceClassification(config)
    _load_encoder(model, encoder)
    with _no_peft_future_warnings():
        model = PeftModel.from_pretrained(model, adapter).merge_and_unload().eval()
    if device is not None:
        model = model.to(device)
    return model, tokenizer

