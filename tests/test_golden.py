"""Golden files: the whole output of fixed command lines on a fixed tiny model, compared with checked-in copies.

Each test runs the command lines of one entry of `GOLDEN` (below; also listed in docs/testing.md) through the
real click CLI, in this process, in a fresh temporary folder holding copies of the fixed inputs, and compares
what they produced with `tests/golden/NAME.json`:

- what each command printed: its exit code, standard output and standard error, line by line;
- every file in the folder that is not an input: HDF5 files (every attribute of the file, of each group and each
  dataset; each dataset's dtype, shape, chunk shape, compression and values), JSON and JSON-lines files (parsed),
  text files (TSV, BED, the FASTA index, a bgzipped VCF decompressed) line by line, a tabix index (its
  decompressed bytes), safetensors and torch files (every tensor's name, dtype, shape and values; the
  safetensors metadata), PNG images (pixel size only).

The inputs never change with the installed packages: test_data/golden_inputs/ holds a tiny masked-LM folder and
a tiny 3-class classifier in the released layout (weights drawn once from numpy's generator, not torch's),
a real-sequence reference, BED files and a VCF, made once by test_data/make_golden_inputs.py; the tests also read
test_data/genome_small.fa.gz, promoters_example.fa and the ft_strings_* tables. torch runs on one thread
(results do not then depend on the number of cores) and, as in the whole suite, `--precision auto` is fp32
(tests/conftest.py).

What is masked, and why (nothing else is):
- the temporary folder's path, in any text, becomes `<TMP>`: it differs on every run;
- ISO dates (the HDF5 `created` attribute) become `<DATE>`: the time of the run;
- versions (`package_version`, `dnabert2_version`, `torch_version`, `transformers_version`) become `<VERSION>`:
  they change with a release or an upgrade, not with behaviour;
- timings and rates: JSON fields `seconds`, `train_sequences_per_s`, `tokens_per_s` and `data_wait`, and in the
  printed summaries every duration (`0.3 s`, `about 16.2 min`), rate (`27.2 regions/s`) and `model 95% of the
  time`: they depend on the machine's load;
- PNG images (loss and training curves) are compared by pixel size only: their bytes change with matplotlib's
  and freetype's versions (the numbers they draw are compared in log.jsonl and training_record.json).

Comparison: everything exactly, floats included. Outputs are bit-stable here: two runs, in this process or in
fresh processes, with one torch thread or two, give the same bytes (checked when these tests were written). A
different CPU or torch build may change the last bits of floats; refresh the copies there. Tensors of more than
`FULL_VALUES` values (the pretrained and fine-tuned weights, optimiser state, per-base vectors) are kept as their
sha256 with a few statistics (for a readable diff), everything else value by value.

Refresh the copies when a change of output is meant, then read the diff of tests/golden/ before committing it:

    DNABERT2_UPDATE_GOLDEN=1 python -m pytest tests/test_golden.py
"""
import gzip
import hashlib
import json
import math
import os
import re
import shlex
import shutil
import struct
from pathlib import Path

import numpy as np
import pytest

from conftest import TEST_DATA

GOLDEN_DIR = Path(__file__).resolve().parent / "golden"
INPUTS = TEST_DATA / "golden_inputs"
UPDATE = os.environ.get("DNABERT2_UPDATE_GOLDEN") == "1"
FULL_VALUES = 1024  # HDF5 datasets up to this many values are kept value by value, larger ones as sha256 + statistics

