"""`ig` and `grad-x-input`: attributions of the target with respect to the token embeddings (captum).

The input is the word embedding of every token, `[CLS] t1 ... tn [SEP]` ([1, S, H], before the embedding
LayerNorm, so the model runs unchanged from there). The baseline keeps the token positions: every real token's
embedding replaced by the [MASK] embedding (`mask`) or by the mean embedding of the vocabulary's ordinary tokens
(`mean`); [CLS] and [SEP] stay as they are, so they get no attribution. Integrated gradients (Sundararajan et
al. 2017) integrates the gradient along the straight line from the baseline to the input with Gauss-Legendre
quadrature (`steps` points), so that the attributions add up to f(input) - f(baseline) (completeness); gradient x
input is its one-step version, the gradient at the input times (input - baseline). A token's score is its
attribution summed over the hidden dimension.

Why not one-hot gradients or shuffled references, as convolutional models use: the tokens are discrete and a base
change re-cuts them, so there is no gradient with respect to a base, and a shuffled sequence tokenises into other
tokens at other positions, so it is no baseline of the same token positions.
"""
import numpy as np


def word_embeddings(net):
    """The word-embedding table of a model (its encoder's)."""
    return getattr(net, "bert", net).embeddings.word_embeddings


def baseline_vector(net, tokenizer, baseline):
    """[H]: the embedding every real token of the baseline gets (`mask` or `mean`)."""
    import torch

    table = word_embeddings(net).weight.detach()  # [V, H]
    if baseline == "mask":
        return table[tokenizer.mask_token_id]
    special = {tokenizer.convert_tokens_to_ids(t) for t in tokenizer.all_special_tokens}
    ordinary = torch.as_tensor([i for i in range(table.shape[0]) if i not in special], device=table.device)
    return table[ordinary].float().mean(0).to(table.dtype)


def embedding_attributions(net, ids, target, base_vector, steps, rows_per_call, one_step=False):
    """(token scores [n] float64, f(input), f(baseline)) for token ids [S] ([CLS] ... [SEP]) of one sequence.

    steps: integration points (ignored with `one_step`, gradient x input); rows_per_call: sequences per model call
    (captum's internal batch)."""
    import torch
    from captum.attr import IntegratedGradients

    device = base_vector.device
    ids = torch.as_tensor(np.asarray(ids), device=device)[None]  # [1, S]
    x = word_embeddings(net)(ids).detach()  # [1, S, H]
    b = x.clone()
    b[:, 1:-1] = base_vector  # [1, S, H]: the real tokens replaced, [CLS] and [SEP] kept

    def forward(embeddings):  # [B, S, H] -> [B]
        return target.of_logits(net(inputs_embeds=embeddings).logits)

    with torch.no_grad():
        f_input, f_baseline = (float(v) for v in forward(torch.cat([x, b])))
    with torch.enable_grad():
        if one_step:  # the gradient at the input (captum's quadratures need two points at least)
            point = x.clone().requires_grad_(True)
            gradient, = torch.autograd.grad(forward(point).sum(), point)  # [1, S, H]
            attributions = gradient * (x - b)
        else:
            attributions = IntegratedGradients(forward).attribute(
                x, baselines=b, n_steps=steps, method="gausslegendre", internal_batch_size=rows_per_call)
    scores = attributions[0, 1:-1].float().sum(-1)  # [n]
    return scores.double().cpu().numpy(), f_input, f_baseline
