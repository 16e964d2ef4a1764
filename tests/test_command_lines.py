"""The user's own command lines, typed in a shell exactly as written down, on small copies of real inputs:

    dnabert2 vocab genomes/*.fa --size 4096
    dnabert2 pretrain genomes/*.fa --tokenizer bpe_4096        (here with --model-config tiny --max-steps 2)
    dnabert2 predict --bed promoters.bed --ref hg38.fa

in a fresh folder holding genomes/*.fa (the two halves of test_data/genome_small.fa.gz), promoters.bed (the first
promoters of the shared chr2 BED) and hg38.fa (the chr2 slice up to them, plain and unindexed). Each output feeds
the next command: the tokenizer folder the pretraining, the pretrained model an embedding run, the predictions
file and its table a reader. The defaults they rely on (folder and file names, the released tokenizer, the shipped
classifier) are checked one by one.
"""
import gzip
import json
import os
import subprocess
from pathlib import Path

import h5py
import numpy as np
import pytest

from conftest import CHR2, TEST_DATA, shared_path

PROMOTERS = 8  # BED lines copied


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """genomes/a.fa, genomes/b.fa, promoters.bed and a plain unindexed hg38.fa, nothing else."""
    import pysam

    work = tmp_path_factory.mktemp("user")
    (work / "genomes").mkdir()
    records = gzip.open(TEST_DATA / "genome_small.fa.gz", "rt").read().split(">")[1:]
    (work / "genomes" / "a.fa").write_text(">" + records[0])
    (work / "genomes" / "b.fa").write_text("".join(">" + r for r in records[1:]))
    lines = shared_path(*CHR2, "promoters_chr2_1-2333275.bed").read_text().splitlines()[:PROMOTERS]
    (work / "promoters.bed").write_text("\n".join(lines) + "\n")
    end = max(int(line.split("\t")[2]) for line in lines)
    seq = pysam.FastaFile(str(shared_path(*CHR2, "chr2_1-2333275.fa.gz"))).fetch("chr2", 0, end + 1000)
    (work / "hg38.fa").write_text(">chr2\n" + "".join(seq[i:i + 60] + "\n" for i in range(0, len(seq), 60)))
    return work


def shell(folder, line, expect=0):
    """Run `line` in bash in `folder` (globs expanded by the shell, the installed `dnabert2` script)."""
    done = subprocess.run(["bash", "-c", line], cwd=folder, capture_output=True, text=True,
                          env={**os.environ, "PYTHONWARNINGS": "ignore"})
    assert done.returncode == expect, f"{line}\n{done.stdout}\n{done.stderr}"
    return done


def test_the_three_command_lines_as_typed(folder):
    vocab = shell(folder, "dnabert2 vocab genomes/*.fa --size 4096")
    assert "Wrote bpe_4096/" in vocab.stderr
    assert "Next: dnabert2 pretrain genomes/*.fa --tokenizer bpe_4096" in vocab.stderr
    tokenizer = json.loads((folder / "bpe_4096" / "tokenizer.json").read_text())
    assert len(tokenizer["model"]["vocab"]) == 4096

    pretrain = shell(folder, "dnabert2 pretrain genomes/*.fa --tokenizer bpe_4096 --model-config tiny --max-steps 2")
    assert "pretrain: 2 genome files; tokenizer bpe_4096 (4,096 tokens); model tiny" in pretrain.stderr
    assert "output dnabert2_pretrained" in pretrain.stderr
    assert "time per 1,000 steps on cpu (fp32): about" in pretrain.stderr
    assert "step 2 finished on cpu (fp32)" in pretrain.stderr
    model = folder / "dnabert2_pretrained"
    assert (model / "model.safetensors").is_file()
    assert json.loads((model / "tokenizer.json").read_text())["model"]["vocab"] == tokenizer["model"]["vocab"]

    predict = shell(folder, "dnabert2 predict --bed promoters.bed --ref hg38.fa")
    assert "Wrote promoters.predictions.h5" in predict.stderr
    assert "indexing the reference hg38.fa" in predict.stderr
    assert (folder / "hg38.fa.fai").is_file()
    with h5py.File(folder / "promoters.predictions.h5", "r") as f:
        assert f["probabilities"].shape == (PROMOTERS, 2)
        assert [x.decode() if isinstance(x, bytes) else x for x in f["labels"].attrs["label_names"]] == [
            "background", "promoter"]
        probabilities = f["probabilities"][:]

    # the outputs feed the next commands: the pretrained model embeds, the table pipes
    embed = shell(folder, "dnabert2 embed --bed promoters.bed --ref hg38.fa --model dnabert2_pretrained")
    assert "Wrote promoters.embeddings.h5" in embed.stderr
    with h5py.File(folder / "promoters.embeddings.h5", "r") as f:
        assert f["embeddings"].shape == (PROMOTERS, 64)
        assert np.isfinite(f["embeddings"][:]).all()
    top = shell(folder, "dnabert2 predict --bed promoters.bed --ref hg38.fa -o again.h5 --tsv - | sort -k8,8gr "
                        "| head -3")
    rows = [line.split("\t") for line in top.stdout.splitlines()]
    assert len(rows) == 3 and float(rows[0][7]) == pytest.approx(probabilities[:, 1].max(), rel=1e-5)
    assert [float(r[7]) for r in rows] == sorted((float(r[7]) for r in rows), reverse=True)


