"""The model and the commands on a CUDA GPU, against the CPU reference, and speed per attention backend there. Run
by hand on a machine with a GPU (about 2 minutes for sections 1-2 on an H100/H200 before section 2 ran embed with
flex and --compile and its embed table, which add an estimated 3-5; 5 more for section 3):

    python bench/gpu.py [--layers 12] [--skip-cli] [--only agreement|commands|speed]

1. Same numbers: a random masked-LM at the released width (hidden 768, 12 heads, GEGLU 3072) on a padded batch,
   in float32 on the CPU and on CUDA (TF32 off), each backend (sdpa, eager, flex; flash_attention_2 when flash-attn
   is installed, in bf16), padded and packed (`cu_seqlens`). Hidden states, masked-LM logits, the last-layer-only
   forward (`output_mask`), and one training step's loss and gradients of a sequence classifier (sdpa and flex).
   bf16 on CUDA is compared with the CPU's float32 as a relative error.
2. The commands (unless --skip-cli): `predict` and `embed` on test_data/promoters_example.fa with the shipped
   models on `--device cuda` against `--device cpu` (fp32 both, then CUDA's default bf16; embed also with
   `--attention flex`, packed, and `--compile`, printing their summaries: backend, first call), `finetune` and
   `pretrain` runs of a few steps on CUDA in bf16 (they must finish and write their folders), `pretrain` again with
   `--attention flex --compile` (packed batches, the default with flex), and `dnabert2.embed` of the 67 chr2
   promoters per --attention/--compile (bench/backends.py --embed-command: tokens/s, the first call's compilation).
3. Speed: bench/backends.py's table at full size (tokens/s, peak memory and MFU per backend, padded and packed,
   plain and compiled, for 32 x 512, 8 x 4,096, the chr2 promoters and pretraining steps through pretrain's own
   batches, objective and optimiser: sdpa, flex, packed or not, compiled or not, for the issue's 40% MFU target;
   the card's dense bf16 peak is looked up by name, `--peak-tflops` for another card).
"""
import argparse
import importlib.util
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEVICE = "cuda"  # --dry-run-cpu: the same script on the CPU (checks the script, not the GPU)


def padded_batch(lengths, vocab_size, seed=0):
    import torch

    g = torch.Generator().manual_seed(seed)
    S = max(lengths)
    ids = torch.randint(5, vocab_size, (len(lengths), S), generator=g)
    mask = (torch.arange(S)[None, :] < torch.tensor(lengths)[:, None]).long()
    return ids * mask, mask


def max_diff(a, b, mask=None):
    """max |a - b| over real tokens (mask [b, s]) and the largest |a| there, both as floats."""
    a, b = a.float().cpu(), b.float().cpu()
    if mask is not None:
        keep = mask.bool().cpu()
        a, b = a[keep], b[keep]
    return (a - b).abs().max().item(), a.abs().max().item()


def backends(dtype_name):
    from dnabert2.model.flex import flex_unavailable

    names = ["sdpa", "eager"]
    if flex_unavailable(DEVICE) is None:
        names.append("flex")
    if dtype_name == "bf16" and importlib.util.find_spec("flash_attn") is not None:
        names.append("flash_attention_2")
    return names


