"""`dnabert2.embed` and `dnabert2.predict`: regions -> windows -> tokens -> model -> one row per region.

The pipeline, in the order data flows:
1. `RegionSource.scan()` checks the whole input (BED lines against the reference, FASTA records) and counts it,
   before any output exists, so bad input leaves nothing behind.
2. A reader thread cuts the regions of this shard into windows (`windows.blocks`: `lookahead` windows at a time,
   in input order), fetches their sequence and tokenises a whole block at once, running ahead of the model.
3. The main thread sorts each block's windows by token count, packs them into batches of at most
   `batch_tokens` padded tokens, runs the model (`_forward`, a pure function of a batch) and folds each window's
   result into its region: the token-weighted mean of the windows (max for --pooling max), averaged over the
   forward and reverse-complement passes with --rc-average.
4. After each block the regions it finished (always a run of consecutive rows) go to the writer in input order.

Blocks depend only on region lengths and options, so a resumed run recomputes the first unfinished block with
exactly the batches of an uninterrupted run and the file comes out identical.
"""
import hashlib
import logging
import os
import queue
import sys
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from dnabert2.regions import h5writer as h5out
from dnabert2.errors import InputError
from dnabert2.regions.source import RegionSource
from dnabert2.regions.windows import DEFAULT_LOOKAHEAD, DEFAULT_WINDOW, blocks, check_tiling

log = logging.getLogger(__name__)

POOLINGS = ("mean", "max", "cls", "none")
DEFAULT_BATCH_TOKENS = 16384  # padded tokens per model call
NONE_LOOKAHEAD = 128  # --pooling none keeps a block's token vectors in memory: fewer windows per block


@dataclass
class Settings:
    """The options of one run that shape its numbers (stored in the file; --resume and merge check them)."""
    kind: str  # "embed" or "predict"
    pooling: str = "mean"
    layer: int = -1
    window: int = DEFAULT_WINDOW
    stride: int = None
    resize: int = None
    clip: bool = False
    rc_average: bool = False
    half_output: bool = False
    batch_tokens: int = DEFAULT_BATCH_TOKENS
    lookahead: int = DEFAULT_LOOKAHEAD
    shard: tuple = None  # (k, n)


def parse_shard(text):
    """'K/N' -> (K, N) with 0 <= K < N; InputError otherwise."""
    if text is None or isinstance(text, tuple):
        return text
    try:
        k, n = (int(x) for x in str(text).split("/"))
    except ValueError:
        raise InputError(f"--shard {text!r}: expected K/N, e.g. 0/4 (shards are numbered 0 to N-1)") from None
    if n < 1 or not 0 <= k < n:
        raise InputError(f"--shard {text}: K must be between 0 and N-1 (shards are numbered 0 to N-1)")
    return k, n


def torchrun_shard():
    """(RANK, WORLD_SIZE) when running under torchrun with more than one process, else None."""
    world = int(os.environ.get("WORLD_SIZE", "1") or 1)
    if world <= 1:
        return None
    return int(os.environ.get("RANK", "0")), world


def shard_output(path, shard):
    """`out.h5` -> `out.shard-2-of-4.h5`: the file of one torchrun rank."""
    path = Path(path)
    return path.with_name(f"{path.stem}.shard-{shard[0]}-of-{shard[1]}{path.suffix or '.h5'}")


def _sha256_files(paths):
    digest = hashlib.sha256()
    for path in paths:
        with open(path, "rb") as fh:
            for piece in iter(lambda: fh.read(1 << 22), b""):
                digest.update(piece)
    return digest.hexdigest()


def weights_hash(model, model_path):
    """sha256 of the folder's weight files, or of the state dict for a model not loaded from a folder."""
    if model_path is not None and Path(model_path).is_dir():
        files = sorted(Path(model_path).glob("*.safetensors")) or sorted(Path(model_path).glob("pytorch_model*.bin"))
        if files:
            return _sha256_files(files)
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().float().cpu().numpy().tobytes())
    return digest.hexdigest()


