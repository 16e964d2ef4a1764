"""The doors between the package's rooms, read from the source (ast), so a crossing fails here and not in review.

The rooms and the arrows between them are described in docs/architecture.md ("Rooms and arrows"): commands ->
stages -> common, shipped -> model, tokenizer -> the floor `dnabert2.errors`. A room imports itself and the rooms
below it; a stage imports another stage only along an arrow declared, with its reason, in the doc's arrows table,
which this test reads; nothing but cli.py imports the commands, and a command imports only commands.options; from
the face (`dnabert2/__init__.py`) the rooms take only `__version__`; no `_private` name crosses a room; tokenizer/
imports no torch. Every import counts: those inside functions, and the `_LAZY` maps of lazily importing packages.
"""
import ast
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# import name -> folder in the repository (pyproject's package-dir)
ROOTS = {"dnabert2": "dnabert2_cli", "dnabert2.model": "model", "dnabert2.tokenizer": "tokenizer"}
FACE, FLOOR = "dnabert2", "dnabert2.errors"
COMMAND_ROOM = ("dnabert2.commands", "dnabert2.cli", "dnabert2.__main__")
NAMED_ROOMS = {"dnabert2.errors": "floor", "dnabert2.model": "model", "dnabert2.tokenizer": "tokenizer",
               "dnabert2.common": "common", "dnabert2.shipped": "shipped"}
# the rooms each room may import besides itself; a stage also imports the stages its declared arrows name
BELOW = {"floor": set(), "model": {"floor"}, "tokenizer": {"floor"}, "shipped": {"floor"},
         "common": {"floor", "model", "tokenizer"}, "stage": {"floor", "model", "tokenizer", "common", "shipped"}}
ROOMS_HEADING, ARROWS_HEADING = "## Rooms and arrows", "### Arrows between stages"


def _under(module, prefix):
    return module == prefix or module.startswith(prefix + ".")


def room_of(module):
    """The room a dotted module name lies in: 'face', 'floor', 'model', 'tokenizer', 'common', 'shipped',
    'commands', or the stage's name ('regions', 'vocab', ...); None outside dnabert2."""
    if module == FACE:
        return "face"
    if not _under(module, FACE):
        return None
    if any(_under(module, prefix) for prefix in COMMAND_ROOM):
        return "commands"
    for prefix, room in NAMED_ROOMS.items():
        if _under(module, prefix):
            return room
    return module.split(".")[1]


def is_stage(room):
    return room is not None and room not in {"face", "commands", *BELOW}


