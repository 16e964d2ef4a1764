"""Which methods a run uses: the ones asked for, or the model's natural one (llr for a masked-LM folder, delta for
a fine-tuned one, emb for a bare encoder), each checked against what the model has."""
from dnabert2.errors import InputError
from dnabert2.variants.delta import Delta
from dnabert2.variants.emb import Emb
from dnabert2.variants.llr import Llr


def model_kind(net):
    """"masked-lm", "classification" or "base" for a loaded model."""
    if getattr(net, "cls", None) is not None:
        return "masked-lm"
    if getattr(net, "classifier", None) is not None:
        return "classification"
    return "base"


DEFAULTS = {"masked-lm": ("llr",), "classification": ("delta",), "base": ("emb",)}
NEEDS = {"llr": "masked-lm", "delta": "classification"}


def make_methods(settings, loaded):
    """[Llr/Emb/Delta] for the run; settles `settings.methods`; InputError for a method the model cannot serve."""
    kind = model_kind(loaded.net)
    names = settings.methods or DEFAULTS[kind]
    for name in names:
        if name in NEEDS and NEEDS[name] != kind:
            what = {"masked-lm": "a masked-LM model (from `dnabert2 pretrain`, the release, or the shipped "
                                 "pretrained one)", "classification": "a fine-tuned model (from `dnabert2 finetune`)"}
            raise InputError(f"--method {name} needs {what[NEEDS[name]]}; {loaded.folder or 'this model'} is a "
                             f"{kind} model (it can give: {', '.join(_served(kind))})")
    settings.methods = tuple(names)
    return [_method(name, settings, loaded) for name in names]


def _served(kind):
    return [name for name in ("llr", "emb", "delta") if NEEDS.get(name, kind) == kind]


def _method(name, settings, loaded):
    if name == "llr":
        return Llr(settings.flank_tokens)
    if name == "emb":
        return Emb()
    from dnabert2.regions.heads import make_head
    from dnabert2.regions.settings import PredictSettings

    head = make_head(PredictSettings(), loaded.net.config)  # the label names and problem type, as predict reads them
    return Delta(head.problem_type, head.label_names)
