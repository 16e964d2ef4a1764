"""K-mer tokenizers (DNABERT's overlapping k-mers, the Nucleotide Transformer's non-overlapping ones) as ordinary
Hugging Face tokenizer folders.

Both are a `WordLevel` model behind a regex `Split` pre-tokenizer, with the normaliser, `[CLS] $A [SEP]`
post-processor and decoder of our BPE folders. Ids: `[UNK]=0 [CLS]=1 [SEP]=2 [PAD]=3 [MASK]=4`, then all 4^K
k-mers in lexicographic order (AAAAAA=5, AAAAAC=6, ...).

- Non-overlapping (stride K): the pre-tokenizer cuts `[ACGT]{K}|.` from the left, so each K-mer of A/C/G/T is one
  token and whatever is left over (the tail shorter than K, the bases before and after an N) becomes single-base
  tokens `A C G T`, which follow the k-mers in the vocabulary (ids 5 + 4^K ...). N and other letters are [UNK].
  This is the Nucleotide Transformer's rule; no base is dropped, so offsets tile the input.
- Overlapping (stride 1): `tokenizers` has no pre-tokenizer that emits overlapping pieces, so the folder's
  pre-tokenizer cuts `[\\s\\S]{1,K}` and `OverlappingBackend` (wrapped around the Rust tokenizer by
  `load_tokenizer`) feeds it each input as its L-K+1 k-mers laid end to end: token i is the k-mer at base i with
  offsets (i, i+K). A k-mer holding N (or any non-A/C/G/T letter) is [UNK]; an input shorter than K is one [UNK].
  The layout is DNABERT's: `[CLS] k-mer_0 ... k-mer_{L-K} [SEP]`.

A folder's kind is read back from its `tokenizer.json` alone (`kmer_layout`), so a model folder written by
`save_pretrained` stays a k-mer folder.
"""
import itertools
import json
import re

from .bpe import ALPHABET, SPECIALS

MAX_K = 8  # 4^8 = 65,536 k-mers; beyond that the embedding table dwarfs a small model
_OVERLAPPING = "[\\s\\S]{{1,{k}}}"
_NON_OVERLAPPING = "[ACGT]{{{k}}}|[\\s\\S]"
_OVERLAPPING_RE = re.compile(r"^\[\\s\\S\]\{1,(\d+)\}$")
_NON_OVERLAPPING_RE = re.compile(r"^\[ACGT\]\{(\d+)\}\|\[\\s\\S\]$")


def kmers(k):
    """All 4^k k-mers over A, C, G, T in lexicographic order."""
    return ["".join(p) for p in itertools.product(ALPHABET, repeat=k)]


def kmer_vocab(k, stride):
    """token -> id: the specials, the 4^k k-mers, and (non-overlapping, k > 1) the single bases."""
    tokens = SPECIALS + kmers(k)
    if stride == k and k > 1:
        tokens += ALPHABET
    return {token: i for i, token in enumerate(tokens)}


def check_kmer(k, stride):
    """ValueError unless 1 <= k <= MAX_K and stride is 1 or k."""
    if not 1 <= k <= MAX_K:
        raise ValueError(f"k ({k}) must be between 1 and {MAX_K}")
    if stride not in (1, k):
        raise ValueError(f"stride ({stride}) must be 1 (overlapping) or k={k} (non-overlapping)")


def build_kmer_tokenizer(k, stride=1):
    """A `tokenizers.Tokenizer` of k-mers with the given stride (1 or k); see the module docstring."""
    from tokenizers import Regex, Tokenizer, models, pre_tokenizers, processors

    from .loading import dna_decoder, upper_case_normalizer

    check_kmer(k, stride)
    vocab = kmer_vocab(k, stride)
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.normalizer = upper_case_normalizer()
    pattern = (_OVERLAPPING if stride == 1 else _NON_OVERLAPPING).format(k=k)
    tok.pre_tokenizer = pre_tokenizers.Split(Regex(pattern), behavior="isolated")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])])
    tok.decoder = dna_decoder()
    return tok


def kmer_layout(tok):
    """(k, stride) of a k-mer `tokenizers.Tokenizer` made by `build_kmer_tokenizer`, or None for any other."""
    layout = json.loads(tok.to_str())
    model, pre = layout.get("model") or {}, layout.get("pre_tokenizer") or {}
    if model.get("type") != "WordLevel" or pre.get("type") != "Split":
        return None
    pattern = (pre.get("pattern") or {}).get("Regex", "")
    overlapping, non_overlapping = _OVERLAPPING_RE.match(pattern), _NON_OVERLAPPING_RE.match(pattern)
    if overlapping:
        return int(overlapping.group(1)), 1
    if non_overlapping:
        k = int(non_overlapping.group(1))
        return k, k
    return None


