"""Keeping transformers and peft quiet inside our commands, which have their own progress bars and --quiet."""
import contextlib


@contextlib.contextmanager
def quiet_transformers(logs=False):
    """No progress bars from transformers inside the block; with `logs`, only its errors are logged too (e.g. no
    load report about a pooler a masked-LM folder lacks, where the caller knows it is not needed)."""
    from transformers.utils import logging as hf_logging

    verbosity, bars = hf_logging.get_verbosity(), hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    if logs:
        hf_logging.set_verbosity_error()
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()


@contextlib.contextmanager
def no_peft_future_warnings():
    """peft asks transformers about gradient checkpointing through a name transformers has deprecated."""
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
        yield
