"""`dnabert2.score_variants`: one run from its options to its files (or arrays) and summary.

Everything that can be checked comes before any output exists: the options, the output paths, then the whole
input (every VCF record against the reference, or every region with --saturate) and the model with the methods
it can serve. Then the rows go through the main loop (`loop.Loop`) into the resumable HDF5 writer of `embed`, and
the table, the annotated VCF and the plots are written from the finished file.
"""
import logging

from dnabert2.common.fields import settings_of
from dnabert2.common.files import check_distinct_paths, output_lock
from dnabert2.common.models import attention_backend
from dnabert2.common.outputs import output_mode, torchrun_shard  # the same rules as embed and predict
from dnabert2.common.runtime import run_threads
from dnabert2.errors import InputError
from dnabert2.regions import h5writer
from dnabert2.regions.loading import check_model, device_and_dtype, load, require_model
from dnabert2.regions.provenance import tokenizer_hash, weights_hash
from dnabert2.variants.columns import SITE_COLUMNS, VARIANT_COLUMNS, score_columns
from dnabert2.variants.engine import Engine
from dnabert2.variants.loop import Loop
from dnabert2.variants.methods import make_methods
from dnabert2.variants.settings import VariantSettings
from dnabert2.variants.summary import summary_of

log = logging.getLogger(__name__)


def score_variants(vcf=None, settings=None, **options):
    """Score the variants of a VCF/BCF file against a reference (or, with `saturate=True`, every SNV of the regions
    of `fasta=` or `bed=` + `ref=`) with a DNABERT-2 model folder.

    options are the fields of `VariantSettings` (the options of `dnabert2 score-variants`), or pass `settings`.
    methods: "llr", "emb", "delta" or several (default: llr for a masked-LM folder, delta for a fine-tuned one).
    With `output` (an .h5 path) the rows go there (layout: docs/hdf5.md) and a summary dict is returned (`tsv`,
    `out_vcf` and `plot` are written from it); without it, a dict of numpy arrays: the /variants (or /sites)
    columns under "variants" (or "sites"), the scores under "scores", and "summary".
    """
    return run(settings_of(VariantSettings, settings, options, "score_variants", vcf=vcf))


def run(settings):
    """Checks, scan, load, the main loop, the side outputs; returns the summary (or the arrays)."""
    settings.check()
    require_model(settings.model)
    _check_inputs(settings)
    job = torchrun_shard(settings, settings)  # reads and sets settings.shard, as it does embed's
    device, dtype = device_and_dtype(job.device, job.precision)
    attention_backend(settings.attention, device)
    check_distinct_paths([("-o", job.output), ("--tsv", settings.tsv), ("--out-vcf", settings.out_vcf),
                          ("--plot", settings.plot)],
                         [("--vcf", settings.vcf), ("--ref", settings.ref), ("--fasta", settings.fasta),
                          ("--bed", settings.bed)])
    _check_side_outputs(settings, job)
    with output_lock(job.output, h5writer.RESERVE_BYTES) as lock:
        mode = output_mode(job)
        check_model(job.model, "auto")
        source = _source(settings)
        try:
            source.scan()
            with run_threads(job.threads):
                loaded = load(job.model, "auto", device, dtype, settings)
                methods = make_methods(settings, loaded)
                if job.output is None:
                    return _in_memory(settings, source, loaded, methods, job)
                summary = _to_file(settings, source, loaded, methods, job, mode, lock)
            _write_sides(summary, source, settings, job.force)
            return summary
        finally:
            source.close()


def _check_inputs(settings):
    if settings.saturate:
        if settings.vcf is not None:
            raise InputError("--saturate scores every SNV of regions: give --fasta FILE or --bed FILE --ref GENOME, "
                             "not --vcf")
        if settings.out_vcf is not None:
            raise InputError("--out-vcf annotates the records of --vcf; with --saturate write --tsv instead")
        return
    if settings.vcf is None:
        raise InputError("no variants: give --vcf FILE with --ref GENOME (or --saturate with --fasta/--bed)")
    if settings.ref is None:
        raise InputError(f"--vcf {settings.vcf}: the variants need the reference genome; give it with --ref GENOME.fa")
    for name, value in (("--fasta", settings.fasta), ("--bed", settings.bed), ("--plot", settings.plot),
                        ("--clip", settings.clip or None), ("--resize", settings.resize)):
        if value is not None:
            raise InputError(f"{name} is only used with --saturate")


