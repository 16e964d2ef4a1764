"""Does pretraining help? Fine-tune the shipped pretrained model and the same architecture from random weights with
the same budget and seeds on GUE human and mouse tasks, and compare test MCC.

The tasks (TASKS) are GUE's human and mouse transcription-factor binding sets. Since issue 24 the backbone read
on on human and mouse tables (scripts/shipped/pretrain_data.py): the training tables of some tasks (READ_GUE there;
the paper's "further pretraining on GUE" setting) and not of the others (UNREAD_GUE); the record marks which.
Both arms run the same `dnabert2 finetune` command (FINETUNE_OPTIONS, three seeds) and differ only in --model: the
pretrained folder, or `random_init/`, the pretrained folder's config with freshly initialised weights (seed 42).
The paper's DNABERT-2-117M numbers (dnabert2_cli/finetuning/gue.py PAPER_DNABERT2, MCC x 100) stand beside them.
"""
import json
import shutil
from pathlib import Path

from dnabert2.finetuning.gue import PAPER_DNABERT2
from scripts.shipped.pretrain_data import READ_GUE
from scripts.shipped.steps import digest, run_steps

TASKS = ("tf/0", "tf/3", "tf/4", "mouse/0", "mouse/3", "mouse/4")  # tf/0, mouse/0: training tables read in pretraining
FINETUNE_OPTIONS = ("--epochs", "5", "--max-steps", "200", "--lr", "5e-4", "--batch-size", "32",
                    "--warmup-steps", "30", "--eval-every", "100", "--max-tokens", "30", "--seeds", "3",
                    "--seed", "42", "--threads", "1")
ARMS = ("pretrained", "random_init")
RANDOM_SEED = 42


