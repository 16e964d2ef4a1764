"""Shared fixtures: where the real data lies, and a CLI runner.

Real data (genomes, BED files, GUE tables, the released tokenizer) lives in `../shared/data` beside the clone, or
wherever DNABERT2_SHARED_DATA points. Tests that need it skip with a clear reason where it is absent; `.ci/run`
fails when it is missing, so in CI they always run.
"""
import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
TEST_DATA = REPO / "test_data"
SHARED_DATA = Path(os.environ.get("DNABERT2_SHARED_DATA", REPO.parent / "shared" / "data"))
# --precision auto means bf16 on a CPU with native bf16 and fp32 on others: pin it to fp32 so that the suite's
# numbers (compared with plain fp32 computations) do not depend on the CPU it runs on. tests/test_precision.py
# clears it to test auto itself.
os.environ["DNABERT2_PRECISION"] = "fp32"


# the human hg38 chr2:1-2,333,275 slice and its BED files, under the shared data folder
CHR2 = ("genomes", "human_hg38_chr2_1-2333275")
COMPLEMENT = {"A": "T", "C": "G", "G": "C", "T": "A", "N": "N"}


def revcomp(seq):
    """Plain reference reverse complement of an upper-case A/C/G/T/N sequence (tests compare the package to it)."""
    return "".join(COMPLEMENT[c] for c in reversed(seq))


def shared_path(*parts):
    """Path to a file under the shared data folder, skipping the calling test when it is absent."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"shared data not found: {path} (set DNABERT2_SHARED_DATA to the folder holding shared/data)")
    return path


@pytest.fixture(autouse=True, scope="session")
def _reference_cache_in_tmp(tmp_path_factory):
    """Reference indexes the package keeps in its cache (gzip references, read-only folders) go to a temporary
    folder, never to the user's ~/.cache/dnabert2."""
    os.environ["DNABERT2_CACHE"] = str(tmp_path_factory.mktemp("dnabert2_cache"))


@pytest.fixture
def shared():
    """`shared('genomes', 'sars_cov_2', 'NC_045512.2.fasta')` -> Path, or skip when shared data is absent."""
    return shared_path


@pytest.fixture
def run_cli():
    """Run `dnabert2 ARGS...` in-process; returns click's Result (exit_code, output, stderr)."""
    from click.testing import CliRunner

    from dnabert2.cli import cli

    def run(*args, **kwargs):
        runner = CliRunner()
        return runner.invoke(cli, [str(a) for a in args], catch_exceptions=False, **kwargs)

    return run


REFERENCE_CHECKPOINT = ("reference_checkpoint",)


@pytest.fixture(scope="session")
def reference_tokenizer_dir():
    """The released DNABERT-2-117M tokenizer folder in the shared data (tokenizer.json, tokenizer_config.json)."""
    return shared_path(*REFERENCE_CHECKPOINT)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory, reference_tokenizer_dir):
    """A saved model folder: a random `tiny` DNABert2ForMaskedLM (seed 0) with the released tokenizer."""
    import torch

    from dnabert2.model import DNABert2Config, DNABert2ForMaskedLM
    from dnabert2.tokenizer import load_tokenizer

    torch.manual_seed(0)
    model = DNABert2ForMaskedLM(DNABert2Config.from_preset("tiny")).eval()
    folder = tmp_path_factory.mktemp("tiny_model")
    model.save_pretrained(folder)
    load_tokenizer(reference_tokenizer_dir).save_pretrained(folder)
    return folder


def sigkill_after_rows(args, partial, rows, timeout=120):
    """Run `python -m dnabert2 ARGS` and SIGKILL it once its partial HDF5 file (`partial`) marks `rows` rows done;
    returns (rows done, rows in the file) as last read. For the kill-then-resume tests of embed and score-variants."""
    import signal
    import subprocess
    import sys
    import time

    import h5py

    proc = subprocess.Popen([sys.executable, "-m", "dnabert2", *map(str, args)], cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    done, total, deadline = 0, None, time.time() + timeout
    while time.time() < deadline and proc.poll() is None:
        try:  # the writer holds the file; read it without a lock, retrying a read caught mid-write
            with h5py.File(partial, "r", locking=False) as f:
                done, total = int(f["done"][:].sum()), f["done"].shape[0]
        except (OSError, KeyError):
            pass
        if done >= rows:
            break
        time.sleep(0.005)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read().decode()
    return done, total


def h5_datasets(path):
    """{dataset name: array} of every dataset of an HDF5 file, read with plain h5py."""
    import h5py

    with h5py.File(path, "r") as f:
        names = []
        f.visititems(lambda n, o: names.append(n) if isinstance(o, h5py.Dataset) else None)
        return {n: f[n][:] for n in names}


def assert_same_as_uninterrupted(run_cli, resumed, args):
    """Run `dnabert2 ARGS` (writing an uninterrupted file) in this process with one torch thread, as the killed
    and resumed subprocesses ran, and assert that every dataset of the `resumed` file equals it bit for bit."""
    import numpy as np
    import torch

    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        assert run_cli(*args).exit_code == 0
    finally:
        torch.set_num_threads(threads)
    whole = args[args.index("-o") + 1]
    a, b = h5_datasets(resumed), h5_datasets(whole)
    assert a.keys() == b.keys()
    for name in a:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)


@pytest.fixture(scope="session")
def plain_tiny(tiny_model_dir, reference_tokenizer_dir):
    """(tokenizer, encoder) of the tiny model built plainly, without dnabert2's loaders: the reference side of
    tests that compare the package's outputs with a hand computation."""
    from transformers import PreTrainedTokenizerFast

    from dnabert2.model import DNABert2ForMaskedLM

    tok = PreTrainedTokenizerFast(tokenizer_file=str(reference_tokenizer_dir / "tokenizer.json"), unk_token="[UNK]",
                                  cls_token="[CLS]", sep_token="[SEP]", pad_token="[PAD]", mask_token="[MASK]")
    return tok, DNABert2ForMaskedLM.from_pretrained(tiny_model_dir).bert.eval()


@pytest.fixture(scope="module")
def one_torch_thread():
    """One torch thread for a module (`pytestmark = pytest.mark.usefixtures("one_torch_thread")`): the tiny
    model's many small calls are several times faster so on a busy machine."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def make_classifier(path, tokenizer_dir, seed, scale=1.0, **overrides):
    """A tiny random classifier (or regressor) folder at `path` with the tokenizer of `tokenizer_dir`; `scale`
    multiplies its weight matrices (larger weights give outputs far from 0); `overrides` go to the tiny preset."""
    import torch

    from dnabert2.model import DNABert2Config, DNABert2ForSequenceClassification
    from dnabert2.tokenizer import load_tokenizer

    torch.manual_seed(seed)
    model = DNABert2ForSequenceClassification(DNABert2Config.from_preset("tiny", **overrides)).eval()
    if scale != 1.0:
        with torch.no_grad():
            for p in model.parameters():
                p.mul_(scale if p.dim() > 1 else 1.0)
    model.save_pretrained(path)
    load_tokenizer(tokenizer_dir).save_pretrained(path)
    return path
