"""Rebuild the shipped models with the real CLI, and write their model cards from what was measured.

    python scripts/shipped/rebuild.py OUT_DIR [--data-root ../shared/data] [--pretrained DIR] [--install]

Steps (each a `dnabert2` command run as a subprocess, timed; a step already recorded in OUT_DIR/steps.json
whose output is present is kept, so an interrupted rebuild continues where it stopped):
  1. pretrain   a small masked-LM on the shared genomes with the released DNABERT-2 tokenizer
  2. convert    to float16 safetensors -> OUT_DIR/pretrained (+ pretraining.json, the numbers of its card)
     With --pretrained DIR, steps 1-2 are replaced by a copy of DIR (e.g. the shipped pretrained model, made by
     steps 1-2 earlier; its pretraining.json travels with it).
  3. tables     the promoter training tables (scripts/shipped/promoter_data.py)
  4. finetune   a promoter classifier from OUT_DIR/pretrained, once per seed of SEEDS, one run per CPU core at a
                time (OUT_DIR/finetune_run for seed 42, OUT_DIR/finetune_run_seed43 etc. for the others; one
                thread each, so a run gives the same weights alone or side by side), then the average of the
                weights of the runs a greedy soup picks on the dev split -> OUT_DIR/finetune_average
                (scripts/shipped/soup.py), its classifier rescaled on the dev split (Platt scaling,
                scripts/shipped/calibrate.py) -> OUT_DIR/finetune_calibrated, its config.json carrying predict's
                defaults for it (PREDICT_DEFAULTS: 300 bp windows, both strands); for comparison, the uniform average
                of every run, calibrated the same way -> OUT_DIR/finetune_uniform_calibrated
  5. convert    the calibrated soup to float16 -> OUT_DIR/promoter
  6. evaluate   on the chr2 Genomic Benchmarks intervals, next to CpG o/e and GC (scripts/shipped/evaluate.py):
                the shipped model (OUT_DIR/evaluation), each seed's float32 run (OUT_DIR/evaluation_seed42 etc.)
                and the calibrated uniform average (OUT_DIR/evaluation_uniform)
  7. transfer   pretrained vs randomly initialised, fine-tuned on four GUE mouse tasks (scripts/shipped/transfer.py;
                also one run per core)
  8. cards      README.md in both folders (scripts/shipped/cards.py); --install copies both folders into the
                package (dnabert2_cli/shipped/).
"""
if __package__ in (None, ""):  # run as a file: make the repository root importable
    import sys as _sys
    from pathlib import Path as _Path
    _sys.path.insert(0, str(_Path(__file__).resolve().parents[2]))

import json
import shutil
import sys
import time
from pathlib import Path

from scripts.shipped.average import average_weights
from scripts.shipped.calibrate import calibrate
from scripts.shipped.evaluate import LENGTH, default_data_root, evaluate
from scripts.shipped.promoter_data import AUGMENT, LABEL_NAMES, OTHER_GENOMES, build_tables
from scripts.shipped.soup import greedy_soup
from scripts.shipped.steps import digest, run_step, run_steps

# the architecture: between the `tiny` and `small` presets (sized for ~20 min of pretraining on 2 CPU cores)
MODEL_CONFIG = {"hidden_size": 128, "num_hidden_layers": 4, "num_attention_heads": 4, "intermediate_size": 512,
                "vocab_size": 4096}
# the chr2 slice holds the evaluation intervals, so it is left out of pretraining too
PRETRAIN_GENOMES = (*OTHER_GENOMES, "human_chrM/MT-human.NC_012920.1.fa", "sars_cov_2/NC_045512.2.fasta")
PRETRAIN_STEPS = 2000
PRETRAIN_OPTIONS = ("--max-tokens", "128", "--batch-size", "32", "--lr", "1e-3", "--save-every", "400",
                    "--eval-every", "400", "--eval-samples", "256", "--log-every", "10", "--workers", "1",
                    "--seed", "42")
FINETUNE_OPTIONS = ("--epochs", "3", "--lr", "5e-4", "--batch-size", "32", "--warmup-steps", "100",
                    "--eval-every", "500", "--max-length", "100", "--seed", "42", "--threads", "1")