def test_defaults_are_refused_when_taken(folder, run_cli, monkeypatch):
    """Default outputs are never overwritten without --force (made by the first test, or here when run alone)."""
    monkeypatch.chdir(folder)
    (folder / "bpe_4096").mkdir(exist_ok=True)
    (folder / "promoters.predictions.h5").touch(exist_ok=True)
    vocab = run_cli("vocab", "genomes/a.fa", "--size", "4096")
    assert vocab.exit_code == 2 and "bpe_4096: output folder already exists (use --force" in vocab.output
    predict = run_cli("predict", "--bed", "promoters.bed", "--ref", "hg38.fa")
    assert predict.exit_code == 2 and "promoters.predictions.h5: output file already exists" in predict.output


def test_pretrain_without_data_explains_itself(run_cli):
    result = run_cli("pretrain")
    assert result.exit_code == 2
    text = result.output
    assert "needs training data: genome FASTA files" in text
    assert "  dnabert2 pretrain genomes/*.fa\n" in text
    assert "--model-config tiny --max-steps 200" in text
    assert len(text.splitlines()) <= 10


def test_pretrain_defaults_to_the_released_tokenizer(folder, run_cli, monkeypatch, tmp_path):
    """No --tokenizer: the released DNABERT-2 tokenizer, which the shipped pretrained model carries."""
    from dnabert2.shipped import model_path

    monkeypatch.chdir(tmp_path)
    genome = folder / "genomes" / "b.fa"
    result = run_cli("pretrain", genome, "--model-config", "tiny", "--max-steps", "1", "--eval-every", "0",
                     "--workers", "0", "--batch-size", "4")
    assert result.exit_code == 0, result.output
    assert "the released DNABERT-2 tokenizer (4,096 tokens)" in result.output
    out = tmp_path / "dnabert2_pretrained"
    released = json.loads((model_path("pretrained") / "tokenizer.json").read_text())["model"]["vocab"]
    assert json.loads((out / "tokenizer.json").read_text())["model"]["vocab"] == released


@pytest.mark.parametrize("paths, typed", [
    (["genomes/a.fa", "genomes/b.fa"], "genomes/*.fa"),
    (["genomes/a.fa"], "genomes/a.fa"),
    (["genomes/b.fa", "other dir/c.fa"], "genomes/b.fa 'other dir/c.fa'"),
])
def test_next_command_names_the_genomes_as_typed(folder, monkeypatch, paths, typed):
    from dnabert2.commands.vocab import as_typed, default_folder

    monkeypatch.chdir(folder)
    assert as_typed(paths) == typed
    assert default_folder(4096) == "bpe_4096"
    assert default_folder(4096, kmer=6) == "kmer_6" and default_folder(4096, kmer=6, kmer_stride=6) == "kmer_6_stride6"


@pytest.mark.parametrize("name, suffix, expected", [
    ("promoters.bed", "predictions", "promoters.predictions.h5"),
    ("data/promoters.bed.gz", "predictions", "promoters.predictions.h5"),
    ("seqs.fa", "embeddings", "seqs.embeddings.h5"),
    ("/x/y/reads.fasta.gz", "embeddings", "reads.embeddings.h5"),
    ("genome.fna", "embeddings", "genome.embeddings.h5"),
    ("regions", "predictions", "regions.predictions.h5"),
])
def test_default_output_names(name, suffix, expected):
    from dnabert2.commands.options import default_output_name

    assert default_output_name(name, suffix) == expected
    assert Path(default_output_name(name, suffix)).parent == Path(".")