def _check_side_outputs(settings, job):
    from dnabert2.common.files import check_new_output
    from dnabert2.variants.plot import check_matplotlib

    for name, path, what in (("--tsv", settings.tsv, "table"), ("--out-vcf", settings.out_vcf, "VCF output"),
                             ("--plot", settings.plot, "plot folder")):
        if path is None:
            continue
        if job.output is None:
            raise InputError(f"{name} needs an HDF5 output (-o) to be written from")
        if str(path) != "-":  # --tsv -: standard output
            check_new_output(path, job.force, what=what)
    if settings.out_vcf is not None:
        if not str(settings.out_vcf).endswith((".vcf.gz", ".vcf.bgz")):
            raise InputError(f"--out-vcf {settings.out_vcf}: the annotated VCF is bgzipped and tabix-indexed; give a "
                             f"name ending in .vcf.gz")
        if settings.shard is not None:
            raise InputError("--out-vcf needs every row: run without --shard (or write it from the merged file with "
                             "dnabert2.variants.vcf_out.write_vcf(merged_h5, vcf, out))")
    if settings.plot is not None:
        check_matplotlib()


def _source(settings):
    if settings.saturate:
        from dnabert2.variants.sites import SiteSource

        return SiteSource(fasta=settings.fasta, bed=settings.bed, ref=settings.ref, clip=settings.clip, resize=settings.resize,
                          index_dir=settings.index_dir)
    from dnabert2.variants.records import VcfSource

    return VcfSource(settings.vcf, settings.ref, settings, require_sorted=settings.out_vcf is not None,
                     index_dir=settings.index_dir)


def _layout(settings, methods):
    rows = SITE_COLUMNS if settings.saturate else VARIANT_COLUMNS
    scores = score_columns(methods, settings.saturate)
    return {**rows, **scores}, scores


def _attributes(settings, source, loaded, methods, command_line):
    from dnabert2.common.runtime import precision_name

    delta = next((m for m in methods if m.name == "delta"), None)
    return {
        "kind": settings.kind, "command_line": command_line or "", "model": str(loaded.folder or "in-memory model"),
        "model_weights_sha256": weights_hash(loaded.net, loaded.folder),
        "tokenizer_sha256": tokenizer_hash(loaded.tokenizer), "methods": list(m.name for m in methods),
        "context": settings.context, "window_step": settings.window_step, "flank_tokens": settings.flank_tokens, "max_indel": settings.max_indel,
        "rc_average": settings.rc_average, "precision": precision_name(loaded.dtype),
        "batch_tokens": settings.batch_tokens, "lookahead": settings.block, "input_fingerprint": source.fingerprint,
        "n_regions_total": source.count, "shard": f"{settings.shard[0]}/{settings.shard[1]}" if settings.shard else "",
        "inputs": source.describe(), "hidden_size": loaded.net.config.hidden_size, "device": str(loaded.device),
        "label_names": delta.label_names if delta else "", "problem_type": delta.problem_type if delta else "",
    }


def _engine(loaded, methods, settings):
    names = {m.name for m in methods}
    return Engine(loaded, settings.batch_tokens, want_mean="emb" in names, want_logits="delta" in names)


def _to_file(settings, source, loaded, methods, job, mode, lock):
    columns, scores = _layout(settings, methods)
    attrs = _attributes(settings, source, loaded, methods, job.command_line)
    if mode == "resume":
        writer = h5writer.H5Writer.resume(job.output, attrs, reserve=lock)
        log.info("resuming %s from row %d of %d", writer.partial, writer.first_pending, writer.rows)
    else:
        writer = h5writer.H5Writer.create(job.output, source.shard_count(settings.shard), columns, attrs,
                                          reserve=lock)
    loop = Loop(_engine(loaded, methods, settings), methods, settings, scores, writer, job.show_progress)
    with h5writer.Finishing(writer, mode):
        stats = loop.run(source.rows(settings.shard))
    return summary_of(stats, writer.rows - writer.first_pending, loaded, output=str(job.output),
                    resumed_from_row=writer.first_pending, rows=writer.rows, kind=settings.kind)


def _in_memory(settings, source, loaded, methods, job):
    columns, scores = _layout(settings, methods)
    writer = h5writer.MemoryWriter(source.shard_count(settings.shard), columns)
    stats = Loop(_engine(loaded, methods, settings), methods, settings, scores, writer, job.show_progress).run(
        source.rows(settings.shard))
    out = {"summary": summary_of(stats, writer.rows, loaded, rows=writer.rows, kind=settings.kind)}
    for name, values in writer.result().items():
        group, _, leaf = name.partition("/")
        out.setdefault(group, {})[leaf] = values
    delta = next((m for m in methods if m.name == "delta"), None)
    if delta is not None:
        out["label_names"] = delta.label_names
    return out


def _write_sides(summary, source, sides, force):
    if sides.tsv is not None:
        from dnabert2.variants.tsv import write_tsv

        write_tsv(summary["output"], sides.tsv, force)
        summary["table"] = str(sides.tsv)
    if sides.out_vcf is not None:
        from dnabert2.variants.vcf_out import write_vcf

        write_vcf(summary["output"], source.path, sides.out_vcf, force)
        summary["vcf"] = str(sides.out_vcf)
    if sides.plot is not None:
        from dnabert2.variants.plot import write_plots

        write_plots(summary["output"], sides.plot, force)
        summary["plots"] = str(sides.plot)
