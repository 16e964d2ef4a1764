"""`dnabert2 vocab`: parse options, call `dnabert2.train_vocab`, print a short summary."""
import click

from dnabert2.commands import options
from dnabert2.vocab import (DEFAULT_FRAGMENT_LENGTH, DEFAULT_HELDOUT_FRACTION, DEFAULT_MAX_BASES, DEFAULT_MIN_RUN_LENGTH,
                     DEFAULT_SIZE)


@click.command("vocab")
@click.argument("genomes", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=str))
@click.option("--output", "-o", type=click.Path(file_okay=False, path_type=str), default=None,
              help="Tokenizer folder to write (must not exist unless --force)  [default: bpe_SIZE (kmer_K with "
                   "--kmer) in the current folder]")
@click.option("--size", type=int, default=DEFAULT_SIZE, show_default=True,
              help="Vocabulary size, counting the 5 special tokens and A, C, G, T (at least 9).")
@click.option("--max-bases", type=int, default=DEFAULT_MAX_BASES, show_default=True,
              help="Train on a random sample of at most this many bases (memory stays bounded).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the sampling.")
@click.option("--min-frequency", type=int, default=2, show_default=True,
              help="Make a merge only when its pair is seen at least this often.")
@click.option("--max-token-length", type=int, default=None, help="Longest token in nt (default: no limit).")
@click.option("--fragment-length", type=int, default=DEFAULT_FRAGMENT_LENGTH, show_default=True,
              help="Cut A/C/G/T runs into fragments of at most this many bp before training.")
@click.option("--min-run-length", type=int, default=DEFAULT_MIN_RUN_LENGTH, show_default=True,
              help="Drop A/C/G/T runs (between N and other codes) shorter than this.")
@click.option("--heldout-fraction", type=float, default=DEFAULT_HELDOUT_FRACTION, show_default=True,
              help="Fraction of fragments (at most 1 Mbp) held out to measure nt per token.")
@click.option("--kmer", type=int, default=None,
              help="Write a K-mer tokenizer (all 4^K k-mers) instead of learning BPE; --size is unused.")
@click.option("--kmer-stride", type=int, default=1, show_default=True,
              help="With --kmer: 1 overlapping (DNABERT), K non-overlapping (Nucleotide Transformer).")
@options.force_option()
@options.threads_option
@options.common_options
def command(genomes, output, size, max_bases, seed, min_frequency, max_token_length, fragment_length,
            min_run_length, heldout_fraction, kmer, kmer_stride, force, threads, verbose, quiet):
    """Learn a BPE vocabulary (tokenizer folder) from FASTA genomes.

    GENOME files may be plain, gzip or bgzip FASTA. Sequence is upper-cased and split at everything that is
    not A/C/G/T (N, IUPAC codes, gaps), so no token holds such a letter. Writes tokenizer.json,
    tokenizer_config.json, special_tokens_map.json (ids as the DNABERT-2 release: [UNK]=0 [CLS]=1 [SEP]=2
    [PAD]=3 [MASK]=4, A=5 C=6 G=7 T=8, then merges) and vocab_stats.json. The same input, size and seed give a
    byte-identical tokenizer.json.

    Without -o the folder is bpe_SIZE in the current folder (bpe_4096); the summary names it and the
    `dnabert2 pretrain` command that uses it.

    \b
    Example:
      dnabert2 vocab genomes/*.fa --size 4096
      dnabert2 vocab genome.fa.gz --size 4096 -o my_tokenizer
      dnabert2 vocab genomes/*.fa.gz --max-bases 50000000 --seed 1 -o multi_species
      dnabert2 vocab genome.fa.gz --kmer 6 -o dnabert_6mer
    """
    from dnabert2.common.runtime import show_progress
    from dnabert2.vocab import train_vocab

    output = output or default_folder(size, kmer, kmer_stride)
    stats = train_vocab(genomes, output, size, max_bases=max_bases, seed=seed, min_frequency=min_frequency,
                        max_token_length=max_token_length, fragment_length=fragment_length,
                        min_run_length=min_run_length, heldout_fraction=heldout_fraction, threads=threads,
                        kmer=kmer, kmer_stride=kmer_stride,
                        force=force, progress=show_progress(quiet))
    if quiet:
        return
    _print_summary(stats, output, genomes)


def default_folder(size, kmer=None, kmer_stride=1):
    """bpe_SIZE, or kmer_K (kmer_K_strideS when the stride is not 1)."""
    if kmer is None:
        return f"bpe_{size}"
    return f"kmer_{kmer}" + (f"_stride{kmer_stride}" if kmer_stride != 1 else "")


def as_typed(paths):
    """The genome files as the user most likely typed them: `genomes/*.fa` when that glob names exactly them."""
    import glob
    import os
    import shlex

    paths = list(paths)
    folders = {os.path.dirname(p) for p in paths}
    suffixes = {p[p.rfind("."):] if "." in os.path.basename(p) else "" for p in paths}
    if len(paths) > 1 and len(folders) == 1 and len(suffixes) == 1 and suffixes != {""}:
        pattern = os.path.join(folders.pop(), "*" + suffixes.pop())
        if sorted(glob.glob(pattern)) == sorted(paths):
            return pattern
    return shlex.join(paths)


def _print_summary(stats, output, genomes):
    import shlex

    nt_per_token = stats["heldout_nt_per_token"]
    compression = (f"{nt_per_token:.2f} nt/token on {stats['heldout_bases']:,} bp held out"
                   if nt_per_token is not None else "no held-out sequence (input too small)")
    click.echo(f"{stats['vocab_size']} tokens (longest {stats['max_token_length_nt']} nt, mean "
               f"{stats['mean_token_length_nt']:.2f} nt) from {stats['bases_used']:,} of {stats['bases_read']:,} bp "
               f"read ({stats['fragments_used']:,} fragments); {compression}; {stats['seconds']:.1f} s", err=True)
    click.echo(f"Wrote {output}/ (tokenizer.json, vocab_stats.json)", err=True)
    click.echo(f"Next: dnabert2 pretrain {as_typed(genomes)} --tokenizer {shlex.quote(str(output))}", err=True)
