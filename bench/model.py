"""Forward-pass speed and memory of the DNABERT-2 encoder on CPU, next to a plain copy of the original's CPU path.

Run by hand: `python bench/model.py` (about 5 to 10 minutes on 2 cores; `--layers 12` for the whole model).

Both implementations run the released width (hidden 768, 12 heads, GEGLU 3072) with the same random weights:
- ours: `DNABert2Model` (linear layers on the real tokens, SDPA in blocks of query rows with an ALiBi + mask bias
  that never exists whole for long inputs);
- original: the release's CPU path written out plainly here: linear layers on the unpadded tokens, attention on the
  re-padded batch with a materialised [B, H, S, S] ALiBi + mask bias (float32, built once per forward) and an
  explicit softmax, as in its `bert_layers.py` without Triton.

Each case runs in a fresh process, so that its extra peak memory (peak resident memory during the forward minus
the resident memory before it, from Linux's VmHWM after resetting it) is not hidden by memory freed earlier.
GFLOP/s count the useful work only (matrix products on real tokens; attention over real keys), and are compared
with this machine's measured rate for one linear layer of the model's shape.
"""
import argparse
import json
import math
import os
import subprocess
import sys
import time

CASES = {"4x512": [512, 480, 448, 416], "1x4096": [4096]}  # sequence lengths in tokens (the first case padded)


