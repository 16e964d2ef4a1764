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
from dataclasses import dataclass
from pathlib import Path

from dnabert2.common.fields import INPUTS, MODEL, OUTPUTS, RUN, internal, option, settings_of
from dnabert2.common.files import check_new_output, output_dir
from dnabert2.common.runtime import ThreadSettings
from dnabert2.errors import InputError, located

log = logging.getLogger(__name__)

DEFAULT_SIZE = 4096
DEFAULT_MAX_BASES = 20_000_000
DEFAULT_FRAGMENT_LENGTH = 1000
DEFAULT_MIN_RUN_LENGTH = 20
DEFAULT_HELDOUT_FRACTION = 0.02
HELDOUT_MAX_BASES = 1_000_000  # the held-out sample never holds more than this


@dataclass
class VocabSettings(ThreadSettings):
    """The options of `dnabert2 vocab` / `dnabert2.train_vocab`, each default and help written once."""
    output: str = option(None, "Tokenizer folder to write (must not exist unless --force)", group=OUTPUTS,
                         short="-o", path="dir",
                         default_text="bpe_SIZE (kmer_K with --kmer) in the current folder")
    size: int = option(DEFAULT_SIZE, "Vocabulary size, counting the 5 special tokens and A, C, G, T (at least 9).",
                       group=MODEL)
    min_frequency: int = option(2, "Make a merge only when its pair is seen at least this often.", group=MODEL)
    max_token_length: int = option(None, "Longest token in nt (default: no limit).", group=MODEL)
    kmer: int = option(None, "Write a K-mer tokenizer (all 4^K k-mers) instead of learning BPE (--size and "
                             "--max-token-length do not apply).", group=MODEL)
    kmer_stride: int = option(1, "With --kmer: 1 overlapping (DNABERT), K non-overlapping (Nucleotide "
                                 "Transformer).", group=MODEL)
    max_bases: int = option(DEFAULT_MAX_BASES, "Train on a random sample of at most this many bases (memory stays "
                                               "bounded).", group=INPUTS)
    seed: int = option(0, "Seed of the sampling.", group=INPUTS)
    fragment_length: int = option(DEFAULT_FRAGMENT_LENGTH, "Cut A/C/G/T runs into fragments of at most this many bp "
                                                           "before training.", group=INPUTS)
    min_run_length: int = option(DEFAULT_MIN_RUN_LENGTH, "Drop A/C/G/T runs (between N and other codes) shorter "
                                                         "than this.", group=INPUTS)
    heldout_fraction: float = option(DEFAULT_HELDOUT_FRACTION, "Fraction of fragments (at most 1 Mbp) held out to "
                                                               "measure nt per token.", group=INPUTS)
    force: bool = option(False, "Replace the output folder if it exists.", group=RUN)
    progress: bool = internal(False)  # draw progress bars


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
    for name, value, default in (("--size", size, DEFAULT_SIZE), ("--max-token-length", max_token_length, None)):
        if value != default:
            raise InputError(f"{name} {value}: applies to learning BPE, not to --kmer {kmer} (nothing is learnt: "
                             f"the vocabulary is every {kmer}-mer); leave {name} out")


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


def train_vocab(genomes, output=None, size=None, *, settings=None, **options):
    """Learn a BPE vocabulary of exactly `size` tokens from FASTA files and write a tokenizer folder to `output`.

    options are the fields of `VocabSettings`, the options of `dnabert2 vocab` (max_bases, seed, min_frequency,
    ..., kmer, threads, force, progress); or pass `settings`, a `VocabSettings`. `output` is required.
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

    s = settings_of(VocabSettings, settings, options, "train_vocab", output=output, size=size)
    if s.output is None:
        raise InputError("-o/--output: give the tokenizer folder to write")
    output, size, max_bases, seed, min_frequency = s.output, s.size, s.max_bases, s.seed, s.min_frequency
    max_token_length, fragment_length, min_run_length = s.max_token_length, s.fragment_length, s.min_run_length
    heldout_fraction, threads, kmer, kmer_stride = s.heldout_fraction, s.threads, s.kmer, s.kmer_stride
    force, progress = s.force, s.progress

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
