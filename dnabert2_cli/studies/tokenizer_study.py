"""The tokenizer study (`dnabert2 benchmark tokenizers`): BPE sizes and k-mer tokenizers compared on one budget.

For each tokenizer in the list: its vocabulary from the genomes (`train_vocab`; k-mers are fixed, the genomes
give their statistics) with the statistics of the paper's Figure 3a (mean token length in the vocabulary, held-out
nt per token = the compression ratio); a model pretrained from scratch on the same genomes with the same budget
(same preset, steps, batch and tokens per window: the same compute, as in the paper's appendix A.6 ablation);
and fine-tuning on each task folder with the same settings and seeds. The simplest baseline is one model of the
same preset left untrained (random weights, one tokenizer: `baseline`) and fine-tuned the same way: what
pretraining adds. The MCC table stands beside the paper's numbers (`tokenizer_report`).

Output folder (`--resume` reuses every finished piece, so an interrupted study continues where it stopped):
  tokenizers/NAME/    the tokenizer folders (with vocab_stats.json)
  models/NAME/        the pretrained models (pretrain output folders, resumable); NAME-untrained/: the baseline
  finetune/NAME/TASK/ the fine-tuning runs (metrics.json)
  vocab.tsv, results.tsv, results.json, study.json (settings, timings)
"""
import json
import logging
import time
from dataclasses import dataclass, fields
from pathlib import Path

from dnabert2.common.fields import INPUTS, MODEL, OUTPUTS, RUN, TRAINING, internal, option, settings_of
from dnabert2.common.files import check_new_output, staged_dir, write_text
from dnabert2.common.runtime import DeviceSettings
from dnabert2.errors import InputError

log = logging.getLogger(__name__)

STUDY_FILE = "study_pretrain.json"
DEFAULT_TOKENIZERS = ("bpe:256", "bpe:4096", "bpe:32768", "kmer:6", "kmer:6:6")


@dataclass(frozen=True)
class TokenizerSpec:
    """`bpe:SIZE`, `kmer:K` (overlapping) or `kmer:K:K` (non-overlapping)."""
    kind: str
    size: int = None
    k: int = None
    stride: int = None

    @property
    def name(self):
        if self.kind == "bpe":
            return f"bpe-{self.size}"
        return f"{self.k}mer-{'overlapping' if self.stride == 1 else 'non-overlapping'}"

    @classmethod
    def parse(cls, text):
        parts = text.strip().lower().split(":")
        try:
            numbers = [int(p) for p in parts[1:]]
        except ValueError:
            numbers = None
        if parts[0] == "bpe" and numbers and len(numbers) == 1:
            return cls("bpe", size=numbers[0])
        if parts[0] == "kmer" and numbers and len(numbers) in (1, 2):
            k = numbers[0]
            stride = numbers[1] if len(numbers) == 2 else 1
            if stride not in (1, k):
                raise InputError(f"--tokenizers {text}: the stride must be 1 or {k}")
            return cls("kmer", k=k, stride=stride)
        raise InputError(f"--tokenizers {text}: expected bpe:SIZE, kmer:K (overlapping) or kmer:K:K "
                         "(non-overlapping)")