# the promoter classifier is fine-tuned once per seed (FINETUNE_OPTIONS with --seed replaced) and shipped as the
# average of the weights of the runs a greedy soup picks on the dev split (scripts/shipped/soup.py); the first
# seed's run is the step "finetune" in OUT_DIR/finetune_run
SEEDS = (42, 43, 44, 45, 46, 47)
# more `dnabert2 predict` options of the chr2 evaluation: both strands averaged (the chr2 intervals have no
# orientation, the training promoters all face their TSS), float32 on every machine, one thread
EVALUATE_OPTIONS = ("--rc-average", "--precision", "fp32", "--threads", "1")
# what `dnabert2 predict` does with the shipped classifier unless told otherwise, carried in its config.json
# (task_specific_params "predict"): the evaluation's windows, the training length, and both strands
PREDICT_DEFAULTS = {"window": LENGTH, "rc_average": True}
MODEL_FILES = ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json")
# the measured records shipped next to each model (tests check the cards against them)
SHIPPED_RECORDS = {"pretrained": ("pretraining.json", "transfer.json"), "promoter": ("evaluation.json",)}


def pretrain(out, data_root):
    """Steps 1-2; writes OUT_DIR/pretrained/pretraining.json from the run's log."""
    config = out / "model_config.json"
    config.write_text(json.dumps(MODEL_CONFIG) + "\n")
    genomes = [str(data_root / "genomes" / g) for g in PRETRAIN_GENOMES]
    step = run_step(out, "pretrain", [
        "pretrain", "--genome", *genomes, "--tokenizer", str(data_root / "reference_checkpoint"),
        "--model-config", str(config), "--max-steps", str(PRETRAIN_STEPS), *PRETRAIN_OPTIONS,
        "-o", str(out / "pretrain_run"), "--force", "-q"], out / "pretrain_run" / "model.safetensors")
    convert = run_step(out, "convert_pretrained", [
        "convert", str(out / "pretrain_run"), "-o", str(out / "pretrained"), "--task", "masked-lm",
        "--precision", "fp16", "--force", "-q"], out / "pretrained" / "model.safetensors",
        inputs=digest(out / "pretrain_run"))
    from scripts.shipped.cards import portable

    summary = pretraining_summary(out / "pretrain_run", data_root, step, convert)
    (out / "pretrained" / "pretraining.json").write_text(portable(json.dumps(summary, indent=1) + "\n", out,
                                                                  data_root))


def pretraining_summary(run_dir, data_root, step, convert):
    """The numbers of the pretrained card, read from the pretraining run's log.jsonl and run.json."""
    lines = (run_dir / "log.jsonl").read_text().splitlines()
    logs = [json.loads(line) for line in lines if line.strip()]
    train, evals = [r for r in logs if "loss" in r], [r for r in logs if "eval_loss" in r]
    run = json.loads((run_dir / "run.json").read_text())
    return {"command": step["command"], "convert_command": convert["command"], "seconds": step["seconds"],
            "steps": train[-1]["step"], "global_batch": run["global_batch"], "max_tokens": run["max_tokens"],
            "eval_fraction": run["eval_fraction"],
            "genomes": [str(Path(g).relative_to(data_root)) for g in run["data"]["genomes"]],
            "train_loss": train[-1]["loss"], "train_accuracy": train[-1]["mlm_accuracy"],
            "eval_loss_first": evals[0]["eval_loss"], "eval_step_first": evals[0]["step"],
            "eval_loss_last": evals[-1]["eval_loss"], "eval_step_last": evals[-1]["step"],
            "eval_accuracy_last": evals[-1]["eval_accuracy"]}


def copy_pretrained(out, source):
    """--pretrained DIR instead of steps 1-2 (DIR must hold pretraining.json, the numbers of its card)."""
    source = Path(source).resolve()
    if not (source / "pretraining.json").is_file():
        sys.exit(f"{source}: no pretraining.json (the record of the run that made it); rebuild without --pretrained")
    target = out / "pretrained"
    if target.resolve() != source:
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(source, target)


