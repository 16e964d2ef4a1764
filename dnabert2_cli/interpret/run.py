"""`dnabert2.attribute`: one run from its settings to its HDF5 file (or arrays), side outputs and summary.

As embed does, everything that can be checked comes before any output exists: the options, the libraries of the
`interpret` extra the run needs, that no output is an input or another output, then (holding `OUT.lock`) the output
path, the model folder, the whole input (every BED line against the reference, every FASTA record, every region
under the length cap) and, once the model is loaded, the methods and the target it can give and the memory of one
model call. Then each region of the shard goes through `maps.Attributor` and its rows into the regions' resumable
`H5Writer`, one region at a time; the .npz arrays, bigWig tracks and logos are written from the finished file.
"""
import logging
import time
from types import SimpleNamespace

import numpy as np

from dnabert2.common.fields import settings_of
from dnabert2.common.files import check_distinct_paths, check_new_output, output_lock
from dnabert2.common.outputs import output_mode, torchrun_shard  # the same rules as embed and predict
from dnabert2.common.runtime import precision_name, run_threads
from dnabert2.errors import InputError
from dnabert2.interpret import layout
from dnabert2.interpret.extra import require
from dnabert2.interpret.settings import GRADIENT_METHODS, MAX_REGION_BP, AttributeSettings
from dnabert2.regions import h5writer
from dnabert2.regions.heads import region_columns
from dnabert2.regions.loading import check_model, device_and_dtype, load, require_model
from dnabert2.regions.provenance import tokenizer_hash, weights_hash
from dnabert2.regions.source import RegionSource, shard_rows

log = logging.getLogger(__name__)


def attribute(regions=None, settings=None, **options):
    """Per-base attributions of regions for a model's target: `dnabert2 attribute` as a function.

    options are the fields of `AttributeSettings` (model, methods, target, output, fasta, bed, ref, ...), or pass
    `settings`, an AttributeSettings. Regions come from `regions` (sequence strings, (name, sequence) pairs or
    Regions), `fasta=`, or `bed=` with `ref=`. With `output` (an .h5 path) the rows go there (layout:
    docs/hdf5.md) and a summary dict is returned; without it, a dict of numpy arrays: "regions" (the /regions
    columns), "tokens" (the per-base columns and "offsets"), "target_value", "baseline_value", "ig_gap" and
    "summary".
    """
    settings = settings_of(AttributeSettings, settings, options, "attribute", regions=regions)
    return run(settings)


def run(s):
    """Checks, scan, load, the regions, the side outputs; returns the summary (or the arrays)."""
    s.check()
    require_model(s.model)
    _require_libraries(s)
    s = torchrun_shard(s, s)
    device, dtype = device_and_dtype(s.device, s.precision)
    check_distinct_paths([("-o", s.output), ("--npz", s.npz), ("--bigwig", s.bigwig), ("--plot", s.plot)],
                         [("--fasta", s.fasta), ("--bed", s.bed), ("--ref", s.ref)])
    for name, path in (("--npz", s.npz), ("--bigwig", s.bigwig), ("--plot", s.plot)):
        if path is not None:
            check_new_output(path, s.force, what=f"{name} folder")
    source = RegionSource(fasta=s.fasta, bed=s.bed, ref=s.ref, regions=s.regions, clip=s.clip, resize=s.resize,
                          index_dir=s.index_dir)
    try:
        with output_lock(s.output, h5writer.RESERVE_BYTES) as lock:
            mode = output_mode(s)
            check_model(s.model, "auto")
            source.scan()
            check_regions(source, s)
            with run_threads(s.threads):
                loaded = load(s.model, "auto", device, dtype)
                attributor = _attributor(loaded, s)
                check_memory(s, loaded, source.longest_bp)
                if s.output is None:
                    return _in_memory(source, attributor, s)
                summary = _to_file(source, attributor, s, mode, lock)
            chrom_sizes = dict(source.reference.lengths) if source.reference is not None else None
    finally:
        source.close()
    _write_sides(summary, s, chrom_sizes)
    return summary


