"""Model cards (README.md) of the shipped models, written by `rebuild` from what it measured."""
import json
from pathlib import Path

from scripts.shipped.rebuild import FINETUNE_OPTIONS


def _parameters(folder):
    from safetensors import safe_open

    with safe_open(str(Path(folder) / "model.safetensors"), framework="pt") as f:
        tensors = [f.get_slice(k) for k in f.keys()]
        dtypes = sorted({t.get_dtype() for t in tensors})
        count = 0
        for t in tensors:
            size = 1
            for dim in t.get_shape():
                size *= dim
            count += size
    return count, ", ".join(dtypes)


def _log_records(run):
    lines = (Path(run) / "log.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def _options(flags):
    return ", ".join(f"{flags[i]} {flags[i + 1]}" for i in range(0, len(flags), 2))


def _minutes(seconds):
    return f"{seconds / 60:.1f} min ({seconds:.0f} s)"


def _architecture(config):
    return (f"{config['num_hidden_layers']} layers, hidden size {config['hidden_size']}, "
            f"{config['num_attention_heads']} heads, GEGLU width {config['intermediate_size']}, "
            f"vocabulary {config['vocab_size']} (the released DNABERT-2 BPE tokenizer), ALiBi positions")


REBUILD = "python scripts/shipped/rebuild.py OUT_DIR --data-root ../shared/data --install"
PATHS_NOTE = "OUT_DIR stands for the rebuild's output folder and DATA for the shared data folder (`--data-root`)."

LIMITS_COMMON = """- Trained for minutes on 2 shared CPU cores: a demonstration-size model, far weaker than DNABERT-2-117M.
  For real work fine-tune the released model (`dnabert2 convert` it, then `dnabert2 finetune --model ...`).
- Weights are stored as float16 to keep the package small; `dnabert2.load_model` casts them to float32 on
  CPU (and to bf16/fp16 on GPU with `--precision`)."""


def pretrained_card(out, record):
    config = record["model_config"]
    params, dtypes = _parameters(out / "pretrained")
    logs = _log_records(out / "pretrain_run")
    train = [r for r in logs if "loss" in r]
    evals = [r for r in logs if "eval_loss" in r]
    last, last_eval, first_eval = train[-1], evals[-1], evals[0]
    run = json.loads((out / "pretrain_run" / "run.json").read_text())
    genomes = "\n".join(f"- `{Path(g).relative_to(record['data_root'])}`" for g in run["data"]["genomes"])
    return f"""# Shipped model: `pretrained` (small DNABERT-2 masked-LM)

`dnabert2 embed` uses this model when no `--model` is given. Folder: `dnabert2.shipped.model_path("pretrained")`.

## Model
{_architecture(config)}; {params:,} parameters stored as {dtypes} safetensors, masked-LM head kept (tied decoder).

## Data
Random windows of {run['max_tokens']} tokens from these genomes of the shared data folder (both strands,
N-free stretches, sampled in proportion to usable length; {100 * run['eval_fraction']:.0f}% of each genome held
out for the evaluation loss):
{genomes}

The human chr2:1-2,333,275 slice is deliberately left out: it holds the intervals the promoter classifier is
evaluated on. Tokenizer: the released DNABERT-2-117M tokenizer (`reference_checkpoint/tokenizer.json`).

## Commands (run by `{REBUILD}`)
{PATHS_NOTE}
```
{record['pretrain']['command']}
{record['convert_pretrained']['command']}
```

## Training
- {last['step']} optimiser steps of {run['global_batch']} windows x {run['max_tokens']} tokens, masking 15% (80/10/10),
  AdamW, peak learning rate 1e-3 with 6% warm-up and linear decay, seed 42.
- Wall time: {_minutes(record['pretrain']['seconds'])} on 2 shared CPU cores.
- Training loss at the end: {last['loss']:.3f} (masked-token accuracy {last['mlm_accuracy']:.3f}).
- Held-out masked-LM loss: {first_eval['eval_loss']:.3f} at step {first_eval['step']} ->
  {last_eval['eval_loss']:.3f} at step {last_eval['step']} (accuracy {last_eval['eval_accuracy']:.3f};
  chance level is ln(4096) = 8.32).

## Limits
{LIMITS_COMMON}
- Its embeddings are generic sequence features (composition, repeats); they are not tuned for any task.
"""


def _metrics_table(metrics):
    names = [k for k in ("accuracy", "f1", "mcc", "precision", "recall", "loss") if k in metrics]
    return ("| " + " | ".join(names) + " |\n|" + "---|" * len(names) + "\n| "
            + " | ".join(f"{metrics[k]:.3f}" for k in names) + " |")


# how the training data came to be what it is (runs of this script, 2026-11-22, same pretrained model)
HISTORY = """## How the training data was chosen
The first classifier of this build was trained without the splice-site sequences (GUE promoters, lsgkm human
negatives, chrM and the other genomes only; test accuracy 0.827, MCC 0.653). On the chr2 intervals it barely
separated promoters from background: AUROC 0.509 (centre 300 bp) and 0.546 (tiled), with background scoring a
mean promoter probability of 0.60, as high as the promoters (0.59). It had learnt "natural sequence vs shuffled
promoter" more than "promoter vs other human DNA", having seen little ordinary human DNA. The 4,000 human genic
splice-site sequences were added as negatives for the model shipped here; nothing else changed."""


def promoter_card(out, record):
    params, dtypes = _parameters(out / "promoter")
    metrics = json.loads((out / "finetune_run" / "metrics.json").read_text())
    tables, evaluation = record["tables"], record["evaluation"]
    rows = "\n".join(
        f"| {split} | {tables[split]['rows']:,} | {tables[split]['positives']:,} | "
        + ", ".join(f"{k}: {v}" for k, v in tables[split]["by_source"].items()) + " |"
        for split in ("train", "dev", "test"))
    modes = "\n".join(
        f"| {mode} | {m['auroc']:.3f} | {m['auroc_vs_random_background']:.3f} | {m['mean_promoter']:.3f} | "
        f"{m['mean_background']:.3f} | {m['mean_random_background']:.3f} |"
        for mode, m in evaluation["modes"].items())
    commands = "\n".join(m["command"] for m in evaluation["modes"].values())
    return f"""# Shipped model: `promoter` (human promoter classifier, 300 bp)

`dnabert2 predict` uses this model when no `--model` is given. Folder: `dnabert2.shipped.model_path("promoter")`.
Labels: `1` = promoter, `0` = not a promoter; the `1` column of `/probabilities` is the promoter probability.

## Model
Fine-tuned from the shipped `pretrained` model (all weights, {params:,} parameters stored as {dtypes}),
classifier on the [CLS] pooler output.

## Data
All 300 bp GUE promoter tables present in the shared data (`gue/prom/prom_300_tata` train/dev/test,
`prom_300_all` and `prom_300_notata` dev/test; `prom_300_all` has no train table here). They overlap (`all`
contains `tata` and `notata`), so rows were pooled ({tables['input_rows']:,} rows), de-duplicated by sequence and
reverse complement ({tables['unique_sequences']:,} unique, {tables['dropped_conflicting']} with both labels dropped)
and split again by a SHA-1 hash of the canonical sequence (1/10 test, 1/10 dev, rest train), so no sequence
is shared between train, dev and test on either strand.

GUE negatives are promoter sequences with parts shuffled, so they share a promoter's base composition. To teach
the model what ordinary genomic DNA looks like, real genomic background negatives were added (label 0): the
GC-matched human genomic negatives of the ENCODE NFE2 lsgkm set (hg19; none from chr2 below 3 Mbp), 4,000 human
genic sequences from GUE's splice-site tables (centre 300 bp, any splice label), the human mitochondrion in 300 bp
tiles, and random 300 bp windows of the yeast, E. coli, A. thaliana, C. elegans and
D. melanogaster genomes. Nothing comes from the chr2 slice used for evaluation below.

| split | rows | promoters | rows by source and label |
|---|---|---|---|
{rows}

## Commands (run by `{REBUILD}`)
{PATHS_NOTE}
The tables are written by `build_tables` in scripts/shipped/promoter_data.py, then:
```
{record['finetune']['command']}
{record['convert_promoter']['command']}
```

## Training
- {metrics['steps']} optimiser steps ({_options(FINETUNE_OPTIONS)}; AdamW, linear warm-up then decay),
  checkpoint kept by the best dev loss; wall time {_minutes(record['finetune']['seconds'])} on 2 shared CPU cores.

## Test metrics (held-out split above, {metrics['rows']['test']:,} rows)
{_metrics_table(metrics['test'])}

## Real promoters vs genomic background (hg38 chr2:1-2,333,275)
Intervals of `genomes/human_hg38_chr2_1-2333275/genomic_benchmarks_regions_chr2_1-2333275.bed`: promoters are
class `promoter` of human_ensembl_regulatory and `positive` of human_nontata_promoters ({evaluation['promoters']});
background is every other interval that overlaps no promoter ({evaluation['background']}: enhancers, open
chromatin, their negatives, random human and intergenic windows; {evaluation['left_out_overlapping_promoters']}
overlapping intervals left out). "random" is the subset of background from negative/random classes only
({evaluation['random_background']}). Computed by `python scripts/shipped/evaluate.py` with:
```
{commands}
```

| mode | AUROC vs background | AUROC vs random | mean p(promoter): promoters | background | random |
|---|---|---|---|---|---|
{modes}

{HISTORY}

## Limits
{LIMITS_COMMON}
- Trained on 300 bp human promoter windows (GUE's prom_300: -249..+50 around the TSS). Give it 300 bp windows
  (`--resize 300` on BED input, or `--window 300` to tile longer regions); on other lengths and species its
  probabilities are not calibrated.
- It separates real promoters from genomic background only weakly (AUROC in the table above): it shows how
  the tool works; it is not a promoter annotator.
- Enhancers and open chromatin often share promoter features (CpG-rich, TF motifs) and get higher scores than
  random DNA.
"""


def _portable(text, out, data_root):
    """Name folders as OUT_DIR (the rebuild's output) and DATA (the data root), not the build machine's paths."""
    for path, name in sorted([(str(out), "OUT_DIR"), (str(data_root), "DATA")], key=lambda p: -len(p[0])):
        text = text.replace(path, name)
    return text


def write_cards(out, record):
    out = Path(out)
    for name, card in (("pretrained", pretrained_card), ("promoter", promoter_card)):
        text = _portable(card(out, record), out, record["data_root"])
        (out / name / "README.md").write_text(text)
