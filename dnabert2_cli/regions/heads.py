"""What a run writes per region, and how the model's output for a window becomes it.

Every run writes the /regions columns (`REGION_COLUMNS`). Its `Head` adds the rest: embed writes /embeddings (or
per-token /tokens with --pooling none), predict /probabilities and /labels (or /values for a regression model).
`Head.forward` runs the model on one batch of windows; `Head.finish` turns the sums folded from a region's
windows into its row. Layout: docs/hdf5.md.
"""
from dataclasses import dataclass

import numpy as np

from dnabert2.common.scores import predicted_labels
from dnabert2.regions.h5writer import STRING
from dnabert2.regions.settings import UNPOOLED

REGION_COLUMNS = {
    "regions/index": ("int64", ()),
    "regions/chrom": (STRING, ()),
    "regions/start": ("int64", ()),
    "regions/end": ("int64", ()),
    "regions/name": (STRING, ()),
    "regions/strand": (STRING, ()),
    "regions/length_bp": ("int64", ()),
    "regions/n_windows": ("int64", ()),
    "regions/n_tokens": ("int64", ()),
    "regions/n_unknown_tokens": ("int64", ()),
}


def region_columns(accs):
    """The /regions columns of finished regions (objects with .region, .n_windows, .n_tokens, .n_unknown)."""
    cols = {name: [] for name in REGION_COLUMNS}
    for a in accs:
        r = a.region
        for name, value in (("index", r.index), ("chrom", r.chrom), ("start", r.start), ("end", r.end),
                            ("name", r.name), ("strand", r.strand), ("length_bp", r.length),
                            ("n_windows", a.n_windows), ("n_tokens", a.n_tokens), ("n_unknown_tokens", a.n_unknown)):
            cols[f"regions/{name}"].append(value)
    return {name: np.asarray(values, dtype=object if REGION_COLUMNS[name][0] == STRING else
                             REGION_COLUMNS[name][0]) for name, values in cols.items()}


