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
    kernels: object = None      # common.kernels.Kernels (packed batches); None: padded

    def batch(self, encoded, indices):
        """The model's inputs for examples `indices` of `encoded`: padded to the longest, or packed."""
        batch = collate(encoded, indices, self.pad_id, self.device)
        return batch if self.kernels is None else self.kernels.batch(batch)


@dataclass
class Outcome:
    """How one seed's training went; the model then holds its best dev checkpoint."""
    history: list               # one record per dev evaluation
    best_step: int
    steps: int
    seconds: float
    train_sequences_per_s: float  # not counting the dev evaluations
    first_step_seconds: float = None  # the first step trained in this call (with --compile: the compilation)


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
            batch = job.batch(encoded, indices)
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


class SeedTraining:
    """One seed's optimiser, schedule, counters, data position, dev history and best checkpoint so far; `state()`
    holds all of it (with the RNG states) at an evaluation and `restore()` puts it back, so that a run resumed from
    there continues exactly as if it had never stopped."""

    def __init__(self, model, job, seed):
        import torch

        from dnabert2.common.optim import linear_schedule, make_optimizer

        settings = job.settings
        self.model, self.job, self.train, self.seed = model, job, job.encoded["train"], seed
        self.total_steps, self.max_epochs = settings.schedule(len(job.data.train.table))
        self.optimizer = make_optimizer(model, settings.lr, settings.weight_decay, betas=ADAMW_BETAS, eps=ADAMW_EPS)
        self.scheduler = linear_schedule(self.optimizer, settings.warmup_steps, self.total_steps)
        fp16_cuda = job.device.type == "cuda" and job.dtype == torch.float16
        self.scaler = torch.amp.GradScaler("cuda") if fp16_cuda else None
        self.loss_of = task_loss(job.data.task, None if job.weights is None else job.weights.to(job.device))
        self.rng = np.random.default_rng(seed)  # the batch order of every epoch
        self.history, self.best, self.best_step, self.best_state, self.stale = [], None, 0, None, 0
        self.running, self.running_n, self.seen, self.step, self.eval_seconds = 0.0, 0, 0, 0, 0.0
        self.epoch, self.order, self.position = 0, None, 0  # epochs done; this epoch's batches; batches done of it
        self.seconds_before = 0.0  # time spent before a resume (up to the checkpoint resumed from)
        self.first_step_seconds = None  # the first step of this call, compilation included (--compile)
        self.start = time.perf_counter()

    def train_step(self, indices):
        """One optimiser step on the training examples `indices` (gradients clipped, fp16 loss scaled)."""
        import torch

        from dnabert2.common.runtime import autocast

        job = self.job
        batch = job.batch(self.train, indices)
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
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), job.settings.clip_norm())
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

    def evaluate_dev(self, checkpoint=None):
        """Score dev, record it in the history, keep the trainable weights when they are the best so far, then
        hand the whole state to `checkpoint` (a function, or None)."""
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
        if checkpoint is not None:
            checkpoint(self)
        self.eval_seconds += time.perf_counter() - eval_start

    def over(self):
        """Whether training has ended: all steps or epochs done, or no dev improvement for --patience evaluations."""
        patience = self.job.settings.patience
        return (self.step >= self.total_steps or self.epoch >= self.max_epochs
                or (patience is not None and self.stale >= patience))

    def run(self, progress=None, checkpoint=None):
        """Train from the current position until `over()`: length-bucketed batches, a new shuffled order every
        epoch, dev evaluated every --eval-every steps and at the last step."""
        from dnabert2.common.batching import bucketed_batches

        settings = self.job.settings
        while not self.over():
            if self.order is None:
                self.order, self.position = bucketed_batches(self.train.lengths, settings.batch_size, self.rng), 0
            while self.position < len(self.order) and not self.over():
                started = time.perf_counter()
                self.train_step(self.order[self.position])
                if self.first_step_seconds is None:
                    self.first_step_seconds = time.perf_counter() - started
                self.position += 1
                if progress is not None:
                    progress.update(1)
                if self.step % settings.eval_every == 0 or self.step == self.total_steps:
                    self.evaluate_dev(checkpoint)
            if self.position >= len(self.order):
                self.epoch, self.order = self.epoch + 1, None
        if settings.patience is not None and self.stale >= settings.patience:
            log.info("early stop at step %d: no dev improvement in %d evaluations", self.step, settings.patience)

    def seconds(self):
        return self.seconds_before + time.perf_counter() - self.start

    def state(self):
        """Everything `restore` needs to continue from here: tensors (weights, optimiser, schedule, loss scaler,
        RNG, the epoch's batch order) and a JSON-able dict of the rest (counters, history, best so far)."""
        import torch

        order = self.order or []
        tensors = {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "scaler": None if self.scaler is None else self.scaler.state_dict(),
            "best_state": self.best_state,
            "order": torch.from_numpy(np.concatenate(order)) if order else torch.zeros(0, dtype=torch.int64),
            "order_sizes": torch.as_tensor([len(b) for b in order], dtype=torch.int64),
            **torch_rng_states(self.job.device),
        }
        plain = {"seed": self.seed, "step": self.step, "epoch": self.epoch, "position": self.position,
                 "has_order": self.order is not None, "history": self.history, "best": self.best,
                 "best_step": self.best_step, "stale": self.stale, "running": self.running,
                 "running_n": self.running_n, "seen": self.seen, "eval_seconds": self.eval_seconds,
                 "seconds": self.seconds(), "batch_rng": self.rng.bit_generator.state,
                 "python_rng": random_states()}
        return tensors, plain

    def restore(self, tensors, plain):
        """Put back a `state()` (the model built and on its device as at the start of this seed)."""
        import torch

        self.model.load_state_dict(tensors["model"])
        self.optimizer.load_state_dict(tensors["optimizer"])
        self.scheduler.load_state_dict(tensors["scheduler"])
        if self.scaler is not None and tensors["scaler"] is not None:
            self.scaler.load_state_dict(tensors["scaler"])
        self.best_state = tensors["best_state"]
        self.order = None
        if plain["has_order"]:
            self.order = list(torch.split(tensors["order"], tensors["order_sizes"].tolist()))
            self.order = [b.numpy() for b in self.order]
        for key in ("step", "epoch", "position", "history", "best", "best_step", "stale", "running", "running_n",
                    "seen", "eval_seconds"):
            setattr(self, key, plain[key])
        self.seconds_before, self.start = plain["seconds"], time.perf_counter()
        self.rng.bit_generator.state = plain["batch_rng"]
        restore_random_states(plain["python_rng"])
        restore_torch_rng(tensors, self.job.device)

    def restore_best(self):
        """Put the best dev checkpoint's trainable weights back into the model."""
        import torch

        current = {name: p for name, p in self.model.named_parameters() if p.requires_grad}
        with torch.no_grad():
            for name, value in self.best_state.items():
                current[name].copy_(value.to(current[name].device))


