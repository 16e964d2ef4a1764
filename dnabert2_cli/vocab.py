"""`train_vocab`: a DNABERT-2 BPE vocabulary (tokenizer folder) from FASTA genomes, or a k-mer tokenizer folder.

The pipeline streams the files once: FASTA chunks -> upper-cased A/C/G/T runs -> fragments of bounded length ->
a seeded random split into a held-out sample and a training sample, each kept within its budget in bases (so a
3 Gbp genome set trains in the memory of `max_bases`). BPE is then trained on the training sample, the held-out
sample measures compression (nt per token), and the folder is written atomically.
"""
import collections
import json
import logging
import random
import time
from pathlib import Path

from dnabert2.common.files import check_new_output, output_dir
from dnabert2.errors import InputError, located

log = logging.getLogger(__name__)

DEFAULT_SIZE = 4096
DEFAULT_MAX_BASES = 20_000_000
DEFAULT_FRAGMENT_LENGTH = 1000
DEFAULT_MIN_RUN_LENGTH = 20
DEFAULT_HELDOUT_FRACTION = 0.02
HELDOUT_MAX_BASES = 1_000_000  # the held-out sample never holds more than this


def _check_options(genomes, size, max_bases, min_frequency, max_token_length, fragment_length, min_run_length,
                   heldout_fraction):
    from dnabert2.tokenizer.bpe import MIN_SIZE
    from dnabert2.tokenizer.corpus import check_fragmenting

    if isinstance(genomes, (str, Path)):
        genomes = [genomes]
    paths = [Path(g) for g in genomes]
    if not paths:
        raise InputError("no genome given: name one or more FASTA files")
    if size < MIN_SIZE:
        raise InputError(f"--size {size}: must be at least {MIN_SIZE} (5 special tokens and the bases A, C, G, T)")
    if max_bases < 1:
        raise InputError(f"--max-bases {max_bases}: must be at least 1")
    if min_frequency < 0:
        raise InputError(f"--min-frequency {min_frequency}: must not be negative")
    if max_token_length is not None and max_token_length < 1:
        raise InputError(f"--max-token-length {max_token_length}: must be at least 1")
    check_fragmenting(fragment_length, min_run_length)
    if not 0 <= heldout_fraction < 1:
        raise InputError(f"--heldout-fraction {heldout_fraction}: must be at least 0 and below 1")
    return paths


def _counted_chunks(paths, per_file, progress):
    """FASTA chunks `(path, chunk, first)`, upper-cased, counting records, letters and A/C/G/T per file."""
    from tqdm import tqdm

    from dnabert2.tokenizer.fasta import read_fasta_chunks

    with tqdm(total=None, unit="bp", unit_scale=True, desc="reading", disable=not progress, leave=False) as bar:
        for path, _, chunk, first in read_fasta_chunks(paths, with_path=True):
            chunk = chunk.upper()
            counts = per_file[path]
            counts["records"] += first
            counts["bases"] += len(chunk)
            counts["acgt_bases"] += sum(chunk.count(base) for base in "ACGT")
            bar.update(len(chunk))
            yield path, chunk, first


def sample_corpus(paths, max_bases, seed, fragment_length, min_run_length, heldout_fraction, progress=False):
    """Stream the files into (training fragments, held-out fragments, counts); see the module docstring."""
    from dnabert2.tokenizer.corpus import BudgetSample, fragments

    per_file = {path: collections.Counter() for path in paths}
    rng = random.Random(seed)
    train = BudgetSample(max_bases)
    heldout = BudgetSample(HELDOUT_MAX_BASES if heldout_fraction > 0 else 0)
    n_fragments = fragment_bases = drawn_for_training = 0
    stream = _counted_chunks(paths, per_file, progress)
    for index, (_, piece) in enumerate(fragments(stream, fragment_length, min_run_length)):
        n_fragments += 1
        fragment_bases += len(piece)
        # two draws per fragment whatever happens to it, so the sample depends only on the input and the seed
        held, priority = rng.random() < heldout_fraction, rng.random()
        (heldout if held else train).add(priority, index, piece)
        drawn_for_training += not held
    for path, counts in per_file.items():
        if counts["acgt_bases"] == 0:
            raise InputError(located(path, "no A/C/G/T bases (only N or other codes): nothing to learn from"))
    train, heldout = train.items(), heldout.items()
    if not drawn_for_training and heldout:  # so few fragments that all were held out: train on them instead
        train, heldout = heldout, []
    if not train and fragment_bases:
        raise InputError(f"--max-bases {max_bases}: smaller than every fragment (up to --fragment-length "
                         f"{fragment_length} bp); raise it")
    if not train:
        raise InputError(f"{', '.join(map(str, paths))}: no run of A/C/G/T at least {min_run_length} bp long "
                         "(lower --min-run-length)")
    counts = {"files": [{"path": str(p), **{k: c[k] for k in ("records", "bases", "acgt_bases")}}
                        for p, c in per_file.items()],
              "fragments": n_fragments, "fragment_bases": fragment_bases}
    return train, heldout, counts


def _check_kmer(kmer, stride, size, max_token_length):
    """InputError for --kmer-stride without --kmer, or a BPE option with it: either would be ignored."""
    from dnabert2.tokenizer.kmer import check_kmer

    if kmer is None:
        if stride != 1:
            raise InputError(f"--kmer-stride {stride}: applies only to a k-mer tokenizer; give --kmer K with it (a BPE "
                             f"vocabulary has no stride)")
        return
    try:
        check_kmer(kmer, stride)
    except ValueError as e:
        raise InputError(f"--kmer {kmer} --kmer-stride {stride}: {e}") from None
    for option, value, default in (("--size", size, DEFAULT_SIZE), ("--max-token-length", max_token_length, None)):
        if value != default:
            raise InputError(f"{option} {value}: applies to learning BPE, not to --kmer {kmer} (nothing is learnt: "
                             f"the vocabulary is every {kmer}-mer); leave {option} out")


