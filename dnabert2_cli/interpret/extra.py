"""The `interpret` extra: the libraries `attribute` and `motifs` use, checked before any work so that a missing
one is exit 2 naming the extra, not an ImportError halfway through a run."""
import importlib.util

from dnabert2.errors import InputError

# import name -> (the package to install, what needs it)
LIBRARIES = {
    "captum": ("captum", "integrated gradients and gradient x input"),
    "logomaker": ("logomaker", "sequence logos"),
    "pyBigWig": ("pyBigWig", "bigWig tracks"),
    "modiscolite": ("modisco-lite", "TF-MoDISco"),
    "memelite": ("memelite", "TOMTOM"),
    "pyjaspar": ("pyjaspar", "the JASPAR database"),
    "matplotlib": ("matplotlib", "plots"),
}
INSTALL = "pip install 'dnabert2[interpret]'"


def installed(module):
    """Whether `module` can be imported (without importing it)."""
    return importlib.util.find_spec(module) is not None


def require(*modules, what):
    """InputError naming the extra when one of `modules` (keys of LIBRARIES) cannot be imported."""
    missing = [name for name in modules if not installed(name)]
    if missing:
        needs = "; ".join(f"{LIBRARIES[name][0]} ({LIBRARIES[name][1]})" for name in missing)
        raise InputError(f"{what} needs {needs}, from the interpret extra: {INSTALL}")
