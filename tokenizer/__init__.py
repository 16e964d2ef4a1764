"""DNA text handling, FASTA reading and BPE tokenizers (Hugging Face `tokenizers`)."""
