"""The DNABERT-2 encoder in plain PyTorch on the transformers base classes."""
