"""Masked-LM pretraining (`dnabert2 pretrain` and `dnabert2.pretrain(...)`), from one CPU to many GPUs.

The loop: micro-batches come from `pretrain_data.MicroBatches` (windows drawn from the genomes or rows of a
prepared corpus, masked in DataLoader workers); the loss of a step is the summed cross-entropy over every masked
token of its micro-batches on every rank, divided by their total number, so gradient accumulation and any number
of ranks give the gradient one process with the whole batch would get. AdamW and the warm-up/linear-decay schedule
come from `dnabert2.training` (the paper's betas 0.9/0.98, eps 1e-6, weight decay 1e-5).

Under `torchrun` every rank runs this function; DistributedDataParallel averages gradients (gloo on CPU, NCCL on
GPU); rank 0 alone writes the output folder. Resuming restores model, optimiser, scheduler, loss scaler, each
rank's RNG state and the data position (samples consumed), so N steps then --resume to 2N equal 2N in one go.

Output folder:
  config.json, model.safetensors, tokenizer files   the final model (written when max_steps is reached)
  log.jsonl                                         one JSON object per logged step and per evaluation
  loss_curve.png                                    training and held-out loss (when matplotlib is installed)
  run.json                                          the settings a resumed run must share
  checkpoints/step-NNNNNNNN/                        the last K checkpoints (each a model folder + trainer state)
"""
import json
import logging
import math
import os
import shutil
import time
from contextlib import nullcontext
from pathlib import Path

from dnabert2.pretraining import checkpoints as ckpt
from dnabert2.errors import InputError
from dnabert2.common.models import quiet_transformers_progress
from dnabert2.pretraining.log import LOG_FILE, plot_loss_curve, truncate_log
from dnabert2.pretraining.setup import (RUN_FILE, build_model, check_options, check_output,
                             load_tokenizer_for, run_fingerprint)

log = logging.getLogger(__name__)


def _distributed():
    """(rank, world_size, local_rank) from the torchrun environment (0, 1, 0 when not under torchrun)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    return int(os.environ.get("RANK", "0")), world, int(os.environ.get("LOCAL_RANK", "0"))


# ---------------------------------------------------------------------------------------------------- model I/O

def _objective(model):
    """A module whose forward returns (loss summed over masked tokens, correct predictions) as float32.

    Only the masked positions go through the prediction head (the 4096-way decoder dominates the cost of
    small models otherwise). DistributedDataParallel wraps this module, so its hooks see every parameter.
    """
    import torch
    import torch.nn.functional as F

    class Objective(torch.nn.Module):
        def __init__(self, mlm):
            super().__init__()
            self.mlm = mlm

        def forward(self, input_ids, attention_mask, labels):
            hidden = self.mlm.bert(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            chosen = labels != -100                              # [B, S]
            logits = self.mlm.cls(hidden[chosen])                # [N, V]  N = masked tokens in the batch
            target = labels[chosen]
            loss_sum = F.cross_entropy(logits.float(), target, reduction="sum")
            correct = (logits.argmax(-1) == target).sum().float()
            return loss_sum, correct

    return Objective(model)


def _rng_state(device):
    import torch

    state = {"cpu": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def _set_rng_state(state, device):
    import torch

    torch.set_rng_state(state["cpu"])
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)


def _gather_rng(device, world):
    """Every rank's RNG state, in rank order (a list on every rank)."""
    state = _rng_state(device)
    if world == 1:
        return [state]
    import torch.distributed as dist

    states = [None] * world
    dist.all_gather_object(states, state)
    return states


def _save_final(out, model, tokenizer):
    """Write the final model folder files into `out` (each file renamed into place)."""
    tmp = Path(out) / ".final.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    ckpt.save_model_folder(tmp, model, tokenizer)
    for f in tmp.iterdir():
        os.replace(f, Path(out) / f.name)
    tmp.rmdir()


# ---------------------------------------------------------------------------------------------------- the loop

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


def _evaluate(objective, batches, device, dtype):
    import torch

    from dnabert2.common.runtime import autocast

    was_training = objective.training
    objective.eval()
    loss = correct = count = 0.0
    with torch.no_grad():
        for batch in batches:
            batch = {k: v.to(device) for k, v in batch.items()}
            with autocast(device, dtype):
                l, c = objective(**batch)
            loss += float(l)
            correct += float(c)
            count += float((batch["labels"] != -100).sum())
    objective.train(was_training)
    return loss / max(count, 1.0), correct / max(count, 1.0)


