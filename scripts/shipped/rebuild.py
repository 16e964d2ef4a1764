"""Rebuild the shipped models from scratch with the real CLI, and write their model cards from what was measured.

    python scripts/shipped/rebuild.py OUT_DIR [--data-root ../shared/data] [--install]

Steps (each a `dnabert2` command run as a subprocess, timed; a step already recorded in OUT_DIR/steps.json
whose output is present is kept, so an interrupted rebuild continues where it stopped):
  1. pretrain   a small masked-LM on the shared genomes with the released DNABERT-2 tokenizer
  2. convert    to float16 safetensors -> OUT_DIR/pretrained
  3. tables     the promoter training tables (see scripts/shipped/promoter_data.py)
  4. finetune   a promoter classifier from OUT_DIR/pretrained
  5. convert    to float16 -> OUT_DIR/promoter
  6. evaluate   on the chr2 Genomic Benchmarks intervals (scripts/shipped/evaluate.py)
  7. cards      README.md in both folders; --install copies both folders into the package (dnabert2/shipped/).
"""
if __package__ in (None, ""):  # run as a file: make the repository root importable
    import sys as _sys
    from pathlib import Path as _Path
    _sys.path.insert(0, str(_Path(__file__).resolve().parents[2]))

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

from scripts.shipped.evaluate import default_data_root, evaluate
from scripts.shipped.promoter_data import OTHER_GENOMES, build_tables

# the architecture: between the `tiny` and `small` presets (sized for ~20 min of pretraining on 2 CPU cores)
MODEL_CONFIG = {"hidden_size": 128, "num_hidden_layers": 4, "num_attention_heads": 4, "intermediate_size": 512,
                "vocab_size": 4096}
# the chr2 slice holds the evaluation intervals, so it is left out of pretraining too
PRETRAIN_GENOMES = (*OTHER_GENOMES, "human_chrM/MT-human.NC_012920.1.fa", "sars_cov_2/NC_045512.2.fasta")
PRETRAIN_OPTIONS = ("--max-tokens", "128", "--batch-size", "32", "--lr", "1e-3", "--save-every", "400",
                    "--eval-every", "400", "--eval-samples", "256", "--log-every", "10", "--workers", "1",
                    "--seed", "42")
FINETUNE_OPTIONS = ("--epochs", "2", "--lr", "3e-4", "--batch-size", "32", "--warmup-steps", "100",
                    "--eval-every", "200", "--max-length", "128", "--seed", "42")


def run_step(out, name, command, produces, inputs=""):
    """Run `command` (argv after `dnabert2`) unless steps.json already records it, with the same `inputs`
    fingerprint, and `produces` exists."""
    record_path = out / "steps.json"
    steps = json.loads(record_path.read_text()) if record_path.is_file() else {}
    shown = "dnabert2 " + " ".join(command)
    if name in steps and Path(produces).exists() and steps[name]["command"] == shown \
            and steps[name].get("inputs", "") == inputs:
        print(f"[rebuild] {name}: kept ({produces})", file=sys.stderr, flush=True)
        return steps[name]
    print(f"[rebuild] {name}: {shown}", file=sys.stderr, flush=True)
    started = time.time()
    subprocess.run([sys.executable, "-m", "dnabert2", *command], check=True)
    steps[name] = {"command": shown, "seconds": round(time.time() - started, 1), "inputs": inputs}
    record_path.write_text(json.dumps(steps, indent=1) + "\n")
    return steps[name]


def _digest(folder):
    """SHA-1 over the files of a folder (a step is rerun when its input folder changed)."""
    import hashlib

    digest = hashlib.sha1()
    for path in sorted(Path(folder).iterdir()):
        if path.is_file():
            digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()


def rebuild(out, data_root, pretrain_steps=2000, background_per_genome=400, install=False):
    """Run every step (see the module docstring); returns the record used for the model cards."""
    out, data_root = Path(out).resolve(), Path(data_root).resolve()
    out.mkdir(parents=True, exist_ok=True)
    config = out / "model_config.json"
    config.write_text(json.dumps(MODEL_CONFIG) + "\n")
    genomes = [str(data_root / "genomes" / g) for g in PRETRAIN_GENOMES]
    record = {"data_root": str(data_root), "model_config": MODEL_CONFIG}
    record["pretrain"] = run_step(out, "pretrain", [
        "pretrain", "--genome", *genomes, "--tokenizer", str(data_root / "reference_checkpoint"),
        "--model-config", str(config), "--max-steps", str(pretrain_steps), *PRETRAIN_OPTIONS,
        "-o", str(out / "pretrain_run"), "--force", "-q"], out / "pretrain_run" / "model.safetensors")
    record["convert_pretrained"] = run_step(out, "convert_pretrained", [
        "convert", str(out / "pretrain_run"), "-o", str(out / "pretrained"), "--task", "masked-lm",
        "--precision", "fp16", "--force", "-q"], out / "pretrained" / "model.safetensors")
    record["tables"] = build_tables(data_root, out / "promoter_tables", background_per_genome)
    record["finetune"] = run_step(out, "finetune", [
        "finetune", "--model", str(out / "pretrained"), "--data", str(out / "promoter_tables"), *FINETUNE_OPTIONS,
        "-o", str(out / "finetune_run"), "--force", "-q"], out / "finetune_run" / "metrics.json",
        inputs=_digest(out / "promoter_tables"))
    record["convert_promoter"] = run_step(out, "convert_promoter", [
        "convert", str(out / "finetune_run"), "-o", str(out / "promoter"), "--task", "classification",
        "--precision", "fp16", "--force", "-q"], out / "promoter" / "model.safetensors",
        inputs=_digest(out / "finetune_run"))
    record["evaluation"] = evaluate(out / "promoter", out / "evaluation", data_root)
    from scripts.shipped.cards import write_cards

    write_cards(out, record)
    (out / "record.json").write_text(json.dumps(record, indent=1) + "\n")
    if install:
        package = Path(__file__).resolve().parent
        for name in ("pretrained", "promoter"):
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
    parser.add_argument("--pretrain-steps", type=int, default=2000, help="pretraining optimiser steps")
    parser.add_argument("--background-per-genome", type=int, default=400,
                        help="random background windows per non-human genome in the promoter tables (0: none)")
    parser.add_argument("--install", action="store_true", help="copy the results into the package folder")
    args = parser.parse_args(argv)
    rebuild(args.out_dir, default_data_root(args.data_root), args.pretrain_steps, args.background_per_genome,
            args.install)


if __name__ == "__main__":
    main()
