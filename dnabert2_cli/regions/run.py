"""`dnabert2.embed` and `dnabert2.predict`: one run from its options to its file (or arrays) and summary.

A run checks everything it can before any output exists: the options, that no output is an input or another
output, then it locks the output (`OUT.lock`, so a second run of the same output is refused at once), checks
the output path, the model folder as a whole, and the whole input (`RegionSource.scan()`: every BED line against
the reference, every FASTA record), so bad input leaves nothing behind (an --attention backend that cannot run on
the device is refused before the output is even locked). Then it loads the model, checks that a
batch fits in memory, picks the writer (an HDF5 file, resumable, or arrays in memory) and hands the regions to the
main loop (`pipeline.run_pipeline`).
"""
import logging
from dataclasses import replace

from dnabert2.common.fields import settings_of
from dnabert2.common.files import check_distinct_paths, output_lock
from dnabert2.common.models import attention_backend
from dnabert2.common.outputs import output_mode, torchrun_shard
from dnabert2.common.runtime import run_threads
from dnabert2.errors import InputError, OutputWriteError
from dnabert2.regions import h5writer
from dnabert2.regions.heads import REGION_COLUMNS, make_head
from dnabert2.regions.loading import check_batch_memory, check_layer, check_model, device_and_dtype, load, \
    predict_defaults, require_model
from dnabert2.regions.pipeline import run_pipeline
from dnabert2.regions.provenance import attributes
from dnabert2.regions.settings import EmbedSettings, PredictSettings
from dnabert2.regions.source import RegionSource
from dnabert2.regions.summary import with_rates
from dnabert2.regions.windows import DEFAULT_WINDOW

log = logging.getLogger(__name__)


def embed(regions=None, settings=None, **options):
    """Embed regions with a DNABERT-2 model: one vector per region (or per token with pooling="none").

    Regions come from `regions` (sequence strings, (name, sequence) pairs or `Region`s), `fasta=`, or `bed=` with
    `ref=`. options are the fields of `EmbedSettings` (the options of `dnabert2 embed`: model, output, window,
    pooling, layer, ...); or pass `settings`, an `EmbedSettings`. With `output` (an .h5 path) the rows are written
    there (layout: docs/hdf5.md) and a summary dict is returned; without it, a dict of numpy arrays: "embeddings"
    [N, hidden] (or "tokens"), "regions" (chrom, start, end, name, strand, length_bp, n_windows, n_tokens,
    n_unknown_tokens, index) and "summary". `model` is a model folder, a hub id, or a (model, tokenizer) pair
    already loaded. `index_dir`: where the index of a reference in a read-only folder is kept (default:
    $DNABERT2_CACHE or ~/.cache/dnabert2).
    """
    settings = _settings(EmbedSettings, settings, regions, options, "embed")
    return run_regions(settings)


def predict(regions=None, settings=None, **options):
    """Class probabilities and labels (or regression values) per region from a fine-tuned model folder.

    Same inputs as `embed`; options are the fields of `PredictSettings` (or pass `settings`). Long regions: the
    token-weighted mean of the windows' probabilities (or values). Writes /probabilities, /labels (attribute
    label_names) or /values to `output`, and with `tsv` a table (a BED6+ file when `tsv` ends in .bed; "-":
    standard output) beside it; without `output`, returns those arrays in a dict. `window` and `rc_average` left
    as None take the model's own (`loading.predict_defaults`: the shipped promoter classifier's are 300 bp and
    both strands), else 2,000 bp and one strand; the summary's "model_defaults" names those taken from the model.
    """
    from dnabert2.common.files import check_new_output
    from dnabert2.regions.table import write_table

    s = _settings(PredictSettings, settings, regions, options, "predict")
    if s.tsv is not None:
        if s.output is None:
            raise InputError("--tsv needs an HDF5 output (-o) to tabulate")
        if s.tsv != "-":  # "-": standard output
            check_new_output(s.tsv, s.force, what="table")
    require_model(s.model)
    found, given = predict_defaults(s.model), {"window": s.window, "rc_average": s.rc_average}
    carried = {key: found[key] for key in given if key in found and given[key] is None}
    s.window = carried.get("window", DEFAULT_WINDOW if s.window is None else s.window)
    s.rc_average = carried.get("rc_average", bool(s.rc_average))
    summary = run_regions(s, tables=[("--tsv", s.tsv)])
    if carried:
        (summary if s.output is not None else summary["summary"])["model_defaults"] = carried
    if s.tsv is not None:
        write_table(summary["output"], s.tsv, force=s.force)
        summary["table"] = str(s.tsv)
    return summary


