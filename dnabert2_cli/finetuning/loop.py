"""The training loop of one seed (AdamW, warm-up then linear decay, dev evaluation every N steps keeping the best
checkpoint, early stopping) and the evaluation of a split."""
import json
import logging
import math
import time
from dataclasses import dataclass

import numpy as np

from dnabert2.finetuning.encoding import collate
from dnabert2.finetuning.metrics import compute_metrics, is_better
from dnabert2.finetuning.tasks import outputs_from_logits, task_loss

log = logging.getLogger(__name__)

ADAMW_BETAS = (0.9, 0.999)  # the original script ran transformers' Trainer with its AdamW defaults
ADAMW_EPS = 1e-8
MAX_GRAD_NORM = 1.0


@dataclass
class TrainingSetup:
    """What every seed of one fine-tuning run shares: the data and its token ids, the settings, where it runs."""
    data: object                # LabelledData (tables.py)
    encoded: dict               # split name -> Encoded (encoding.py)
    settings: object            # FinetuneSettings (settings.py)
    device: object              # torch.device
    dtype: object               # torch dtype of autocast
    pad_id: int
    weights: object = None      # class weights (tasks.class_weights) or None
    quiet: bool = True


@dataclass
class Outcome:
    """How one seed's training went; the model then holds its best dev checkpoint."""
    history: list               # one record per dev evaluation
    best_step: int
    steps: int
    seconds: float
    train_sequences_per_s: float  # not counting the dev evaluations


def evaluate(model, job, split):
    """Unweighted loss, metrics and (scores, predictions) of split `split` ('dev', 'test'), in its row order."""
    import torch

    from dnabert2.common.batching import sorted_batches
    from dnabert2.common.runtime import autocast

    encoded, task = job.encoded[split], job.data.task
    loss_of = task_loss(task)
    logits = np.zeros((len(encoded.lengths), model.config.num_labels), dtype=np.float32)
    total, count = 0.0, 0
    model.eval()
    with torch.no_grad():
        for indices in sorted_batches(encoded.lengths, size=job.settings.batch_size, longest_first=True):
            batch = collate(encoded, indices, job.pad_id, job.device)
            with autocast(job.device, job.dtype):
                out = model(**batch).logits
            targets = torch.as_tensor(encoded.targets[indices]).to(job.device)
            total += float(loss_of(out, targets)) * len(indices)
            count += len(indices)
            logits[indices] = out.float().cpu().numpy()
    scores, predictions = outputs_from_logits(task, logits)
    truth = encoded.targets.astype(np.int64) if task != "regression" else encoded.targets
    metrics = compute_metrics(task, truth, predictions, len(job.data.label_names))
    metrics["loss"] = total / max(count, 1)
    return metrics, (scores, predictions)


