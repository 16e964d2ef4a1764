"""The models shipped inside the package: `pretrained/` (a small DNABERT-2 masked-LM) and `promoter/` (a promoter
classifier fine-tuned from it). `dnabert2 embed` uses the first and `dnabert2 predict` the second when no --model
is given. `python scripts/shipped/rebuild.py OUT_DIR` rebuilds both; each folder's README.md is its model card.
"""
from pathlib import Path

from dnabert2.errors import InputError

NAMES = ("pretrained", "promoter")
# what each command uses when --model is not given
DEFAULT_FOR = {"embed": "pretrained", "predict": "promoter", "score-variants": "pretrained", "finetune": "pretrained"}


def model_path(name):
    """The folder of the shipped model `name` ("pretrained" or "promoter")."""
    if name not in NAMES:
        raise InputError(f"shipped model {name!r}: expected one of {', '.join(NAMES)}")
    folder = Path(__file__).resolve().parent / name
    if not (folder / "model.safetensors").is_file():
        raise InputError(f"{folder}: the shipped {name} model is missing from this installation "
                         "(reinstall dnabert2, or rebuild it from a clone with `python scripts/shipped/rebuild.py OUT_DIR`)")
    return folder
