"""The bioconda recipe renders, and its run requirements are pyproject's dependencies (torch as pytorch)."""
import re
import tomllib
from pathlib import Path

import jinja2
import yaml

REPO = Path(__file__).resolve().parents[1]
CONDA_NAMES = {"torch": "pytorch"}


def _requirement(text):
    """'torch>=2.2' -> ('torch', '>=2.2'); names lower-cased, spaces dropped."""
    name, spec = re.match(r"\s*([A-Za-z0-9_.\-]+)\s*(.*)", text).groups()
    return name.lower(), spec.replace(" ", "")


def render_recipe():
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    env = jinja2.Environment(undefined=jinja2.StrictUndefined)
    template = env.from_string((REPO / "conda-recipe" / "meta.yaml").read_text())
    text = template.render(
        load_file_data=lambda path, from_recipe_dir=False: pyproject,
        pin_subpackage=lambda name, max_pin=None: f"{name} >=0",
        PYTHON="python",
    )
    return yaml.safe_load(text), pyproject


def test_recipe_run_requirements_match_pyproject():
    recipe, pyproject = render_recipe()
    run = dict(_requirement(r) for r in recipe["requirements"]["run"])
    expected = {CONDA_NAMES.get(n, n): s for n, s in map(_requirement, pyproject["project"]["dependencies"])}
    expected["python"] = pyproject["project"]["requires-python"].replace(" ", "")
    assert run == expected


def test_recipe_follows_bioconda_conventions():
    recipe, pyproject = render_recipe()
    assert recipe["package"]["version"] == pyproject["project"]["version"]
    assert recipe["build"]["noarch"] == "python"
    assert "pip install . --no-deps" in recipe["build"]["script"]
    assert recipe["build"]["entry_points"] == ["dnabert2 = dnabert2.cli:main"]
    assert recipe["build"]["run_exports"]
    assert "dnabert2 --help" in recipe["test"]["commands"]
    assert "dnabert2" in recipe["test"]["imports"]
