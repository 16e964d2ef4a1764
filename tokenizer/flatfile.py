"""GenBank and EMBL flat files (how NCBI and ENA ship genomes), read through Biopython's `Bio.SeqIO`.

`read_fasta` hands such files here when their first line says what they are (`LOCUS` for GenBank, `ID` for
EMBL), so `dnabert2 vocab`, `pretrain` and `embed --fasta` take an NCBI `*.gbff.gz` as it is downloaded. A record is
parsed whole (Biopython reads one record at a time), then handed on in pieces like a FASTA record.
"""
from ..errors import InputError, located

_FIRST_WORD = {b"LOCUS": "genbank", b"ID": "embl"}


def flatfile_format(first_line):
    """"genbank" or "embl" for the first line of such a file (bytes), else None."""
    words = first_line.split(None, 1)
    return _FIRST_WORD.get(words[0]) if words else None


def flatfile_chunks(path, form, chunk_size):
    """(name, chunk, first) for every record of a GenBank or EMBL file, as `fasta.read_fasta_chunks` yields them."""
    import io

    from Bio import SeqIO
    from Bio.Seq import UndefinedSequenceError

    from .fasta import open_binary

    with open_binary(path) as raw, io.TextIOWrapper(raw, encoding="utf-8", errors="replace") as text:
        try:
            for number, record in enumerate(SeqIO.parse(text, form), 1):
                try:
                    sequence = str(record.seq)
                except UndefinedSequenceError:
                    raise InputError(located(path, f"{form} record {number} ({record.id}) holds no sequence (an "
                                                   "annotation-only file; download the one with sequence)")) from None
                yield record.id, sequence[:chunk_size], True
                for start in range(chunk_size, len(sequence), chunk_size):
                    yield record.id, sequence[start:start + chunk_size], False
        except ValueError as e:  # Biopython's word for a malformed flat file
            raise InputError(located(path, f"not a readable {form} file ({e})")) from None
