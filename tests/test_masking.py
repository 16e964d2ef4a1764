"""Masking for MLM pretraining: rates, 80/10/10 split, special and padding tokens never touched."""
import numpy as np
import pytest

from dnabert2.pretraining.masking import IGNORE_INDEX, MaskingConfig, mask_tokens

SPECIALS = (0, 1, 2, 3, 4)  # [UNK] [CLS] [SEP] [PAD] [MASK], as in the released tokenizer
VOCAB = 4096


def _batch(rows=400, length=128, seed=1):
    """[CLS] tokens... [SEP] [PAD]...; real lengths vary per row so padding is plentiful."""
    rng = np.random.default_rng(seed)
    ids = np.full((rows, length), 3, dtype=np.int64)
    for r in range(rows):
        n = int(rng.integers(10, length - 1))
        ids[r, 0] = 1
        ids[r, 1:n + 1] = rng.integers(5, VOCAB, size=n)
        ids[r, n + 1] = 2
    return ids


def _config(**kw):
    return MaskingConfig(mask_token_id=4, special_ids=SPECIALS, vocab_size=VOCAB, **kw)


def test_fifteen_percent_of_real_tokens_are_chosen():
    ids = _batch()
    masked, labels = mask_tokens(ids, _config(), np.random.default_rng(0))
    real = ids >= 5
    chosen = labels != IGNORE_INDEX
    rate = chosen[real].mean()
    n = real.sum()
    # binomial standard deviation ~ sqrt(p(1-p)/n) ~ 0.0023 here; allow 4 of them
    assert abs(rate - 0.15) < 4 * np.sqrt(0.15 * 0.85 / n)
    assert np.array_equal(labels[chosen], ids[chosen])


def test_special_and_padding_tokens_never_masked():
    ids = _batch()
    for seed in range(5):
        masked, labels = mask_tokens(ids, _config(mlm_probability=0.9), np.random.default_rng(seed))
        special = np.isin(ids, SPECIALS)
        assert (labels[special] == IGNORE_INDEX).all()
        assert np.array_equal(masked[special], ids[special])
        # unchosen real tokens are left alone as well
        untouched = ~special & (labels == IGNORE_INDEX)
        assert np.array_equal(masked[untouched], ids[untouched])


def test_eighty_ten_ten_split():
    ids = _batch(rows=800)
    masked, labels = mask_tokens(ids, _config(), np.random.default_rng(3))
    chosen = labels != IGNORE_INDEX
    n = chosen.sum()
    as_mask = (masked[chosen] == 4).mean()
    kept = (masked[chosen] == ids[chosen]).mean()
    randomised = 1 - as_mask - kept
    tol = lambda p: 4 * np.sqrt(p * (1 - p) / n)  # noqa: E731
    assert abs(as_mask - 0.8) < tol(0.8)
    assert abs(kept - 0.1) < tol(0.1)
    assert abs(randomised - 0.1) < tol(0.1)
    # random replacements are ordinary tokens, never special ones
    replaced = chosen & (masked != 4) & (masked != ids)
    assert (masked[replaced] >= 5).all() and (masked[replaced] < VOCAB).all()


def test_split_is_configurable():
    ids = _batch()
    masked, labels = mask_tokens(ids, _config(mask_fraction=0.0, random_fraction=1.0), np.random.default_rng(4))
    chosen = labels != IGNORE_INDEX
    assert not (masked == 4).any()
    # every chosen token is replaced (a replacement equal to the original has chance 1/4091 per token)
    assert (masked[chosen] != ids[chosen]).mean() > 0.99
    masked, labels = mask_tokens(ids, _config(mask_fraction=1.0, random_fraction=0.0), np.random.default_rng(4))
    chosen = labels != IGNORE_INDEX
    assert (masked[chosen] == 4).all()


def test_tokens_are_chosen_independently():
    """Per-row counts spread like a binomial (not a fixed 15% per row)."""
    ids = np.full((2000, 100), 7, dtype=np.int64)
    _, labels = mask_tokens(ids, _config(), np.random.default_rng(5))
    counts = (labels != IGNORE_INDEX).sum(axis=1)
    assert abs(counts.mean() - 15) < 0.5
    assert abs(counts.var() - 100 * 0.15 * 0.85) < 2.0


def test_same_generator_seed_same_masking():
    ids = _batch(rows=20)
    a = mask_tokens(ids, _config(), np.random.default_rng(9))
    b = mask_tokens(ids, _config(), np.random.default_rng(9))
    c = mask_tokens(ids, _config(), np.random.default_rng(10))
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert not np.array_equal(a[1], c[1])


def test_settings_from_the_released_tokenizer(reference_tokenizer_dir):
    from transformers import PreTrainedTokenizerFast

    tok = PreTrainedTokenizerFast.from_pretrained(str(reference_tokenizer_dir))
    config = MaskingConfig.from_tokenizer(tok)
    assert config.mask_token_id == 4
    assert set(config.special_ids) == {0, 1, 2, 3, 4}
    assert config.vocab_size == 4096
    assert config.ordinary_ids()[0] == 5 and len(config.ordinary_ids()) == 4091


@pytest.mark.parametrize("kw, text", [
    ({"mlm_probability": 0.0}, "mlm_probability (0.0)"),
    ({"mlm_probability": 1.5}, "mlm_probability (1.5)"),
    ({"mask_fraction": 0.8, "random_fraction": 0.3}, "sum to at most 1"),
    ({"mask_fraction": -0.1}, "non-negative"),
])
def test_bad_settings_are_refused(kw, text):
    with pytest.raises(ValueError, match=text.replace("(", r"\(").replace(")", r"\)")):
        _config(**kw)