def agreement(layers):
    """Section 1: print one line per comparison."""
    import copy

    import torch

    from dnabert2.model import DNABert2Config, DNABert2ForMaskedLM, DNABert2ForSequenceClassification, pack_padded

    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.manual_seed(0)
    cfg = DNABert2Config(num_hidden_layers=layers)
    cpu = DNABert2ForMaskedLM(cfg).eval()
    ids, mask = padded_batch([512, 300, 77, 5], cfg.vocab_size)
    packed_ids, cu_seqlens = pack_padded(ids, mask)
    with torch.inference_mode():
        ref = cpu(ids, attention_mask=mask, output_hidden_states=True)
    ref_hidden, ref_logits = ref.hidden_states[-1][mask.bool()], ref.logits[mask.bool()]  # (t, H), (t, V)
    print(f"{'comparison':<58} {'max |diff|':>11} {'max |ref|':>10} {'relative':>9}")
    for dtype_name, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
        gpu = copy.deepcopy(cpu).to(DEVICE, dtype)
        for backend in backends(dtype_name):
            gpu.config._attn_implementation = backend
            for layout, inputs in (("padded", {"input_ids": ids, "attention_mask": mask}),
                                   ("packed", {"input_ids": packed_ids, "cu_seqlens": cu_seqlens})):
                with torch.inference_mode():
                    out = gpu(**{k: v.to(DEVICE) for k, v in inputs.items()}, output_hidden_states=True)
                keep = mask.bool().to(DEVICE) if layout == "padded" else slice(None)
                hidden = out.hidden_states[-1][keep].reshape(ref_hidden.shape)
                logits = out.logits[keep].reshape(ref_logits.shape)
                for what, a, b in (("last hidden state", hidden, ref_hidden), ("masked-LM logits", logits, ref_logits)):
                    d, m = max_diff(a, b)
                    label = f"cuda {dtype_name} {backend} {layout} vs cpu fp32: {what}"
                    print(f"{label:<58} {d:>11.2e} {m:>10.2f} {d / m:>9.1e}")
    # attention in many query blocks (the path of long inputs) against one block, on the device
    import dnabert2.model.attention as attention

    gpu = copy.deepcopy(cpu).to(DEVICE)
    gpu.config._attn_implementation = "sdpa"
    with torch.inference_mode():
        one = gpu.bert(ids.to(DEVICE), attention_mask=mask.to(DEVICE)).last_hidden_state
        limits = attention.MAX_BIAS_ELEMENTS, attention.GPU_BIAS_SHARE
        attention.MAX_BIAS_ELEMENTS, attention.GPU_BIAS_SHARE = 2**20, 0  # 4 x 12 x 512 x 512 bias: 13 blocks of 42 rows
        try:
            blocks = gpu.bert(ids.to(DEVICE), attention_mask=mask.to(DEVICE)).last_hidden_state
        finally:
            attention.MAX_BIAS_ELEMENTS, attention.GPU_BIAS_SHARE = limits
    d, m = max_diff(blocks, one, mask)
    print(f"{'cuda fp32 sdpa in 13 query blocks vs one block':<58} {d:>11.2e} {m:>10.2f} {d / m:>9.1e}")
    # the last layer at some positions only (score-variants' output_mask) against the whole forward, on CUDA
    gpu = copy.deepcopy(cpu).to(DEVICE)
    gpu.config._attn_implementation = "sdpa"
    wanted = torch.zeros_like(mask, dtype=torch.bool)
    wanted[0, [3, 100, 511]] = True
    wanted[2, 40] = True
    with torch.inference_mode():
        whole = gpu.bert(ids.to(DEVICE), attention_mask=mask.to(DEVICE)).last_hidden_state
        some = gpu.bert(ids.to(DEVICE), attention_mask=mask.to(DEVICE), output_mask=wanted.to(DEVICE)).last_hidden_state
    d, m = max_diff(some[wanted.to(DEVICE)], whole[wanted.to(DEVICE)])
    print(f"{'cuda fp32 output_mask vs whole forward (4 positions)':<58} {d:>11.2e} {m:>10.2f} {d / m:>9.1e}")
    # one training step of a sequence classifier (dropout off so both devices compute the same function)
    torch.manual_seed(1)
    cls_cfg = DNABert2Config(num_hidden_layers=layers, num_labels=2, hidden_dropout_prob=0.0,
                             attention_probs_dropout_prob=0.0)
    clf = DNABert2ForSequenceClassification(cls_cfg).train()
    labels = torch.tensor([0, 1, 1, 0])
    grads = {}
    for device, backend in (("cpu", "eager"), (DEVICE, "sdpa"), (DEVICE, "flex")):
        if backend not in backends("fp32") or (backend == "flex" and DEVICE == "cpu"):  # no backward on the CPU
            continue
        model = copy.deepcopy(clf).to(device)
        model.config._attn_implementation = backend
        model.zero_grad()
        loss = model(ids.to(device), attention_mask=mask.to(device), labels=labels.to(device)).loss
        loss.backward()
        grads[backend] = (loss.item(), {n: p.grad.detach().cpu() for n, p in model.named_parameters()})
    loss_cpu, g_cpu = grads.pop("eager")
    for backend, (loss_gpu, g_gpu) in grads.items():
        print(f"{f'training step, {backend}: loss cuda fp32 vs cpu fp32':<58} {abs(loss_cpu - loss_gpu):>11.2e} "
              f"{abs(loss_cpu):>10.2f} {abs(loss_cpu - loss_gpu) / abs(loss_cpu):>9.1e}")
        worst = max(g_cpu, key=lambda n: (g_cpu[n] - g_gpu[n]).abs().max().item()
                    / (g_cpu[n].abs().max().item() + 1e-12))
        d, m = max_diff(g_gpu[worst], g_cpu[worst])
        print(f"{f'training step, {backend}: gradients (worst tensor, relative)':<58} {d:>11.2e} {m:>10.2e} "
              f"{d / max(m, 1e-12):>9.1e}  ({worst})")


