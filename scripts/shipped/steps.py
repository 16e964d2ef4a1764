"""Running the rebuild's steps: each a `dnabert2` command run as a subprocess, timed, and recorded in
OUT_DIR/steps.json so that a rerun keeps a finished step whose command and inputs are unchanged. Independent
single-threaded steps (the fine-tunes of several seeds, the transfer runs) can run side by side, one per core."""
import hashlib
import json
import os
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

_RECORD_LOCK = threading.Lock()  # steps.json is read and rewritten by every step, also by steps run side by side


def run_step(out, name, command, produces, inputs=""):
    """Run `command` (argv after `dnabert2`) unless steps.json already records it, with the same `inputs`
    fingerprint, and `produces` exists; returns {"command", "seconds", "inputs"}."""
    record_path = Path(out) / "steps.json"
    shown = "dnabert2 " + " ".join(command)
    with _RECORD_LOCK:
        steps = json.loads(record_path.read_text()) if record_path.is_file() else {}
    if name in steps and Path(produces).exists() and steps[name]["command"] == shown \
            and steps[name].get("inputs", "") == inputs:
        print(f"[rebuild] {name}: kept ({produces})", file=sys.stderr, flush=True)
        return steps[name]
    print(f"[rebuild] {name}: {shown}", file=sys.stderr, flush=True)
    started = time.time()
    subprocess.run([sys.executable, "-m", "dnabert2", *command], check=True)
    seconds = round(time.time() - started, 1)
    with _RECORD_LOCK:
        steps = json.loads(record_path.read_text()) if record_path.is_file() else {}
        steps[name] = {"command": shown, "seconds": seconds, "inputs": inputs}
        record_path.write_text(json.dumps(steps, indent=1) + "\n")
    print(f"[rebuild] {name}: done in {seconds} s", file=sys.stderr, flush=True)
    return steps[name]


def run_steps(out, jobs, parallel=None):
    """run_step for each (name, command, produces, inputs) of `jobs`, up to `parallel` at once (default: one per
    CPU core; the commands should each use one thread); returns their records in the order of `jobs`. The first
    failure is raised once the steps already running have finished."""
    parallel = max(1, min(len(jobs), parallel or os.cpu_count() or 1))
    pool = ThreadPoolExecutor(max_workers=parallel)
    futures = [pool.submit(run_step, out, *job) for job in jobs]
    try:
        return [future.result() for future in futures]
    except BaseException:
        for future in futures:  # the steps not started yet are dropped
            future.cancel()
        raise
    finally:
        pool.shutdown(wait=True)


def digest(folder, names=None):
    """SHA-1 over the files of a folder, or over the files `names` of it (a step is rerun when its inputs
    changed)."""
    sha = hashlib.sha1()
    for path in sorted(Path(folder).iterdir()):
        if path.is_file() and (names is None or path.name in names):
            sha.update(path.name.encode() + path.read_bytes())
    return sha.hexdigest()