# name -> the command lines it runs, in order, in one folder (the inputs: see `copy_inputs`)
GOLDEN = {
    "vocab": ["dnabert2 vocab genome_small.fa.gz --size 128"],
    "embed_fasta": ["dnabert2 embed --fasta promoters_example.fa --model model"],
    "embed_bed": ["dnabert2 embed --bed regions.bed --ref ref.fa --model model --pooling mean-all --window 500 "
                  "--stride 250 --rc-average -o bed.h5"],
    "embed_per_base": ["dnabert2 embed --bed sites.bed --ref ref.fa --model model --per-base -o bases.h5"],
    "predict_bed": ["dnabert2 predict --bed regions.bed --ref ref.fa --model classifier --tsv -"],
    "predict_fasta": ["dnabert2 predict --fasta promoters_example.fa --model classifier --window 100 "
                      "--no-rc-average -o calls.h5 --tsv calls.bed"],
    "score_variants_vcf": ["dnabert2 score-variants --vcf variants.vcf --ref ref.fa --model model "
                           "--tsv variants.tsv --out-vcf variants.scored.vcf.gz"],
    "score_variants_saturate": ["dnabert2 score-variants --saturate --bed sites.bed --ref ref.fa --model model "
                                "-o sites.h5 --tsv sites.tsv"],
    "finetune": ["dnabert2 finetune --data table --model model -o finetuned --eval-every 2 --seeds 2"],
    "pretrain": ["dnabert2 pretrain genome_small.fa.gz --tokenizer model --model-config tiny --max-steps 4 "
                 "--eval-every 2 --save-every 2 -o pretrained"],
    "merge": ["dnabert2 embed --bed regions.bed --ref ref.fa --model model --pooling max --layer 1 --shard 0/2 "
              "-o part0.h5",
              "dnabert2 embed --bed regions.bed --ref ref.fa --model model --pooling max --layer 1 --shard 1/2 "
              "-o part1.h5",
              "dnabert2 merge part0.h5 part1.h5 -o merged.h5"],
}

MASKED_KEYS = {  # JSON field or HDF5 attribute -> what it becomes
    "created": "<DATE>",
    "package_version": "<VERSION>", "dnabert2_version": "<VERSION>", "torch_version": "<VERSION>",
    "transformers_version": "<VERSION>",
    "seconds": "<TIME>", "train_sequences_per_s": "<RATE>", "tokens_per_s": "<RATE>", "data_wait": "<TIME>",
}
DATE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z?")
SUMMARY_MASKS = [  # printed summaries only: (pattern, replacement)
    (re.compile(r"\d[\d,]*(\.\d+)? [A-Za-z\[\]]+/s\b"), "<RATE>"),
    (re.compile(r"\b\d[\d,]*(\.\d+)? (s|ms|min|h|days?)\b"), "<TIME>"),
    (re.compile(r"model \d+% of the time"), "model <SHARE> of the time"),
]


def copy_inputs(folder):
    """The fixed inputs, copied (a reference index is written beside its FASTA, so never into test_data)."""
    for p in INPUTS.iterdir():
        (shutil.copytree if p.is_dir() else shutil.copyfile)(p, folder / p.name)
    for name in ("genome_small.fa.gz", "promoters_example.fa"):
        shutil.copyfile(TEST_DATA / name, folder / name)
    (folder / "table").mkdir()
    for split in ("train", "dev", "test"):
        shutil.copyfile(TEST_DATA / f"ft_strings_{split}.csv", folder / "table" / f"{split}.csv")
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


def run_lines(lines, folder):
    """Run each `dnabert2 ...` line in `folder` (this process, one torch thread); [{exit_code, stdout, stderr}]."""
    import torch
    from click.testing import CliRunner

    from dnabert2.cli import cli

    runs, threads, cwd = [], torch.get_num_threads(), os.getcwd()
    try:
        torch.set_num_threads(1)
        os.chdir(folder)
        for line in lines:
            result = CliRunner().invoke(cli, shlex.split(line)[1:], catch_exceptions=False)
            runs.append({"command": line, "exit_code": result.exit_code,
                         "stdout": masked_lines(result.stdout, folder, summary=False),
                         "stderr": masked_lines(result.stderr, folder, summary=True)})
    finally:
        os.chdir(cwd)
        torch.set_num_threads(threads)
    return runs


def masked_text(text, folder, summary=False):
    for path in {str(folder), os.path.realpath(folder)}:
        text = text.replace(path, "<TMP>")
    text = DATE.sub("<DATE>", text)
    if summary:
        for pattern, replacement in SUMMARY_MASKS:
            text = pattern.sub(replacement, text)
    return text


def masked_lines(text, folder, summary):
    return masked_text(text, folder, summary).splitlines()


