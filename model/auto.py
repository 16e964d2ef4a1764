"""Registering "dnabert2" with the transformers Auto classes as soon as transformers loads them.

`import dnabert2` must stay quick (no torch), yet `AutoModel.from_pretrained(folder)` must know our model_type
afterwards. So `install()` adds an import hook: when transformers finishes importing its Auto config module, our
config is registered; when it finishes its Auto model module, our models are. If transformers already loaded
them, registration happens at once.
"""
import importlib.abc
import importlib.machinery
import logging
import sys

logger = logging.getLogger(__name__)

CONFIG_MODULE = "transformers.models.auto.configuration_auto"
MODELS_MODULE = "transformers.models.auto.modeling_auto"


def _register(module_name):
    from . import register_auto_classes, register_auto_config

    try:
        (register_auto_classes if module_name == MODELS_MODULE else register_auto_config)()
    except ImportError as e:  # transformers half-imported in an unusual order: the models register on import
        logger.debug("could not register dnabert2 with transformers Auto classes yet: %s", e)


class _RegisteringLoader(importlib.abc.Loader):
    """Runs the real loader, then registers our classes."""

    def __init__(self, loader, name):
        self.loader = loader
        self.name = name

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        self.loader.exec_module(module)
        _register(self.name)

    def __getattr__(self, attr):
        return getattr(self.loader, attr)


class _AutoHook(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path, target=None):
        if fullname not in (CONFIG_MODULE, MODELS_MODULE):
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path, target)
        if spec is not None and spec.loader is not None:
            spec.loader = _RegisteringLoader(spec.loader, fullname)
        return spec


def install():
    """Register now for what transformers has loaded; hook the rest (once per process)."""
    for name in (CONFIG_MODULE, MODELS_MODULE):
        if name in sys.modules:
            _register(name)
    if not any(isinstance(finder, _AutoHook) for finder in sys.meta_path):
        sys.meta_path.insert(0, _AutoHook())
