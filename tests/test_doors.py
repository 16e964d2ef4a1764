"""The doors between the package's rooms, read from the source (ast), so a crossing fails here and not in review.

- `model/` (dnabert2.model) and `tokenizer/` (dnabert2.tokenizer) stand on their own: from the rest of dnabert2 they
  import only the floor module `dnabert2.errors`, which itself imports nothing.
- `tokenizer/` never imports torch (tokenising a genome must not need the deep-learning stack).
- A command module imports the shared options from `dnabert2.commands.options`, never from another command.
"""
import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FLOOR = "dnabert2.errors"


def imported_modules(path, package):
    """Absolute names of the modules a source file imports; `package` is the dotted package the file lies in."""
    tree = ast.parse(Path(path).read_text(), filename=str(path))
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module
            names.append(module)
            names += [f"{module}.{alias.name}" for alias in node.names]  # `from dnabert2 import regions`
    return names


def crossings(folder, package, forbidden_outside=True, no_torch=False):
    """'file: module' for every import of `folder`'s files that crosses a door."""
    found = []
    for path in sorted(Path(folder).rglob("*.py")):
        for module in imported_modules(path, package):
            top = module.split(".")[0]
            inside = module == package or module.startswith(package + ".")
            if forbidden_outside and top == "dnabert2" and not inside and not _is_floor(module):
                found.append(f"{path.name}: {module}")
            if no_torch and top == "torch":
                found.append(f"{path.name}: {module}")
    return sorted(set(found))


def _is_floor(module):
    return module == FLOOR or module.startswith(FLOOR + ".") or module == "dnabert2"  # `from dnabert2 import errors`


def test_model_imports_only_itself_and_the_error_floor():
    assert crossings(REPO / "model", "dnabert2.model") == []


def test_tokenizer_imports_only_itself_and_the_error_floor_and_no_torch():
    assert crossings(REPO / "tokenizer", "dnabert2.tokenizer", no_torch=True) == []


def test_the_error_floor_imports_nothing():
    tree = ast.parse((REPO / "dnabert2_cli" / "errors.py").read_text())
    assert not [n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))]


def test_commands_import_shared_options_not_each_other():
    commands = REPO / "dnabert2_cli" / "commands"
    names = {p.stem for p in commands.glob("*.py")} - {"__init__", "options"}
    found = []
    for path in commands.glob("*.py"):
        for module in imported_modules(path, "dnabert2.commands"):
            if module.startswith("dnabert2.commands.") and module.split(".")[2] in names:
                found.append(f"{path.name}: {module}")
    assert found == []


def test_the_door_check_catches_a_crossing(tmp_path):
    """The check itself can fail: torch in a tokenizer module, or an app module in a model module."""
    tokenizer, model = tmp_path / "tokenizer", tmp_path / "model"
    shutil.copytree(REPO / "tokenizer", tokenizer)
    shutil.copytree(REPO / "model", model)
    with open(tokenizer / "dna.py", "a") as fh:
        fh.write("\nimport torch\n")
    with open(model / "config.py", "a") as fh:
        fh.write("\nfrom dnabert2.regions.source import Region\n")
    with open(model / "layers.py", "a") as fh:
        fh.write("\nfrom .. import common\n")
    assert crossings(tokenizer, "dnabert2.tokenizer", no_torch=True) == ["dna.py: torch"]
    assert crossings(model, "dnabert2.model") == ["config.py: dnabert2.regions.source",
                                                  "config.py: dnabert2.regions.source.Region",
                                                  "layers.py: dnabert2.common"]


@pytest.mark.parametrize("module", ["dnabert2", "dnabert2.tokenizer"])
def test_importing_stays_free_of_torch(module):
    """`import dnabert2` (every command's start) and the tokenizer package load no torch."""
    code = f"import sys, {module}; sys.exit(int('torch' in sys.modules))"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_no_installed_module_reads_the_shared_data_folder():
    """The shipped-model build scripts read ../shared/data; they live in scripts/, outside the wheel."""
    readers = [str(path.relative_to(REPO)) for room in ("dnabert2_cli", "model", "tokenizer")
               for path in (REPO / room).rglob("*.py")
               if "shared/data" in path.read_text() or "DNABERT2_SHARED_DATA" in path.read_text()]
    assert readers == []
    assert (REPO / "scripts" / "shipped" / "rebuild.py").is_file()