def tokenizer_hash(tokenizer):
    return hashlib.sha256(tokenizer.backend_tokenizer.to_str().encode()).hexdigest()


def _load(model, task, device, dtype):
    """(model, tokenizer, folder or None) from a folder path, a hub id, or a (model, tokenizer) pair."""
    if model is None:
        raise InputError("--model: give a model folder (one written by `dnabert2 finetune`/`pretrain`, or the "
                         "DNABERT-2-117M release folder)")
    if isinstance(model, (tuple, list)):
        net, tokenizer = model
        return net.to(device=device, dtype=dtype).eval(), tokenizer, None
    from dnabert2 import load_model

    if task == "classification":
        _check_classifier_folder(model)
    from transformers.utils import logging as hf_logging

    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # no load report: embed never uses the pooler a masked-LM folder lacks
    try:
        net, tokenizer = load_model(model, task=task, device=device, dtype=dtype)
    finally:
        hf_logging.set_verbosity(verbosity)
    return net, tokenizer, model


def _check_classifier_folder(path):
    import json

    config = Path(path) / "config.json"
    if not config.is_file():
        return
    try:
        architectures = json.loads(config.read_text()).get("architectures") or []
    except (OSError, ValueError) as e:
        raise InputError(f"--model {path}: cannot read config.json ({e})") from None
    if not any("SequenceClassification" in a for a in architectures):
        raise InputError(f"--model {path}: not a fine-tuned classification or regression model (config.json "
                         f"architectures: {architectures or 'none'}); predict needs a folder written by "
                         f"`dnabert2 finetune`")


@dataclass
class _Head:
    """What a run writes per region besides /regions, and how window outputs become it."""
    columns: dict  # name -> (dtype, tail shape)
    token_columns: dict = None
    label_names: list = None
    problem_type: str = None


def _head(settings, config, model):
    hidden = config.hidden_size
    floats = "float16" if settings.half_output else "float32"
    if settings.kind == "embed":
        if settings.pooling == "none":
            return _Head({}, {"vectors": (floats, (hidden,)), "ids": ("int32", ()), "start": ("int64", ()),
                              "end": ("int64", ())})
        return _Head({"embeddings": (floats, (hidden,))})
    num_labels = config.num_labels
    id2label = getattr(config, "id2label", None) or {}
    names = [str(id2label.get(i, id2label.get(str(i), f"LABEL_{i}"))) for i in range(num_labels)]
    problem = getattr(config, "problem_type", None)
    if problem is None:
        problem = "regression" if num_labels == 1 else "single_label_classification"
    if problem == "regression":
        return _Head({"values": ("float32", (num_labels,))}, label_names=names, problem_type=problem)
    label_tail = (num_labels,) if problem == "multi_label_classification" else ()
    return _Head({"probabilities": ("float32", (num_labels,)), "labels": ("int32", label_tail)},
                 label_names=names, problem_type=problem)


REGION_COLUMNS = {
    "regions/index": ("int64", ()),
    "regions/chrom": (h5out.STRING, ()),
    "regions/start": ("int64", ()),
    "regions/end": ("int64", ()),
    "regions/name": (h5out.STRING, ()),
    "regions/strand": (h5out.STRING, ()),
    "regions/length_bp": ("int64", ()),
    "regions/n_windows": ("int64", ()),
    "regions/n_tokens": ("int64", ()),
    "regions/n_unknown_tokens": ("int64", ()),
}


@dataclass
class _Acc:
    """A region being assembled from its windows: per pass, the weighted sum (or running max) and the weight."""
    region: object
    value: list = field(default_factory=list)
    weight: list = field(default_factory=list)
    n_windows: int = 0
    n_tokens: int = 0
    n_unknown: int = 0
    finished: bool = False


