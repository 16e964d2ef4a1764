"""dnabert2: the DNABERT-2 genome language model as a command-line tool and Python library.

Each command of the CLI is a thin shell over a function importable from here, e.g. `dnabert2.train_vocab(...)`.
Public functions are imported lazily so that `import dnabert2` (and `dnabert2 --help`) stay quick.
"""
from importlib import import_module

__version__ = "0.1.0"

from dnabert2.errors import InputError  # noqa: E402

# public name -> module (relative to this package) that defines it
_LAZY = {
    "train_vocab": ".vocab",
    "embed": ".regions.run",
    "predict": ".regions.run",
    "merge": ".regions.merging",
    "score_variants": ".variants.run",
    "attribute": ".interpret.run",
    "motifs": ".interpret.motifs",
    "finetune": ".finetuning.run",
    "benchmark_gue": ".finetuning.gue",
    "pretrain": ".pretraining.run",
    "load_tokenizer": ".tokenizer",
    "load_model": ".common.models",
    "convert_model": ".common.models",
}

__all__ = ["InputError", "__version__", *_LAZY]

# transformers' Auto classes learn model_type "dnabert2" when transformers loads them (no torch import here)
from dnabert2.model.auto import install as _install_auto_classes  # noqa: E402

_install_auto_classes()


def __getattr__(name):
    if name in _LAZY:
        return getattr(import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module 'dnabert2' has no attribute {name!r}")