def _require_libraries(s):
    """The extra's libraries the options ask for (the default methods' are checked once the model is known)."""
    needs = [*(["captum"] if any(m in GRADIENT_METHODS for m in s.methods or ()) else []),
             *(["logomaker", "matplotlib"] if s.plot else []), *(["pyBigWig"] if s.bigwig else [])]
    if needs:
        require(*needs, what="dnabert2 attribute")


def check_regions(source, s):
    """InputError for a region over the length cap, regions of several lengths with --npz, or overlapping regions
    with --bigwig (a track holds one value per base); walks the regions once (no sequence is read)."""
    where = source.bed or source.fasta or "regions"
    lengths = set()
    spans = []
    for number, region in enumerate(source, 1):
        if region.length > MAX_REGION_BP:
            raise InputError(f"{where}: region {number} ({region.name}) is {region.length:,} bp; attribute reads a "
                             f"region as one model input, at most {MAX_REGION_BP:,} bp (cut it, or give --resize)")
        lengths.add(region.length)
        if s.bigwig is not None:
            spans.append((region.chrom, region.start, region.end, number, region.name))
    if s.npz is not None and len(lengths) > 1:
        raise InputError(f"--npz: TF-MoDISco reads [regions, 4, length] arrays, and the regions of {where} have "
                         f"{len(lengths)} lengths ({min(lengths)} to {max(lengths)} bp); give --resize")
    spans.sort()
    for a, b in zip(spans, spans[1:]):
        if a[0] == b[0] and b[1] < a[2]:
            raise InputError(f"--bigwig: regions {a[3]} ({a[4]}) and {b[3]} ({b[4]}) of {where} overlap on {a[0]}; "
                             f"a bigWig track holds one value per base (merge or drop overlapping regions)")


def _attributor(loaded, s):
    """The run's Attributor: the methods the model can give and the target, settled on the settings."""
    from dnabert2.interpret.maps import Attributor, check_methods
    from dnabert2.interpret.targets import resolve_target
    from dnabert2.variants.methods import model_kind

    kind = model_kind(loaded.net)
    s.methods = check_methods(s.methods, kind)
    if kind != "classification":
        if s.target is not None:
            raise InputError(f"--target {s.target}: {loaded.folder or 'this model'} is a {kind} model with no "
                             f"classification or regression head, so it has no target to explain"
                             + (" (ism gives each SNV's zero-shot llr)" if kind == "masked-lm" else ""))
        target = None
    else:
        target = resolve_target(s.target, loaded.net.config)
    if any(m in GRADIENT_METHODS for m in s.methods):
        require("captum", what="dnabert2 attribute")
    return Attributor(loaded, s, target)


def check_memory(s, loaded, longest_bp):
    """InputError when one model call on the longest region would not fit: a forward call of --batch-tokens tokens,
    and for ig / grad-x-input one sequence with gradients."""
    from dnabert2.common.memory import ModelSize, check_fits, inference_bytes, training_bytes

    length = longest_bp + 2  # tokens: at most one per base, plus [CLS] and [SEP]
    size = ModelSize.of(loaded.net.config, loaded.dtype, loaded.device)
    needed = inference_bytes(size, max(s.batch_tokens, length), length)
    if any(m in GRADIENT_METHODS for m in s.methods):
        needed = max(needed, training_bytes(size, 1, length, 0))
    check_fits(needed, f"one model call on the longest region ({longest_bp:,} bp)",
               f"--batch-tokens (now {s.batch_tokens}), or the regions' length (--resize)", loaded.device)


def attributes(source, attributor, s):
    """The root attributes of the file: the run's settings, model, input and provenance."""
    loaded, target = attributor.loaded, attributor.target
    loaded_net = loaded.net
    return {
        "kind": "attribute", "command_line": s.command_line or "", "model": str(loaded.folder or "in-memory model"),
        "model_weights_sha256": weights_hash(loaded_net, loaded.folder),
        "tokenizer_sha256": tokenizer_hash(attributor.tokenizer), "methods": list(s.methods),
        "target": target.name if target else "", "target_index": target.index if target else -1,
        "target_meaning": target.meaning if target else "the llr of each SNV (masked-LM model)",
        "label_names": list(target.label_names) if target else "", "problem_type": target.problem_type if target
        else "", "baseline": s.baseline, "steps": s.steps, "layer": s.layer, "rc_average": s.rc_average,
        "precision": precision_name(loaded_net.dtype), "batch_tokens": s.batch_tokens,
        "input_fingerprint": source.fingerprint, "n_regions_total": source.count,
        "shard": f"{s.shard[0]}/{s.shard[1]}" if s.shard else "", "inputs": source.describe(),
        "hidden_size": loaded_net.config.hidden_size, "device": str(attributor.device),
    }