def _batches(lengths, budget):
    """Positions grouped into batches, shortest windows first, each at most `budget` padded tokens (>= 1 window)."""
    order = sorted(range(len(lengths)), key=lambda i: (lengths[i], i))
    batch, longest = [], 0
    for i in order:
        longest_if = max(longest, lengths[i])
        if batch and longest_if * (len(batch) + 1) > budget:
            yield batch
            batch, longest_if = [], lengths[i]
        batch.append(i)
        longest = longest_if
    if batch:
        yield batch


def _forward(model, settings, ids, real, attention, problem_type):
    """One batch through the model -> per-window numpy results.

    embed: (value [B, H] float64 to add or max into the region, weight [B]); pooling none: (vectors [B, S, H], real).
    predict: (probabilities or values [B, L] float64 times the weight, weight [B]).
    """
    import torch

    with torch.inference_mode():
        weight = real.sum(1)  # [B] real tokens per window
        if settings.kind == "predict":
            logits = model(input_ids=ids, attention_mask=attention).logits.float()  # [B, L]
            if problem_type == "regression":
                out = logits
            elif problem_type == "multi_label_classification":
                out = torch.sigmoid(logits)
            else:
                out = torch.softmax(logits, dim=-1)
            return (out.double() * weight[:, None]).cpu().numpy(), weight.cpu().numpy()
        result = model(input_ids=ids, attention_mask=attention, output_hidden_states=settings.layer != -1)
        h = result.last_hidden_state if settings.layer == -1 else result.hidden_states[settings.layer]
        h = h.float()  # [B, S, H]
        if settings.pooling == "none":
            return h.cpu().numpy(), real.cpu().numpy()
        if settings.pooling == "mean":
            value = (h * real[..., None]).sum(1)  # [B, H]
        elif settings.pooling == "cls":
            value = h[:, 0] * weight[:, None]  # [B, H]
        else:
            value = h.masked_fill(~real[..., None], float("-inf")).amax(1)  # [B, H]
        return value.double().cpu().numpy(), weight.cpu().numpy()


@dataclass
class _Tokens:
    """One window tokenised: ids [n] with [CLS] and [SEP], which of them are real bases [n], char offsets [n, 2]."""
    ids: np.ndarray
    real: np.ndarray
    unknown: int  # [UNK] tokens among the real ones
    offsets: np.ndarray = None