def rss_kib(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def reset_peak():
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def original_forward(model, ids, mask):
    """The release's CPU forward (no Triton), from the weights of our model, written plainly."""
    import torch
    import torch.nn.functional as F

    cfg = model.config
    B, S = ids.shape
    H, n = cfg.hidden_size, cfg.num_attention_heads
    d = H // n
    emb = model.embeddings
    x = emb.LayerNorm(emb.word_embeddings(ids) + emb.token_type_embeddings.weight[0])  # (b, s, H)
    flat_mask = mask.flatten().bool()
    indices = torch.nonzero(flat_mask).flatten()
    x = x.reshape(B * S, H)[indices]  # (t, H) real tokens only
    # ALiBi table [1, n, S, S] and the padding mask bias, added together once per forward, in float32
    slopes = torch.tensor(model.encoder.alibi.slopes("cpu").tolist())
    pos = torch.arange(S)
    alibi = (-(pos[None, :] - pos[:, None]).abs().float())[None, None] * slopes[None, :, None, None]
    bias = alibi + ((1.0 - mask.float()) * -10000.0)[:, None, None, :]  # (b, n, S, S)
    for layer in model.encoder.layer:
        att = layer.attention
        qkv = att.self.Wqkv(x)  # (t, 3H)
        padded = x.new_zeros(B * S, 3 * H)
        padded[indices] = qkv
        q, k, v = padded.view(B, S, 3, n, d).permute(2, 0, 3, 1, 4).unbind(0)  # 3 x (b, n, S, d)
        scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(d)  # (b, n, S, S)
        scores = scores + bias
        probs = torch.softmax(scores, dim=-1).to(v.dtype)
        out = torch.matmul(probs, v).permute(0, 2, 1, 3).reshape(B * S, H)[indices]  # (t, H)
        x = att.output.LayerNorm(att.output.dense(out) + x)
        mlp = layer.mlp
        g = mlp.gated_layers(x)
        x = mlp.layernorm(mlp.wo(F.gelu(g[:, :cfg.intermediate_size]) * g[:, cfg.intermediate_size:]) + x)
    full = x.new_zeros(B * S, H)
    full[indices] = x
    return full.view(B, S, H)


def useful_gflop(cfg, lengths):
    H, inter = cfg.hidden_size, cfg.intermediate_size
    per_token = 2 * (H * 3 * H + H * H + H * 2 * inter + inter * H)
    attention = sum(4 * L * L * H for L in lengths)
    return cfg.num_hidden_layers * (per_token * sum(lengths) + attention) / 1e9


def run_case(impl, dtype_name, case, layers, repeats):
    """One measurement in this process: JSON on stdout."""
    import torch

    from dnabert2.model import DNABert2Config, DNABert2Model

    torch.manual_seed(0)
    dtype = {"fp32": torch.float32, "bf16": torch.bfloat16}[dtype_name]
    cfg = DNABert2Config(num_hidden_layers=layers)
    model = DNABert2Model(cfg, add_pooling_layer=False).eval().to(dtype)
    lengths = CASES[case]
    S = max(lengths)
    ids = torch.randint(5, cfg.vocab_size, (len(lengths), S))
    mask = (torch.arange(S)[None, :] < torch.tensor(lengths)[:, None]).long()
    forward = (lambda: model(ids, attention_mask=mask).last_hidden_state) if impl == "ours" else \
        (lambda: original_forward(model, ids, mask))
    times = []
    with torch.inference_mode():
        before = rss_kib("VmRSS")
        reset_peak()
        start = time.perf_counter()
        out = forward()
        times.append(time.perf_counter() - start)
        peak = rss_kib("VmHWM")
        del out
        for _ in range(repeats - 1):
            start = time.perf_counter()
            forward()
            times.append(time.perf_counter() - start)
    seconds = min(times)
    gflop = useful_gflop(cfg, lengths)
    return {"tokens_per_s": sum(lengths) / seconds, "ms": seconds * 1e3, "extra_peak_mib": (peak - before) / 1024,
            "gflops": gflop / seconds}


def matmul_rate(dtype_name):
    """GFLOP/s of one linear layer's product at the model's shapes (2048 tokens, 768 -> 3072), as the layers run
    them (F.linear). On CPUs without native bf16 (AVX2 only), bf16 runs far below fp32."""
    import torch
    import torch.nn.functional as F

    dtype = {"fp32": torch.float32, "bf16": torch.bfloat16}[dtype_name]
    x = torch.randn(2048, 768).to(dtype)
    w = torch.randn(3072, 768).to(dtype)
    best = math.inf
    with torch.inference_mode():
        F.linear(x, w)
        for _ in range(3):
            start = time.perf_counter()
            F.linear(x, w)
            best = min(best, time.perf_counter() - start)
    return 2 * 2048 * 768 * 3072 / best / 1e9


def check_agreement(layers):
    """Both implementations give the same numbers (fp32, the padded case, max abs difference)."""
    import torch

    from dnabert2.model import DNABert2Config, DNABert2Model

    torch.manual_seed(0)
    model = DNABert2Model(DNABert2Config(num_hidden_layers=layers), add_pooling_layer=False).eval()
    lengths = [64, 50, 7]
    ids = torch.randint(5, 4096, (3, 64))
    mask = (torch.arange(64)[None, :] < torch.tensor(lengths)[:, None]).long()
    with torch.inference_mode():
        ours = model(ids, attention_mask=mask).last_hidden_state
        theirs = original_forward(model, ids, mask)
    return (ours - theirs).abs().max().item()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", type=int, default=2, help="encoder layers at the released width (default 2)")
    parser.add_argument("--repeats", type=int, default=3, help="timed forwards per case; the fastest counts")
    parser.add_argument("--case", choices=sorted(CASES), action="append", help="only these cases")
    parser.add_argument("--one", nargs=3, metavar=("IMPL", "DTYPE", "CASE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_case(*args.one, args.layers, args.repeats)))
        return

    import torch

    threads = torch.get_num_threads()
    rates = {name: matmul_rate(name) for name in ("fp32", "bf16")}
    print(f"torch {torch.__version__}, {threads} threads; linear 2048x768x3072: fp32 {rates['fp32']:.0f} GFLOP/s, "
          f"bf16 {rates['bf16']:.0f} GFLOP/s; {args.layers} layers at hidden 768", flush=True)
    print(f"ours vs original (fp32, padded batch of 3): max |difference| {check_agreement(args.layers):.2e}",
          flush=True)
    print()
    header = (f"{'case':<8} {'dtype':<5} {'impl':<9} {'tokens/s':>9} {'ms':>8} {'extra peak MiB':>15} "
              f"{'GFLOP/s':>8} {'of linear':>9} {'speed-up':>9} {'memory':>7}")
    print(header, flush=True)
    print("-" * len(header))
    for case in args.case or CASES:
        for dtype in ("fp32", "bf16"):
            results = {}
            for impl in ("original", "ours"):
                cmd = [sys.executable, __file__, "--layers", str(args.layers), "--repeats", str(args.repeats),
                       "--one", impl, dtype, case]
                done = subprocess.run(cmd, capture_output=True, text=True, env=os.environ)
                if done.returncode != 0:
                    print(f"{case:<8} {dtype:<5} {impl:<9} failed: {done.stderr.strip().splitlines()[-1]}")
                    continue
                r = results[impl] = json.loads(done.stdout.strip().splitlines()[-1])
                speedup = memory = ""
                if impl == "ours" and "original" in results:
                    o = results["original"]
                    speedup = f"{r['tokens_per_s'] / o['tokens_per_s']:.2f}x"
                    memory = f"{r['extra_peak_mib'] / max(o['extra_peak_mib'], 1e-9):.2f}x"
                print(f"{case:<8} {dtype:<5} {impl:<9} {r['tokens_per_s']:>9.0f} {r['ms']:>8.0f} "
                      f"{r['extra_peak_mib']:>15.0f} {r['gflops']:>8.1f} {r['gflops'] / rates[dtype]:>9.0%} "
                      f"{speedup:>9} {memory:>7}", flush=True)
    print()
    print("Goals: 4x512 ours >= 1.2x (fp32) and >= 2x (bf16) the original's tokens/s; "
          "1x4096 fp32 >= 3x faster with <= 1/3 of its extra peak memory.")


if __name__ == "__main__":
    main()