def run(argv, **kwargs):
    done = subprocess.run([sys.executable, "-m", "dnabert2", *argv], capture_output=True, text=True, **kwargs)
    if done.returncode != 0:
        raise RuntimeError(f"dnabert2 {' '.join(argv)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return done


def commands(layers):
    """Section 2: the real commands on CUDA and on the CPU; embed also with --attention flex and --compile, and
    bench/backends.py's --embed-command table (`dnabert2.embed` of the chr2 promoters per backend, `layers` layers
    at the released width)."""
    import h5py
    import numpy as np

    fasta = str(ROOT / "test_data" / "promoters_example.fa")
    shipped = ROOT / "dnabert2_cli" / "shipped"
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for command, key in (("predict", "probabilities"), ("embed", "embeddings")):
            files = {}
            # embed also with --attention flex (packed calls) and --compile, in fp32 and the automatic precision
            kernels = [] if command == "predict" else [
                ("cuda-fp32-flex", ["--device", DEVICE, "--precision", "fp32", "--attention", "flex"]),
                ("cuda-auto-flex", ["--device", DEVICE, "--attention", "flex"]),
                ("cuda-auto-flex-compile", ["--device", DEVICE, "--attention", "flex", "--compile"]),
                ("cuda-auto-compile", ["--device", DEVICE, "--compile"])]
            runs = dict([("cpu-fp32", ["--device", "cpu", "--precision", "fp32"]),
                         ("cuda-fp32", ["--device", DEVICE, "--precision", "fp32"]),
                         ("cuda-auto", ["--device", DEVICE]), *kernels])
            for name, extra in runs.items():
                path = tmp / f"{command}-{name}.h5"
                kernel = name in dict(kernels)
                done = run([command, "--fasta", fasta, "-o", str(path), *([] if kernel else ["-q"]), *extra])
                if kernel:  # its summary: backend, packed, compiled, the first call
                    print(f"{command} {' '.join(extra)}: " + " | ".join(
                        line for line in done.stderr.splitlines() if line.startswith(("Embedded", "First"))))
                with h5py.File(path) as f:
                    files[name] = (f[key][:].astype(np.float64), f.attrs.get("precision"))
            ref, _ = files["cpu-fp32"]
            for name in [name for name in files if name != "cpu-fp32"]:
                values, precision = files[name]
                options = "".join(f" {word}" for word in runs[name][2:])
                d = np.abs(values - ref).max()
                same = ""
                if key == "probabilities":
                    same = f", same calls {int((values.argmax(1) == ref.argmax(1)).sum())}/{len(ref)}"
                print(f"{command} --device cuda{options} ({precision}) vs cpu fp32: /{key} max |diff| {d:.2e} "
                      f"(max |value| {np.abs(ref).max():.2f}){same}")
        data = tmp / "ft"
        data.mkdir()
        for split in ("train", "dev", "test"):
            (data / f"{split}.csv").write_text((ROOT / "test_data" / f"ft_strings_{split}.csv").read_text())
        started = time.perf_counter()
        done = run(["finetune", "--model", str(shipped / "pretrained"), "--data", str(data), "-o",
                    str(tmp / "ft_out"), "--epochs", "2", "--device", DEVICE, "--precision", "bf16"])
        print(f"finetune --device cuda --precision bf16: {time.perf_counter() - started:.1f} s; "
              f"{done.stderr.strip().splitlines()[-1]}")
        started = time.perf_counter()
        done = run(["pretrain", "--genome", str(ROOT / "test_data" / "genome_small.fa.gz"), "--tokenizer",
                    str(shipped / "pretrained"), "--model-config", "tiny", "--max-steps", "30", "--batch-size", "8",
                    "--max-tokens", "128", "--eval-every", "10", "--save-every", "15", "--device", DEVICE,
                    "--precision", "bf16", "-o", str(tmp / "pt_out")])
        print(f"pretrain --device cuda --precision bf16 (30 steps): {time.perf_counter() - started:.1f} s; "
              f"{done.stderr.strip().splitlines()[-1]}")
        # the training kernels through the command: flex packs by default (--pack auto); the CPU has no flex backward
        kernels = ["--attention", "flex", "--compile"] if DEVICE == "cuda" else ["--pack", "--compile"]
        started = time.perf_counter()
        done = run(["pretrain", "--genome", str(ROOT / "test_data" / "genome_small.fa.gz"), "--tokenizer",
                    str(shipped / "pretrained"), "--model-config", "tiny", "--max-steps", "30", "--batch-size", "8",
                    "--max-tokens", "128", "--eval-every", "10", "--save-every", "15", "--device", DEVICE,
                    "--precision", "bf16", *kernels, "-o", str(tmp / "pt_kernels")])
        said = [line for line in done.stderr.splitlines() if "attention" in line or "compiled" in line]
        print(f"pretrain {' '.join(kernels)} (30 steps): {time.perf_counter() - started:.1f} s; "
              f"{' | '.join(said)}; {done.stderr.strip().splitlines()[-1]}")
    # `dnabert2.embed` of the chr2 promoters per --attention and --compile (bench/backends.py --embed-command)
    import backends

    print()
    backends.embed_table(2 if DEVICE == "cpu" else layers, DEVICE, runs=2 if DEVICE == "cpu" else 3)


def speed(layers, peak_tflops=None):
    """Section 3: bench/backends.py's table (at small sizes with --dry-run-cpu)."""
    import backends

    small = DEVICE == "cpu"
    backends.table(argparse.Namespace(cpu_small=small, layers=1 if small else layers, cases=",".join(backends.CASES),
                                      rows=None, precision="auto", repeats=1 if small else 10,
                                      warmup=1 if small else 3, peak_tflops=peak_tflops,
                                      interleave=False))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", type=int, default=12, help="encoder layers at the released width (default 12)")
    parser.add_argument("--skip-cli", action="store_true", help="leave out section 2 (the commands)")
    parser.add_argument("--only", choices=("agreement", "commands", "speed"), action="append",
                        help="run only these sections")
    parser.add_argument("--peak-tflops", type=float, help="the card's dense bf16 peak, if bench/backends.py lacks it")
    parser.add_argument("--dry-run-cpu", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()

    import torch

    global DEVICE
    if args.dry_run_cpu:
        DEVICE = "cpu"
        print("dry run on the CPU: the script's paths only, no GPU numbers")
    elif not torch.cuda.is_available():
        sys.exit("bench/gpu.py needs a CUDA GPU (torch.cuda.is_available() is False)")
    flash = importlib.util.find_spec("flash_attn") is not None
    card = "cpu"
    if DEVICE == "cuda":
        props = torch.cuda.get_device_properties(0)
        card = f"{torch.cuda.get_device_name(0)}, {props.total_memory / 2**30:.0f} GiB"
    print(f"{card}; torch {torch.__version__} (CUDA {torch.version.cuda}); flash-attn "
          f"{'installed' if flash else 'not installed'}; {args.layers} layers at hidden 768", flush=True)
    sections = args.only or ["agreement", *([] if args.skip_cli else ["commands"]), "speed"]
    for name, section in (("agreement", lambda: agreement(args.layers)), ("commands", lambda: commands(args.layers)),
                          ("speed", lambda: speed(args.layers, args.peak_tflops))):
        if name in sections:
            print(f"\n## {name}", flush=True)
            section()


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    main()