class _SeedTraining:
    """One seed's optimiser, schedule, counters, dev history and best checkpoint so far."""

    def __init__(self, model, job):
        import torch

        from dnabert2.common.optim import linear_schedule, make_optimizer

        settings = job.settings
        self.model, self.job, self.train = model, job, job.encoded["train"]
        self.total_steps, self.max_epochs = settings.schedule(len(job.data.train.table))
        self.optimizer = make_optimizer(model, settings.lr, settings.weight_decay, betas=ADAMW_BETAS, eps=ADAMW_EPS)
        self.scheduler = linear_schedule(self.optimizer, settings.warmup_steps, self.total_steps)
        fp16_cuda = job.device.type == "cuda" and job.dtype == torch.float16
        self.scaler = torch.amp.GradScaler("cuda") if fp16_cuda else None
        self.loss_of = task_loss(job.data.task, None if job.weights is None else job.weights.to(job.device))
        self.history, self.best, self.best_step, self.best_state, self.stale = [], None, 0, None, 0
        self.running, self.running_n, self.seen, self.step, self.eval_seconds = 0.0, 0, 0, 0, 0.0

    def train_step(self, indices):
        """One optimiser step on the training examples `indices` (gradients clipped, fp16 loss scaled)."""
        import torch

        from dnabert2.common.runtime import autocast

        job = self.job
        batch = collate(self.train, indices, job.pad_id, job.device)
        targets = torch.as_tensor(self.train.targets[indices]).to(job.device)
        with autocast(job.device, job.dtype):
            logits = self.model(**batch).logits
        loss = self.loss_of(logits, targets)
        self.optimizer.zero_grad(set_to_none=True)
        if self.scaler is not None:
            self.scaler.scale(loss).backward()
            self.scaler.unscale_(self.optimizer)
        else:
            loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), MAX_GRAD_NORM)
        if self.scaler is not None:
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            self.optimizer.step()
        self.scheduler.step()
        self.step += 1
        self.seen += len(indices)
        self.running += float(loss.detach())
        self.running_n += 1

    def evaluate_dev(self):
        """Score dev, record it in the history, and keep the trainable weights when they are the best so far."""
        eval_start = time.perf_counter()
        settings = self.job.settings
        metrics, _ = evaluate(self.model, self.job, "dev")
        epoch_steps = max(1, math.ceil(len(self.train.lengths) / settings.batch_size))
        record = {"step": self.step, "epoch": round(self.step / epoch_steps, 3),
                  "train_loss": self.running / self.running_n if self.running_n else None,
                  "lr": self.scheduler.get_last_lr()[0], **{f"dev_{k}": v for k, v in metrics.items()}}
        self.history.append(record)
        log.info(json.dumps(record))
        self.running, self.running_n = 0.0, 0
        if is_better(settings.select_metric, metrics[settings.select_metric], self.best):
            self.best, self.best_step, self.stale = metrics[settings.select_metric], self.step, 0
            self.best_state = {name: p.detach().cpu().clone() for name, p in self.model.named_parameters()
                               if p.requires_grad}
        else:
            self.stale += 1
        self.model.train()
        self.eval_seconds += time.perf_counter() - eval_start

    def run_epoch(self, rng, progress):
        """One pass over length-bucketed training batches; True when training is over (steps or patience)."""
        from dnabert2.common.batching import bucketed_batches

        settings = self.job.settings
        for indices in bucketed_batches(self.train.lengths, settings.batch_size, rng):
            self.train_step(indices)
            if progress is not None:
                progress.update(1)
            if self.step % settings.eval_every == 0 or self.step == self.total_steps:
                self.evaluate_dev()
                if settings.patience is not None and self.stale >= settings.patience:
                    log.info("early stop at step %d: no dev improvement in %d evaluations", self.step,
                             settings.patience)
                    return True
            if self.step >= self.total_steps:
                return True
        return False

    def restore_best(self):
        """Put the best dev checkpoint's trainable weights back into the model."""
        import torch

        current = {name: p for name, p in self.model.named_parameters() if p.requires_grad}
        with torch.no_grad():
            for name, value in self.best_state.items():
                current[name].copy_(value.to(current[name].device))


def train_one(model, job, seed):
    """Train one seed (batch order from `seed`); the model ends holding its best dev checkpoint, in eval mode."""
    from dnabert2.common.runtime import show_progress

    training = _SeedTraining(model, job)
    rng = np.random.default_rng(seed)
    start = time.perf_counter()
    progress = None
    if show_progress(job.quiet):
        from tqdm import tqdm
        progress = tqdm(total=training.total_steps, desc=f"fine-tuning (seed {seed})", unit="step", leave=False)
    model.train()
    for _ in range(training.max_epochs):
        if training.run_epoch(rng, progress):
            break
    if progress is not None:
        progress.close()
    if not training.history or training.history[-1]["step"] != training.step:
        training.evaluate_dev()
    seconds = time.perf_counter() - start
    train_seconds = seconds - training.eval_seconds
    training.restore_best()
    model.eval()
    return Outcome(training.history, training.best_step, training.step, seconds,
                   training.seen / train_seconds if train_seconds > 0 else 0.0)
