"""`dnabert2 vocab`: parse options, call `dnabert2.train_vocab`, print a short summary."""
import click

from dnabert2.commands import options
from dnabert2.vocab import VocabSettings


@click.command("vocab", cls=options.GroupedCommand)
@click.argument("genomes", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=str))
@options.settings_options(VocabSettings)
@options.common_options
def command(genomes, verbose, quiet, **given):
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

    settings = options.settings_from(VocabSettings, given, progress=show_progress(quiet))
    settings.output = settings.output or default_folder(settings.size, settings.kmer, settings.kmer_stride)
    stats = train_vocab(genomes, settings=settings)
    if quiet:
        return
    _print_summary(stats, settings.output, genomes)


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