class _Reader:
    """A thread that cuts, fetches and tokenises blocks ahead of the model; iterate it for (block, [_Tokens])."""

    _END = object()

    def __init__(self, rows, settings, tokenizer, first_pending, want_offsets):
        self.rows, self.settings, self.tokenizer = rows, settings, tokenizer
        self.first_pending, self.want_offsets = first_pending, want_offsets
        self.queue = queue.Queue(maxsize=2)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="dnabert2-reader", daemon=True)
        self.thread.start()

    def _put(self, item):
        while not self.stop.is_set():
            try:
                self.queue.put(item, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    def _run(self):
        s = self.settings
        passes = 2 if s.rc_average else 1
        try:
            for block in blocks(self.rows, s.window, s.stride, passes, s.lookahead):
                if block[-1].row < self.first_pending:
                    continue  # every region of this block is done already
                sequences = [w.region.fetch(w.offset, w.size, reverse=w.strand_pass == 1) for w in block]
                encoding = self.tokenizer(sequences, add_special_tokens=True, return_attention_mask=False,
                                          return_special_tokens_mask=True, return_offsets_mapping=self.want_offsets)
                tokens = [self._tokens(ids, special)
                          for ids, special in zip(encoding["input_ids"], encoding["special_tokens_mask"])]
                if self.want_offsets:
                    for t, offsets in zip(tokens, encoding["offset_mapping"]):
                        t.offsets = np.asarray(offsets, dtype=np.int64).reshape(len(t.ids), 2)  # [n, 2]
                if not self._put((block, tokens)):
                    return
            self._put(self._END)
        except BaseException as e:  # handed to the main thread, which raises it
            self._put(e)

    def _tokens(self, ids, special):
        ids = np.asarray(ids, dtype=np.int64)
        real = np.asarray(special, dtype=bool) == 0
        return _Tokens(ids, real, int(np.count_nonzero(real & (ids == self.tokenizer.unk_token_id))))

    def __iter__(self):
        while True:
            item = self.queue.get()
            if item is self._END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    def close(self):
        self.stop.set()
        self.thread.join(timeout=5)


def _shard_rows(source, shard):
    """(row, region) for the regions of this shard; rows count from 0 within the shard, region.index in the input."""
    k, n = shard or (0, 1)
    row = 0
    for index, region in enumerate(source):
        if index % n == k:
            yield row, replace(region, index=index)
            row += 1


def _region_columns(accs):
    cols = {name: [] for name in REGION_COLUMNS}
    for a in accs:
        r = a.region
        for name, value in (("index", r.index), ("chrom", r.chrom), ("start", r.start), ("end", r.end),
                            ("name", r.name), ("strand", r.strand), ("length_bp", r.length),
                            ("n_windows", a.n_windows), ("n_tokens", a.n_tokens), ("n_unknown_tokens", a.n_unknown)):
            cols[f"regions/{name}"].append(value)
    return {name: np.asarray(values, dtype=object if REGION_COLUMNS[name][0] == h5out.STRING else
                             REGION_COLUMNS[name][0]) for name, values in cols.items()}


def _finish_values(settings, head, accs):
    """The per-region output columns of finished regions."""
    if settings.kind == "embed" and settings.pooling == "none":
        return {}
    n_passes = len(accs[0].value)
    per_pass = []
    for p in range(n_passes):
        value = np.stack([a.value[p] for a in accs])  # [rows, H or L]
        if not (settings.kind == "embed" and settings.pooling == "max"):
            value = value / np.asarray([a.weight[p] for a in accs], dtype=np.float64)[:, None]
        per_pass.append(value)
    values = np.mean(per_pass, axis=0)  # [rows, H or L], the strands averaged with --rc-average
    if settings.kind == "embed":
        return {"embeddings": values.astype(head.columns["embeddings"][0])}
    if head.problem_type == "regression":
        return {"values": values.astype(np.float32)}
    probabilities = values.astype(np.float32)
    if head.problem_type == "multi_label_classification":
        labels = (probabilities >= 0.5).astype(np.int32)
    else:
        labels = probabilities.argmax(1).astype(np.int32)
    return {"probabilities": probabilities, "labels": labels}


def _run(settings, head, source, model, tokenizer, writer, device, progress):
    """The main loop; returns counters for the summary."""
    import torch

    rows_total = writer.rows
    first = writer.first_pending
    rows = _shard_rows(source, settings.shard)
    tokens_out = settings.kind == "embed" and settings.pooling == "none"
    reader = _Reader(rows, settings, tokenizer, first, tokens_out)
    pad_id = tokenizer.pad_token_id
    accs = {}
    next_row = first
    stats = {"regions": 0, "bp": 0, "windows": 0, "tokens": 0, "unknown_tokens": 0, "model_seconds": 0.0,
             "waiting_seconds": 0.0}
    bar = _progress(progress, rows_total, first)
    t0 = time.perf_counter()
    try:
        wait_start = time.perf_counter()
        for block, tokens in reader:
            stats["waiting_seconds"] += time.perf_counter() - wait_start
            results = [None] * len(block)
            for batch in _batches([len(t.ids) for t in tokens], settings.batch_tokens):
                longest = max(len(tokens[i].ids) for i in batch)
                ids = np.full((len(batch), longest), pad_id, dtype=np.int64)  # [B, S]
                real = np.zeros((len(batch), longest), dtype=bool)  # [B, S] not special, not padding
                attention = np.zeros((len(batch), longest), dtype=np.int64)  # [B, S] 1 up to each length
                for j, i in enumerate(batch):
                    n = len(tokens[i].ids)
                    ids[j, :n] = tokens[i].ids
                    real[j, :n] = tokens[i].real
                    attention[j, :n] = 1
                start = time.perf_counter()
                out = _forward(model, settings, torch.from_numpy(ids).to(device), torch.from_numpy(real).to(device),
                               torch.from_numpy(attention).to(device), head.problem_type)
                if device.type == "cuda":
                    torch.cuda.synchronize(device)
                stats["model_seconds"] += time.perf_counter() - start
                for j, i in enumerate(batch):
                    results[i] = (out[0][j], out[1][j])
            finished = _fold(block, tokens, results, accs, first, settings, writer if tokens_out else None)
            if finished:
                next_row = _flush(settings, head, accs, next_row, writer, stats, bar, t0)
            wait_start = time.perf_counter()
    finally:
        reader.close()
        if bar is not None:
            bar.close()
    if next_row != rows_total:
        raise RuntimeError(f"pipeline ended at row {next_row} of {rows_total}")
    stats["seconds"] = time.perf_counter() - t0
    return stats


def _fold(block, tokens, results, accs, first, settings, token_writer):
    """Add each window's result to its region; append per-token rows in input order. True if a region finished."""
    finished = False
    token_parts = []
    for position, w in enumerate(block):
        if w.row < first:
            continue
        a = accs.get(w.row)
        if a is None:
            a = accs[w.row] = _Acc(region=w.region)
        value, weight = results[position]
        if token_writer is not None:
            t = tokens[position]
            n = len(t.ids)
            real = weight[:n].astype(bool)  # [n] not special, not padding
            offsets = t.offsets[real]  # [tokens, 2]
            ids = t.ids[real]
            token_parts.append((value[:n][real], ids, w.offset + offsets[:, 0], w.offset + offsets[:, 1]))
            weight = int(real.sum())
        if w.strand_pass == 0:
            a.n_windows += 1
            a.n_tokens += int(weight)
            a.n_unknown += tokens[position].unknown
        if token_writer is None:
            while len(a.value) <= w.strand_pass:
                a.value.append(None)
                a.weight.append(0)
            p = w.strand_pass
            if a.value[p] is None:
                a.value[p] = value.copy()
            elif settings.pooling == "max" and settings.kind == "embed":
                np.maximum(a.value[p], value, out=a.value[p])
            else:
                a.value[p] += value
            a.weight[p] += int(weight)
        if w.last:
            a.finished = finished = True
    if token_parts:
        dtype = np.float16 if settings.half_output else np.float32
        token_writer.append_tokens({
            "vectors": np.concatenate([p[0] for p in token_parts]).astype(dtype),
            "ids": np.concatenate([p[1] for p in token_parts]).astype(np.int32),
            "start": np.concatenate([p[2] for p in token_parts]).astype(np.int64),
            "end": np.concatenate([p[3] for p in token_parts]).astype(np.int64),
        })
    return finished


def _flush(settings, head, accs, next_row, writer, stats, bar, t0):
    """Write the finished regions from `next_row` on (consecutive rows) and forget them."""
    done = []
    while next_row in accs and accs[next_row].finished:
        done.append(accs.pop(next_row))
        next_row += 1
    if not done:
        return next_row
    columns = _region_columns(done)
    columns.update(_finish_values(settings, head, done))
    token_ends = None
    if settings.kind == "embed" and settings.pooling == "none":
        # tokens appended so far end with those of the unfinished region (if any) that follows the finished ones
        last_end = _token_total(writer) - sum(a.n_tokens for a in accs.values())
        counts = np.asarray([a.n_tokens for a in done], dtype=np.int64)
        token_ends = last_end - counts.sum() + np.cumsum(counts)
    writer.write_rows(next_row - len(done), columns, token_ends)
    bp = sum(a.region.length for a in done)
    stats["regions"] += len(done)
    stats["bp"] += bp
    stats["windows"] += sum(a.n_windows for a in done)
    stats["tokens"] += sum(a.n_tokens for a in done)
    stats["unknown_tokens"] += sum(a.n_unknown for a in done)
    if bar is not None:
        elapsed = max(time.perf_counter() - t0, 1e-9)
        bar.set_postfix_str(f"{stats['regions'] / elapsed:,.1f} regions/s, {stats['bp'] / elapsed:,.0f} bp/s",
                            refresh=False)
        bar.update(len(done))
    return next_row


def _token_total(writer):
    if isinstance(writer, h5out.MemoryWriter):
        return int(sum(len(part) for part in writer.tokens["ids"]))
    return writer.n_tokens


def _progress(show, total, initial):
    if not show:
        return None
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, file=sys.stderr, dynamic_ncols=True,
                bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} regions [{elapsed}<{remaining}{postfix}]")