@dataclass
class StudyBudget:
    """The budget of the study, recorded in study.json; the defaults are the laptop-scale run of
    docs/commands/benchmark-tokenizers.md."""
    # a tuple of specs; given as one comma-separated text on the command line (split in StudySettings)
    tokenizers: tuple = option(",".join(DEFAULT_TOKENIZERS), "Comma-separated: bpe:SIZE, kmer:K (overlapping), "
                                                             "kmer:K:K (non-overlapping).", group=MODEL)
    vocab_max_bases: int = option(5_000_000, "Bases sampled from the genomes to learn each BPE vocabulary.",
                                  group=MODEL, minimum=1)
    model_config: str = option("tiny", "Model of every pretraining run: a preset (dnabert2-117m, small, tiny) or a "
                                       "config JSON.", group=MODEL)
    pretrain_steps: int = option(800, "Pretraining steps per tokenizer (the same budget for each).", group=TRAINING,
                                 minimum=1)
    pretrain_batch: int = option(32, "Windows per pretraining step.", group=TRAINING, minimum=1)
    max_tokens: int = option(128, "Tokens per pretraining window, [CLS] and [SEP] included.", group=TRAINING,
                             minimum=3)
    pretrain_lr: float = option(1e-3, "Peak pretraining learning rate.", group=TRAINING, above=0)
    finetune_max_steps: int = option(200, "Cap on fine-tuning steps per task and seed (the paper's epochs "
                                          "otherwise).", group=TRAINING, minimum=1)
    finetune_batch: int = option(32, "Fine-tuning batch size.", group=TRAINING, minimum=1)
    finetune_lr: float = option(1e-3, "Fine-tuning learning rate (the paper's 3e-5 suits the 117M model, not a tiny "
                                      "one).", group=TRAINING, above=0)
    finetune_eval_every: int = option(50, "Dev evaluation interval (best checkpoint by dev loss).", group=TRAINING,
                                      minimum=1)
    max_train_rows: int = option(2000, "Random training rows per task.", group=TRAINING, minimum=2)
    max_eval_rows: int = option(500, "Random dev and test rows per task.", group=TRAINING, minimum=1)
    seeds: int = option(2, "Fine-tuning seeds per task (mean and std reported).", group=TRAINING, minimum=1)
    seed: int = option(42, "Seed of sampling, pretraining and the first fine-tuning run.", group=TRAINING)
    baseline: str = option(None, "Tokenizer of the untrained (random-weights) baseline model: default bpe:4096 when "
                                 "listed, else the first; 'none': no baseline.", group=MODEL)


@dataclass
class StudySettings(StudyBudget, DeviceSettings):
    """The options of `dnabert2 benchmark tokenizers` / `tokenizer_study`: the budget, the tasks, the output folder
    and where it runs."""
    tasks: tuple = option((), "Task folder with train/dev/test tables (e.g. GUE/tf/0); repeat for more tasks.",
                          group=INPUTS, path="dir", multiple=True, required=True)
    output: str = option(None, "Study folder (tokenizers/, models/, finetune/, vocab.tsv, results.tsv, "
                               "results.json).", group=OUTPUTS, short="-o", path="dir", required=True)
    resume: bool = option(False, "Continue a study in --output, reusing every finished piece.", group=RUN)
    force: bool = option(False, "Replace the output folder if it exists.", group=RUN)
    progress: object = internal()  # a function given each progress line; None: logged at INFO
    specs: list = internal()  # the parsed --tokenizers

    def __post_init__(self):
        if isinstance(self.tokenizers, str):  # the command line's "bpe:4096,kmer:6"
            self.tokenizers = tuple(t for t in self.tokenizers.split(",") if t.strip())
        self.tasks = tuple(str(t) for t in self.tasks)
        self.specs = [TokenizerSpec.parse(t) for t in self.tokenizers]
        names = [s.name for s in self.specs]
        if len(set(names)) != len(names):
            raise InputError(f"--tokenizers: a tokenizer is listed twice ({', '.join(names)})")

    @property
    def baseline_spec(self):
        """The spec whose tokenizer the untrained baseline uses, or None."""
        if self.baseline is not None and self.baseline.strip().lower() == "none":
            return None
        if self.baseline is None:
            listed = [s for s in self.specs if s.kind == "bpe" and s.size == 4096]
            return (listed or self.specs)[0]
        spec = TokenizerSpec.parse(self.baseline)
        if spec not in self.specs:
            raise InputError(f"--baseline {self.baseline}: not one of --tokenizers")
        return spec


def _vocab(spec, genomes, folder, settings, threads):
    from dnabert2.vocab import train_vocab

    stats_file = folder / "vocab_stats.json"
    if stats_file.is_file():
        return json.loads(stats_file.read_text())
    kwargs = {"kmer": spec.k, "kmer_stride": spec.stride} if spec.kind == "kmer" else {}
    return train_vocab(genomes, folder, spec.size or 4096, max_bases=settings.vocab_max_bases, seed=settings.seed,
                       threads=threads, **kwargs)