def source_modules(root):
    """{dotted module name: path} of every source file of the installed package under `root`."""
    modules = {}
    for package, folder in ROOTS.items():
        for path in sorted((Path(root) / folder).rglob("*.py")):
            parts = list(path.relative_to(Path(root) / folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            modules[".".join([package, *parts])] = path
    return modules


def _is_private(name):
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def package_of(module, path):
    """The package a source file lies in (itself for an __init__.py)."""
    return module if path.name == "__init__.py" else module.rpartition(".")[0]


def absolute(package, module, level):
    """The absolute name of `from <level dots><module> import ...` written in `package`."""
    if not level:
        return module
    parts = package.split(".")
    return ".".join(parts[: len(parts) - level + 1] + ([module] if module else []))


def lazy_map(tree, package):
    """[(name, module, line)] of a module-level `_LAZY = {"name": ".module"}` (a package's lazy __getattr__)."""
    entries = []
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "_LAZY" for t in node.targets):
            for key, value in zip(node.value.keys, node.value.values):
                dots = len(value.value) - len(value.value.lstrip("."))
                entries.append((key.value, absolute(package, value.value[dots:] or None, dots), node.lineno))
    return entries


class Uses:
    """What one source file takes from other modules: (module, name or None, line) for every import, lazy-map entry
    and attribute of an imported module."""

    def __init__(self, module, path, modules):
        self.modules = modules
        self.package = package_of(module, path)
        self.found, self.bound = [], {}  # bound: local name -> the dotted name it stands for
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    self.found.append((alias.name, None, node.lineno))
                    if alias.asname:
                        self.bound[alias.asname] = alias.name
                    else:  # `import a.b.c` binds `a`
                        self.bound[alias.name.split(".")[0]] = alias.name.split(".")[0]
            elif isinstance(node, ast.ImportFrom):
                base = absolute(self.package, node.module, node.level)
                for alias in node.names:
                    self.found.append(self._split(f"{base}.{alias.name}") + (node.lineno,))
                    self.bound[alias.asname or alias.name] = f"{base}.{alias.name}"
        self.found += [(target, name, line) for name, target, line in lazy_map(tree, self.package)]
        for node in ast.walk(tree):  # `h5writer._attr`: a private attribute of an imported module or class
            chain = self._chain(node)
            if chain and chain[0] in self.bound:
                module, name = self._split(".".join([self.bound[chain[0]], *chain[1:]]))
                if name and _is_private(name.split(".")[-1]):
                    self.found.append((module, name, node.lineno))

    def _split(self, dotted):
        """'a.b.c.d' -> (the longest known module prefix, the first name after it, up to a private one)."""
        parts = dotted.split(".")
        for cut in range(len(parts), 0, -1):
            module = ".".join(parts[:cut])
            if module in self.modules or cut == 1 or not _under(module, FACE):
                rest = parts[cut:]
                if not rest:
                    return module, None
                private = next((i for i, p in enumerate(rest) if _is_private(p)), 0)
                return module, ".".join(rest[: private + 1])
        raise AssertionError(dotted)

    @staticmethod
    def _chain(node):
        """['h5writer', '_output_mode'] for `h5writer._output_mode`; None for anything but a chain of names."""
        names = []
        while isinstance(node, ast.Attribute):
            names.append(node.attr)
            node = node.value
        return [node.id, *reversed(names)] if isinstance(node, ast.Name) and names else None


def declared_arrows(root):
    """{(from stage, to stage): why} read from the arrows table of docs/architecture.md under `root`."""
    lines = (Path(root) / "docs" / "architecture.md").read_text().splitlines()
    start = lines.index(ARROWS_HEADING)
    rows = {}
    for line in lines[start + 1:]:
        if line.startswith("#"):
            break
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[0].startswith("`"):
            rows[(cells[0].strip("`"), cells[1].strip("`"))] = cells[2]
    return rows


def allowed(here, there, arrows):
    """Whether room `here` may import room `there` (the face and the commands room's inside are checked apart)."""
    if there in (here, None):
        return True
    if here in ("face", "commands"):
        return there != "commands"
    if is_stage(here):
        return there in BELOW["stage"] or (here, there) in arrows
    return there in BELOW[here]


def door_crossings(root=REPO):
    """'file: module.name (why)' for every import that crosses a door, in the tree under `root`."""
    modules = source_modules(root)
    arrows = declared_arrows(root)
    found = set()
    for module, path in modules.items():
        here = room_of(module)
        where = path.relative_to(root).as_posix()
        for target, name, _ in Uses(module, path, modules).found:
            there, shown = room_of(target), f"{where}: {target}{'.' + name if name else ''}"
            if here == "tokenizer" and target.split(".")[0] == "torch":
                found.add(f"{shown} (tokenizer -> torch)")
            if there == "face" and here != "face":
                if here in ("floor", "model", "tokenizer"):
                    found.add(f"{shown} ({here} -> face: {here} stands alone)")
                elif name != "__version__":
                    found.add(f"{shown} (only __version__ comes from the face)")
                continue
            if not allowed(here, there, arrows):
                stages = is_stage(here) and is_stage(there)
                why = "no arrow in docs/architecture.md" if stages else f"not below {here}"
                found.add(f"{shown} ({here} -> {there}: {why})")
            elif here == there == "commands" and not _command_door(module, target):
                found.add(f"{shown} (only cli.py imports the commands; a command imports only commands.options)")
            if there not in (None, here) and any(map(_is_private, [*target.split("."), *(name or "").split(".")])):
                found.add(f"{shown} (private name of {there})")
    return sorted(found)


def _command_door(module, target):
    """Inside the commands room: cli.py imports the commands, __main__ imports cli, a command imports options."""
    if module == "dnabert2.cli":
        return _under(target, "dnabert2.commands")
    if module == "dnabert2.__main__":
        return target == "dnabert2.cli"
    return _under(target, "dnabert2.commands.options") or target == "dnabert2.commands"


def copy_tree(tmp_path):
    """The package's sources and docs/architecture.md under tmp_path (no model weights), for planting crossings."""
    for folder in ROOTS.values():
        shutil.copytree(REPO / folder, tmp_path / folder, ignore=lambda d, names: [
            n for n in names if not n.endswith(".py") and not (Path(d) / n).is_dir()])
    (tmp_path / "docs").mkdir()
    shutil.copy(REPO / "docs" / "architecture.md", tmp_path / "docs")
    return tmp_path


def append(path, line):
    with open(path, "a") as fh:
        fh.write(f"\n{line}\n")


def test_the_tree_crosses_no_door():
    assert door_crossings() == []


def test_every_declared_arrow_joins_two_stages_says_why_and_is_used():
    modules = source_modules(REPO)
    arrows = declared_arrows(REPO)
    stages = {room_of(m) for m in modules if is_stage(room_of(m))}
    assert arrows, f"no arrows table under {ARROWS_HEADING!r} in docs/architecture.md"
    used = {(room_of(m), room_of(target)) for m, path in modules.items()
            for target, _, _ in Uses(m, path, modules).found}
    for (here, there), why in arrows.items():
        assert here in stages and there in stages and here != there, (here, there)
        assert len(why.split()) >= 4, f"{here} -> {there}: say why"
        assert (here, there) in used, f"{here} -> {there} is declared but no module of {here} imports {there}"


def documented_rooms(root):
    """{room: [the backticked names of its "where" cell]} from the rooms table of docs/architecture.md."""
    text = (Path(root) / "docs" / "architecture.md").read_text()
    section = text[text.index(ROOMS_HEADING):text.index(ARROWS_HEADING)]
    rooms = {}
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if line.startswith("|") and len(cells) == 3 and re.fullmatch(r"[a-z]+", cells[0]) and cells[0] != "room":
            rooms[cells[0]] = re.findall(r"`([^`]+)`", cells[1])
    return rooms


def test_the_rooms_table_lists_every_stage_of_the_tree():
    """The stages row of docs/architecture.md names every stage the tree holds, and nothing else."""
    stages = {room_of(m) for m in source_modules(REPO) if is_stage(room_of(m))}
    documented = documented_rooms(REPO)
    assert {name.removesuffix("/").removesuffix(".py") for name in documented["stages"]} == stages
    assert set(documented) == {"face", "commands", "stages", *BELOW} - {"stage"}


def test_rooms_by_module_name():
    """A new package under dnabert2 is a stage; the named rooms are found by their modules."""
    assert room_of("dnabert2.interpret.run") == "interpret" and is_stage("interpret")
    assert [room_of(m) for m in ("dnabert2", "dnabert2.cli", "dnabert2.__main__", "dnabert2.commands.embed",
                                 "dnabert2.shipped", "dnabert2.common.tables", "dnabert2.errors", "dnabert2.vocab",
                                 "dnabert2.model.layers", "numpy")] == \
        ["face", "commands", "commands", "commands", "shipped", "common", "floor", "vocab", "model", None]


def test_roots_match_the_package_dirs_of_pyproject():
    with open(REPO / "pyproject.toml", "rb") as fh:
        assert tomllib.load(fh)["tool"]["setuptools"]["package-dir"] == ROOTS


def test_the_door_check_catches_new_arrows_and_private_names(tmp_path):
    """Planted crossings are reported, each once and exactly; the same tree without them passes."""
    root = copy_tree(tmp_path)
    assert door_crossings(root) == []
    code = root / "dnabert2_cli"
    append(code / "pretraining" / "genomes.py", "from dnabert2.finetuning.tables import load_tables")
    append(code / "variants" / "tokens.py", "from dnabert2.regions.run import _shard_size")
    append(code / "common" / "text.py", "def f():\n    from dnabert2.regions import bed")
    append(code / "common" / "batching.py", "from dnabert2.shipped import model_path")
    append(code / "variants" / "emb.py", "from dnabert2.regions import h5writer\nh5writer._put_rows(1)")
    append(code / "regions" / "bed.py", "import dnabert2.common.files\ndnabert2.common.files._private_helper()")
    append(code / "finetuning" / "metrics.py", "from dnabert2 import finetune")
    append(code / "vocab.py", "from dnabert2.commands.options import common_options")
    append(code / "commands" / "embed.py", "from dnabert2.commands import predict")
    append(code / "shipped" / "__init__.py", "from dnabert2.common import files")
    face = code / "__init__.py"
    lazy = '_LAZY = {"command": ".commands.embed", "_run": ".regions.run",'
    face.write_text(face.read_text().replace("_LAZY = {", lazy))
    assert door_crossings(root) == [
        "dnabert2_cli/__init__.py: dnabert2.commands.embed.command (face -> commands: not below face)",
        "dnabert2_cli/__init__.py: dnabert2.regions.run._run (private name of regions)",
        "dnabert2_cli/commands/embed.py: dnabert2.commands.predict "
        "(only cli.py imports the commands; a command imports only commands.options)",
        "dnabert2_cli/common/batching.py: dnabert2.shipped.model_path (common -> shipped: not below common)",
        "dnabert2_cli/common/text.py: dnabert2.regions.bed (common -> regions: not below common)",
        "dnabert2_cli/finetuning/metrics.py: dnabert2.finetune (only __version__ comes from the face)",
        "dnabert2_cli/pretraining/genomes.py: dnabert2.finetuning.tables.load_tables "
        "(pretraining -> finetuning: no arrow in docs/architecture.md)",
        "dnabert2_cli/regions/bed.py: dnabert2.common.files._private_helper (private name of common)",
        "dnabert2_cli/shipped/__init__.py: dnabert2.common.files (shipped -> common: not below shipped)",
        "dnabert2_cli/variants/emb.py: dnabert2.regions.h5writer._put_rows (private name of regions)",
        "dnabert2_cli/variants/tokens.py: dnabert2.regions.run._shard_size (private name of regions)",
        "dnabert2_cli/vocab.py: dnabert2.commands.options.common_options (vocab -> commands: not below vocab)",
    ]


def test_the_door_check_catches_the_crossings_of_issue_22(tmp_path):
    """The three crossings the tree had before `common.tables` and `common.outputs` (issue 22)."""
    root = copy_tree(tmp_path)
    code = root / "dnabert2_cli"
    append(code / "pretraining" / "tables.py", "from dnabert2.finetuning.tables import read_table")
    append(code / "variants" / "run.py", "from dnabert2.regions.run import _output_mode")
    append(code / "common" / "files.py", "from dnabert2.regions import bed")
    assert door_crossings(root) == [
        "dnabert2_cli/common/files.py: dnabert2.regions.bed (common -> regions: not below common)",
        "dnabert2_cli/pretraining/tables.py: dnabert2.finetuning.tables.read_table "
        "(pretraining -> finetuning: no arrow in docs/architecture.md)",
        "dnabert2_cli/variants/run.py: dnabert2.regions.run._output_mode (private name of regions)",
    ]


def test_declaring_an_arrow_opens_the_door_and_an_unused_one_fails(tmp_path):
    root = copy_tree(tmp_path)
    append(root / "dnabert2_cli" / "pretraining" / "genomes.py", "from dnabert2.regions.bed import read_bed")
    assert door_crossings(root) == ["dnabert2_cli/pretraining/genomes.py: dnabert2.regions.bed.read_bed "
                                    "(pretraining -> regions: no arrow in docs/architecture.md)"]
    doc = root / "docs" / "architecture.md"
    text = doc.read_text()
    first_row = re.search(r"^\| `\w+` \| `\w+` \|.*$", text, re.M).group(0)
    doc.write_text(text.replace(first_row, f"{first_row}\n| `pretraining` | `regions` | windows from BED files |"))
    assert door_crossings(root) == []
    assert declared_arrows(root)[("pretraining", "regions")] == "windows from BED files"


def test_the_model_and_tokenizer_doors_and_torch(tmp_path):
    root = copy_tree(tmp_path)
    append(root / "tokenizer" / "dna.py", "import torch")
    append(root / "model" / "config.py", "from dnabert2.regions.source import RegionSource")
    append(root / "model" / "layers.py", "from .. import common")
    append(root / "model" / "heads.py", "from dnabert2 import __version__")
    assert door_crossings(root) == [
        "model/config.py: dnabert2.regions.source.RegionSource (model -> regions: not below model)",
        "model/heads.py: dnabert2.__version__ (model -> face: model stands alone)",
        "model/layers.py: dnabert2.common (model -> common: not below model)",
        "tokenizer/dna.py: torch (tokenizer -> torch)",
    ]


def test_the_error_floor_imports_nothing():
    tree = ast.parse((REPO / "dnabert2_cli" / "errors.py").read_text())
    assert not [n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))]


def test_the_face_names_public_functions_that_exist():
    """Every entry of `dnabert2._LAZY` names a public function its module defines or imports."""
    modules = source_modules(REPO)
    entries = lazy_map(ast.parse(modules[FACE].read_text()), FACE)
    assert len(entries) >= 10
    for name, target, _ in entries:
        tree = ast.parse(modules[target].read_text())
        defined = {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
        defined |= {(a.asname or a.name) for n in tree.body if isinstance(n, ast.ImportFrom) for a in n.names}
        assert name in defined and not _is_private(name), (target, name)


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
