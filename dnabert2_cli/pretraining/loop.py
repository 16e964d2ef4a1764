"""One rank's training loop of `pretrain` (`Trainer`): the output folder made ready, a checkpoint restored, model,
optimiser, schedule and loss scaler built, then optimisation steps with logging, held-out evaluation and
checkpoints, and the final model.

The loss of a step is the summed cross-entropy over every masked token of its micro-batches on every rank,
divided by their total number, so gradient accumulation and any number of ranks give the gradient one process
with the whole batch would get. Resuming restores model, optimiser, scheduler, loss scaler, each rank's RNG state
and the data position (samples consumed), so N steps then --resume to 2N equal 2N in one go. SIGTERM ends the
run after the current step, with a checkpoint.
"""
import json
import logging
import math
import shutil
import time
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

from dnabert2.common.files import write_text
from dnabert2.common.hf import quiet_transformers
from dnabert2.common.kernels import real_tokens, sequences_in
from dnabert2.errors import InputError
from dnabert2.pretraining import checkpoints as ckpt
from dnabert2.pretraining.log import LOG_FILE, append_record, plot_loss_curve, truncate_log
from dnabert2.pretraining.masking import IGNORE_INDEX
from dnabert2.pretraining.objective import evaluate, masked_lm_objective
from dnabert2.pretraining.setup import RUN_FILE

log = logging.getLogger(__name__)


@dataclass
class TrainingData:
    """What the trainer reads: the source of training samples, the masked held-out batches, the window length."""
    source: object      # rows(indices) -> token rows (batches.FastaSource or corpus.CorpusSource)
    held: list          # batches.eval_batches (empty without evaluation)
    window_bp: int


@dataclass
class _Step:
    """The figures of one optimisation step, summed over its micro-batches and ranks."""
    loss_sum: float
    correct: float
    masked: float       # masked tokens
    grad_norm: float
    lr: float           # the learning rate the step ran at


class _LogWindow:
    """Tokens and time spent waiting for data since the last logged step."""

    def __init__(self):
        self.reset()

    def reset(self):
        self.start = time.perf_counter()
        self.tokens = self.wait = 0.0


