"""`dnabert2 motifs` on an attribute file with a motif planted in known places: TF-MoDISco finds it, TOMTOM names it,
the files hold what they say, and report.html renders in a headless browser."""
import json
import shutil
import subprocess
from types import SimpleNamespace

import h5py
import numpy as np
import pytest

from dnabert2.interpret.bases import one_hot

CTCF = "MA0139"  # JASPAR's CTCF matrix: 19 bp, very informative


def planted_file(path, regions=200, length=120, seed=0):
    """An attribute file whose ism contributions mark a CTCF site sampled from JASPAR's matrix in every region
    (hypothetical: the matrix's preference, p - 0.25, at the site; small noise elsewhere)."""
    from pyjaspar import jaspardb

    from dnabert2.interpret import layout
    from dnabert2.regions.h5writer import H5Writer
    from dnabert2.regions.heads import region_columns
    from dnabert2.regions.region import Region

    record = jaspardb(release="JASPAR2024").fetch_motif_by_id(CTCF)
    counts = np.array([record.counts[b] for b in "ACGT"], dtype=float).T
    ppm = counts / counts.sum(1, keepdims=True)  # [19, 4]
    rng = np.random.default_rng(seed)
    attrs = {"kind": "attribute", "methods": ["ism"], "target": "peak"}
    writer = H5Writer.create(path, regions, layout.region_columns(), attrs, layout.base_columns(["ism"]))
    starts = []
    for row in range(regions):
        sequence = list(rng.choice(list("ACGT"), length))
        start = int(rng.integers(10, length - len(ppm) - 10))
        starts.append(start)
        for k, p in enumerate(ppm):
            sequence[start + k] = "ACGT"[rng.choice(4, p=p)]
        sequence = "".join(sequence)
        hypothetical = rng.normal(0, 0.02, (length, 4))
        hypothetical[start:start + len(ppm)] += ppm - 0.25
        ohe = one_hot(sequence)
        rows = {"ids": np.zeros(length, np.int32), "start": np.zeros(length, np.int64),
                "end": np.zeros(length, np.int64), "one_hot": ohe,
                "ism_scores": (ohe * hypothetical).sum(1).astype(np.float32),
                "ism_contributions": (ohe * hypothetical).astype(np.float32),
                "ism_hypothetical": hypothetical.astype(np.float32),
                "ism_delta": hypothetical.astype(np.float32)}
        writer.append_tokens(rows)
        done = SimpleNamespace(region=Region("chr1", 0, length, f"r{row}", index=row), n_windows=1, n_tokens=0,
                               n_unknown=0)
        region = {**region_columns([done]), "target_value": [1.0], "baseline_value": [np.nan], "ig_gap": [np.nan]}
        writer.write_rows(row, region, np.asarray([writer.n_tokens]))
    writer.finish()
    return path


@pytest.fixture(scope="module")
def found(tmp_path_factory):
    folder = tmp_path_factory.mktemp("motifs")
    attributions = planted_file(folder / "planted.attributions.h5")
    from click.testing import CliRunner

    from dnabert2.cli import cli

    result = CliRunner().invoke(cli, ["motifs", str(attributions), "-o", str(folder / "out"), "--matches", "3"],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    return folder / "out", result


def test_the_planted_motif_is_the_top_pattern_and_matches_ctcf(found):
    out, result = found
    lines = (out / "patterns.tsv").read_text().splitlines()
    header = lines[0].split("\t")
    assert header[:5] == ["pattern", "sign", "seqlets", "width", "consensus"]
    top = dict(zip(header, lines[1].split("\t")))
    assert top["pattern"] == "pos_patterns.pattern_0" and top["sign"] == "positive"
    assert int(top["seqlets"]) >= 60  # of the 200 planted sites (some are merged away or left unclustered)
    assert top["match1_name"] == "CTCF" and top["match1_id"].startswith(CTCF)
    assert float(top["match1_q"]) < 0.05
    assert "200 positive and 0 negative seqlets" in result.stderr and "CTCF" in result.stderr


def test_meme_logos_report_and_modisco_file(found):
    out, _ = found
    meme = (out / "patterns.meme").read_text()
    assert meme.startswith("MEME version 5") and "MOTIF pos_patterns.pattern_0 " in meme
    block = meme.split("MOTIF pos_patterns.pattern_0 ")[1].split("\n\n")[0].splitlines()
    width = int(block[1].split("w= ")[1].split()[0])
    matrix = np.array([[float(v) for v in line.split()] for line in block[2:2 + width]])
    np.testing.assert_allclose(matrix.sum(1), 1.0, atol=1e-5)
    assert (out / "logos" / "pos_patterns.pattern_0.png").stat().st_size > 1000
    assert (out / "logos" / "pos_patterns.pattern_0.match.png").stat().st_size > 1000
    page = (out / "report.html").read_text()
    assert page.count("data:image/png;base64,") >= 2 and "CTCF" in page and "http" not in page
    with h5py.File(out / "modisco.h5") as f:
        assert "pattern_0" in f["pos_patterns"]
        assert f["pos_patterns/pattern_0/seqlets/n_seqlets"][0] >= 60


def test_report_renders_in_headless_chromium(found, tmp_path):
    browser = shutil.which("chromium-headless-shell") or shutil.which("chromium")
    if browser is None:
        pytest.skip("no headless Chromium here (apt-get install chromium-headless-shell)")
    out, _ = found
    shot = tmp_path / "report.png"
    run = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", f"--screenshot={shot}",
                          "--window-size=1400,900", (out / "report.html").resolve().as_uri()],
                         capture_output=True, text=True, timeout=120)
    assert shot.is_file(), run.stderr
    from matplotlib.image import imread

    pixels = imread(shot)[..., :3]
    assert pixels.std() > 0.05  # not a blank page
    dom = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom",
                          (out / "report.html").resolve().as_uri()], capture_output=True, text=True, timeout=120)
    assert dom.stdout.count("<img") == 2 * len((out / "patterns.tsv").read_text().splitlines()[1:])


def test_too_few_seqlets_is_a_clear_error_and_writes_nothing(tmp_path, run_cli):
    attributions = planted_file(tmp_path / "small.h5", regions=20)
    result = run_cli("motifs", attributions, "-o", tmp_path / "out")
    assert result.exit_code == 2
    assert "seqlets (" in result.stderr and "more than --min-seqlets (100)" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["small.h5"]
    assert json.loads(h5py.File(attributions)["/"].attrs["methods"]) == ["ism"]
