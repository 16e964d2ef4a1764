"""Loading a tokenizer folder (ours, the DNABERT-2 release, or a hub id) as a transformers fast tokenizer.

The released `tokenizer.json` has no normaliser, so lower-case (soft-masked) letters become `[UNK]`. The loaded
tokenizer gets a normaliser that upper-cases a/c/g/t/n first, and a decoder that joins tokens without spaces (so
`decode(encode(seq))` gives the sequence back). Ids of upper-case input are unchanged. DNABERT-2 has no length
limit (ALiBi), so `model_max_length` is set to a value no input reaches and nothing is truncated unless asked.
"""
import json
import re
from pathlib import Path

from ..errors import InputError, located

SPECIAL_TOKENS = {
    "unk_token": "[UNK]",
    "cls_token": "[CLS]",
    "sep_token": "[SEP]",
    "pad_token": "[PAD]",
    "mask_token": "[MASK]",
}
# transformers' own "no limit" value (VERY_LARGE_INTEGER)
NO_LENGTH_LIMIT = int(1e30)
_UPPER_CASED = "acgtn"
_HUB_ID = re.compile(r"^[\w.\-]+/[\w.\-]+$")


def upper_case_normalizer():
    """A `tokenizers` normaliser mapping a, c, g, t, n to upper case (other letters are [UNK] either way)."""
    from tokenizers import normalizers

    return normalizers.Sequence([normalizers.Replace(c, c.upper()) for c in _UPPER_CASED])


def dna_decoder():
    """A `tokenizers` decoder that joins tokens with nothing between them."""
    from tokenizers import decoders

    return decoders.Fuse()


def _add_upper_casing(tok):
    """Give `tok` (a tokenizers.Tokenizer) the upper-casing normaliser, keeping one it already has."""
    from tokenizers import normalizers

    ours = upper_case_normalizer()
    current = tok.normalizer
    if current is None:
        tok.normalizer = ours
    elif _normalizer_json(current) != _normalizer_json(ours):
        tok.normalizer = normalizers.Sequence([current, ours])
    if tok.decoder is None:
        tok.decoder = dna_decoder()
    return tok


def _normalizer_json(normalizer):
    from tokenizers import Tokenizer, models

    holder = Tokenizer(models.BPE())
    holder.normalizer = normalizer
    return json.dumps(json.loads(holder.to_str())["normalizer"], sort_keys=True)


def _resolve_files(path):
    """(tokenizer.json, tokenizer_config.json or None) for a folder, a tokenizer.json file or a hub id."""
    p = Path(path)
    if p.is_dir():
        tokenizer_json = p / "tokenizer.json"
        if not tokenizer_json.is_file():
            raise InputError(located(p, "no tokenizer.json in this folder (not a tokenizer or model folder)"))
        config = p / "tokenizer_config.json"
        return tokenizer_json, (config if config.is_file() else None)
    if p.is_file():
        if p.suffix != ".json":
            raise InputError(located(p, "expected a tokenizer folder or its tokenizer.json"))
        config = p.with_name("tokenizer_config.json")
        return p, (config if config.is_file() else None)
    if _HUB_ID.match(str(path)) and not str(path).startswith((".", "/")):
        return _from_hub(str(path))
    raise InputError(located(p, "no such tokenizer folder"))


def _from_hub(repo_id):
    try:
        from huggingface_hub import hf_hub_download
        tokenizer_json = hf_hub_download(repo_id, "tokenizer.json")
    except Exception as e:  # offline, unknown repo, no tokenizer.json: all the user's to fix
        raise InputError(f"{repo_id}: no such local folder, and no tokenizer.json could be fetched for it from "
                         f"the Hugging Face hub ({type(e).__name__}; offline?)") from None
    try:
        config = hf_hub_download(repo_id, "tokenizer_config.json")
    except Exception:
        config = None
    return Path(tokenizer_json), (Path(config) if config else None)


def _special_tokens(config_path):
    specials = dict(SPECIAL_TOKENS)
    if config_path is not None:
        try:
            config = json.loads(Path(config_path).read_text())
        except (OSError, ValueError) as e:
            raise InputError(located(config_path, f"not a readable JSON file ({e})")) from None
        for key in SPECIAL_TOKENS:
            value = config.get(key)
            if isinstance(value, dict):  # AddedToken serialised as a dict
                value = value.get("content")
            if isinstance(value, str):
                specials[key] = value
    return specials


def load_tokenizer(path):
    """Load a DNABERT-2 (BPE) or k-mer tokenizer as a `transformers.PreTrainedTokenizerFast` that upper-cases its input.

    `path` is a tokenizer or model folder written by this package, the released DNABERT-2-117M folder, a
    `tokenizer.json` file, or a hub id when online. Special tokens are `[UNK] [CLS] [SEP] [PAD] [MASK]`.
    """
    from tokenizers import Tokenizer
    from transformers import PreTrainedTokenizerFast

    from .kmer import OverlappingBackend, kmer_layout

    tokenizer_json, config_path = _resolve_files(path)
    try:
        tok = Tokenizer.from_file(str(tokenizer_json))
    except Exception as e:  # tokenizers raises a plain Exception for malformed files
        raise InputError(located(tokenizer_json, f"not a Hugging Face tokenizer file ({e})")) from None
    specials = _special_tokens(config_path)
    vocab = tok.get_vocab()
    missing = [t for t in specials.values() if t not in vocab]
    if missing:
        raise InputError(located(tokenizer_json, f"special tokens {', '.join(missing)} are not in the vocabulary"))
    _add_upper_casing(tok)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, model_max_length=NO_LENGTH_LIMIT, **specials)
    layout = kmer_layout(tok)
    if layout is not None and layout[1] == 1 and layout[0] > 1:
        # overlapping k-mers: no pre-tokenizer of `tokenizers` emits overlapping pieces (see kmer.py)
        fast._tokenizer = OverlappingBackend(fast.backend_tokenizer, layout[0])
    return fast