def pretrain(genomes=(), output=None, *, tokenizer=None, corpus=None, model_config=None, init=None,
             genome_weights=None, max_tokens=128, mlm_probability=0.15, mask_fraction=0.8, random_fraction=0.1,
             batch_size=32, grad_accum=1, max_steps=10000, lr=5e-4, warmup_steps=None, weight_decay=1e-5,
             max_grad_norm=1.0, precision="auto", device="auto", gradient_checkpointing=False,
             save_every=1000, keep_checkpoints=3, eval_every=500, eval_fraction=0.01, eval_samples=512,
             log_every=10, seed=42, num_workers=2, threads=None, resume=False, force=False, stop_at_step=None,
             show_progress=False):
    """Pretrain a DNABERT-2 masked-LM model on FASTA genomes (or a prepared corpus); write a model folder.

    genomes: FASTA paths (plain, gzip or bgzip), windows drawn with probability by `genome_weights` (default:
    by length). tokenizer: a tokenizer folder (default: the one of `init` or of `corpus`). model_config: a
    preset (`dnabert2-117m`, `small`, `tiny`) or a JSON config file; init: a model folder to continue from.
    batch_size is per device and micro-batch: a step sees batch_size * grad_accum * ranks windows.
    warmup_steps: default 6% of max_steps (30k of 500k in the paper). stop_at_step: checkpoint and stop early,
    leaving the run resumable (for jobs with a time limit). Returns a summary dict.
    """
    import torch

    o = dict(locals())
    o["genomes"] = [str(g) for g in (genomes or [])]
    if output is None:
        raise InputError("-o/--output: give the output folder")
    check_options(o)
    rank, world, local_rank = _distributed()
    out = Path(output)
    if threads:
        torch.set_num_threads(threads)

    from dnabert2.common.runtime import resolve_device, resolve_dtype
    from dnabert2.pretraining.masking import MaskingConfig
    from dnabert2.pretraining.data import (CorpusSource, FastaSource, WindowSampler, corpus_eval_rows, encode_windows,
                                eval_batches, heldout_windows, measure_window_bp, read_corpus_meta, read_genomes,
                                tokenizers_parallelism_off)

    dev = resolve_device(device)
    if dev.type == "cuda" and world > 1:
        dev = torch.device("cuda", local_rank)
        torch.cuda.set_device(dev)
    dtype = resolve_dtype(precision, dev)
    if num_workers > 0:
        tokenizers_parallelism_off()

    tok = load_tokenizer_for(o)
    model, config = build_model(o, tok)
    masking = MaskingConfig.from_tokenizer(tok, mlm_probability=mlm_probability, mask_fraction=mask_fraction,
                                           random_fraction=random_fraction)
    fingerprint = run_fingerprint(o, config, tok, world)
    # rank 0 alone looks at the output folder (the others would race with its writes); it tells them below
    resume_from = check_output(out, resume, force, fingerprint) if rank == 0 else None

    # data (all ranks read it; bad genomes fail here, before the output folder is touched)
    if genomes:
        loaded = read_genomes(o["genomes"], eval_fraction)
        window_bp = measure_window_bp(tok, loaded, max_tokens)
        source = FastaSource(WindowSampler(loaded, window_bp, genome_weights), tok, max_tokens, seed)
        held_rows = encode_windows(tok, heldout_windows(loaded, window_bp, eval_samples), max_tokens)
    else:
        meta = read_corpus_meta(corpus)
        source = CorpusSource(corpus, seed, max_tokens=max_tokens)
        held_rows = corpus_eval_rows(corpus, meta, eval_samples, max_tokens)
        window_bp = meta["window_bp"]
    held = eval_batches(held_rows, masking, max_tokens, tok.pad_token_id, max(batch_size, 64), seed) \
        if eval_every > 0 else []

    if world > 1:
        import torch.distributed as dist
        dist.init_process_group(backend="nccl" if dev.type == "cuda" else "gloo")
        shared = [None if resume_from is None else (resume_from[0], str(resume_from[1]))]
        dist.broadcast_object_list(shared, src=0)
        resume_from = None if shared[0] is None else (shared[0][0], Path(shared[0][1]))
    try:
        return _train(o, rank, world, out, dev, dtype, tok, model, masking, fingerprint, resume_from, source,
                      held, window_bp)
    finally:
        if world > 1:
            import torch.distributed as dist
            dist.destroy_process_group()