def _settings(cls, settings, regions, options, what):
    """The run's own copy of the settings: given, or built from keyword options (`fields.settings_of`)."""
    settings = settings_of(cls, settings, options, what)
    return replace(settings, regions=regions) if regions is not None else settings


def run_regions(settings, tables=()):
    """Checks, then scan, load, run, finish; returns the summary (with the arrays when there is no output).
    tables: (option, path) of further outputs the caller writes afterwards (predict's --tsv), checked here."""
    settings.check()
    require_model(settings.model)
    job = torchrun_shard(settings, settings)
    device, dtype = device_and_dtype(job.device, job.precision)
    attention_backend(settings.attention, device)
    check_distinct_paths([("-o", job.output), *tables],
                         [("--fasta", settings.fasta), ("--bed", settings.bed), ("--ref", settings.ref)])
    task = "base" if settings.kind == "embed" else "classification"
    source = RegionSource(fasta=settings.fasta, bed=settings.bed, ref=settings.ref, regions=settings.regions,
                          clip=settings.clip, resize=settings.resize, index_dir=settings.index_dir)
    try:
        with output_lock(job.output, h5writer.RESERVE_BYTES) as lock:
            mode = output_mode(job)
            check_model(job.model, task)
            source.scan()
            with run_threads(job.threads):
                loaded = load(job.model, task, device, dtype, settings)
                if settings.kind == "embed":
                    check_layer(settings.layer, loaded.net.config)
                check_batch_memory(settings, loaded, source.longest_bp)
                head = make_head(settings, loaded.net.config)
                if job.output is None:
                    return _in_memory(source, loaded, head, job)
                return _to_file(source, loaded, head, job, mode, lock)
    finally:
        source.close()


def _shard_size(source, shard):
    k, n = shard or (0, 1)
    return (source.count - k + n - 1) // n


def _to_file(source, loaded, head, job, mode, lock):
    rows = _shard_size(source, head.settings.shard)
    attrs = attributes(source, loaded, head, job.command_line)
    if mode == "resume":
        writer = h5writer.H5Writer.resume(job.output, attrs, reserve=lock)
        log.info("resuming %s from row %d of %d", writer.partial, writer.first_pending, writer.rows)
    else:
        writer = h5writer.H5Writer.create(job.output, rows, {**REGION_COLUMNS, **head.columns}, attrs,
                                          head.token_columns, reserve=lock)
        if "labels" in head.columns:
            writer.f["labels"].attrs["label_names"] = head.label_names
    try:
        stats = run_pipeline(head, loaded, source, writer, job.show_progress)
        writer.finish()
    except InputError:
        writer.close()
        if mode == "new":
            writer.partial.unlink(missing_ok=True)
        raise
    except OutputWriteError:
        raise  # the writer closed the file and says what it kept
    except BaseException:
        writer.close()
        log.warning("stopped; the rows finished so far are kept in %s: continue with --resume", writer.partial)
        raise
    stats.update(output=str(job.output), resumed_from_row=writer.first_pending, rows=rows)
    return with_rates(stats)


def _in_memory(source, loaded, head, job):
    """The run's arrays: {"embeddings" or the predict arrays, "regions": {column: array}, "summary", ...}."""
    rows = _shard_size(source, head.settings.shard)
    writer = h5writer.MemoryWriter(rows, {**REGION_COLUMNS, **head.columns}, head.token_columns)
    stats = run_pipeline(head, loaded, source, writer, job.show_progress)
    out = {"regions": {}, "summary": with_rates(stats)}
    for name, values in writer.result().items():
        group, _, leaf = name.partition("/")
        if leaf:
            out.setdefault(group, {})[leaf] = values
        else:
            out[name] = values
    if head.label_names:
        out["label_names"] = head.label_names
    return out
