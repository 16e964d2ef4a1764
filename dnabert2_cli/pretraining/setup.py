"""Checks and set-up for `pretrain`, all done before any data is read or anything is written.

Options, the tokenizer (from --tokenizer, --init or --corpus), the model (a preset or config file, or --init), and
the output folder: a fresh start, a resume of the same run (its `run.json` must match), or a refusal.
"""
import json
from pathlib import Path

from dnabert2.pretraining import checkpoints as ckpt
from dnabert2.errors import InputError, located
from dnabert2.common.models import quiet_transformers_progress, read_json_object

PRESET_NAMES = ("dnabert2-117m", "small", "tiny")
RUN_FILE = "run.json"


def check_options(o):
    positive = ("batch_size", "grad_accum", "max_steps", "max_tokens", "save_every", "log_every")
    for name in positive:
        if o[name] is None or o[name] < 1:
            raise InputError(f"--{name.replace('_', '-')}: must be at least 1 (got {o[name]})")
    if o["max_tokens"] < 3:
        raise InputError(f"--max-tokens: must be at least 3 ([CLS], one token, [SEP]); got {o['max_tokens']}")
    if o["lr"] <= 0:
        raise InputError(f"--lr: must be positive (got {o['lr']})")
    if o["warmup_steps"] is not None and o["warmup_steps"] < 0:
        raise InputError(f"--warmup-steps: must be 0 or more (got {o['warmup_steps']})")
    if not 0 <= o["eval_fraction"] < 1:
        raise InputError(f"--eval-fraction: must be in [0, 1) (got {o['eval_fraction']})")
    if o["eval_every"] < 0 or o["keep_checkpoints"] < 1 or o["num_workers"] < 0:
        raise InputError("--eval-every and --workers must be 0 or more, --keep-checkpoints at least 1")
    if o["max_grad_norm"] is not None and o["max_grad_norm"] <= 0:
        raise InputError(f"--max-grad-norm: must be positive (got {o['max_grad_norm']})")
    if o["stop_at_step"] is not None and o["stop_at_step"] < 1:
        raise InputError(f"--stop-at-step: must be at least 1 (got {o['stop_at_step']})")
    if not o["genomes"] and o["corpus"] is None:
        raise InputError("give --genome FASTA (one or more) or --corpus DIR (from `dnabert2 pretrain --prepare`)")
    if o["genomes"] and o["corpus"] is not None:
        raise InputError("give either --genome or --corpus, not both")
    if o["genome_weights"] is not None and o["corpus"] is not None:
        raise InputError("--genome-weights applies to --genome files, not to a prepared --corpus")
    if o["init"] is not None and o["model_config"] is not None:
        raise InputError("give either --model-config (a new model) or --init (continue from a model), not both")
    try:
        from dnabert2.pretraining.masking import MaskingConfig
        MaskingConfig(mask_token_id=4, special_ids=(0, 1, 2, 3, 4), vocab_size=8,
                      mlm_probability=o["mlm_probability"], mask_fraction=o["mask_fraction"],
                      random_fraction=o["random_fraction"])
    except ValueError as e:
        raise InputError(f"--mlm-probability/--mask-fraction/--random-fraction: {e}") from None


def load_config(model_config, tokenizer):
    """DNABert2Config from a preset name or a JSON file; presets take the tokenizer's vocabulary size."""
    from dnabert2.model import DNABert2Config

    name = model_config or "dnabert2-117m"
    if name in PRESET_NAMES:
        return DNABert2Config.from_preset(name, vocab_size=len(tokenizer), pad_token_id=tokenizer.pad_token_id)
    path = Path(name)
    if not path.is_file():
        raise InputError(f"--model-config {name}: neither a preset ({', '.join(PRESET_NAMES)}) nor a JSON file")
    data = read_json_object(path, "JSON model config")
    data.pop("model_type", None)
    config = DNABert2Config(**data)
    if config.vocab_size != len(tokenizer):
        raise InputError(located(path, f"vocab_size {config.vocab_size} differs from the tokenizer's "
                                       f"{len(tokenizer)} tokens (set vocab_size to {len(tokenizer)} or use "
                                       "the tokenizer this config was made for)"))
    config.pad_token_id = tokenizer.pad_token_id
    return config


