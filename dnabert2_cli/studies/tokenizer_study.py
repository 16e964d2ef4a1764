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
from dataclasses import asdict, dataclass, field
from pathlib import Path

from dnabert2.common.files import check_new_output, staged_dir, write_text
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
class StudySettings:
    """The budget of the study; the defaults are the laptop-scale run of docs/commands/benchmark-tokenizers.md."""
    tokenizers: tuple = DEFAULT_TOKENIZERS
    vocab_max_bases: int = 5_000_000
    model_config: str = "tiny"
    pretrain_steps: int = 800
    pretrain_batch: int = 32
    max_tokens: int = 128
    pretrain_lr: float = 1e-3
    finetune_max_steps: int = 200
    finetune_batch: int = 32
    finetune_lr: float = 1e-3
    finetune_eval_every: int = 50
    max_train_rows: int = 2000
    max_eval_rows: int = 500
    seeds: int = 2
    seed: int = 42
    baseline: str = None          # the tokenizer of the untrained baseline: None bpe:4096 if listed, else the
    specs: list = field(default_factory=list)  # first; "none": no baseline

    def __post_init__(self):
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


def tokenizer_study(genomes, tasks, output, settings=None, *, device="auto", precision="auto", threads=None,
                    resume=False, force=False, progress=None):
    """Run the study (see the module docstring) into `output`; returns {"vocab", "tasks", "names", "seconds"}."""
    from dnabert2.studies import tokenizer_report as report

    settings = settings or StudySettings()
    genomes, tasks = [str(g) for g in genomes], [str(t) for t in tasks]
    _check_inputs(genomes, tasks)
    baseline = settings.baseline_spec
    out = _study_folder(output, resume, force)
    start = time.perf_counter()
    say = progress or log.info
    run = {"device": device, "precision": precision, "threads": threads}
    vocab_rows, results = [], {t: {} for t in tasks}
    for spec in settings.specs:
        tokenizer_dir, model_dir = out / "tokenizers" / spec.name, out / "models" / spec.name
        say(f"[{time.perf_counter() - start:7.0f} s] {spec.name}: vocabulary")
        stats = _vocab(spec, genomes, tokenizer_dir, settings, threads)
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
    write_text(out / "study.json", json.dumps({"genomes": genomes, "tasks": tasks, "settings": {
        k: v for k, v in asdict(settings).items() if k != "specs"}, "seconds_this_invocation": seconds},
        indent=2) + "\n")
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