def _device_and_dtype(device, precision):
    from dnabert2.common.runtime import resolve_device, resolve_dtype

    if (device or "auto") == "auto" and "LOCAL_RANK" in os.environ:
        import torch

        if torch.cuda.is_available():
            device = f"cuda:{int(os.environ['LOCAL_RANK'])}"
    device = resolve_device(device)
    return device, resolve_dtype(precision, device)


def _check_settings(s):
    if s.pooling not in POOLINGS:
        raise InputError(f"--pooling {s.pooling!r}: expected one of {', '.join(POOLINGS)}")
    s.stride = check_tiling(s.window, s.stride)
    if s.rc_average and s.pooling == "none" and s.kind == "embed":
        raise InputError("--rc-average cannot be combined with --pooling none (per-token vectors of the two strands "
                         "do not line up); pool the vectors or drop --rc-average")
    if s.batch_tokens < 1:
        raise InputError(f"--batch-tokens {s.batch_tokens}: must be at least 1")
    if s.lookahead < 1:
        raise InputError(f"--lookahead {s.lookahead}: must be at least 1 window")
    if s.kind == "embed" and s.pooling == "none":
        s.lookahead = min(s.lookahead, NONE_LOOKAHEAD)
    s.shard = parse_shard(s.shard)


def _attributes(s, source, model_path, net, tokenizer, dtype, device, head, command_line):
    precision = {"torch.float32": "fp32", "torch.bfloat16": "bf16", "torch.float16": "fp16"}[str(dtype)]
    return {
        "kind": s.kind, "command_line": command_line or "", "model": str(model_path or "in-memory model"),
        "model_weights_sha256": weights_hash(net, model_path), "tokenizer_sha256": tokenizer_hash(tokenizer),
        "pooling": s.pooling if s.kind == "embed" else "head", "layer": s.layer, "window": s.window,
        "stride": s.stride, "resize": s.resize or 0, "clip": s.clip, "rc_average": s.rc_average,
        "precision": precision, "half_output": s.half_output, "batch_tokens": s.batch_tokens,
        "lookahead": s.lookahead, "input_fingerprint": source.fingerprint, "n_regions_total": source.count,
        "shard": f"{s.shard[0]}/{s.shard[1]}" if s.shard else "", "inputs": source.describe(),
        "hidden_size": net.config.hidden_size, "device": str(device),
        "label_names": head.label_names or "", "problem_type": head.problem_type or "",
    }


