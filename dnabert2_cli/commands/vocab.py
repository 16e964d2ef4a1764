"""`dnabert2 vocab`: parse options, call `dnabert2.train_vocab`, print a short summary."""
import click

from dnabert2.commands import options
from dnabert2.vocab import (DEFAULT_FRAGMENT_LENGTH, DEFAULT_HELDOUT_FRACTION, DEFAULT_MAX_BASES, DEFAULT_MIN_RUN_LENGTH,
                     DEFAULT_SIZE)


@click.command("vocab")
@click.argument("genomes", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=str))
@click.option("--output", "-o", required=True, type=click.Path(file_okay=False, path_type=str),
              help="Tokenizer folder to write (must not exist unless --force).")
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
@options.force_option()
@options.threads_option
@options.common_options
def command(genomes, output, size, max_bases, seed, min_frequency, max_token_length, fragment_length,
            min_run_length, heldout_fraction, force, threads, verbose, quiet):
    """Learn a BPE vocabulary (tokenizer folder) from FASTA genomes.

    GENOME files may be plain, gzip or bgzip FASTA. Sequence is upper-cased and split at everything that is
    not A/C/G/T (N, IUPAC codes, gaps), so no token holds such a letter. Writes tokenizer.json,
    tokenizer_config.json, special_tokens_map.json (ids as the DNABERT-2 release: [UNK]=0 [CLS]=1 [SEP]=2
    [PAD]=3 [MASK]=4, A=5 C=6 G=7 T=8, then merges) and vocab_stats.json. The same input, size and seed give a
    byte-identical tokenizer.json.

    \b
    Example:
      dnabert2 vocab genome.fa.gz --size 4096 -o my_tokenizer
      dnabert2 vocab genomes/*.fa.gz --max-bases 50000000 --seed 1 -o multi_species
    """
    from dnabert2.common.runtime import show_progress
    from dnabert2.vocab import train_vocab

    stats = train_vocab(genomes, output, size, max_bases=max_bases, seed=seed, min_frequency=min_frequency,
                        max_token_length=max_token_length, fragment_length=fragment_length,
                        min_run_length=min_run_length, heldout_fraction=heldout_fraction, threads=threads,
                        force=force, progress=show_progress(quiet))
    if quiet:
        return
    nt_per_token = stats["heldout_nt_per_token"]
    compression = (f"{nt_per_token:.2f} nt/token on {stats['heldout_bases']:,} bp held out"
                   if nt_per_token is not None else "no held-out sequence (input too small)")
    click.echo(f"{stats['vocab_size']} tokens (longest {stats['max_token_length_nt']} nt, mean "
               f"{stats['mean_token_length_nt']:.2f} nt) from {stats['bases_used']:,} of {stats['bases_read']:,} bp "
               f"read ({stats['fragments_used']:,} fragments); {compression}; {stats['seconds']:.1f} s", err=True)
    click.echo(f"Wrote {output}/ (tokenizer.json, vocab_stats.json)", err=True)