class Trainer:
    """One rank's run: `run(...)` trains from step 0 or a checkpoint and returns the summary of `pretrain`."""

    def __init__(self, options, place, out, device, dtype, tokenizer, kernels):
        self.options, self.place, self.out = options, place, Path(out)
        self.device, self.dtype, self.tokenizer = device, dtype, tokenizer
        self.kernels = kernels  # common.kernels.Kernels: attention backend, packed batches, compiled encoder
        self.compile_seconds = None  # with --compile: the first step of this invocation, compilation included
        self.is_main = place.rank == 0
        self.global_batch = options.global_batch(place.world_size)
        self.step = self.samples_seen = 0
        self.stopped = False
        self.last_record = self.last_eval = None

    def run(self, model, masking, data, fingerprint, resume_from):
        """Train `model` (or the model of checkpoint `resume_from`, (step, folder)) on `data` up to the end step."""
        state = None
        stop = _StopOnSigterm()  # from the start: a SIGTERM during set-up still ends in a checkpoint, not a kill
        try:
            self._prepare_output(fingerprint, resuming=resume_from is not None)
            if resume_from is not None:
                model, state = self._restore_model(resume_from[1])
            self._build(model)
            self._restore_or_seed(state)
            batches = iter(self._loader(data.source, masking))
            self._train(batches, data.held, stop)
            del batches  # stops the DataLoader workers
        finally:
            stop.restore()
        return self._finish(data.window_bp)

    # ------------------------------------------------------------------------------------------------ set-up

    def _prepare_output(self, fingerprint, resuming):
        """Rank 0 makes the output folder ready (the other ranks wait for it)."""
        if self.is_main:
            if not resuming and self.out.exists():
                shutil.rmtree(self.out)  # --force, or an empty folder, or a run that never reached a checkpoint
            self.out.mkdir(parents=True, exist_ok=True)
            ckpt.remove_partial(self.out)
            write_text(self.out / RUN_FILE, json.dumps(fingerprint, indent=1) + "\n")
            if not resuming:
                write_text(self.out / LOG_FILE, "")
        self._barrier()

    def _restore_model(self, step_dir):
        """(model, trainer state) of a checkpoint folder; the run continues from its step and data position."""
        from dnabert2.model import DNABert2ForMaskedLM

        with quiet_transformers():
            model = DNABert2ForMaskedLM.from_pretrained(step_dir).float()
        state = ckpt.load_trainer_state(step_dir)
        self.step, self.samples_seen = int(state["step"]), int(state["samples_seen"])
        log.info("resuming from %s (step %d)", step_dir, self.step)
        if self.is_main:
            truncate_log(self.out, self.step)
        return model, state

    def _build(self, model):
        """The model on its device, the objective (in DDP under torchrun), optimiser, schedule and loss scaler."""
        import torch

        from dnabert2.common.optim import linear_schedule, make_optimizer

        o, dev = self.options, self.device
        model.to(dev)
        model.train()
        self.kernels.apply(model)
        if o.gradient_checkpointing:
            _enable_gradient_checkpointing(model)
        self.model = model
        self.objective = self.trained = masked_lm_objective(model)
        if self.place.distributed:
            from torch.nn.parallel import DistributedDataParallel

            self.trained = DistributedDataParallel(self.objective,
                                                   device_ids=[dev.index] if dev.type == "cuda" else None)
        self.optimizer = make_optimizer(model, o.lr, o.weight_decay, betas=(0.9, 0.98), eps=1e-6)
        self.scheduler = linear_schedule(self.optimizer, o.warmup, o.max_steps)
        self.scaler = torch.amp.GradScaler(dev.type, enabled=(self.dtype == torch.float16))
        self.params = [p for p in model.parameters() if p.requires_grad]
        # NCCL reduces CUDA tensors only
        self.reduce_on = dev if self.place.distributed and dev.type == "cuda" else torch.device("cpu")

    def _restore_or_seed(self, state):
        """Optimiser, schedule, scaler and RNG from a checkpoint's state; or the dropout seed of a fresh run."""
        import torch

        seed, rank = self.options.seed, self.place.rank
        if state is None:
            torch.manual_seed(seed * 1000 + rank)  # dropout stream, distinct per rank
            return
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.scaler.load_state_dict(state["scaler"])
        rngs = state["rng"]
        if len(rngs) == self.place.world_size:
            ckpt.restore_rng_state(rngs[rank], self.device)
        else:  # resumed with another number of ranks
            torch.manual_seed(seed * 1000 + rank + self.step)

    def _loader(self, source, masking):
        """This rank's micro-batches from the data position on."""
        from dnabert2.pretraining.batches import MicroBatches, micro_batch_loader

        o = self.options
        data = MicroBatches(source, masking, o.max_tokens, self.tokenizer.pad_token_id, o.batch_size, o.seed,
                            rank=self.place.rank, world_size=self.place.world_size, start=self.samples_seen,
                            pack=self.kernels.packed)
        return micro_batch_loader(data, o.num_workers, pin_memory=self.device.type == "cuda")

    # ------------------------------------------------------------------------------------------------ the loop

    def _train(self, batches, held, stop):
        """Optimisation steps up to the end step (or SIGTERM), logging, evaluating and checkpointing on the way."""
        o = self.options
        end_step = o.end_step
        bar = self._progress_bar(end_step)
        if self.step == 0 and o.eval_every > 0 and self.is_main:
            start = time.perf_counter()
            self.last_eval = self._evaluate(held)
            if self.last_eval is not None:
                windows = sum(sequences_in(batch) for batch in held)
                o.say(f"held-out loss before training: {self.last_eval['eval_loss']:.4f} ({windows:,} windows in "
                      f"{time.perf_counter() - start:.0f} s; again every {o.eval_every:,} steps)")
        window = _LogWindow()
        timer = _StepTimer(self.step)
        while self.step < end_step:
            started = time.perf_counter()
            result = self._optimisation_step(batches, stop, window)
            if self.kernels.compile and self.compile_seconds is None:
                self.compile_seconds = time.perf_counter() - started
                if self.is_main:
                    o.say(f"compiled encoder: the first step took {self.compile_seconds:.1f} s (torch.compile)")
            if bar is not None:
                bar.update(1)
            if self.is_main and timer.ready(self.step, end_step):
                self.options.say(timer.estimate(self.device, self.dtype, self.options.max_steps - self.step))
            if self.step % o.log_every == 0 or self.step == end_step or self.stopped:
                self._log_step(result, window, bar)
            if o.eval_every > 0 and (self.step % o.eval_every == 0 or self.step == end_step) and self.is_main:
                self.last_eval = self._evaluate(held)
            if self.step % o.save_every == 0 or self.step == end_step or self.stopped:
                self._checkpoint()
            if self.stopped:
                log.warning("SIGTERM: stopped after step %d with a checkpoint; continue with --resume", self.step)
                break
        if bar is not None:
            bar.close()

    def _optimisation_step(self, batches, stop, window):
        """One step: grad_accum micro-batches forward and backward, then the optimiser and schedule step."""
        wait0 = time.perf_counter()
        micro = [next(batches) for _ in range(self.options.grad_accum)]
        window.wait += time.perf_counter() - wait0
        masked_total, tokens_total = self._token_counts(micro)
        # DDP averages gradients over ranks: scale by world so the result is sum / masked_total
        stats = self._backward(micro, self.place.world_size / max(masked_total, 1.0))
        grad_norm, lr = self._apply_gradients()
        self.step += 1
        self.samples_seen += self.global_batch
        window.tokens += tokens_total
        stats[2] = float(stop.requested)
        self._all_reduce(stats)
        self.stopped = float(stats[2]) > 0  # any rank got SIGTERM: all checkpoint and stop together
        return _Step(float(stats[0]), float(stats[1]), masked_total, grad_norm, lr)

    def _token_counts(self, micro):
        """(masked tokens, real tokens) of the step's micro-batches over every rank."""
        import torch

        counts = torch.tensor([float(sum(int((m["labels"] != IGNORE_INDEX).sum()) for m in micro)),
                               float(sum(real_tokens(m) for m in micro))], device=self.reduce_on)
        self._all_reduce(counts)
        return float(counts[0]), float(counts[1])

    def _backward(self, micro, scale):
        """Gradients of the scaled loss sums; returns [loss sum, correct, 0] of this rank as a float64 tensor."""
        import torch

        from dnabert2.common.runtime import autocast

        stats = torch.zeros(3, dtype=torch.float64, device=self.reduce_on)  # loss sum, correct, stop requested
        for i, m in enumerate(micro):
            m = {k: v.to(self.device, non_blocking=True) for k, v in m.items()}
            last = i == len(micro) - 1
            sync = self.trained.no_sync() if self.place.distributed and not last else nullcontext()
            with sync:
                with autocast(self.device, self.dtype):
                    loss_sum, correct = self.trained(**m)
                self.scaler.scale(loss_sum * scale).backward()
            stats[0] += float(loss_sum.detach())
            stats[1] += float(correct)
        return stats

    def _apply_gradients(self):
        """Clip, step optimiser, scaler and schedule; returns (gradient norm, the learning rate used)."""
        import torch

        self.scaler.unscale_(self.optimizer)
        grad_norm = float(torch.nn.utils.clip_grad_norm_(self.params, self.options.max_norm))
        lr = self.optimizer.param_groups[0]["lr"]
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.optimizer.zero_grad(set_to_none=True)
        self.scheduler.step()
        return grad_norm, lr

    # ------------------------------------------------------------------------------------------------ records

    def _log_step(self, result, window, bar):
        """The step's log record (loss and accuracy of this step; throughput since the last record)."""
        elapsed = max(time.perf_counter() - window.start, 1e-9)
        masked = max(result.masked, 1.0)
        self.last_record = {"step": self.step, "loss": round(result.loss_sum / masked, 6),
                            "mlm_accuracy": round(result.correct / masked, 6), "lr": result.lr,
                            "tokens_per_s": round(window.tokens / elapsed, 1),
                            "grad_norm": round(result.grad_norm, 6) if math.isfinite(result.grad_norm) else None,
                            "data_wait": round(window.wait / elapsed, 4)}
        if self.is_main:
            append_record(self.out, self.last_record)
        if bar is not None:
            bar.set_postfix(loss=f"{self.last_record['loss']:.3f}")
        window.reset()

    def _evaluate(self, held):
        """Held-out loss and accuracy at this step, logged (rank 0); None without a held-out set."""
        if not held:
            return None
        loss, acc = evaluate(self.objective, held, self.device, self.dtype)
        record = {"step": self.step, "eval_loss": round(loss, 6), "eval_accuracy": round(acc, 6)}
        append_record(self.out, record)
        return record

    def _checkpoint(self):
        """A checkpoint of this step (written by rank 0 with every rank's RNG state), and the loss curve."""
        rngs = ckpt.rank_rng_states(self.device, self.place.world_size)
        if self.is_main:
            state = {"step": self.step, "samples_seen": self.samples_seen, "optimizer": self.optimizer.state_dict(),
                     "scheduler": self.scheduler.state_dict(), "scaler": self.scaler.state_dict(), "rng": rngs}
            info = {"samples_seen": self.samples_seen, "world_size": self.place.world_size,
                    "global_batch": self.global_batch}
            ckpt.save_checkpoint(self.out, self.step, self.model, self.tokenizer, state, info,
                                 self.options.keep_checkpoints)
            plot_loss_curve(self.out)  # kept current for watching long runs
        self._barrier()

    def _finish(self, window_bp):
        """The final model when max_steps is reached, the loss curve, and the summary."""
        finished = self.step >= self.options.max_steps
        if self.is_main:
            if finished:
                ckpt.save_final_model(self.out, self.model, self.tokenizer)
            plot_loss_curve(self.out)
        self._barrier()
        from dnabert2.common.runtime import precision_name

        return {"output": str(self.out), "rank": self.place.rank, "step": self.step, "finished": finished,
                "device": str(self.device), "precision": precision_name(self.dtype),
                "stopped_by_signal": self.stopped, "samples_seen": self.samples_seen,
                "world_size": self.place.world_size, "window_bp": window_bp, "last": self.last_record,
                "eval": self.last_eval, "parameters": sum(p.numel() for p in self.model.parameters()),
                "attention": self.kernels.backend, "packed": self.kernels.packed,
                "compile_s": self.compile_seconds}

    # ------------------------------------------------------------------------------------------------ helpers

    def _progress_bar(self, end_step):
        if not (self.is_main and self.options.show_progress):
            return None
        from tqdm import tqdm

        return tqdm(total=end_step, initial=self.step, unit="step", desc="pretrain", dynamic_ncols=True)

    def _barrier(self):
        if self.place.distributed:
            import torch.distributed as dist

            dist.barrier()

    def _all_reduce(self, tensor):
        if self.place.distributed:
            import torch.distributed as dist

            dist.all_reduce(tensor)