def random_init(pretrained, output):
    """OUTPUT: a model folder with the pretrained model's config and tokenizer and freshly initialised weights."""
    import torch

    from dnabert2.common.hf import quiet_transformers
    from dnabert2.model import DNABert2Config, DNABert2ForMaskedLM

    output = Path(output)
    if (output / "model.safetensors").is_file():
        return
    config = DNABert2Config.from_pretrained(pretrained)
    torch.manual_seed(RANDOM_SEED)
    model = DNABert2ForMaskedLM(config)
    staging = output.with_name(output.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    with quiet_transformers():
        model.save_pretrained(staging, safe_serialization=True)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy2(Path(pretrained) / name, staging / name)
    staging.rename(output)


def compare(out, data_root, arms=ARMS, probe_models=None):
    """Run the arms on every task (steps named transfer/ARM/TASK in steps.json); return {"tasks": {task:
    {"paper": MCC x 100, "backbone_read_train": bool, ARM: {"mcc", "mcc_std", "per_seed", "steps", "seconds",
    "command", ...}}}, "masked_lm_probe": masked_lm_probe(both arms and probe_models, {name: folder})}."""
    out, data_root = Path(out), Path(data_root)
    random_init(out / "pretrained", out / "random_init")
    models = {"pretrained": out / "pretrained", "random_init": out / "random_init"}
    jobs, runs = [], {}
    for task in TASKS:
        for arm in arms:
            run = runs[task, arm] = out / "transfer" / arm / task.replace("/", "_")
            run.parent.mkdir(parents=True, exist_ok=True)
            jobs.append((f"transfer/{arm}/{task}", [
                "finetune", "--model", str(models[arm]), "--data", str(data_root / "gue" / task),
                *FINETUNE_OPTIONS, "-o", str(run), "--force", "-q"], run / "metrics.json",
                digest(models[arm], ("config.json", "model.safetensors"))))  # a new backbone reruns its arm
    steps = dict(zip(runs, run_steps(out, jobs)))  # one-thread runs, one per core
    if tuple(arms) != ARMS:
        return None
    result = {}
    for task in TASKS:
        row = {"paper": PAPER_DNABERT2[task], "backbone_read_train": task in READ_GUE}
        for arm in ARMS:
            step, run = steps[task, arm], runs[task, arm]
            metrics = json.loads((run / "metrics.json").read_text())
            row[arm] = {"mcc": metrics["test"]["mcc"], "mcc_std": metrics["test_std"]["mcc"],
                        "per_seed": [r["test"]["mcc"] for r in metrics["runs"]],
                        "best_steps": [r["best_step"] for r in metrics["runs"]],
                        "steps": metrics["steps"], "train_rows": metrics["rows"]["train"],
                        "seconds": step["seconds"], "command": step["command"]}
        result[task] = row
    return {"tasks": result, "masked_lm_probe": masked_lm_probe({**(probe_models or {}), **models}, data_root)}


PROBE_ROWS = 500  # test rows per task for the masked-LM probe
# the probe's human and mouse test tables: test splits of GUE's human and mouse TF tasks (never read in
# pretraining), of tasks whose train split was read and of tasks never read
PROBE_TASKS = ("tf/0", "tf/3", "tf/4", "mouse/0", "mouse/1", "mouse/3", "mouse/4")
MASK_SEED = 0


def masked_lm_probe(models, data_root):
    """Why pretraining does or does not help: each model's masked-token loss and accuracy on the tasks' test
    sequences (15% of the ordinary tokens of the first PROBE_ROWS rows replaced by [MASK], the same positions
    for every model), next to the loss of always predicting the token frequencies of those sequences (a unigram
    model fitted on the very tokens it is scored on, so an optimistic floor for a model that has learnt only
    composition), and of predicting them from the token frequencies of the task's dev split (add-one smoothed; out
    of sample, what knowing the task's composition alone gives). Returns {task: {model name, "unigram" or
    "unigram_dev": {"loss", "accuracy"}}, "masked_tokens": n}."""
    import math

    import torch

    from dnabert2.common.models import load_model

    loaded = {name: load_model(folder, task="masked-lm", device="cpu", dtype="fp32") for name, folder in models.items()}
    tokenizer = next(iter(loaded.values()))[1]
    result = {}
    for task in PROBE_TASKS:
        path = Path(data_root) / "gue" / task / "test.csv"
        sequences = [line.split(",")[0] for line in path.read_text().splitlines()[1:PROBE_ROWS + 1]]
        batch = tokenizer(sequences, padding=True, return_tensors="pt")
        ids, attention = batch["input_ids"], batch["attention_mask"]
        ordinary = attention.bool() & (ids > 4)  # [UNK]=0 ... [MASK]=4 are special
        generator = torch.Generator().manual_seed(MASK_SEED)
        chosen = ordinary & (torch.rand(ids.shape, generator=generator) < 0.15)
        masked = ids.masked_fill(chosen, tokenizer.mask_token_id)
        targets = ids[chosen]
        row = {"masked_tokens": int(chosen.sum())}
        for name, (model, _) in loaded.items():
            with torch.no_grad():
                logits = model(input_ids=masked, attention_mask=attention).logits[chosen]
            row[name] = {"loss": float(torch.nn.functional.cross_entropy(logits, targets)),
                         "accuracy": float((logits.argmax(-1) == targets).float().mean())}
        counts = torch.bincount(ids[ordinary], minlength=len(tokenizer)).double()
        frequencies = counts / counts.sum()
        row["unigram"] = {"loss": float(-torch.log(frequencies[targets]).mean()),
                          "accuracy": float((targets == int(frequencies.argmax())).double().mean())}
        row["unigram_dev"] = dev_unigram(tokenizer, Path(data_root) / "gue" / task / "dev.csv", targets)
        row["chance_loss"] = math.log(len(tokenizer))
        result[task] = row
    return result


def dev_unigram(tokenizer, dev_table, targets):
    """{"loss", "accuracy"} of predicting `targets` from the add-one smoothed token frequencies of the first
    PROBE_ROWS * 10 rows of `dev_table`."""
    import torch

    sequences = [line.split(",")[0] for line in Path(dev_table).read_text().splitlines()[1:PROBE_ROWS * 10 + 1]]
    ids = torch.tensor([i for e in tokenizer(sequences)["input_ids"] for i in e if i > 4])
    counts = torch.bincount(ids, minlength=len(tokenizer)).double() + 1
    counts[:5] = 0  # special tokens are never targets
    frequencies = counts / counts.sum()
    return {"loss": float(-torch.log(frequencies[targets]).mean()),
            "accuracy": float((targets == int(frequencies.argmax())).double().mean())}
