"""The random model the benchmarks time: a DNABERT-2 masked-LM of a preset's shape (speed does not depend on the
weights) with the released tokenizer, written as a model folder. Imported by the bench scripts (run from bench/)."""
import os
from pathlib import Path

SHARED = Path(os.environ.get("DNABERT2_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


def random_model(folder, preset):
    """A model folder at `folder`: preset `preset` ("tiny", "small", "dnabert2-117m"), seed 0; returns the folder."""
    import torch

    from dnabert2.model import DNABert2Config, DNABert2ForMaskedLM
    from dnabert2.tokenizer import load_tokenizer

    torch.manual_seed(0)
    DNABert2ForMaskedLM(DNABert2Config.from_preset(preset)).save_pretrained(folder)
    load_tokenizer(SHARED / "reference_checkpoint").save_pretrained(folder)
    return folder