def _enable_gradient_checkpointing(model):
    # transformers 5 renames gradient_checkpointing_enable to activation_checkpointing_enable
    enable = getattr(model, "activation_checkpointing_enable", None) or model.gradient_checkpointing_enable
    try:
        enable({"use_reentrant": False})
    except ValueError as e:
        raise InputError(f"--gradient-checkpointing: {e}") from None


class _StepTimer:
    """Times the first steps of an invocation (the very first, which warms up, excluded) for one estimate of the
    time per 1,000 steps, given once: after two timed steps or 30 s of them, or at the last step."""

    SECONDS = 30.0

    def __init__(self, first_step):
        self.start = None  # the time the first step of this invocation ended
        self.start_step = self.last_step = first_step
        self.done = False

    def ready(self, step, end_step):
        """Note that `step` ended; True once, when the estimate is due."""
        if self.done:
            return False
        if self.start is None:
            self.start, self.start_step = time.perf_counter(), step
            return False
        self.last_step = step
        timed = step - self.start_step
        self.done = timed >= 2 or time.perf_counter() - self.start >= self.SECONDS or step >= end_step
        return self.done

    def estimate(self, device, dtype, steps_left):
        from dnabert2.common.runtime import precision_name

        timed = self.last_step - self.start_step
        per_step = (time.perf_counter() - self.start) / timed
        left = f"; the {steps_left:,} steps left: about {_duration(per_step * steps_left)}" if steps_left > 0 else ""
        return (f"time per 1,000 steps on {device} ({precision_name(dtype)}): about {_duration(per_step * 1000)} "
                f"(from {timed} step{'s' if timed > 1 else ''}; held-out evaluations and checkpoints come on "
                f"top){left}")


def _duration(seconds):
    """'42 s', '3.5 min', '2.1 h' or '4.3 days'."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.1f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


class _StopOnSigterm:
    """While training, SIGTERM (what batch schedulers send before killing a job) asks for a checkpoint and a
    clean stop at the end of the current step instead of ending the process at once."""

    def __init__(self):
        import signal
        import threading

        self.requested = False
        self._previous = None
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGTERM, self._handle)

    def _handle(self, signum, frame):
        self.requested = True

    def restore(self):
        import signal

        if self._previous is not None:
            signal.signal(signal.SIGTERM, self._previous)
            self._previous = None

