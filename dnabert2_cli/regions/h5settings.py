"""The settings an HDF5 output records (docs/hdf5.md): which root attributes must agree for `--resume` to continue a
file and for `merge` to join shards (`SETTINGS`), how a value is stored and read back, and the sentence that names
what differs (`resume_differences`: the option, not the fingerprint it changes)."""
import json

import numpy as np

# root attributes that must agree for --resume to continue a file and for merge to join shards
SETTINGS = ("kind", "model_weights_sha256", "tokenizer_sha256", "pooling", "layer", "window", "stride", "resize",
            "clip", "rc_average", "precision", "half_output", "batch_tokens", "lookahead", "input_fingerprint",
            "n_regions_total", "label_names", "problem_type",
            "methods", "context", "window_step", "flank_tokens", "max_indel",  # these five: score-variants
            "target", "baseline", "steps")  # attribute


# what sets each of SETTINGS where it is not the option of its name (`max_indel` is --max-indel)
_SET_BY = {"kind": "the command", "model_weights_sha256": "--model", "tokenizer_sha256": "--model",
           "label_names": "--model", "problem_type": "--model", "methods": "--method",
           "input_fingerprint": "the input", "n_regions_total": "the input"}
_MODEL_DETAIL = {"model_weights_sha256": "weights sha256", "tokenizer_sha256": "tokenizer sha256",
                 "label_names": "labels", "problem_type": "problem type"}


def set_by(key):
    """The option that sets the setting `key` (`window_step` -> `--window-step`), or the command, or the input."""
    return _SET_BY.get(key, "--" + key.replace("_", "-"))


def resume_differences(stored, attrs):
    """'--context was 200, this run has 100' for each option whose setting in the file's attributes `stored`
    differs from this run's `attrs` ('' when none does). An option that differs is named rather than the input
    fingerprint it also changes (a variant's status depends on --context); the input is named when no option
    differs, the command when that differs."""
    changed = {}
    for key in (*SETTINGS, "shard"):
        if key in attrs and not same_attr(stored.get(key), attr_value(attrs[key])):
            values = (key, plain_value(stored.get(key)), plain_value(attr_value(attrs[key])))
            if key == "n_regions_total":  # a count says more than a fingerprint
                changed["the input"] = values
            changed.setdefault(set_by(key), values)
    if "the command" in changed:
        _, old, new = changed["the command"]
        return f"it was made by {old}, this run is {new}"
    options = {name: values for name, values in changed.items() if name.startswith("--")}
    if options:
        return "; ".join(f"{name} was {_shown(key, old, stored)}, this run has {_shown(key, new, attrs)}"
                         for name, (key, old, new) in options.items())
    if "the input" in changed:
        key, old, new = changed["the input"]
        if key == "n_regions_total":
            return f"the input differs: it was made from {_shown(key, old)} rows, this run has {_shown(key, new)}"
        return f"the input differs from the one it was made from (fingerprint {_shown(key, old)}, this run's " \
               f"{_shown(key, new)})"
    return ""


def _shown(key, value, attrs=None):
    """A setting's value as the user gave it: on/off for a flag, a hash cut to 12 digits, the model folder (from
    `attrs`) with what of it differs."""
    if value in ("", None):
        value = "none"
    elif isinstance(value, bool):
        value = "on" if value else "off"
    elif isinstance(value, int):
        value = f"{value:,}" if key == "n_regions_total" else str(value)
    elif key == "methods":
        value = ",".join(json.loads(value))
    elif key.endswith("sha256") or key == "input_fingerprint":
        value = value[:12]
    if key in _MODEL_DETAIL:
        return f"{plain_value(attrs.get('model', ''))} ({_MODEL_DETAIL[key]} {value})"
    return str(value)


def attr_value(value):
    """A setting as stored in a root attribute: None as '', lists and dicts as JSON."""
    if value is None:
        return ""
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(value)
    return value


def plain_value(value):
    """An attribute value as a plain Python value (numpy scalars and bytes unwrapped)."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bytes):
        value = value.decode()
    return value


def same_attr(a, b):
    """Whether two attribute values are equal once unwrapped (numpy scalars, bytes)."""
    return plain_value(a) == plain_value(b)