def overlapping_k(tokenizer):
    """K when `tokenizer` (a transformers tokenizer or a backend) tokenises into overlapping K-mers, else None."""
    backend = getattr(tokenizer, "backend_tokenizer", tokenizer)
    return backend.k if isinstance(backend, OverlappingBackend) else None


def laid_end_to_end(text, k):
    """The overlapping k-mers of `text` concatenated (`text` itself when shorter than k)."""
    if len(text) <= k:
        return text
    return "".join(text[i:i + k] for i in range(len(text) - k + 1))


class RemappedEncoding:
    """A `tokenizers.Encoding` of the laid-end-to-end input whose offsets point into the original input."""

    def __init__(self, encoding, k):
        self._encoding, self._k = encoding, k

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._encoding, name)

    def __len__(self):
        return len(self._encoding)

    @property
    def offsets(self):
        k = self._k
        return [(start // k, start // k + (end - start)) for start, end in self._encoding.offsets]

    @property
    def overflowing(self):
        return [RemappedEncoding(e, self._k) for e in self._encoding.overflowing]

    def token_to_chars(self, token_index, *args):
        start, end = self.offsets[token_index]
        return None if start == end else (start, end)

    def char_to_token(self, char_pos, *args):
        """The token whose k-mer starts at this base (the last k-mer for the last K-1 bases)."""
        starts = [(start, i) for i, (start, end) in enumerate(self.offsets) if end > start]
        best = [i for start, i in starts if start <= char_pos]
        return best[-1] if best else None


class OverlappingBackend:
    """The Rust tokenizer of an overlapping k-mer folder, fed each input as its k-mers laid end to end.

    Everything but encoding and decoding is the wrapped `tokenizers.Tokenizer`'s own (attributes read and set
    through), so transformers, `save_pretrained` and code calling `backend_tokenizer.encode_batch` all work.
    """

    def __init__(self, inner, k):
        object.__setattr__(self, "_inner", inner)
        object.__setattr__(self, "k", k)

    def __getattr__(self, name):
        if name == "_inner":
            raise AttributeError(name)
        return getattr(self._inner, name)

    def __setattr__(self, name, value):
        setattr(self._inner, name, value)

    def __reduce__(self):
        return OverlappingBackend, (self._inner, self.k)

    def _expand(self, item, is_pretokenized):
        if is_pretokenized:
            return [laid_end_to_end(word, self.k) for word in item]
        if isinstance(item, (tuple, list)):
            return tuple(laid_end_to_end(text, self.k) for text in item)
        return laid_end_to_end(item, self.k)

    def encode(self, sequence, pair=None, is_pretokenized=False, add_special_tokens=True):
        encoding = self._inner.encode(self._expand(sequence, is_pretokenized),
                                      None if pair is None else self._expand(pair, is_pretokenized),
                                      is_pretokenized=is_pretokenized, add_special_tokens=add_special_tokens)
        return RemappedEncoding(encoding, self.k)

    def encode_batch(self, inputs, is_pretokenized=False, add_special_tokens=True):
        expanded = [self._expand(item, is_pretokenized) for item in inputs]
        encodings = self._inner.encode_batch(expanded, is_pretokenized=is_pretokenized,
                                             add_special_tokens=add_special_tokens)
        return [RemappedEncoding(e, self.k) for e in encodings]

    encode_batch_fast = encode_batch

    def decode(self, ids, skip_special_tokens=True):
        """The sequence the k-mers cover; a base no known k-mer covers ([UNK], [MASK]) is N."""
        k = self.k
        dropped = {self._inner.token_to_id(t) for t in ("[CLS]", "[SEP]", "[PAD]")}
        tokens = [self._inner.id_to_token(int(i)) for i in ids if int(i) not in dropped]
        if not tokens:
            return ""
        bases = ["N"] * (len(tokens) + k - 1)
        for i, token in enumerate(tokens):
            if token is not None and token not in SPECIALS:
                bases[i:i + len(token)] = token
        return "".join(bases)

    def decode_batch(self, sequences, skip_special_tokens=True):
        return [self.decode(ids, skip_special_tokens) for ids in sequences]