def _kmer_tokenizer(kmer, stride):
    """(the k-mer tokenizers.Tokenizer, what counts its tokens: the overlapping wrapper where there is one)."""
    from dnabert2.tokenizer.kmer import OverlappingBackend, build_kmer_tokenizer

    tok = build_kmer_tokenizer(kmer, stride)
    return tok, (OverlappingBackend(tok, kmer) if stride == 1 and kmer > 1 else tok)


def _token_stats(tok):
    from dnabert2.tokenizer.bpe import MIN_SIZE, SPECIALS

    lengths = [len(token) for token in tok.get_vocab() if token not in SPECIALS]
    histogram = collections.Counter(lengths)
    is_bpe = json.loads(tok.to_str())["model"]["type"] == "BPE"
    return {
        "vocab_size": tok.get_vocab_size(),
        "merges": tok.get_vocab_size() - MIN_SIZE if is_bpe else None,
        "mean_token_length_nt": round(sum(lengths) / len(lengths), 4),
        "max_token_length_nt": max(lengths),
        "token_length_histogram": {str(k): histogram[k] for k in sorted(histogram)},
    }


def train_vocab(genomes, output, size=DEFAULT_SIZE, *, max_bases=DEFAULT_MAX_BASES, seed=0, min_frequency=2,
                max_token_length=None, fragment_length=DEFAULT_FRAGMENT_LENGTH,
                min_run_length=DEFAULT_MIN_RUN_LENGTH, heldout_fraction=DEFAULT_HELDOUT_FRACTION, threads=None,
                kmer=None, kmer_stride=1, force=False, progress=False):
    """Learn a BPE vocabulary of exactly `size` tokens from FASTA files and write a tokenizer folder to `output`.

    `genomes`: one path or a list (plain, gzip or bgzip FASTA). Sequence is upper-cased and split at everything
    that is not A/C/G/T; runs shorter than `min_run_length` are dropped, the rest cut into fragments of at most
    `fragment_length`. A random `heldout_fraction` of the fragments (at most 1 Mbp) is held out to measure nt per
    token; at most `max_bases` of the others, sampled reproducibly with `seed`, train the BPE model. Merges seen
    fewer than `min_frequency` times are not made; `max_token_length` caps the token length in nt.
    The folder holds `tokenizer.json`, `tokenizer_config.json`, `special_tokens_map.json` and `vocab_stats.json`;
    the stats are also returned (with `output` and `seconds`). Raises InputError for bad input or options.
    `kmer` K makes a k-mer tokenizer instead (`kmer_stride` 1: overlapping, K: non-overlapping; see
    `dnabert2.tokenizer.kmer`): nothing is learnt, so a `size` other than its default or a `max_token_length` is
    refused (as is a `kmer_stride` without `kmer`); the genomes give the held-out statistics.
    """
    from dnabert2.tokenizer.bpe import MergesRanOut, encoded_length, save_tokenizer_folder, train_bpe
    from dnabert2.tokenizer.fasta import check_fasta

    start = time.perf_counter()
    _check_kmer(kmer, kmer_stride, size, max_token_length)
    paths = _check_options(genomes, size, max_bases, min_frequency, max_token_length, fragment_length,
                           min_run_length, heldout_fraction)
    check_new_output(output, force)
    for path in paths:
        check_fasta(path)

    train, heldout, counts = sample_corpus(paths, max_bases, seed, fragment_length, min_run_length,
                                           heldout_fraction, progress)
    bases_used = sum(map(len, train))
    if kmer is not None:
        tok, counting = _kmer_tokenizer(kmer, kmer_stride)
        bases_used = 0
    else:
        log.info("training BPE on %d fragments (%d bp); %d fragments held out", len(train), bases_used,
                 len(heldout))
        try:
            tok = counting = train_bpe(train, size, min_frequency, max_token_length, threads, progress)
        except MergesRanOut as e:
            raise InputError(f"--size {size}: only {e.learned} tokens could be learned from {bases_used:,} bp of "
                             f"{', '.join(map(str, paths))} (no pair left seen at least --min-frequency "
                             f"{min_frequency} times); give more sequence or lower --size or --min-frequency"
                             ) from None
    heldout_bases = sum(map(len, heldout))
    heldout_tokens = encoded_length(counting, heldout) if heldout else 0
    stats = {
        **counts,
        "bases_read": sum(f["bases"] for f in counts["files"]),
        "acgt_bases": sum(f["acgt_bases"] for f in counts["files"]),
        "bases_used": bases_used,
        "fragments_used": len(train),
        "heldout_bases": heldout_bases,
        "heldout_fragments": len(heldout),
        "heldout_nt_per_token": round(heldout_bases / heldout_tokens, 4) if heldout_tokens else None,
        **_token_stats(tok),
        "tokenizer": "bpe" if kmer is None else ("kmer" if kmer_stride == 1 and kmer > 1 else "kmer_non_overlapping"),
        "options": {"size": None if kmer is not None else size, "kmer": kmer,
                    "kmer_stride": kmer_stride if kmer is not None else None, "max_bases": max_bases, "seed": seed,
                    "min_frequency": min_frequency,
                    "max_token_length": max_token_length, "fragment_length": fragment_length,
                    "min_run_length": min_run_length, "heldout_fraction": heldout_fraction},
    }
    with output_dir(output, force) as tmp:
        save_tokenizer_folder(tok, tmp)
        (tmp / "vocab_stats.json").write_text(json.dumps(stats, indent=2) + "\n")
    return {**stats, "output": str(output), "seconds": round(time.perf_counter() - start, 2)}
