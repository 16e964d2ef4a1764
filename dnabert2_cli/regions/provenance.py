"""Where the numbers of an output file came from: the model's and tokenizer's hashes and the file's root attributes
(those in `h5settings.SETTINGS` must agree for --resume and merge; layout in docs/hdf5.md)."""
import hashlib
from pathlib import Path

from dnabert2.common.files import sha256_files
from dnabert2.common.runtime import precision_name


def weights_hash(model, model_path):
    """sha256 of the folder's weight files, or of the state dict for a model not loaded from a folder."""
    if model_path is not None and Path(model_path).is_dir():
        files = sorted(Path(model_path).glob("*.safetensors")) or sorted(Path(model_path).glob("pytorch_model*.bin"))
        if files:
            return sha256_files(files)
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().float().cpu().numpy().tobytes())
    return digest.hexdigest()


def tokenizer_hash(tokenizer):
    """sha256 of the tokenizer's JSON description."""
    return hashlib.sha256(tokenizer.backend_tokenizer.to_str().encode()).hexdigest()


def attributes(source, loaded, head, command_line):
    """The root attributes of a run's file: its settings, model, input and provenance."""
    s = head.settings
    return {
        "kind": s.kind, "command_line": command_line or "", "model": str(loaded.folder or "in-memory model"),
        "model_weights_sha256": weights_hash(loaded.net, loaded.folder),
        "tokenizer_sha256": tokenizer_hash(loaded.tokenizer),
        "pooling": s.pooling if s.kind == "embed" else "head", "layer": s.layer, "window": s.window,
        "stride": s.stride, "resize": s.resize or 0, "clip": s.clip, "rc_average": s.rc_average,
        "precision": precision_name(loaded.dtype), "half_output": s.half_output, "batch_tokens": s.batch_tokens,
        "lookahead": s.lookahead, "input_fingerprint": source.fingerprint, "n_regions_total": source.count,
        "shard": f"{s.shard[0]}/{s.shard[1]}" if s.shard else "", "inputs": source.describe(),
        "hidden_size": loaded.net.config.hidden_size, "device": str(loaded.device),
        "label_names": head.label_names or "", "problem_type": head.problem_type or "",
    }