def _pretrain(genomes, tokenizer_dir, folder, settings, *, device, precision, threads):
    from dnabert2.pretraining.run import pretrain

    if (folder / "model.safetensors").is_file():
        return _pretrain_record(folder)
    start = time.perf_counter()
    summary = pretrain(genomes, folder, tokenizer=str(tokenizer_dir), model_config=settings.model_config,
             max_tokens=settings.max_tokens, batch_size=settings.pretrain_batch, max_steps=settings.pretrain_steps,
             lr=settings.pretrain_lr, eval_every=max(settings.pretrain_steps // 4, 1),
             save_every=max(settings.pretrain_steps // 4, 1), keep_checkpoints=1, eval_samples=256,
             seed=settings.seed, num_workers=0, threads=threads, device=device, precision=precision,
             resume=folder.exists(), force=folder.exists())
    write_text(folder / STUDY_FILE, json.dumps({"pretrain_seconds": round(time.perf_counter() - start, 1),
                                                "window_bp": summary["window_bp"]}) + "\n")
    return _pretrain_record(folder)


def _untrained(tokenizer_dir, folder, settings):
    """The baseline's model folder: the study's preset with random weights (seeded), never trained."""
    if (folder / "model.safetensors").is_file():
        return
    import torch

    from dnabert2.common.hf import quiet_transformers
    from dnabert2.common.models import load_config
    from dnabert2.model import DNABert2ForMaskedLM
    from dnabert2.tokenizer import load_tokenizer

    tokenizer = load_tokenizer(tokenizer_dir)
    torch.manual_seed(settings.seed)
    model = DNABert2ForMaskedLM(load_config(settings.model_config, tokenizer))
    with staged_dir(folder) as tmp, quiet_transformers():
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)


def _pretrain_record(folder):
    """The last held-out loss/accuracy of a pretraining run, its window length in bp and its time."""
    evals = [json.loads(line) for line in (folder / "log.jsonl").read_text().splitlines()
             if '"eval_loss"' in line]
    extra = json.loads((folder / STUDY_FILE).read_text()) if (folder / STUDY_FILE).is_file() else {}
    return {"pretrain_eval_loss": evals[-1]["eval_loss"] if evals else None,
            "pretrain_eval_accuracy": evals[-1]["eval_accuracy"] if evals else None,
            "window_bp": extra.get("window_bp"), "pretrain_seconds": extra.get("pretrain_seconds")}


def _finetune(model_dir, task_dir, folder, settings, *, device, precision, threads):
    from dnabert2.finetuning.gue import PROTOCOLS, dataset_key
    from dnabert2.finetuning.run import finetune

    metrics = folder / "metrics.json"
    if not metrics.is_file():
        protocol = PROTOCOLS.get(dataset_key(task_dir))
        # max_length None: each tokenizer's own longest training example (the paper's lengths are in BPE tokens)
        finetune(folder, model=str(model_dir), data=str(task_dir), epochs=protocol.epochs if protocol else 3,
                 max_steps=settings.finetune_max_steps, eval_every=settings.finetune_eval_every,
                 batch_size=settings.finetune_batch, lr=settings.finetune_lr, seeds=settings.seeds,
                 seed=settings.seed, max_train_rows=settings.max_train_rows, max_eval_rows=settings.max_eval_rows,
                 save_model=False, device=device, precision=precision, threads=threads, force=folder.exists(),
                 quiet=True)
    summary = json.loads(metrics.read_text())
    return {"mcc": 100.0 * summary["test"]["mcc"], "mcc_std": 100.0 * summary["test_std"]["mcc"],
            "steps": summary.get("steps"), "max_length": summary.get("max_length")}


def _check_inputs(genomes, tasks):
    from dnabert2.finetuning.tables import table_names

    if not genomes:
        raise InputError("give one or more genome FASTA files")
    for g in genomes:
        if not Path(g).is_file():
            raise InputError(f"{g}: no such genome file")
    if not tasks:
        raise InputError("--tasks: give one or more task folders (train/dev/test tables, e.g. GUE/tf/0)")
    for t in tasks:
        names = {p.name.lower() for p in Path(t).iterdir()} if Path(t).is_dir() else set()
        if not all(names & table_names(split) for split in ("train", "dev", "test")):
            raise InputError(f"--tasks {t}: not a folder holding train, dev and test tables")


def tokenizer_study(genomes, tasks=None, output=None, *, settings=None, **options):
    """Run the study (see the module docstring) on `genomes` and the task folders `tasks` into the folder `output`;
    returns {"vocab", "tasks", "names", "seconds"}. options are the fields of `StudySettings` (the budget:
    tokenizers, pretrain_steps, ...; device, precision, threads, resume, force, progress); or pass `settings`."""
    from dnabert2.studies import tokenizer_report as report

    settings = settings_of(StudySettings, settings, options, "tokenizer_study", tasks=tasks, output=output)
    genomes, tasks = [str(g) for g in genomes], list(settings.tasks)
    _check_inputs(genomes, tasks)
    if settings.output is None:
        raise InputError("-o/--output: give the study folder")
    baseline = settings.baseline_spec
    out = _study_folder(settings.output, settings.resume, settings.force)
    start = time.perf_counter()
    say = settings.progress or log.info
    run = {"device": settings.device, "precision": settings.precision, "threads": settings.threads}
    vocab_rows, results = [], {t: {} for t in tasks}
    for spec in settings.specs:
        tokenizer_dir, model_dir = out / "tokenizers" / spec.name, out / "models" / spec.name
        say(f"[{time.perf_counter() - start:7.0f} s] {spec.name}: vocabulary")
        stats = _vocab(spec, genomes, tokenizer_dir, settings, settings.threads)
        say(f"[{time.perf_counter() - start:7.0f} s] {spec.name}: pretraining")
        record = _pretrain(genomes, tokenizer_dir, model_dir, settings, **run)
        vocab_rows.append({"tokenizer": spec.name, "vocab_size": stats["vocab_size"],
                           "mean_token_length_nt": stats["mean_token_length_nt"],
                           "heldout_nt_per_token": stats["heldout_nt_per_token"], **record})
        _finetune_tasks(spec.name, model_dir, tasks, out, settings, run, results, lambda m: say(
            f"[{time.perf_counter() - start:7.0f} s] {m}"))
        if spec == baseline:
            name = f"{spec.name} untrained"
            _untrained(tokenizer_dir, out / "models" / f"{spec.name}-untrained", settings)
            _finetune_tasks(name, out / "models" / f"{spec.name}-untrained", tasks, out, settings, run, results,
                            lambda m: say(f"[{time.perf_counter() - start:7.0f} s] {m}"))
    names = [s.name for s in settings.specs] + ([f"{baseline.name} untrained"] if baseline else [])
    rows = [report.task_row(_key(t), _key(t), results[t]) for t in tasks]
    rows.append(report.mean_row(rows, names))
    seconds = round(time.perf_counter() - start, 1)
    write_text(out / "vocab.tsv", report.vocab_tsv(vocab_rows))
    write_text(out / "results.tsv", report.mcc_tsv(rows, names))
    write_text(out / "results.json", json.dumps({"vocab": vocab_rows, "tasks": rows, "details": results},
                                                indent=2) + "\n")
    budget = {f.name: getattr(settings, f.name) for f in fields(StudyBudget)}
    write_text(out / "study.json", json.dumps({"genomes": genomes, "tasks": tasks, "settings": budget,
                                               "seconds_this_invocation": seconds}, indent=2) + "\n")
    return {"vocab": vocab_rows, "tasks": rows, "names": names, "seconds": seconds}


def _key(task):
    from dnabert2.finetuning.gue import dataset_key

    return dataset_key(task)


def _study_folder(output, resume, force):
    """The study folder: kept with resume, else new (an existing one replaced only with force)."""
    out = Path(output)
    if not (resume and out.is_dir()):
        check_new_output(out, force)
        if out.exists():
            from dnabert2.common.files import remove_tree

            remove_tree(out)
    for part in ("tokenizers", "models", "finetune"):
        (out / part).mkdir(parents=True, exist_ok=True)
    return out


def _finetune_tasks(name, model_dir, tasks, out, settings, run, results, say):
    """Fine-tune `model_dir` on every task into finetune/NAME/TASK/; results[task][name] gets the scores."""
    for task in tasks:
        say(f"{name}: fine-tuning {task}")
        folder = out / "finetune" / name.replace(" ", "-") / _key(task).replace("/", "_")
        folder.parent.mkdir(exist_ok=True)
        results[task][name] = _finetune(model_dir, Path(task), folder, settings, **run)