@dataclass
class Head:
    """What a run writes per region besides /regions, and how window outputs become it."""
    settings: object  # the run's RegionSettings
    columns: dict  # name -> (dtype, tail shape)
    token_columns: dict = None
    label_names: list = None
    problem_type: str = None

    @property
    def per_token(self):
        """embed --pooling none: every token's vector goes to /tokens, regions get no value of their own (and
        --per-base: the same, one row per base)."""
        return self.settings.kind == "embed" and self.settings.pooling in UNPOOLED

    @property
    def per_base(self):
        """embed --per-base: each token's row is repeated for every base it covers."""
        return self.settings.kind == "embed" and self.settings.pooling == "per-base"

    @property
    def takes_max(self):
        """embed --pooling max: a region's vector is the maximum over its windows, not their weighted mean."""
        return self.settings.kind == "embed" and self.settings.pooling == "max"

    def forward(self, model, rows, real, device):
        """One batch of windows (`rows`, a common.batching.TokenRows, padded or packed; `real` its mask of real
        tokens as a tensor laid out the same way) through the model on `device` -> per-window numpy results.

        embed: (value [B, H] float64 to add or max into the region, weight [B]); per token: (vectors [B, S, H], real),
        or, packed, lists of each window's [length, H] vectors and [length] mask.
        predict: (probabilities or values [B, L] float64 times the weight, weight [B]).
        The weight of a window is its number of real tokens; with --pooling mean-all, of all its tokens ([CLS] and
        [SEP] too), so that a region's vector is the mean over every token of its windows.
        """
        import torch

        inputs = rows.model_inputs(device)
        with torch.inference_mode():
            weight = rows.row_sums(real[0].long()) if rows.packed else real.sum(1)  # [B] real tokens per window
            if self.settings.kind == "predict":
                return self._scores(model, inputs, weight)
            if rows.packed:
                return self._pooled_packed(model, inputs, rows, real[0], weight)
            return self._pooled(model, inputs["input_ids"], real, inputs["attention_mask"], weight)

    def _scores(self, model, inputs, weight):
        import torch

        logits = model(**inputs).logits.float()  # [B, L]: one row per window, padded or packed
        if self.problem_type == "regression":
            out = logits
        elif self.problem_type == "multi_label_classification":
            out = torch.sigmoid(logits)
        else:
            out = torch.softmax(logits, dim=-1)
        return (out.double() * weight[:, None]).cpu().numpy(), weight.cpu().numpy()

    def _pooled(self, model, ids, real, attention, weight):
        s = self.settings
        result = model(input_ids=ids, attention_mask=attention, output_hidden_states=s.layer != -1)
        h = result.last_hidden_state if s.layer == -1 else result.hidden_states[s.layer]
        h = h.float()  # [B, S, H]
        if s.pooling in UNPOOLED:
            return h.cpu().numpy(), real.cpu().numpy()
        if s.pooling == "mean":
            value = (h * real[..., None]).sum(1)  # [B, H]
        elif s.pooling == "mean-all":
            every = attention.bool()  # [B, S] every token but padding
            value, weight = (h * every[..., None]).sum(1), every.sum(1)  # [B, H], [B]
        elif s.pooling == "cls":
            value = h[:, 0] * weight[:, None]  # [B, H]
        else:
            value = h.masked_fill(~real[..., None], float("-inf")).amax(1)  # [B, H]
        return value.double().cpu().numpy(), weight.cpu().numpy()

    def _pooled_packed(self, model, inputs, rows, real, weight):
        """`_pooled` of a packed batch: the same numbers (to float rounding), from the token matrix [T, H]."""
        import torch

        s = self.settings
        result = model(**inputs, output_hidden_states=s.layer != -1)
        h = (result.last_hidden_state if s.layer == -1 else result.hidden_states[s.layer])[0].float()  # [T, H]
        if s.pooling in UNPOOLED:
            return [x.cpu().numpy() for x in rows.by_row(h)], [x.cpu().numpy() for x in rows.by_row(real)]
        if s.pooling == "mean":
            value = rows.row_sums(h * real[:, None])  # [B, H]
        elif s.pooling == "mean-all":
            value, weight = rows.row_sums(h), torch.as_tensor(rows.lengths, device=h.device)  # [B, H], [B]
        elif s.pooling == "cls":
            value = h[torch.from_numpy(rows.starts).to(h.device)] * weight[:, None]  # [B, H]
        else:
            value = torch.stack([x.masked_fill(~m[:, None], float("-inf")).amax(0)
                                 for x, m in zip(rows.by_row(h), rows.by_row(real))])  # [B, H]
        return value.double().cpu().numpy(), weight.cpu().numpy()

    def finish(self, accs):
        """The per-region output columns of finished regions (objects with .value and .weight, one per pass)."""
        if self.per_token:
            return {}
        per_pass = []
        for p in range(len(accs[0].value)):
            value = np.stack([a.value[p] for a in accs])  # [rows, H or L]
            if not self.takes_max:
                value = value / np.asarray([a.weight[p] for a in accs], dtype=np.float64)[:, None]
            per_pass.append(value)
        values = np.mean(per_pass, axis=0)  # [rows, H or L], the strands averaged with --rc-average
        if self.settings.kind == "embed":
            return {"embeddings": values.astype(self.columns["embeddings"][0])}
        if self.problem_type == "regression":
            return {"values": values.astype(np.float32)}
        probabilities = values.astype(np.float32)
        return {"probabilities": probabilities,
                "labels": predicted_labels(self.problem_type, probabilities).astype(np.int32)}


def make_head(settings, config):
    """The Head of a run of `settings` with a model of `config` (its hidden size, labels and problem type)."""
    hidden = config.hidden_size
    floats = "float16" if settings.half_output else "float32"
    if settings.kind == "embed":
        if settings.pooling in UNPOOLED:
            return Head(settings, {}, {"vectors": (floats, (hidden,)), "ids": ("int32", ()),
                                       "start": ("int64", ()), "end": ("int64", ())})
        return Head(settings, {"embeddings": (floats, (hidden,))})
    num_labels = config.num_labels
    id2label = getattr(config, "id2label", None) or {}
    names = [str(id2label.get(i, id2label.get(str(i), f"LABEL_{i}"))) for i in range(num_labels)]
    problem = getattr(config, "problem_type", None)
    if problem is None:
        problem = "regression" if num_labels == 1 else "single_label_classification"
    if problem == "regression":
        return Head(settings, {"values": ("float32", (num_labels,))}, label_names=names, problem_type=problem)
    label_tail = (num_labels,) if problem == "multi_label_classification" else ()
    return Head(settings, {"probabilities": ("float32", (num_labels,)), "labels": ("int32", label_tail)},
                label_names=names, problem_type=problem)