def load_tokenizer_for(o):
    from dnabert2.pretraining.data import read_corpus_meta, vocab_fingerprint
    from dnabert2.tokenizer import load_tokenizer

    source = o["tokenizer"] or o["init"] or o["corpus"]
    if source is None:
        raise InputError("--tokenizer: give a tokenizer folder (e.g. from `dnabert2 vocab`), or --init DIR")
    tokenizer = load_tokenizer(source)
    if tokenizer.mask_token_id is None or tokenizer.pad_token_id is None:
        raise InputError(located(source, "the tokenizer needs [MASK] and [PAD] tokens for masked-LM pretraining"))
    if o["corpus"] is not None:
        meta = read_corpus_meta(o["corpus"])
        if meta["vocab"] != vocab_fingerprint(tokenizer):
            raise InputError(located(o["corpus"], f"the corpus was tokenised with another vocabulary than {source}"))
        if meta["max_tokens"] < o["max_tokens"]:
            raise InputError(located(o["corpus"], f"rows hold {meta['max_tokens']} tokens, fewer than "
                                                  f"--max-tokens {o['max_tokens']}"))
    return tokenizer


def build_model(o, tokenizer):
    """(model, config): a fresh model from --model-config, or the masked-LM model of --init."""
    import torch

    from dnabert2.model import DNABert2ForMaskedLM

    if o["init"] is not None:
        from dnabert2.common.models import load_model

        with quiet_transformers_progress():
            model, _ = load_model(o["init"], task="masked-lm", device="cpu", dtype="fp32")
        if model.config.vocab_size != len(tokenizer):
            raise InputError(located(o["init"], f"the model's vocab_size {model.config.vocab_size} differs from the "
                                                f"tokenizer's {len(tokenizer)} tokens"))
        return model, model.config
    config = load_config(o["model_config"], tokenizer)
    torch.manual_seed(o["seed"])
    return DNABert2ForMaskedLM(config), config


def run_fingerprint(o, config, tokenizer, world):
    """The settings that must be the same for --resume to continue a run exactly."""
    from dnabert2.pretraining.data import vocab_fingerprint

    keep = ("seed", "max_tokens", "mlm_probability", "mask_fraction", "random_fraction", "eval_fraction")
    cfg = {k: v for k, v in config.to_dict().items() if k not in ("transformers_version", "architectures",
                                                                 "_name_or_path", "torch_dtype", "dtype")}
    return json.loads(json.dumps({
        **{k: o[k] for k in keep},
        "global_batch": o["batch_size"] * o["grad_accum"] * world,
        "data": ({"genomes": [str(Path(g).resolve()) for g in o["genomes"]], "weights": o["genome_weights"]}
                 if o["genomes"] else {"corpus": str(Path(o["corpus"]).resolve())}),
        "vocab": vocab_fingerprint(tokenizer),
        "model": cfg,
    }))


def check_output(out, resume, force, fingerprint):
    """Decide between a fresh start and a resume; refuse folders holding something else. Returns checkpoint."""
    out = Path(out)
    if not out.exists():
        from dnabert2.common.files import check_new_output
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
    try:
        previous = json.loads(run_file.read_text())
    except ValueError as e:
        raise InputError(located(run_file, f"not valid JSON ({e})")) from None
    differs = sorted(k for k in set(previous) | set(fingerprint) if previous.get(k) != fingerprint.get(k))
    if differs and force:
        return None
    if differs:
        raise InputError(f"{out}: holds checkpoints of another run (it differs in: {', '.join(differs)}); "
                         "use a new output folder, or --force to start over")
    return latest
