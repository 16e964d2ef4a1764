"""`pretrain`: masked-LM pretraining (`dnabert2 pretrain` and `dnabert2.pretrain(...)`), from one CPU to many GPUs.

A run: the options checked (`settings.PretrainSettings`); tokenizer, model and output folder set up (`setup`); the
data read (windows drawn from FASTA genomes, `genomes` and `batches`, rows of a prepared corpus, `corpus`, or the
sequences of labelled tables for further pretraining on task data, `tables`); then `loop.Trainer` trains.
Micro-batches are masked in DataLoader workers. AdamW and the warm-up/linear-decay schedule come from
`dnabert2.common.optim` (the paper's betas 0.9/0.98, eps 1e-6, weight decay 1e-5).

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
import contextlib
from pathlib import Path

from dnabert2.common.fields import settings_of
from dnabert2.common.kernels import Kernels
from dnabert2.common.runtime import torchrun
from dnabert2.pretraining.batches import FastaSource, eval_batches, tokenizers_parallelism_off
from dnabert2.pretraining.corpus import CorpusSource, corpus_eval_rows, prepare_corpus, read_corpus_meta
from dnabert2.pretraining.genomes import (WindowSampler, encode_windows, heldout_windows, measure_window_bp,
                                          read_genomes)
from dnabert2.pretraining.masking import MaskingConfig
from dnabert2.pretraining.settings import PretrainSettings
from dnabert2.pretraining.setup import (build_model, check_output, load_tokenizer_for, run_fingerprint,
                                       set_up_line, tokenizer_source)
from dnabert2.pretraining.tables import table_training_data
from dnabert2.pretraining.loop import Trainer, TrainingData


def pretrain(genomes=None, output=None, *, settings=None, **options):
    """Pretrain a DNABERT-2 masked-LM model on FASTA genomes (or a prepared corpus, or tables); write a model folder.

    options are the fields of `PretrainSettings`, the options of `dnabert2 pretrain` (tokenizer, model_config,
    max_steps, batch_size, lr, ...); or pass `settings`, a `PretrainSettings`. genomes: FASTA paths (plain, gzip
    or bgzip), windows drawn with probability by `genome_weights` (default: by length). tokenizer: a tokenizer
    folder (default: the one of `init` or of `corpus`, else the released DNABERT-2 tokenizer that the shipped
    pretrained model carries). model_config: a preset (`dnabert2-117m`, `small`, `tiny`) or a JSON config file;
    init: a model folder to continue from. tables: labelled tables (any layout `finetune` reads) whose sequences
    are the data instead of genomes, e.g. the paper's further pretraining on GUE training sets (with init, batch
    32, max_tokens 128, lr 5e-5). batch_size is per device and micro-batch: a step sees batch_size * grad_accum *
    ranks windows. warmup_steps: default 6% of max_steps (30k of 500k in the paper). stop_at_step: checkpoint and
    stop early, leaving the run resumable (for jobs with a time limit). report: a function given the lines a run
    says to its user (what it set up; after the first steps, the time per 1,000 steps); None: they are logged.
    Returns a summary dict; with prepare=True it only writes a token corpus of `windows` windows to `output`
    (`corpus.prepare_corpus`) and returns its description.
    """
    settings = settings_of(PretrainSettings, settings, options, "pretrain", genomes=genomes, output=output)
    settings.check()
    if settings.prepare:
        from dnabert2.tokenizer import load_tokenizer

        return prepare_corpus(settings, load_tokenizer(tokenizer_source(settings)))
    import torch

    place = torchrun()
    if settings.threads:
        torch.set_num_threads(settings.threads)
    dev, dtype = _device_and_dtype(settings, place)
    kernels = Kernels.of(settings, dev, dtype)  # --attention that cannot train here fails before anything is read
    if settings.num_workers > 0:
        tokenizers_parallelism_off()

    tok = load_tokenizer_for(settings)
    model, config = build_model(settings, tok)
    masking = MaskingConfig.from_tokenizer(tok, mlm_probability=settings.mlm_probability,
                                           mask_fraction=settings.mask_fraction,
                                           random_fraction=settings.random_fraction)
    fingerprint = run_fingerprint(settings, config, tok, place.world_size)
    # rank 0 alone looks at the output folder (the others would race with its writes); it tells them below
    resume_from = (check_output(settings.output, settings.resume, settings.force, fingerprint) if place.rank == 0
                   else None)
    if place.rank == 0:
        settings.say(set_up_line(settings, tok, model, dev, dtype) + kernels.line())
    # all ranks read the data; bad genomes fail here, before the output folder is touched
    data = _training_data(settings, tok, masking, kernels.packed)
    with _process_group(place, dev):
        resume_from = _shared_resume_point(resume_from, place)
        trainer = Trainer(settings, place, settings.output, dev, dtype, tok, kernels)
        return trainer.run(model, masking, data, fingerprint, resume_from)


def _device_and_dtype(options, place):
    """--device (under torchrun on GPUs: the rank's own GPU) and --precision as torch objects."""
    import torch

    from dnabert2.common.runtime import resolve_device, resolve_dtype

    dev = resolve_device(options.device)
    if dev.type == "cuda" and place.distributed:
        dev = torch.device("cuda", place.local_rank)
        torch.cuda.set_device(dev)
    return dev, resolve_dtype(options.precision, dev)


def _training_data(options, tokenizer, masking, packed):
    """The training samples, the masked held-out batches (`packed`: packed as the training batches are) and the
    window length, from genomes or a corpus."""
    o = options
    if o.genomes:
        loaded = read_genomes(o.genomes, o.heldout_fraction)
        window_bp = measure_window_bp(tokenizer, loaded, o.max_tokens)
        source = FastaSource(WindowSampler(loaded, window_bp, o.genome_weights), tokenizer, o.max_tokens, o.seed)
        held_rows = encode_windows(tokenizer, heldout_windows(loaded, window_bp, o.eval_samples), o.max_tokens)
    elif o.tables:
        source, held_rows, window_bp = table_training_data(o, tokenizer)
    else:
        meta = read_corpus_meta(o.corpus)
        source = CorpusSource(o.corpus, o.seed, max_tokens=o.max_tokens)
        held_rows = corpus_eval_rows(o.corpus, meta, o.eval_samples, o.max_tokens)
        window_bp = meta["window_bp"]
    held = []
    if o.eval_every > 0:
        held = eval_batches(held_rows, masking, o.max_tokens, tokenizer.pad_token_id, max(o.batch_size, 64), o.seed,
                            pack=packed)
    return TrainingData(source, held, window_bp)


@contextlib.contextmanager
def _process_group(place, device):
    """Under torchrun, the process group of the ranks (NCCL on GPUs, gloo on CPUs) for the block."""
    if not place.distributed:
        yield
        return
    import torch.distributed as dist

    dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    try:
        yield
    finally:
        dist.destroy_process_group()


def _shared_resume_point(resume_from, place):
    """Rank 0's decision, None or (step, checkpoint folder), on every rank."""
    if not place.distributed:
        return resume_from
    import torch.distributed as dist

    shared = [None if resume_from is None else (resume_from[0], str(resume_from[1]))]
    dist.broadcast_object_list(shared, src=0)
    return None if shared[0] is None else (shared[0][0], Path(shared[0][1]))
