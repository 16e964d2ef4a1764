"""Supervised fine-tuning (`dnabert2 finetune`, `dnabert2 benchmark gue`).

One module per job: tables.py (labelled tables), settings.py (the options), lora.py, encoding.py (token ids and
batches), tasks.py (loss and outputs per task), classifier.py (build, save, `load_finetuned`), loop.py (training
and evaluation), resume.py (OUT.partial/ and --resume), metrics.py, reports.py (the output files), run.py
(`finetune`), gue.py (`benchmark_gue`).
"""
from importlib import import_module

# public name -> module (relative to this package) that defines it; imported on first use (no torch on import)
_LAZY = {"finetune": ".run", "load_finetuned": ".classifier", "benchmark_gue": ".gue"}

__all__ = list(_LAZY)


def __getattr__(name):
    if name in _LAZY:
        return getattr(import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module 'dnabert2.finetuning' has no attribute {name!r}")
