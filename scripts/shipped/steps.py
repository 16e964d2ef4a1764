"""Running the rebuild's steps: each a `dnabert2` command run as a subprocess, timed, and recorded in
OUT_DIR/steps.json so that a rerun keeps a finished step whose command and inputs are unchanged."""
import hashlib
import json
import subprocess
import sys
import time
from pathlib import Path


def run_step(out, name, command, produces, inputs=""):
    """Run `command` (argv after `dnabert2`) unless steps.json already records it, with the same `inputs`
    fingerprint, and `produces` exists; returns {"command", "seconds", "inputs"}."""
    record_path = Path(out) / "steps.json"
    steps = json.loads(record_path.read_text()) if record_path.is_file() else {}
    shown = "dnabert2 " + " ".join(command)
    if name in steps and Path(produces).exists() and steps[name]["command"] == shown \
            and steps[name].get("inputs", "") == inputs:
        print(f"[rebuild] {name}: kept ({produces})", file=sys.stderr, flush=True)
        return steps[name]
    print(f"[rebuild] {name}: {shown}", file=sys.stderr, flush=True)
    started = time.time()
    subprocess.run([sys.executable, "-m", "dnabert2", *command], check=True)
    steps = json.loads(record_path.read_text()) if record_path.is_file() else {}
    steps[name] = {"command": shown, "seconds": round(time.time() - started, 1), "inputs": inputs}
    record_path.write_text(json.dumps(steps, indent=1) + "\n")
    print(f"[rebuild] {name}: done in {steps[name]['seconds']} s", file=sys.stderr, flush=True)
    return steps[name]


def digest(folder, names=None):
    """SHA-1 over the files of a folder, or over the files `names` of it (a step is rerun when its inputs
    changed)."""
    sha = hashlib.sha1()
    for path in sorted(Path(folder).iterdir()):
        if path.is_file() and (names is None or path.name in names):
            sha.update(path.name.encode() + path.read_bytes())
    return sha.hexdigest()
