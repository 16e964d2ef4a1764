"""The model and the commands on a CUDA GPU, against the CPU reference, and forward speed of the attention
backends there. Run by hand on a machine with a GPU (about 2 minutes on an H100/H200):

    python bench/gpu.py [--layers 12] [--skip-cli]

1. Same numbers: a random masked-LM at the released width (hidden 768, 12 heads, GEGLU 3072) on a padded batch,
   in float32 on the CPU and on CUDA (TF32 off), each backend (sdpa, eager; flash_attention_2 when flash-attn is
   installed, in bf16). Hidden states, masked-LM logits, the last-layer-only forward (`output_mask`), and one
   training step's loss and gradients of a sequence classifier. bf16 on CUDA is compared with the CPU's float32
   as a relative error.
2. The commands (unless --skip-cli): `predict` and `embed` on test_data/promoters_example.fa with the shipped
   models on `--device cuda` against `--device cpu` (fp32 both, then CUDA's default bf16), and `finetune` and
   `pretrain` runs of a few steps on CUDA in bf16 (they must finish and write their folders).
3. Speed: the encoder forward in bf16 (fp32 too, sdpa only) at 512 tokens (batches of 1 and 32, lengths 512 down
   to 416 as real tokenised windows are) and at 4,096 tokens (batches of 1 and 8): milliseconds (median of 20
   after 5 warm-ups), tokens per second and peak GPU memory, per backend. `sdpa` is the shipped backend (ALiBi
   bias in blocks of query rows, each at most a 16th of the card's memory); `sdpa-2^26-blocks` is the same with
   the CPU's blocks of at most 2^26 bias elements (what CUDA used before blocks were sized to the card).
"""
import argparse
import importlib.util
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEVICE = "cuda"  # --dry-run-cpu: the same script on the CPU (checks the script, not the GPU)
SPEED_CASES = {"1x512": [512], "32x512": [512 - 3 * i for i in range(32)], "1x4096": [4096],
               "8x4096": [4096 - 32 * i for i in range(8)]}


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
    import torch  # noqa: F401

    names = ["sdpa", "eager"]
    if dtype_name == "bf16" and importlib.util.find_spec("flash_attn") is not None:
        names.append("flash_attention_2")
    return names


def agreement(layers):
    """Section 1: print one line per comparison."""
    import copy

    import torch

    from dnabert2.model import DNABert2Config, DNABert2ForMaskedLM, DNABert2ForSequenceClassification

    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.manual_seed(0)
    cfg = DNABert2Config(num_hidden_layers=layers)
    cpu = DNABert2ForMaskedLM(cfg).eval()
    ids, mask = padded_batch([512, 300, 77, 5], cfg.vocab_size)
    with torch.inference_mode():
        ref = cpu(ids, attention_mask=mask, output_hidden_states=True)
    ref_hidden, ref_logits = ref.hidden_states[-1], ref.logits
    print(f"{'comparison':<58} {'max |diff|':>11} {'max |ref|':>10} {'relative':>9}")
    for dtype_name, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
        gpu = copy.deepcopy(cpu).to(DEVICE, dtype)
        for backend in backends(dtype_name):
            gpu.config._attn_implementation = backend
            with torch.inference_mode():
                out = gpu(ids.to(DEVICE), attention_mask=mask.to(DEVICE), output_hidden_states=True)
            for what, a, b in (("last hidden state", out.hidden_states[-1], ref_hidden),
                               ("masked-LM logits", out.logits, ref_logits)):
                d, m = max_diff(a, b, mask)
                print(f"{f'cuda {dtype_name} {backend} vs cpu fp32: {what}':<58} {d:>11.2e} {m:>10.2f} {d / m:>9.1e}")
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
    for device in ("cpu", DEVICE):
        model = copy.deepcopy(clf).to(device)
        model.zero_grad()
        loss = model(ids.to(device), attention_mask=mask.to(device), labels=labels.to(device)).loss
        loss.backward()
        grads[device] = (loss.item(), {n: p.grad.detach().cpu() for n, p in model.named_parameters()})
    (loss_cpu, g_cpu), (loss_gpu, g_gpu) = grads["cpu"], grads[DEVICE]
    print(f"{'training step: loss cuda fp32 vs cpu fp32':<58} {abs(loss_cpu - loss_gpu):>11.2e} "
          f"{abs(loss_cpu):>10.2f} {abs(loss_cpu - loss_gpu) / abs(loss_cpu):>9.1e}")
    worst = max(g_cpu, key=lambda n: (g_cpu[n] - g_gpu[n]).abs().max().item() / (g_cpu[n].abs().max().item() + 1e-12))
    d, m = max_diff(g_gpu[worst], g_cpu[worst])
    print(f"{'training step: gradients (worst tensor, relative)':<58} {d:>11.2e} {m:>10.2e} {d / max(m, 1e-12):>9.1e}"
          f"  ({worst})")


