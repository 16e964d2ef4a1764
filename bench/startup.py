"""Start-up time of the command line: a table of wall-clock seconds, before (a git revision) and after (this tree).

Run by hand: `python bench/startup.py` (before = HEAD, the last commit; about 2 minutes on 2 cores), or
`python bench/startup.py --before REV --repeats 7`.

Each case runs in a fresh process, `--repeats` times, the versions interleaved so that a busy machine slows them
alike; the table gives the median and the fastest run. "before" is `git archive REV` unpacked into a temporary
folder and imported from there (the package's three folders linked into one `dnabert2` package, as the installed
layout has them), so both versions run with the same Python and libraries.

Cases:
- `dnabert2 --help`
- `dnabert2 embed` of one 58 bp FASTA record with the shipped model (the whole run: imports, model load, one
  forward pass, an HDF5 file)
- `dnabert2 embed --bed missing.bed`: how long a typo takes to be reported (exit 2)
- `import dnabert2.model` and `from dnabert2.model import DNABert2Model` (the latter imports torch and the
  transformers base classes)
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SEQUENCE = "ACGTACGTTAGCTAGCTAGGATCGATCGATCGTAGCTAGCTAGCTAGCATCGATCGAT"


def unpack(rev, folder):
    """`git archive rev` unpacked into folder/src, and folder/pkg/dnabert2 linking it as the installed package."""
    src, pkg = folder / "src", folder / "pkg"
    src.mkdir()
    pkg.mkdir()
    archive = subprocess.run(["git", "-C", str(REPO), "archive", rev], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(src)], input=archive, check=True)
    for sub in ("model", "tokenizer"):
        (src / "dnabert2_cli" / sub).symlink_to(src / sub, target_is_directory=True)
    (pkg / "dnabert2").symlink_to(src / "dnabert2_cli", target_is_directory=True)
    return pkg


# how each version is started: the console entry point (`python -m dnabert2` runs `dnabert2.cli.main`, as the
# `dnabert2` script does), and, for "after, gc as Python's", the click group called directly, without main()'s
# garbage-collector settings, to show what those settings alone are worth
MAIN = [sys.executable, "-m", "dnabert2"]
NO_GC_SETTINGS = [sys.executable, "-c", "import sys; from dnabert2.cli import cli; "
                                        "cli.main(sys.argv[1:], prog_name='dnabert2')"]


def cases(work, cli):
    fasta = work / "one.fa"
    fasta.write_text(f">one\n{SEQUENCE}\n")
    out = work / "one.h5"
    return {
        "dnabert2 --help": cli + ["--help"],
        "dnabert2 embed (one 58 bp record)": cli + ["embed", "--fasta", str(fasta), "-o", str(out), "--force", "-q"],
        "dnabert2 embed --bed missing.bed": cli + ["embed", "--bed", str(work / "missing.bed"), "--ref",
                                                   str(fasta), "-o", str(work / "missing.h5")],
        "import dnabert2.model": [sys.executable, "-c", "import dnabert2.model"],
        "from dnabert2.model import DNABert2Model": [sys.executable, "-c",
                                                     "from dnabert2.model import DNABert2Model"],
    }


def timed(command, env, expect):
    start = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != expect:
        raise SystemExit(f"{' '.join(command)} exited {done.returncode} (expected {expect}):\n{done.stderr[-2000:]}")
    return seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", default="HEAD", help="git revision to compare with (default: HEAD)")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        before_pkg = unpack(args.before, tmp)
        work = tmp / "work"
        work.mkdir()
        after = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # the installed package: this tree
        versions = {"before": ({**os.environ, "PYTHONPATH": str(before_pkg)}, MAIN), "after": (after, MAIN),
                    "after, gc as Python's": (after, NO_GC_SETTINGS)}
        names = list(cases(work, MAIN))
        times = {(name, version): [] for name in names for version in versions}
        for _ in range(args.repeats):
            for version, (env, cli) in versions.items():
                for name, command in cases(work, cli).items():
                    expect = 2 if "missing" in name else 0
                    times[(name, version)].append(timed(command, env, expect))
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; "
          f"before = {args.before}, after = the working tree; {args.repeats} runs each, seconds\n")
    print("| case | before median (fastest) | after median (fastest) | after, gc as Python's median (fastest) | "
          "after / before (median) |")
    print("|---|---|---|---|---|")
    for name in names:
        b, a, g = (times[(name, v)] for v in versions)
        print(f"| {name} | {statistics.median(b):.2f} ({min(b):.2f}) | {statistics.median(a):.2f} ({min(a):.2f}) | "
              f"{statistics.median(g):.2f} ({min(g):.2f}) | {statistics.median(a) / statistics.median(b):.2f} |")


if __name__ == "__main__":
    main()