def _pipeline(settings, regions, model, output, fasta, bed, ref, device, precision, resume, force, threads,
              show_progress, command_line):
    """Checks, then scan, load, run, finish; returns the summary (with the arrays when there is no output)."""
    _check_settings(settings)
    if model is None:
        _load(None, None, None, None)
    if settings.shard is None and output is not None:
        settings.shard = torchrun_shard()
        if settings.shard is not None:
            output = shard_output(output, settings.shard)
    device, dtype = _device_and_dtype(device, precision)
    source = RegionSource(fasta=fasta, bed=bed, ref=ref, regions=regions, clip=settings.clip,
                          resize=settings.resize)
    try:
        mode = None
        if output is not None:
            mode = h5out.check_output(output, resume, force)
        elif resume:
            raise InputError("--resume needs an output file")
        source.scan()
        import torch

        if threads:
            torch.set_num_threads(threads)
            os.environ.setdefault("RAYON_NUM_THREADS", str(threads))  # the tokenizer's pool, made on first use
        task = "base" if settings.kind == "embed" else "classification"
        net, tokenizer, model_path = _load(model, task, device, dtype)
        config = net.config
        layers = config.num_hidden_layers
        if settings.kind == "embed" and not -(layers + 1) <= settings.layer <= layers:
            raise InputError(f"--layer {settings.layer}: this model has {layers} layers; give 0 (embeddings) to "
                             f"{layers}, or -1 (last) to -{layers + 1}")
        head = _head(settings, config, net)
        k, n = settings.shard or (0, 1)
        rows = (source.count - k + n - 1) // n
        columns = {**REGION_COLUMNS, **head.columns}
        if output is None:
            writer = h5out.MemoryWriter(rows, columns, head.token_columns)
            stats = _run(settings, head, source, net, tokenizer, writer, device, show_progress)
            return _memory_result(writer, stats, head)
        attrs = _attributes(settings, source, model_path, net, tokenizer, dtype, device, head, command_line)
        if mode == "resume":
            writer = h5out.H5Writer.resume(output, attrs)
            log.info("resuming %s from row %d of %d", writer.partial, writer.first_pending, writer.rows)
        else:
            writer = h5out.H5Writer.create(output, rows, columns, attrs, head.token_columns)
            if "labels" in head.columns:
                writer.f["labels"].attrs["label_names"] = head.label_names
        try:
            stats = _run(settings, head, source, net, tokenizer, writer, device, show_progress)
            writer.finish()
        except InputError:
            writer.close()
            if mode == "new":
                writer.partial.unlink(missing_ok=True)
            raise
        except BaseException:
            writer.close()
            log.warning("stopped; the rows finished so far are kept in %s: continue with --resume", writer.partial)
            raise
        stats.update(output=str(output), resumed_from_row=writer.first_pending, rows=rows)
        return _summary(stats)
    finally:
        source.close()


