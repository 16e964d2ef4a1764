"""Fill in the bioconda recipe (conda-recipe/meta.yaml) for a release: build the sdist, write its version and sha256.

    python scripts/release_recipe.py                 # build dist/dnabert2-VERSION.tar.gz, update the recipe
    python scripts/release_recipe.py --sdist FILE    # use an sdist built already (e.g. the one uploaded to PyPI)

The sdist is built with `python -m build --sdist` when the `build` package is installed, else through setuptools'
own PEP 517 hook (the same backend, without an isolated environment). The recipe's source URL is the sdist's place
on PyPI, so upload that very file (`twine upload dist/dnabert2-VERSION.tar.gz`) before submitting the recipe to
bioconda-recipes (copy conda-recipe/meta.yaml to recipes/dnabert2/meta.yaml there).
"""
import argparse
import hashlib
import importlib.util
import re
import subprocess
import sys
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RECIPE = REPO / "conda-recipe" / "meta.yaml"


def _set_line(name):
    """The pattern of a `{% set NAME = "..." %}` line, its value excluded from the two groups."""
    return r'(\{%\s*set\s+' + re.escape(name) + r'\s*=\s*")[^"]*("\s*%\})'


def project_version():
    return tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]


def build_sdist(outdir):
    """Build the sdist of this checkout into `outdir`; returns its path."""
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    if _has_build():
        command = [sys.executable, "-m", "build", "--sdist", "--outdir", str(outdir), str(REPO)]
    else:
        command = [sys.executable, "-c", "import sys, setuptools.build_meta as b; print(b.build_sdist(sys.argv[1]))",
                   str(outdir.resolve())]
    subprocess.run(command, cwd=REPO, check=True, stdout=subprocess.DEVNULL)
    name = f"dnabert2-{project_version()}.tar.gz"
    path = outdir / name
    if not path.is_file():
        raise SystemExit(f"the build wrote no {name} into {outdir}")
    return path


def _has_build():
    """Whether the `build` package is installed (a folder named build/ in the checkout is not it)."""
    try:
        return importlib.util.find_spec("build.__main__") is not None
    except ImportError:
        return False


def sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fill(recipe_text, version, digest):
    """The recipe text with `{% set version = ... %}` and `{% set sha256 = ... %}` set to these values."""
    if not re.fullmatch(r"[0-9a-f]{64}", digest):
        raise ValueError(f"not a sha256 hex digest: {digest!r}")
    for name, value in (("version", version), ("sha256", digest)):
        pattern = _set_line(name)
        recipe_text, count = re.subn(pattern, lambda m: f"{m.group(1)}{value}{m.group(2)}", recipe_text)
        if count != 1:
            raise ValueError(f"the recipe must hold exactly one `{{% set {name} = \"...\" %}}` line (found {count})")
    return recipe_text


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sdist", type=Path, help="an sdist already built (default: build one into --outdir)")
    parser.add_argument("--outdir", type=Path, default=REPO / "dist", help="where to build the sdist (default: dist/)")
    parser.add_argument("--recipe", type=Path, default=RECIPE, help="the recipe to update")
    args = parser.parse_args(argv)
    sdist = args.sdist or build_sdist(args.outdir)
    version = project_version()
    if not sdist.name.endswith(f"-{version}.tar.gz"):
        raise SystemExit(f"{sdist}: not the sdist of version {version} (pyproject.toml)")
    digest = sha256(sdist)
    args.recipe.write_text(fill(args.recipe.read_text(), version, digest))
    print(f"{args.recipe}: version {version}, sha256 {digest} ({sdist}, {sdist.stat().st_size:,} bytes)")
    print(f"next: upload {sdist} to PyPI, then copy the recipe to bioconda-recipes/recipes/dnabert2/meta.yaml")


if __name__ == "__main__":
    main()