def _train(o, rank, world, out, dev, dtype, tok, model, masking, fingerprint, resume_from, source, held, window_bp):
    """The training loop of `pretrain` (options checked, data and model ready)."""
    import torch

    from dnabert2.common.runtime import autocast
    from dnabert2.pretraining.data import MicroBatches, micro_batch_loader
    from dnabert2.common.optim import linear_schedule, make_optimizer

    distributed = world > 1
    if distributed:
        import torch.distributed as dist
    is_main = rank == 0
    start_step, samples_seen = 0, 0

    if is_main:
        if resume_from is None and out.exists():
            shutil.rmtree(out)  # --force, or an empty folder, or a run that never reached its first checkpoint
        out.mkdir(parents=True, exist_ok=True)
        ckpt.remove_partial(out)
        (out / RUN_FILE).write_text(json.dumps(fingerprint, indent=1) + "\n")
        if resume_from is None:
            (out / LOG_FILE).write_text("")
    if distributed:
        dist.barrier()

    if resume_from is not None:
        from dnabert2.model import DNABert2ForMaskedLM

        step_dir = resume_from[1]
        with quiet_transformers_progress():
            model = DNABert2ForMaskedLM.from_pretrained(step_dir).float()
        state = ckpt.load_trainer_state(step_dir)
        start_step, samples_seen = int(state["step"]), int(state["samples_seen"])
        log.info("resuming from %s (step %d)", step_dir, start_step)
        if is_main:
            truncate_log(out, start_step)

    model.to(dev)
    model.train()
    if o["gradient_checkpointing"]:
        # transformers 5 renames gradient_checkpointing_enable to activation_checkpointing_enable
        enable = getattr(model, "activation_checkpointing_enable", None) or model.gradient_checkpointing_enable
        try:
            enable({"use_reentrant": False})
        except ValueError as e:
            raise InputError(f"--gradient-checkpointing: {e}") from None
    objective = _objective(model)
    trained = objective
    if distributed:
        from torch.nn.parallel import DistributedDataParallel

        trained = DistributedDataParallel(objective, device_ids=[dev.index] if dev.type == "cuda" else None)
    optimizer = make_optimizer(model, o["lr"], o["weight_decay"], betas=(0.9, 0.98), eps=1e-6)
    warmup = o["warmup_steps"] if o["warmup_steps"] is not None else int(round(0.06 * o["max_steps"]))
    scheduler = linear_schedule(optimizer, warmup, o["max_steps"])
    scaler = torch.amp.GradScaler(dev.type, enabled=(dtype == torch.float16))

    if resume_from is not None:
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        scaler.load_state_dict(state["scaler"])
        rngs = state["rng"]
        if len(rngs) == world:
            _set_rng_state(rngs[rank], dev)
        else:
            torch.manual_seed(o["seed"] * 1000 + rank + start_step)
    else:
        # dropout stream, distinct per rank
        torch.manual_seed(o["seed"] * 1000 + rank)

    data = MicroBatches(source, masking, o["max_tokens"], tok.pad_token_id, o["batch_size"], o["seed"],
                        rank=rank, world_size=world, start=samples_seen)
    batches = iter(micro_batch_loader(data, o["num_workers"], pin_memory=dev.type == "cuda"))
    global_batch = o["batch_size"] * o["grad_accum"] * world
    end_step = min(o["max_steps"], o["stop_at_step"] or o["max_steps"])

    def write_log(record):
        if is_main:
            with open(out / LOG_FILE, "a") as fh:
                fh.write(json.dumps(record) + "\n")

    def evaluate(step):
        if not held:
            return None
        loss, acc = _evaluate(objective, held, dev, dtype)
        record = {"step": step, "eval_loss": round(loss, 6), "eval_accuracy": round(acc, 6)}
        write_log(record)
        return record

    def checkpoint(step):
        rngs = _gather_rng(dev, world)
        if is_main:
            state = {"step": step, "samples_seen": samples_seen, "optimizer": optimizer.state_dict(),
                     "scheduler": scheduler.state_dict(), "scaler": scaler.state_dict(), "rng": rngs}
            ckpt.save_checkpoint(out, step, model, tok, state,
                                 {"samples_seen": samples_seen, "world_size": world, "global_batch": global_batch},
                                 o["keep_checkpoints"])
            plot_loss_curve(out)  # kept current for watching long runs
        if distributed:
            dist.barrier()

    bar = None
    if is_main and o["show_progress"]:
        from tqdm import tqdm
        bar = tqdm(total=end_step, initial=start_step, unit="step", desc="pretrain", dynamic_ncols=True)

    last_eval = None
    if start_step == 0 and o["eval_every"] > 0 and is_main:
        last_eval = evaluate(0)
    step = start_step
    window_t = time.perf_counter()
    window_tokens = window_wait = 0.0
    params = [p for p in model.parameters() if p.requires_grad]
    last_record = None
    stop = _StopOnSigterm()
    reduce_on = dev if distributed and dev.type == "cuda" else torch.device("cpu")  # NCCL reduces CUDA tensors only
    stopped = False
    try:
        while step < end_step:
            wait0 = time.perf_counter()
            micro = [next(batches) for _ in range(o["grad_accum"])]
            window_wait += time.perf_counter() - wait0
            counts = torch.tensor([float(sum(int((m["labels"] != -100).sum()) for m in micro)),
                                   float(sum(int(m["attention_mask"].sum()) for m in micro))], device=reduce_on)
            if distributed:
                dist.all_reduce(counts)
            masked_total, tokens_total = float(counts[0]), float(counts[1])
            # DDP averages gradients over ranks: scale by world so the result is sum / masked_total
            scale = world / max(masked_total, 1.0)
            stats = torch.zeros(3, dtype=torch.float64, device=reduce_on)  # loss sum, correct, stop requested
            for i, m in enumerate(micro):
                m = {k: v.to(dev, non_blocking=True) for k, v in m.items()}
                sync = nullcontext() if (not distributed or i == len(micro) - 1) else trained.no_sync()
                with sync:
                    with autocast(dev, dtype):
                        loss_sum, correct = trained(**m)
                    scaler.scale(loss_sum * scale).backward()
                stats[0] += float(loss_sum.detach())
                stats[1] += float(correct)
            scaler.unscale_(optimizer)
            max_norm = o["max_grad_norm"] if o["max_grad_norm"] is not None else float("inf")
            grad_norm = float(torch.nn.utils.clip_grad_norm_(params, max_norm))
            lr_now = optimizer.param_groups[0]["lr"]
            scaler.step(optimizer)
            scaler.update()
            optimizer.zero_grad(set_to_none=True)
            scheduler.step()
            step += 1
            samples_seen += global_batch
            window_tokens += tokens_total

            stats[2] = float(stop.requested)
            if distributed:
                dist.all_reduce(stats)
            stopped = float(stats[2]) > 0  # any rank got SIGTERM: all checkpoint and stop together
            if bar is not None:
                bar.update(1)
            if step % o["log_every"] == 0 or step == end_step or stopped:
                elapsed = time.perf_counter() - window_t
                last_record = {"step": step, "loss": round(float(stats[0]) / max(masked_total, 1.0), 6),
                               "mlm_accuracy": round(float(stats[1]) / max(masked_total, 1.0), 6),
                               "lr": lr_now, "tokens_per_s": round(window_tokens / max(elapsed, 1e-9), 1),
                               "grad_norm": round(grad_norm, 6) if math.isfinite(grad_norm) else None,
                               "data_wait": round(window_wait / max(elapsed, 1e-9), 4)}
                write_log(last_record)
                if bar is not None:
                    bar.set_postfix(loss=f"{last_record['loss']:.3f}")
                window_t = time.perf_counter()
                window_tokens = window_wait = 0.0
            if o["eval_every"] > 0 and (step % o["eval_every"] == 0 or step == end_step) and is_main:
                last_eval = evaluate(step)
            if step % o["save_every"] == 0 or step == end_step or stopped:
                checkpoint(step)
            if stopped:
                log.warning("SIGTERM: stopped after step %d with a checkpoint; continue with --resume", step)
                break
    finally:
        stop.restore()
    if bar is not None:
        bar.close()
    del batches

    finished = step >= o["max_steps"]
    if is_main:
        if finished:
            _save_final(out, model, tok)
        plot_loss_curve(out)
    if distributed:
        dist.barrier()
    return {"output": str(out), "rank": rank, "step": step, "finished": finished, "stopped_by_signal": stopped,
            "samples_seen": samples_seen, "world_size": world, "window_bp": window_bp, "last": last_record, "eval": last_eval,
            "parameters": sum(p.numel() for p in model.parameters())}