def run(argv, **kwargs):
    done = subprocess.run([sys.executable, "-m", "dnabert2", *argv], capture_output=True, text=True, **kwargs)
    if done.returncode != 0:
        raise RuntimeError(f"dnabert2 {' '.join(argv)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return done


def commands():
    """Section 2: the real commands on CUDA and on the CPU."""
    import h5py
    import numpy as np

    fasta = str(ROOT / "test_data" / "promoters_example.fa")
    shipped = ROOT / "dnabert2_cli" / "shipped"
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for command, key in (("predict", "probabilities"), ("embed", "embeddings")):
            files = {}
            for name, extra in (("cpu-fp32", ["--device", "cpu", "--precision", "fp32"]),
                                ("cuda-fp32", ["--device", DEVICE, "--precision", "fp32"]),
                                ("cuda-auto", ["--device", DEVICE])):
                path = tmp / f"{command}-{name}.h5"
                run([command, "--fasta", fasta, "-o", str(path), "-q", *extra])
                with h5py.File(path) as f:
                    files[name] = (f[key][:].astype(np.float64), f.attrs.get("precision"))
            ref, _ = files["cpu-fp32"]
            for name in ("cuda-fp32", "cuda-auto"):
                values, precision = files[name]
                d = np.abs(values - ref).max()
                same = ""
                if key == "probabilities":
                    same = f", same calls {int((values.argmax(1) == ref.argmax(1)).sum())}/{len(ref)}"
                print(f"{command} --device cuda ({precision}) vs cpu fp32: /{key} max |diff| {d:.2e} "
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


def time_forward(model, ids, mask, repeats=20, warmup=5):
    import torch

    with torch.inference_mode():
        for _ in range(warmup):
            model(ids, attention_mask=mask)
        if DEVICE == "cpu":  # dry run: wall-clock time, no memory reading
            times = []
            for _ in range(repeats):
                start = time.perf_counter()
                model(ids, attention_mask=mask)
                times.append((time.perf_counter() - start) * 1e3)
            return statistics.median(times), 0.0
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        times = []
        for _ in range(repeats):
            start = torch.cuda.Event(enable_timing=True)
            end = torch.cuda.Event(enable_timing=True)
            start.record()
            model(ids, attention_mask=mask)
            end.record()
            torch.cuda.synchronize()
            times.append(start.elapsed_time(end))
        peak = torch.cuda.max_memory_allocated() - base
    return statistics.median(times), peak / 2**20


def speed(layers):
    """Section 3: a table of forward speed per case, precision and backend."""
    import torch

    import dnabert2.model.attention as attention
    from dnabert2.model import DNABert2Config, DNABert2Model

    torch.backends.cuda.matmul.allow_tf32 = False
    torch.manual_seed(0)
    cfg = DNABert2Config(num_hidden_layers=layers)
    base = DNABert2Model(cfg, add_pooling_layer=False).eval()
    print(f"{'case':<8} {'dtype':<5} {'backend':<18} {'ms':>8} {'tokens/s':>11} {'peak MiB':>9} {'vs eager':>9}")
    shipped_share = attention.GPU_BIAS_SHARE
    for dtype_name, dtype in (("bf16", torch.bfloat16), ("fp32", torch.float32)):
        model = base.to(DEVICE, dtype)
        for case, lengths in SPEED_CASES.items():
            ids, mask = padded_batch(lengths, cfg.vocab_size)
            ids, mask = ids.to(DEVICE), mask.to(DEVICE)
            names = backends(dtype_name) + ["sdpa-2^26-blocks"] if dtype_name == "bf16" else ["sdpa", "eager"]
            results = {}
            for name in names:
                model.config._attn_implementation = "sdpa" if name == "sdpa-2^26-blocks" else name
                attention.GPU_BIAS_SHARE = 0 if name == "sdpa-2^26-blocks" else shipped_share
                try:
                    ms, peak = time_forward(model, ids, mask)
                except torch.OutOfMemoryError:
                    print(f"{case:<8} {dtype_name:<5} {name:<18} out of GPU memory")
                    torch.cuda.empty_cache()
                    continue
                finally:
                    attention.GPU_BIAS_SHARE = shipped_share
                results[name] = ms
                ratio = f"{results['eager'] / ms:.2f}x" if "eager" in results else ""
                print(f"{case:<8} {dtype_name:<5} {name:<18} {ms:>8.2f} {sum(lengths) / ms * 1e3:>11.0f} "
                      f"{peak:>9.0f} {ratio:>9}", flush=True)
            if "eager" in results and "sdpa" in results:
                print(f"{'':<8} {'':<5} {'sdpa vs eager':<18} {results['eager'] / results['sdpa']:>7.2f}x")
            torch.cuda.empty_cache()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", type=int, default=12, help="encoder layers at the released width (default 12)")
    parser.add_argument("--skip-cli", action="store_true", help="leave out section 2 (the commands)")
    parser.add_argument("--only", choices=("agreement", "commands", "speed"), action="append",
                        help="run only these sections")
    parser.add_argument("--dry-run-cpu", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()

    import torch

    global DEVICE, SPEED_CASES
    if args.dry_run_cpu:
        DEVICE = "cpu"
        SPEED_CASES = {"1x64": [64], "4x64": [64, 61, 58, 55]}
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
    for name, section in (("agreement", lambda: agreement(args.layers)), ("commands", commands),
                          ("speed", lambda: speed(args.layers))):
        if name in sections:
            print(f"\n## {name}", flush=True)
            section()


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    main()