def finetune_options(seed):
    """FINETUNE_OPTIONS with `--seed` set to `seed` (unchanged for the seed they name)."""
    options = list(FINETUNE_OPTIONS)
    options[options.index("--seed") + 1] = str(seed)
    return tuple(options)


def seed_run(seed):
    """(step name, run folder) of one seed's fine-tune: the first seed keeps the single-run names."""
    return ("finetune", "finetune_run") if seed == SEEDS[0] else (f"finetune_seed{seed}", f"finetune_run_seed{seed}")


def finetune_promoter(out, data_root):
    """Steps 3-5; returns the table counts, the steps and each seed's metrics."""
    tables = build_tables(data_root, out / "promoter_tables", augment=AUGMENT)
    inputs = digest(out / "promoter_tables") + digest(out / "pretrained", MODEL_FILES)
    named = [(seed, *seed_run(seed)) for seed in SEEDS]
    jobs = [(name, ["finetune", "--model", str(out / "pretrained"), "--data", str(out / "promoter_tables"),
                    *finetune_options(seed), "-o", str(out / folder), "--force", "-q"],
             out / folder / "metrics.json", inputs) for seed, name, folder in named]
    runs = []
    for (seed, name, folder), step in zip(named, run_steps(out, jobs)):  # one-thread runs, one per core
        metrics = json.loads((out / folder / "metrics.json").read_text())
        runs.append({"seed": seed, "step": name, "folder": folder, "command": step["command"],
                     "seconds": step["seconds"], "steps": metrics["steps"],
                     "best_step": metrics["runs"][0]["best_step"], "rows": metrics["rows"],
                     "dev": metrics["dev"], "test": metrics["test"]})
    folders = [out / run["folder"] for run in runs]
    dev = out / "promoter_tables" / "dev.csv"
    soup = seeds_named(greedy_soup(folders, dev, out / "finetune_average", positive=LABEL_NAMES[1]), runs, out)
    print(f"[rebuild] greedy soup of seeds {soup['chosen']} -> {out / 'finetune_average'}", file=sys.stderr, flush=True)
    calibration = calibrate(out / "finetune_average", dev, out / "finetune_calibrated", positive=LABEL_NAMES[1])
    carry_predict_defaults(out / "finetune_calibrated", PREDICT_DEFAULTS)
    print(f"[rebuild] calibrate: log-odds x {calibration['scale']:.3f} {calibration['shift']:+.3f} "
          f"-> {out / 'finetune_calibrated'}", file=sys.stderr, flush=True)
    average_weights(folders, out / "finetune_uniform_average")  # every run, for comparison (not shipped)
    uniform = calibrate(out / "finetune_uniform_average", dev, out / "finetune_uniform_calibrated",
                        positive=LABEL_NAMES[1])
    convert = run_step(out, "convert_promoter", [
        "convert", str(out / "finetune_calibrated"), "-o", str(out / "promoter"), "--task", "classification",
        "--precision", "fp16", "--force", "-q"], out / "promoter" / "model.safetensors",
        inputs=digest(out / "finetune_calibrated"))
    return {"tables": tables, "finetune": runs[0], "seeds": runs, "soup": soup,
            "average": {"folder": "finetune_average", "seeds": soup["chosen"]},
            "uniform": {"folder": "finetune_uniform_calibrated", "seeds": [run["seed"] for run in runs],
                        "calibration": uniform},
            "calibration": calibration, "convert_promoter": convert}


def carry_predict_defaults(folder, defaults):
    """Write `defaults` into the folder's config.json as task_specific_params "predict" (read by `dnabert2 predict`,
    regions/loading.py: predict_defaults); `dnabert2 convert` keeps it."""
    path = Path(folder) / "config.json"
    config = json.loads(path.read_text())
    config["task_specific_params"] = {**(config.get("task_specific_params") or {}), "predict": dict(defaults)}
    path.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")


def seeds_named(soup, runs, out):
    """greedy_soup's record with each run folder named by its seed."""
    seed_of = {str(out / run["folder"]): run["seed"] for run in runs}
    return {"table": soup["table"], "chosen": [seed_of[f] for f in soup["chosen"]], "log_loss": soup["log_loss"],
            "ranking": [{"seed": seed_of[r["folder"]], "log_loss": r["log_loss"]} for r in soup["ranking"]],
            "tries": [{"seeds": [seed_of[f] for f in t["folders"]], "log_loss": t["log_loss"], "kept": t["kept"]}
                      for t in soup["tries"]]}