def _shard_size(source, shard):
    k, n = shard or (0, 1)
    return (source.count - k + n - 1) // n


def _to_file(source, attributor, s, mode, lock):
    rows = _shard_size(source, s.shard)
    attrs = attributes(source, attributor, s)
    if mode == "resume":
        writer = h5writer.H5Writer.resume(s.output, attrs, reserve=lock)
        log.info("resuming %s from row %d of %d", writer.partial, writer.first_pending, writer.rows)
    else:
        writer = h5writer.H5Writer.create(s.output, rows, layout.region_columns(), attrs,
                                          layout.base_columns(s.methods), reserve=lock)
    with h5writer.Finishing(writer, mode):
        stats = _loop(source, attributor, s, writer)
    stats.update(output=str(s.output), resumed_from_row=writer.first_pending, rows=rows)
    return stats


def _in_memory(source, attributor, s):
    writer = h5writer.MemoryWriter(_shard_size(source, s.shard), layout.region_columns(),
                                   layout.base_columns(s.methods))
    stats = _loop(source, attributor, s, writer)
    out = {"regions": {}, "tokens": {}, "summary": stats}
    for name, values in writer.result().items():
        group, _, leaf = name.partition("/")
        if leaf:
            out[group][leaf] = values
        else:
            out[name] = values
    return out


def _loop(source, attributor, s, writer):
    """Every pending region of the shard through the attributor, its rows written as it finishes."""
    bar = _progress(s.show_progress, writer.rows, writer.first_pending)
    stats = {"regions": 0, "bp": 0, "tokens": 0, "unknown_tokens": 0}
    t0 = time.perf_counter()
    try:
        for row, region in shard_rows(source, s.shard):
            if row < writer.first_pending:
                continue
            maps = attributor.region(region.fetch())
            writer.append_tokens(layout.base_rows(maps))
            done = SimpleNamespace(region=region, n_windows=1, n_tokens=maps.n_tokens, n_unknown=maps.n_unknown)
            writer.write_rows(row, {**region_columns([done]), **layout.value_row(maps)},
                              np.asarray([writer.n_tokens], dtype=np.int64))
            stats["regions"] += 1
            stats["bp"] += region.length
            stats["tokens"] += maps.n_tokens
            stats["unknown_tokens"] += maps.n_unknown
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    seconds = time.perf_counter() - t0
    return {**stats, **attributor.stats, "methods": list(s.methods), "seconds": seconds,
            "bp_per_s": stats["bp"] / max(seconds, 1e-9), "device": str(attributor.device),
            "precision": precision_name(attributor.net.dtype),
            "target": attributor.target.name if attributor.target else None}


def _progress(show, total, initial):
    if not show:
        return None
    import sys

    from tqdm import tqdm

    return tqdm(total=total, initial=initial, file=sys.stderr, dynamic_ncols=True, unit=" regions")


def _write_sides(summary, s, chrom_sizes):
    """The outputs written from the finished file: --npz, --bigwig, --plot."""
    if s.npz is not None:
        from dnabert2.interpret.npz import write_npz

        summary["npz"] = str(write_npz(summary["output"], s.npz, s.force))
    if s.bigwig is not None:
        from dnabert2.interpret.bigwig import write_bigwigs

        summary["bigwig"] = str(write_bigwigs(summary["output"], chrom_sizes, s.bigwig, s.force))
    if s.plot is not None:
        from dnabert2.interpret.logos import write_region_logos

        summary["plots"] = str(write_region_logos(summary["output"], s.plot, s.force))
