"""The output file of a resumable run (`embed`, `predict`, `score-variants`), decided before any work.

An unfinished run writes `OUT.partial.h5` beside `OUT` (`partial_path`); `--shard K/N` (`parse_shard`) or a torchrun
rank (`torchrun_shard`) writes its share of the rows to `OUT.shard-K-of-N.h5` (`shard_output`); `output_mode` says
whether the run starts afresh or resumes, or refuses (`check_output`: OUT exists, an interrupted run exists,
--resume with nothing to resume). What the file holds is the HDF5 writer's business (`regions.h5writer`).
"""
from dataclasses import replace
from pathlib import Path

from dnabert2.common.files import check_writable_parent
from dnabert2.common.runtime import torchrun
from dnabert2.errors import InputError


def partial_path(path):
    """`out.h5` -> `out.partial.h5`: where an unfinished run writes."""
    path = Path(path)
    return path.with_name(f"{path.stem}.partial{path.suffix or '.h5'}")


def shard_output(path, shard):
    """`out.h5` -> `out.shard-2-of-4.h5`: the file of one torchrun rank."""
    path = Path(path)
    return path.with_name(f"{path.stem}.shard-{shard[0]}-of-{shard[1]}{path.suffix or '.h5'}")


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


def check_output(path, resume, force):
    """Before any work: what to do about OUT and OUT.partial.h5 -> "new" or "resume"."""
    path = Path(path)
    partial = partial_path(path)
    check_writable_parent(path)
    if resume and force:
        raise InputError("--resume and --force contradict each other: give one")
    if force:
        return "new"
    if resume:
        if partial.exists():
            return "resume"
        if path.exists():
            raise InputError(f"{path}: already complete, nothing to resume (use --force to compute it again)")
        raise InputError(f"{path}: nothing to resume ({partial} does not exist); run without --resume")
    if path.exists():
        raise InputError(f"{path}: output file already exists (use --force to overwrite it)")
    if partial.exists():  # the caller holds the output's lock, so no running process is writing it
        raise InputError(f"{partial}: an interrupted run of this output exists; continue it with --resume or "
                         f"start over with --force")
    return "new"


def torchrun_shard(settings, job):
    """Under torchrun with an output file, each rank writes its share of the rows to OUT.shard-K-of-N.h5: sets
    `settings.shard` and returns `job` with that output (`job` unchanged with --shard, no output or one process)."""
    run = torchrun()
    if settings.shard is not None or job.output is None or not run.distributed:
        return job
    settings.shard = (run.rank, run.world_size)
    return replace(job, output=shard_output(job.output, settings.shard))


def output_mode(job):
    """"new" or "resume" for an output file (checked before any work), None without one."""
    if job.output is not None:
        return check_output(job.output, job.resume, job.force)
    if job.resume:
        raise InputError("--resume needs an output file")
    return None
