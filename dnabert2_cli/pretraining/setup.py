"""Set-up for `pretrain`, all done before any data is read or anything is written.

The tokenizer (from --tokenizer, --init or --corpus), the model (a preset or config file, or --init), the run's
fingerprint, and the output folder: a fresh start, a resume of the same run (its `run.json` must match), or a
refusal.
"""
import json
from pathlib import Path

from dnabert2.common.files import check_new_output, read_json_object
from dnabert2.common.hf import quiet_transformers
from dnabert2.common.models import load_config, load_model
from dnabert2.errors import InputError, located
from dnabert2.pretraining import checkpoints as ckpt

RUN_FILE = "run.json"
# run.json key -> the settings field it records. A key keeps its name when its option is renamed, so that the runs
# made before still resume: --eval-fraction is --heldout-fraction now, run.json still says eval_fraction.
FINGERPRINT_FIELDS = {"seed": "seed", "max_tokens": "max_tokens", "mlm_probability": "mlm_probability",
                      "mask_fraction": "mask_fraction", "random_fraction": "random_fraction",
                      "eval_fraction": "heldout_fraction"}


def tokenizer_source(options):
    """Where the run's tokenizer comes from: --tokenizer, --init or --corpus (in that order), else the released
    DNABERT-2 tokenizer, which the shipped pretrained model folder carries."""
    from dnabert2.shipped import model_path

    return options.tokenizer or options.init or options.corpus or str(model_path("pretrained"))


def load_tokenizer_for(options):
    """The tokenizer of `tokenizer_source(options)`; it must suit the corpus, if any."""
    from dnabert2.pretraining.corpus import read_corpus_meta, vocab_fingerprint
    from dnabert2.tokenizer import load_tokenizer

    source = tokenizer_source(options)
    tokenizer = load_tokenizer(source)
    if tokenizer.mask_token_id is None or tokenizer.pad_token_id is None:
        raise InputError(located(source, "the tokenizer needs [MASK] and [PAD] tokens for masked-LM pretraining"))
    if options.corpus is not None:
        meta = read_corpus_meta(options.corpus)
        if meta["vocab"] != vocab_fingerprint(tokenizer):
            raise InputError(located(options.corpus,
                                     f"the corpus was tokenised with another vocabulary than {source}"))
        if meta["max_tokens"] < options.max_tokens:
            raise InputError(located(options.corpus, f"rows hold {meta['max_tokens']} tokens, fewer than "
                                                     f"--max-tokens {options.max_tokens}"))
    return tokenizer


def build_model(options, tokenizer):
    """(model, config): a fresh model from --model-config, or the masked-LM model of --init."""
    import torch

    from dnabert2.model import DNABert2ForMaskedLM

    if options.init is not None:
        with quiet_transformers():
            model, _ = load_model(options.init, task="masked-lm", device="cpu", dtype="fp32")
        if model.config.vocab_size != len(tokenizer):
            raise InputError(located(options.init, f"the model's vocab_size {model.config.vocab_size} differs from "
                                                   f"the tokenizer's {len(tokenizer)} tokens"))
        return model, model.config
    config = load_config(options.model_config, tokenizer)
    torch.manual_seed(options.seed)
    return DNABert2ForMaskedLM(config), config


def set_up_line(options, tokenizer, model, device, dtype):
    """One line saying what the run trains: data, tokenizer, model, device and precision, output folder."""
    from dnabert2.common.runtime import precision_name

    if options.genomes:
        data = f"{len(options.genomes)} genome file{'s' if len(options.genomes) > 1 else ''}"
    elif options.tables:
        data = f"{len(options.tables)} table{'s' if len(options.tables) > 1 else ''}"
    else:
        data = f"the corpus {options.corpus}"
    given = options.tokenizer or options.init or options.corpus
    tok = f"tokenizer {given}" if given else "the released DNABERT-2 tokenizer"
    arch = f"--init {options.init}" if options.init else (options.model_config or "dnabert2-117m")
    params = sum(p.numel() for p in model.parameters())
    return (f"pretrain: {data}; {tok} ({len(tokenizer):,} tokens); model {arch} ({params / 1e6:.1f}M parameters); "
            f"{options.max_steps:,} steps of {options.batch_size * options.grad_accum} x {options.max_tokens} tokens "
            f"on {device} ({precision_name(dtype)}); output {options.output}")


def run_fingerprint(options, config, tokenizer, world):
    """The settings that must be the same for --resume to continue a run exactly."""
    from dnabert2.pretraining.corpus import vocab_fingerprint

    cfg = {k: v for k, v in config.to_dict().items() if k not in ("transformers_version", "architectures",
                                                                 "_name_or_path", "torch_dtype", "dtype")}
    return json.loads(json.dumps({
        **{key: getattr(options, name) for key, name in FINGERPRINT_FIELDS.items()},
        "global_batch": options.global_batch(world),
        "data": _data_fingerprint(options),
        "vocab": vocab_fingerprint(tokenizer),
        "model": cfg,
    }))


def _data_fingerprint(options):
    if options.genomes:
        return {"genomes": [str(Path(g).resolve()) for g in options.genomes], "weights": options.genome_weights}
    if options.tables:
        return {"tables": [str(Path(t).resolve()) for t in options.tables]}
    return {"corpus": str(Path(options.corpus).resolve())}


def check_output(out, resume, force, fingerprint):
    """Decide between a fresh start and a resume; refuse folders holding something else. Returns checkpoint."""
    out = Path(out)
    if not out.exists():
        check_new_output(out, force)
        return None
    if not out.is_dir():
        raise InputError(f"{out}: exists and is not a folder")
    run_file = out / RUN_FILE
    latest = ckpt.latest_checkpoint(out)
    if force and not resume:
        return None
    if not run_file.is_file():
        if any(out.iterdir()) and not force:
            raise InputError(f"{out}: output folder exists and is not a pretraining run (use --force to replace it)")
        return None
    if not resume:
        raise InputError(f"{out}: holds a pretraining run" + (f" with checkpoints up to step {latest[0]}"
                                                              if latest else "")
                         + "; use --resume to continue it or --force to start over")
    previous = read_json_object(run_file, "pretraining run file")
    differs = sorted(k for k in set(previous) | set(fingerprint) if previous.get(k) != fingerprint.get(k))
    if differs and force:
        return None
    if differs:
        raise InputError(f"{out}: holds checkpoints of another run (it differs in: {', '.join(differs)}); "
                         "use a new output folder, or --force to start over")
    return latest