def train_one(model, job, seed, resume_from=None, checkpoint=None):
    """Train one seed (batch order from `seed`); the model ends holding its best dev checkpoint, in eval mode.
    resume_from: a `SeedTraining.state()` of this seed to continue from; checkpoint: called with the
    `SeedTraining` after every dev evaluation (to save its state)."""
    from dnabert2.common.runtime import show_progress

    training = SeedTraining(model, job, seed)
    if resume_from is not None:
        training.restore(*resume_from)
    progress = None
    if show_progress(job.quiet):
        from tqdm import tqdm
        progress = tqdm(total=training.total_steps, initial=training.step, desc=f"fine-tuning (seed {seed})",
                        unit="step", leave=False)
    model.train()
    try:
        training.run(progress, checkpoint)
    finally:
        if progress is not None:
            progress.close()
    if not training.history or training.history[-1]["step"] != training.step:
        training.evaluate_dev(checkpoint)
    seconds = training.seconds()
    train_seconds = seconds - training.eval_seconds
    training.restore_best()
    model.eval()
    return Outcome(training.history, training.best_step, training.step, seconds,
                   training.seen / train_seconds if train_seconds > 0 else 0.0, training.first_step_seconds)


def torch_rng_states(device):
    """torch's CPU (and the device's CUDA) random generator states, as tensors."""
    import torch

    states = {"torch_rng": torch.get_rng_state(), "cuda_rng": None}
    if device.type == "cuda":
        states["cuda_rng"] = torch.cuda.get_rng_state(device)
    return states


def restore_torch_rng(states, device):
    import torch

    torch.set_rng_state(states["torch_rng"])
    if device.type == "cuda" and states.get("cuda_rng") is not None:
        torch.cuda.set_rng_state(states["cuda_rng"], device)


def random_states():
    """Python's and numpy's global random generator states, JSON-able."""
    import random

    version, internal, gauss = random.getstate()
    name, keys, position, has_gauss, cached = np.random.get_state()
    return {"python": [version, list(internal), gauss],
            "numpy": [name, keys.tolist(), int(position), int(has_gauss), float(cached)]}


def restore_random_states(states):
    import random

    version, internal, gauss = states["python"]
    random.setstate((version, tuple(internal), gauss))
    name, keys, position, has_gauss, cached = states["numpy"]
    np.random.set_state((name, np.asarray(keys, dtype=np.uint32), position, has_gauss, cached))