def plain(value, folder, key=None):
    """`value` (JSON, numpy, torch, h5py) as JSON-ready data, masked; floats stay exact (repr round-trips)."""
    if key in MASKED_KEYS:
        return MASKED_KEYS[key]
    if isinstance(value, dict):
        return {str(k): plain(v, folder, str(k)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v, folder) for v in value]
    if isinstance(value, bytes):
        return masked_text(value.decode(), folder)
    if isinstance(value, str):
        return masked_text(value, folder)
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    if hasattr(value, "detach"):  # a torch tensor
        return array(value.detach().cpu(), folder)
    if isinstance(value, (np.ndarray, np.generic)):
        return array(value, folder)
    return value


def array(values, folder):
    """{dtype, shape, values} of an array, or {dtype, shape, sha256, statistics} of a large one or of a torch tensor
    of more than one value (weights, optimiser state)."""
    dtype, limit = str(values.dtype), FULL_VALUES
    if not isinstance(values, (np.ndarray, np.generic)):  # torch: bfloat16 has no numpy dtype; values as float32
        import torch

        raw = values.contiguous().view(-1).view(torch.uint8).numpy().tobytes()
        values = values.float().numpy() if values.is_floating_point() else values.numpy()
        limit = 1
    else:
        values = np.asarray(values)
        raw = values.tobytes() if values.dtype.kind != "O" else None
    out = {"dtype": dtype, "shape": list(values.shape)}
    if values.dtype.kind == "O" or values.size <= limit:
        out["values"] = plain(values.tolist(), folder)
        return out
    flat = values.astype(np.float64).ravel()
    out["sha256"] = hashlib.sha256(raw).hexdigest()
    out["statistics"] = {"sum": float(flat.sum()), "sum_abs": float(np.abs(flat).sum()),
                         "min": float(flat.min()), "max": float(flat.max()), "first": flat[:4].tolist()}
    return out


def dump_hdf5(path, folder):
    import h5py

    def attributes(obj):
        return {k: plain(v, folder, k) for k, v in sorted(obj.attrs.items())}

    with h5py.File(path, "r") as f:
        out, items = {"attrs": attributes(f)}, {}

        def visit(name, obj):
            if isinstance(obj, h5py.Group):
                items[name] = {"group": True, "attrs": attributes(obj)}
                return
            string = h5py.check_string_dtype(obj.dtype)
            values = obj.asstr()[()] if string else obj[()]
            entry = array(np.asarray(values), folder)
            entry["dtype"] = f"string ({string.encoding})" if string else str(obj.dtype)
            entry.update(chunks=list(obj.chunks) if obj.chunks else None, compression=obj.compression,
                         compression_opts=obj.compression_opts, attrs=attributes(obj))
            items[name] = entry

        f.visititems(visit)
        out["items"] = items
    return out


def dump_safetensors(path, folder):
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        return {"metadata": plain(f.metadata(), folder),
                "tensors": {name: array(f.get_tensor(name), folder) for name in sorted(f.keys())}}


def png_size(path):
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path}: not a PNG file"
    return list(struct.unpack(">II", data[16:24]))


def dump_file(path, folder):
    name = path.name
    if name.endswith(".h5"):
        return {"hdf5": dump_hdf5(path, folder)}
    if name.endswith(".safetensors"):
        return {"safetensors": dump_safetensors(path, folder)}
    if name.endswith(".pt"):
        import torch

        return {"torch": plain(torch.load(path, map_location="cpu", weights_only=True), folder)}
    if name.endswith(".png"):
        return {"png_size": png_size(path)}
    if name.endswith(".jsonl"):
        return {"jsonl": [plain(json.loads(line), folder) for line in path.read_text().splitlines()]}
    if name.endswith(".json"):
        return {"json": plain(json.loads(path.read_text()), folder)}
    if name.endswith(".tbi"):
        return {"tabix_bytes": gzip.decompress(path.read_bytes()).hex()}
    if name.endswith(".gz"):
        return {"gzip_text": masked_lines(gzip.decompress(path.read_bytes()).decode(), folder, summary=False)}
    return {"text": masked_lines(path.read_text(), folder, summary=False)}


