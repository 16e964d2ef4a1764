"""Tokenising windows, and the tokens a variant changes.

BPE cuts a sequence as a whole, so one SNV can re-cut its neighbourhood: the tokens that differ between the REF and
the ALT tokenisation are found by comparing the two, not from the variant's position alone. A token is shared when
it lies wholly in the bases both windows have in common before the change (same id, same offsets) or wholly in
those after it (same id, offsets shifted by the length change). The changed tokens of a window are those from its
first to its last token that is not shared, plus `flank` neighbours on each side.
"""
from dataclasses import dataclass

import numpy as np


@dataclass
class Tokenised:
    """One window tokenised: ids [n + 2] with [CLS] first and [SEP] last, char offsets [n, 2] of the n real tokens."""
    ids: np.ndarray
    offsets: np.ndarray
    unknown: int  # [UNK] tokens among the real ones

    @property
    def n(self):
        return len(self.offsets)


def tokenise(tokenizer, sequences):
    """[Tokenised] of upper-case sequences, tokenised together."""
    encoding = tokenizer(list(sequences), add_special_tokens=True, return_attention_mask=False,
                         return_offsets_mapping=True)
    out = []
    for ids, offsets in zip(encoding["input_ids"], encoding["offset_mapping"]):
        ids = np.asarray(ids, dtype=np.int64)
        offsets = np.asarray(offsets[1:-1], dtype=np.int64).reshape(-1, 2)  # [n, 2] without [CLS] and [SEP]
        out.append(Tokenised(ids, offsets, int(np.count_nonzero(ids[1:-1] == tokenizer.unk_token_id))))
    return out


def common_ends(ref, alt):
    """(prefix, suffix): bases the two sequences share at their start and, after those, at their end."""
    shortest = min(len(ref), len(alt))
    prefix = 0
    while prefix < shortest and ref[prefix] == alt[prefix]:
        prefix += 1
    suffix = 0
    while suffix < shortest - prefix and ref[-1 - suffix] == alt[-1 - suffix]:
        suffix += 1
    return prefix, suffix


def changed_tokens(ref_seq, alt_seq, ref_tok, alt_tok, flank):
    """((lo, hi) of REF, (lo, hi) of ALT): the changed real tokens of each window (see the module docstring)."""
    prefix, suffix = common_ends(ref_seq, alt_seq)
    shift = len(alt_seq) - len(ref_seq)
    alt_tokens = {(int(a), int(b)): int(i) for (a, b), i in zip(alt_tok.offsets, alt_tok.ids[1:-1])}
    shared_ref, shared_alt = set(), set()
    after = len(ref_seq) - suffix  # REF bases from here on are the shared suffix
    for k, ((a, b), token) in enumerate(zip(ref_tok.offsets, ref_tok.ids[1:-1])):
        a, b = int(a), int(b)
        if b <= prefix:
            partner = (a, b)
        elif a >= after:
            partner = (a + shift, b + shift)
        else:
            continue
        if alt_tokens.get(partner) == int(token):
            shared_ref.add(k)
            shared_alt.add(partner)
    alt_shared = {k for k, (a, b) in enumerate(alt_tok.offsets) if (int(a), int(b)) in shared_alt}
    return (_span(ref_tok, shared_ref, prefix, flank), _span(alt_tok, alt_shared, prefix, flank))


def _span(tok, shared, prefix, flank):
    """(lo, hi): from the first to the last token not in `shared`, widened by `flank` tokens on each side; an
    empty span sits where the change is (after the tokens that end within the shared prefix)."""
    changed = [k for k in range(tok.n) if k not in shared]
    if changed:
        lo, hi = changed[0], changed[-1] + 1
    else:
        lo = hi = int(np.count_nonzero(tok.offsets[:, 1] <= prefix)) if tok.n else 0
    return max(0, lo - flank), min(tok.n, hi + flank)