def evaluate_float32(out, data_root, folder, name):
    """Evaluate a float32 model folder on chr2 like the shipped model (into OUT_DIR/evaluation_NAME); returns
    {"folder", "modes": {mode: {"command", "scores": the classifier's table (all and per background class),
    "mean_probability"}}}."""
    started = time.time()
    result = evaluate(out / folder, out / f"evaluation_{name}", data_root, EVALUATE_OPTIONS)
    print(f"[rebuild] evaluate {name} ({folder}): done in {time.time() - started:.1f} s", file=sys.stderr, flush=True)
    return {"folder": folder, "modes": {
        mode: {"command": m["command"], "scores": m["scores"]["classifier"], "mean_probability": m["mean_probability"]}
        for mode, m in result["modes"].items()}}


def rebuild(out, data_root, pretrained=None, install=False):
    """Run every step (see the module docstring); returns the record the model cards are written from."""
    from scripts.shipped.cards import portable, write_cards
    from scripts.shipped.transfer import compare

    out, data_root = Path(out).resolve(), Path(data_root).resolve()
    out.mkdir(parents=True, exist_ok=True)
    if pretrained is None:
        pretrain(out, data_root)
    else:
        copy_pretrained(out, pretrained)
    record = {"data_root": str(data_root), "model_config": MODEL_CONFIG,
              "pretraining": json.loads((out / "pretrained" / "pretraining.json").read_text())}
    record.update(finetune_promoter(out, data_root))
    started = time.time()
    record["evaluation"] = evaluate(out / "promoter", out / "evaluation", data_root, EVALUATE_OPTIONS)
    print(f"[rebuild] evaluate promoter: done in {time.time() - started:.1f} s", file=sys.stderr, flush=True)
    evaluation = record["evaluation"]
    evaluation["seeds"] = {str(run["seed"]): evaluate_float32(out, data_root, run["folder"], f"seed{run['seed']}")
                           for run in record["seeds"]}
    evaluation["uniform"] = {**evaluate_float32(out, data_root, record["uniform"]["folder"], "uniform"),
                             "seeds": record["uniform"]["seeds"], "calibration": record["uniform"]["calibration"]}
    evaluation["soup"] = record["soup"]  # shipped beside the card that quotes them
    evaluation["calibration"] = record["calibration"]
    record["transfer"] = compare(out, data_root)
    write_cards(out, record)
    for name, key, file in (("pretrained", "transfer", "transfer.json"), ("promoter", "evaluation", "evaluation.json")):
        (out / name / file).write_text(portable(json.dumps(record[key], indent=1) + "\n", out, data_root))
    (out / "record.json").write_text(json.dumps(record, indent=1) + "\n")
    if install:
        import dnabert2.shipped as shipped

        package = Path(shipped.__file__).resolve().parent
        for name in shipped.NAMES:
            shutil.rmtree(package / name, ignore_errors=True)
            shutil.copytree(out / name, package / name)
        print(f"[rebuild] installed into {package}", file=sys.stderr)
    return record


def main(argv=None):
    import argparse

    parser = argparse.ArgumentParser(prog="python scripts/shipped/rebuild.py",
                                     description="Rebuild the shipped pretrained and promoter models.")
    parser.add_argument("out_dir", help="work folder; OUT_DIR/pretrained and OUT_DIR/promoter are the results")
    parser.add_argument("--data-root", default=None,
                        help="shared data folder (default: $DNABERT2_SHARED_DATA or ../shared/data)")
    parser.add_argument("--pretrained", default=None, metavar="DIR",
                        help="use this pretrained model folder (holding pretraining.json) instead of pretraining")
    parser.add_argument("--install", action="store_true", help="copy the results into the package folder")
    args = parser.parse_args(argv)
    rebuild(args.out_dir, default_data_root(args.data_root), args.pretrained, args.install)


if __name__ == "__main__":
    main()
