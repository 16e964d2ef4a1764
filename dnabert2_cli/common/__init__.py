"""Plumbing every stage shares, each piece written once: atomic output files (`files`), the output file of a
resumable run (`outputs`), device, precision and torchrun set-up (`runtime`), quieting transformers and peft (`hf`),
padding and batching token rows (`batching`), the optimiser and schedule (`optim`), loading model folders and new
model configs (`models`), and reading labelled tables (`tables`). No stage is imported here (tests/test_doors.py)."""
