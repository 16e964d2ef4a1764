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
