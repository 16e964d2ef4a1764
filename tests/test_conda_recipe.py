"""The bioconda recipe: rendered as conda-build would, it follows bioconda's rules and matches pyproject; its
offline test command works; the release script fills in the sdist's version and sha256."""
import re
import shlex
import tarfile
import tomllib
from pathlib import Path

import jinja2
import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
RECIPES = {"release": REPO / "conda-recipe" / "meta.yaml", "local": REPO / "conda-recipe" / "local" / "meta.yaml"}
CONDA_NAMES = {"torch": "pytorch"}


def _requirement(text):
    """'torch>=2.2' -> ('torch', '>=2.2'); names lower-cased, spaces dropped."""
    name, spec = re.match(r"\s*([A-Za-z0-9_.\-]+)\s*(.*)", text).groups()
    return name.lower(), spec.replace(" ", "")


def pyproject():
    return tomllib.loads((REPO / "pyproject.toml").read_text())


def render(which="release", text=None):
    """The recipe as conda-build renders it (its jinja2 functions stood in for), parsed."""
    env = jinja2.Environment(undefined=jinja2.StrictUndefined)
    template = env.from_string(text if text is not None else RECIPES[which].read_text())
    rendered = template.render(
        load_file_data=lambda path, from_recipe_dir=False: pyproject(),
        pin_subpackage=lambda name, max_pin=None: f"{name} >={{{{ version }}}},<next {max_pin}",
        PYTHON="python",
    )
    return yaml.safe_load(rendered)


def python_min():
    return re.fullmatch(r">=\s*(\d+\.\d+)", pyproject()["project"]["requires-python"]).group(1)


@pytest.mark.parametrize("which", list(RECIPES))
def test_run_requirements_match_pyproject(which):
    recipe = render(which)
    run = dict(_requirement(r) for r in recipe["requirements"]["run"])
    expected = {CONDA_NAMES.get(n, n): s for n, s in map(_requirement, pyproject()["project"]["dependencies"])}
    expected["python"] = f">={python_min()}"
    assert run == expected


@pytest.mark.parametrize("which", list(RECIPES))
def test_noarch_python_with_python_min(which):
    """CFEP-25: host and test on python_min exactly, run on python_min or newer; python_min = requires-python."""
    recipe = render(which)
    assert recipe["build"]["noarch"] == "python"
    assert re.search(r'\{%\s*set\s+python_min\s*=\s*"' + re.escape(python_min()) + r'"\s*%\}',
                     RECIPES[which].read_text())
    assert f"python {python_min()}" in recipe["requirements"]["host"]
    assert f"python >={python_min()}" in recipe["requirements"]["run"]
    assert recipe["test"]["requires"] == [f"python {python_min()}"]
    assert "pip install . --no-deps" in recipe["build"]["script"]
    assert recipe["build"]["entry_points"] == ["dnabert2 = dnabert2.cli:main"]
    assert recipe["build"]["run_exports"] == ["dnabert2 >={{ version }},<next x.x"]
    assert recipe["package"]["version"] == pyproject()["project"]["version"]


def test_release_recipe_takes_the_sdist_from_pypi_with_its_hash():
    recipe = render("release")
    version = pyproject()["project"]["version"]
    assert recipe["source"]["url"] == f"https://pypi.org/packages/source/d/dnabert2/dnabert2-{version}.tar.gz"
    assert re.fullmatch(r"[0-9a-f]{64}", recipe["source"]["sha256"])
    assert "path" not in recipe["source"]
    assert render("local")["source"] == {"path": "../.."}


@pytest.mark.parametrize("which", list(RECIPES))
def test_licence_is_declared_and_shipped(which):
    about = render(which)["about"]
    assert about["license"] == pyproject()["project"]["license"]["text"] == "Apache-2.0"
    assert about["license_file"] == "LICENSE"
    assert "Apache License" in (REPO / "LICENSE").read_text()[:200]
    assert {"include LICENSE", "include test_data/promoters_example.fa"} <= set(
        (REPO / "MANIFEST.in").read_text().splitlines())


def test_both_recipes_test_the_same_way():
    release, local = render("release"), render("local")
    assert release["test"] == local["test"]
    assert release["requirements"] == local["requirements"]
    assert release["build"] == local["build"]


def test_the_recipe_test_commands_run_offline(tmp_path, monkeypatch, run_cli):
    """The recipe's test: `dnabert2 predict` on the bundled example with the shipped model, then its check."""
    import shutil
    import subprocess
    import sys

    test = render("release")["test"]
    assert "dnabert2" in test["imports"]
    for name in test["source_files"]:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / name, tmp_path / name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    predicts = [c for c in test["commands"] if c.startswith("dnabert2 predict")]
    assert predicts and "--model" not in predicts[0]  # the shipped model
    for command in test["commands"]:
        words = shlex.split(command)
        if words[0] == "dnabert2":
            result = run_cli(*words[1:])
            assert result.exit_code == 0, (command, result.output)
        else:
            assert words[0] == "python"
            subprocess.run([sys.executable, *words[1:]], check=True)
    assert (tmp_path / "promoters.h5").is_file()


def test_release_script_fills_in_version_and_sha256(tmp_path):
    """The script builds the sdist (LICENSE, shipped models and the test input inside) and writes its hash."""
    import hashlib

    from scripts.release_recipe import build_sdist, fill

    sdist = build_sdist(tmp_path / "dist")
    digest = hashlib.sha256(sdist.read_bytes()).hexdigest()
    text = fill(RECIPES["release"].read_text(), "9.8.7", digest)
    recipe = render(text=text)
    assert recipe["package"]["version"] == "9.8.7"
    assert recipe["source"]["sha256"] == digest
    assert recipe["source"]["url"].endswith("/dnabert2-9.8.7.tar.gz")
    names = tarfile.open(sdist).getnames()
    top = sdist.name[:-len(".tar.gz")]
    for member in ("LICENSE", "test_data/promoters_example.fa", "dnabert2_cli/shipped/promoter/model.safetensors",
                   "dnabert2_cli/shipped/pretrained/model.safetensors", "pyproject.toml"):
        assert f"{top}/{member}" in names
    with pytest.raises(ValueError, match="not a sha256"):
        fill(RECIPES["release"].read_text(), "1.0", "abc")