def outputs(folder, inputs):
    """{relative path: dump} of every file in `folder` that is not an input (inputs are checked unchanged)."""
    found = {}
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder).as_posix()
        if path.is_file() and rel not in inputs:
            found[rel] = dump_file(path, folder)
    return found


def differences(expected, actual, where="", out=None):
    """Paths (`files/x.h5/hdf5/items/embeddings/values[3][1]`) where `actual` differs from `expected`."""
    out = [] if out is None else out
    if isinstance(expected, dict) and isinstance(actual, dict):
        for key in sorted(set(expected) | set(actual)):
            if key not in actual:
                out.append(f"{where}/{key}: missing")
            elif key not in expected:
                out.append(f"{where}/{key}: new")
            else:
                differences(expected[key], actual[key], f"{where}/{key}", out)
    elif isinstance(expected, list) and isinstance(actual, list) and len(expected) == len(actual):
        for i, (e, a) in enumerate(zip(expected, actual)):
            differences(e, a, f"{where}[{i}]", out)
    elif expected != actual or type(expected) is not type(actual):
        out.append(f"{where}: expected {json.dumps(expected)[:200]}, got {json.dumps(actual)[:200]}")
    return out


def formatted(value, indent=""):
    """JSON text, one key per line, a list of plain values on one line (so arrays stay short and diff well)."""
    inner = indent + " "
    if isinstance(value, dict) and value:
        items = [f"{inner}{json.dumps(k)}: {formatted(value[k], inner)}" for k in sorted(value)]
        return "{\n" + ",\n".join(items) + "\n" + indent + "}"
    if isinstance(value, list) and any(isinstance(v, (dict, list)) for v in value):
        return "[\n" + ",\n".join(inner + formatted(v, inner) for v in value) + "\n" + indent + "]"
    return json.dumps(value)


def golden_run(name, folder):
    """The record of running GOLDEN[name] in `folder`: the command lines, what they printed, their outputs."""
    inputs = copy_inputs(folder)
    before = {rel: (folder / rel).read_bytes() for rel in inputs}
    runs = run_lines(GOLDEN[name], folder)
    changed = [rel for rel in inputs if not (folder / rel).is_file() or (folder / rel).read_bytes() != before[rel]]
    assert not changed, f"inputs changed by the commands: {changed}"
    # through JSON and back, so the record compares as it is stored (tuples become lists)
    return json.loads(json.dumps({"runs": runs, "files": outputs(folder, inputs)}))


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_golden(name, tmp_path):
    record = golden_run(name, tmp_path)
    for run in record["runs"]:
        assert run["exit_code"] == 0, "\n".join([run["command"], *run["stdout"], *run["stderr"]])
    path = GOLDEN_DIR / f"{name}.json"
    if UPDATE:
        GOLDEN_DIR.mkdir(exist_ok=True)
        path.write_text(formatted(record) + "\n")
        return
    assert path.is_file(), f"{path}: no golden copy; make it with DNABERT2_UPDATE_GOLDEN=1 (module docstring)"
    found = differences(json.loads(path.read_text()), record)
    assert not found, (f"{name}: output differs from {path.relative_to(GOLDEN_DIR.parent.parent)} in "
                       f"{len(found)} place(s); if the change is meant, refresh with DNABERT2_UPDATE_GOLDEN=1:\n"
                       + "\n".join(found[:30]))


def test_every_golden_copy_has_its_command_lines():
    """A golden copy without an entry in GOLDEN (renamed or dropped) is a stale file, not a silent pass."""
    stored = {p.stem for p in GOLDEN_DIR.glob("*.json")}
    assert stored == set(GOLDEN), f"stale: {sorted(stored - set(GOLDEN))}, missing: {sorted(set(GOLDEN) - stored)}"


def test_docs_list_the_golden_command_lines():
    """docs/testing.md lists the command lines of GOLDEN, in order (the issue notes cite that list)."""
    text = (GOLDEN_DIR.parent.parent / "docs" / "testing.md").read_text()
    block = re.search(r"```text\n(.*?)```", text, re.S)
    assert block, "docs/testing.md: no ```text block of the golden command lines"
    assert block.group(1).splitlines() == [line for name in GOLDEN for line in GOLDEN[name]]