def _summary(stats):
    seconds = max(stats.get("seconds", 0.0), 1e-9)
    stats["regions_per_s"] = stats["regions"] / seconds
    stats["bp_per_s"] = stats["bp"] / seconds
    return stats


def _memory_result(writer, stats, head):
    arrays = writer.result()
    out = {"regions": {}, "summary": _summary(stats)}
    for name, values in arrays.items():
        group, _, leaf = name.partition("/")
        if leaf:
            out.setdefault(group, {})[leaf] = values
        else:
            out[name] = values
    if head.label_names:
        out["label_names"] = head.label_names
    return out


def embed(regions=None, *, model=None, output=None, fasta=None, bed=None, ref=None, clip=False,
          window=DEFAULT_WINDOW, stride=None, resize=None, pooling="mean", layer=-1, rc_average=False,
          half_output=False, batch_tokens=DEFAULT_BATCH_TOKENS, lookahead=DEFAULT_LOOKAHEAD, device="auto",
          precision="auto", shard=None, resume=False, force=False, threads=None, show_progress=False,
          command_line=None):
    """Embed regions with a DNABERT-2 model: one vector per region (or per token with pooling="none").

    Regions come from `regions` (sequence strings, (name, sequence) pairs or `Region`s), `fasta=`, or `bed=` with
    `ref=`. With `output` (an .h5 path) the rows are written there (layout: README "HDF5 output") and a summary
    dict is returned; without it, a dict of numpy arrays: "embeddings" [N, hidden] (or "tokens"), "regions"
    (chrom, start, end, name, strand, length_bp, n_windows, n_tokens, n_unknown_tokens, index) and "summary".
    `model` is a model folder, a hub id, or a (model, tokenizer) pair already loaded.
    """
    settings = Settings("embed", pooling=pooling, layer=layer, window=window, stride=stride, resize=resize,
                        clip=clip, rc_average=rc_average, half_output=half_output, batch_tokens=batch_tokens,
                        lookahead=lookahead, shard=shard)
    return _pipeline(settings, regions, model, output, fasta, bed, ref, device, precision, resume, force, threads,
                     show_progress, command_line)


