"""`attention`: how much the [CLS] token attends to each token in one layer, averaged over the heads.

The weights come from the eager attention backend (the model returns them with `output_attentions`); the row of
[CLS] over the real tokens (not [CLS] or [SEP] themselves) is what DNABERT-viz drew, and each base gets the whole
weight of the token covering it (`bases.spread(..., "copy")`). It says where the model looks, not what a base
adds to the prediction: a weight is positive whatever the base does to the target.
"""
import numpy as np

from dnabert2.errors import InputError


def layer_index(layer, layers):
    """The index into the model's per-layer attentions of `--layer` (1..L, or -1 the last, -L the first)."""
    if not (1 <= layer <= layers or -layers <= layer <= -1):
        raise InputError(f"--layer {layer}: this model has {layers} layers; give 1 to {layers}, or -1 (last) to "
                         f"-{layers}")
    return layer - 1 if layer > 0 else layer


def cls_attention(net, ids, index):
    """[n] float64: the head-mean attention of [CLS] to each real token of token ids [S] in layer `index`."""
    import torch

    encoder = getattr(net, "bert", net)
    device = encoder.embeddings.word_embeddings.weight.device
    with torch.inference_mode():
        out = encoder(input_ids=torch.as_tensor(np.asarray(ids), device=device)[None], output_attentions=True)
        probs = out.attentions[index]  # [1, heads, S, S]
        row = probs[0, :, 0, 1:-1].float().mean(0)  # [n]
    return row.double().cpu().numpy()
