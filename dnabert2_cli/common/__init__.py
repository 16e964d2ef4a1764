"""Plumbing every stage shares, each piece written once: atomic output files (`files`), device, precision and
torchrun set-up (`runtime`), quieting transformers and peft (`hf`), padding and batching token rows
(`batching`), the optimiser and schedule (`optim`), and loading model folders (`models`)."""