def predict(regions=None, *, model=None, output=None, tsv=None, fasta=None, bed=None, ref=None, clip=False,
            window=DEFAULT_WINDOW, stride=None, resize=None, rc_average=False, batch_tokens=DEFAULT_BATCH_TOKENS,
            lookahead=DEFAULT_LOOKAHEAD, device="auto", precision="auto", shard=None, resume=False, force=False,
            threads=None, show_progress=False, command_line=None):
    """Class probabilities and labels (or regression values) per region from a fine-tuned model folder.

    Same inputs as `embed`. Long regions: the token-weighted mean of the windows' probabilities (or values).
    Writes /probabilities, /labels (attribute label_names) or /values to `output`, and with `tsv` a table
    (a BED6+ file when `tsv` ends in .bed) beside it; without `output`, returns those arrays in a dict.
    """
    from dnabert2.common.files import check_new_output

    if tsv is not None:
        if output is None:
            raise InputError("--tsv needs an HDF5 output (-o) to tabulate")
        check_new_output(tsv, force, what="table")
    settings = Settings("predict", window=window, stride=stride, resize=resize, clip=clip, rc_average=rc_average,
                        batch_tokens=batch_tokens, lookahead=lookahead, shard=shard)
    summary = _pipeline(settings, regions, model, output, fasta, bed, ref, device, precision, resume, force,
                        threads, show_progress, command_line)
    if tsv is not None:
        write_table(summary["output"], tsv, force=force)
        summary["table"] = str(tsv)
    return summary


def write_table(h5_path, path, force=False, chunk=65536):
    """A TSV (or BED6+ when `path` ends in .bed) of a finished predict file, written atomically."""
    import h5py

    from dnabert2.common.files import output_file

    bed = str(path).lower().endswith(".bed")
    with h5py.File(h5_path, "r") as f, output_file(path, force) as tmp, open(tmp, "w") as out:
        names = [str(x) for x in _json_list(f.attrs.get("label_names", ""))]
        regression = "values" in f
        key = "values" if regression else "probabilities"
        single = not regression and f["labels"].ndim == 1
        cols = [f"p_{x}" if not regression else x for x in names]
        if bed:
            out.write("#chrom\tstart\tend\tname\tscore\tstrand\t" + ("label\t" if single else "") + "\t".join(cols) + "\n")
        else:
            out.write("chrom\tstart\tend\tname\tstrand\t" + ("label\t" if single else "") + "\t".join(cols) + "\n")
        n = f["done"].shape[0]
        for a in range(0, n, chunk):
            r = {k: f[f"regions/{k}"][a:a + chunk] for k in ("chrom", "start", "end", "name", "strand")}
            values = f[key][a:a + chunk]
            labels = f["labels"][a:a + chunk] if single else None
            for i in range(len(values)):
                text = lambda k: r[k][i].decode() if isinstance(r[k][i], bytes) else str(r[k][i])  # noqa: E731
                row = [text("chrom"), str(r["start"][i]), str(r["end"][i]), text("name")]
                if bed:
                    top = float(values[i].max()) if not regression else 0.0
                    row.append(str(int(round(1000 * top)) if not regression else 0))
                row.append(text("strand"))
                if single:
                    row.append(names[labels[i]])
                row.extend(f"{v:.6g}" for v in values[i])
                out.write("\t".join(row) + "\n")


def _json_list(value):
    import json

    if isinstance(value, bytes):
        value = value.decode()
    if not value:
        return []
    return json.loads(value) if isinstance(value, str) else list(value)
