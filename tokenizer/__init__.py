"""DNA text handling, FASTA reading, BPE and k-mer tokenizers (Hugging Face `tokenizers`).

- `dna`: `upper`, `acgt_runs`, `acgt_spans`, `reverse_complement` (IUPAC).
- `fasta`: `read_fasta(paths)` and `read_fasta_chunks(paths)`, streaming plain, gzip or bgzip FASTA.
- `bpe`: training a BPE vocabulary on DNA fragments, laid out like the DNABERT-2 release.
- `kmer`: overlapping (DNABERT) and non-overlapping (Nucleotide Transformer) k-mer tokenizers.
- `load_tokenizer(path)`: a `transformers.PreTrainedTokenizerFast` that upper-cases its input (BPE or k-mer).
"""
from .dna import acgt_runs, acgt_spans, reverse_complement, upper
from .fasta import read_fasta, read_fasta_chunks
from .loading import load_tokenizer

__all__ = ["acgt_runs", "acgt_spans", "load_tokenizer", "read_fasta", "read_fasta_chunks", "reverse_complement",
           "upper"]
