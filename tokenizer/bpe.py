"""BPE training on DNA fragments with Hugging Face `tokenizers`, laid out like the DNABERT-2 release.

Ids: `[UNK]=0 [CLS]=1 [SEP]=2 [PAD]=3 [MASK]=4`, then `A=5 C=6 G=7 T=8`, then one token per merge in the order
learned. Pre-tokeniser `Whitespace` and post-processor `[CLS] $A [SEP]` / `[CLS] $A [SEP] $B:1 [SEP]:1` as the
release; in addition a normaliser upper-cases a/c/g/t/n and a decoder joins tokens without spaces, so the folder
also works with plain `PreTrainedTokenizerFast.from_pretrained`. Training is deterministic: the same fragments
give a byte-identical `tokenizer.json` whatever the number of threads.
"""
import contextlib
import json
import os
from pathlib import Path

from .loading import NO_LENGTH_LIMIT, SPECIAL_TOKENS, dna_decoder, upper_case_normalizer

SPECIALS = ["[UNK]", "[CLS]", "[SEP]", "[PAD]", "[MASK]"]
ALPHABET = ["A", "C", "G", "T"]
MIN_SIZE = len(SPECIALS) + len(ALPHABET)


class MergesRanOut(ValueError):
    """The corpus has too few distinct pairs to reach the requested vocabulary size."""

    def __init__(self, size, learned):
        super().__init__(f"only {learned} of {size} tokens could be learned")
        self.size = size
        self.learned = learned


@contextlib.contextmanager
def thread_limit(threads):
    """Limit `tokenizers`' threads: 1 turns its parallelism off; N sets the Rayon pool size (when not yet
    started in this process). Results do not depend on it, only the speed does."""
    if not threads:
        yield
        return
    saved = {key: os.environ.get(key) for key in ("TOKENIZERS_PARALLELISM", "RAYON_NUM_THREADS")}
    if threads == 1:
        os.environ["TOKENIZERS_PARALLELISM"] = "false"
    else:
        os.environ["RAYON_NUM_THREADS"] = str(threads)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def train_bpe(fragments, size, min_frequency=2, max_token_length=None, threads=None, progress=False):
    """Train a `tokenizers.Tokenizer` of exactly `size` entries on an iterable of A/C/G/T strings.

    Raises `MergesRanOut` when the fragments do not hold enough repeated pairs to reach `size`.
    """
    from tokenizers import Tokenizer, models, pre_tokenizers, processors, trainers

    if size < MIN_SIZE:
        raise ValueError(f"size ({size}) must be at least {MIN_SIZE} (5 special tokens and A, C, G, T)")
    tok = Tokenizer(models.BPE(unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    trainer = trainers.BpeTrainer(
        vocab_size=size,
        min_frequency=min_frequency,
        special_tokens=SPECIALS,
        initial_alphabet=ALPHABET,
        limit_alphabet=len(ALPHABET),
        max_token_length=max_token_length,
        show_progress=progress,
    )
    with thread_limit(threads):
        tok.train_from_iterator(fragments, trainer)
    vocab = tok.get_vocab()
    for token_id, token in enumerate(SPECIALS + ALPHABET):
        if vocab.get(token) != token_id:
            raise RuntimeError(f"BPE training gave {token!r} id {vocab.get(token)}, expected {token_id}")
    if tok.get_vocab_size() != size:
        raise MergesRanOut(size, tok.get_vocab_size())
    tok.normalizer = upper_case_normalizer()
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])],
    )
    tok.decoder = dna_decoder()
    return tok


def save_tokenizer_folder(tok, folder):
    """Write `tokenizer.json`, `tokenizer_config.json` and `special_tokens_map.json` into `folder`."""
    folder = Path(folder)
    layout = json.loads(tok.to_str())
    # merges as "LEFT RIGHT" strings, as the release writes them (tokens hold no spaces; older readers need it)
    if "merges" in layout["model"]:  # BPE (k-mer folders are WordLevel)
        layout["model"]["merges"] = [" ".join(pair) if isinstance(pair, list) else pair
                                     for pair in layout["model"]["merges"]]
    (folder / "tokenizer.json").write_text(json.dumps(layout, indent=2, ensure_ascii=False) + "\n")
    config = {"tokenizer_class": "PreTrainedTokenizerFast", **SPECIAL_TOKENS,
              "model_max_length": NO_LENGTH_LIMIT, "clean_up_tokenization_spaces": False}
    (folder / "tokenizer_config.json").write_text(json.dumps(config, indent=2) + "\n")
    (folder / "special_tokens_map.json").write_text(json.dumps(SPECIAL_TOKENS, indent=2) + "\n")


def encoded_length(tok, sequences):
    """Number of tokens (without specials) the sequences encode to."""
    return sum(len(enc.ids) for enc in tok.encode_batch(list(sequences), add_special_tokens=False))
