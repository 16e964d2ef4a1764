"""The model side of score-variants: every window a block needs, each run once, in token-budget batches.

Methods ask for what they need by window: `masked(seq, k)` (log p of real token k's own id with that token
replaced by [MASK], for llr) and `plain(seq)` (the mean of the last hidden layer over the real tokens for emb, the
classifier's logits for delta). Identical windows are one entry (the REF window of the variants of one position,
the REF region of a saturation run), so each request is computed once while it stays cached; `compute()` runs all
pending requests: rows sorted by length, cut into batches of at most `batch_tokens` padded tokens (real tokens where
the model's calls are packed, `LoadedModel.packed`: the rows laid end to end, `common.batching.TokenRows`), masked
and plain rows side by side. Masked copies that are the same input are one model row: the REF and the ALT window of an
SNV that changes one token, with that token masked, differ nowhere else, so one row gives the log p of both
tokens. The last encoder layer and the masked-LM head run only on the masked position of a masked row (the
encoder's `output_mask`), not on every token; for a plain row the last layer runs on [CLS] alone unless emb needs
the mean of every token.
"""
import time

import numpy as np

from dnabert2.common.batching import TokenRows, sorted_batches
from dnabert2.regions.summary import count_call
from dnabert2.variants.tokens import tokenise


class Engine:
    """Windows, their tokens and the model results asked for them; `clear()` forgets them (between blocks)."""

    def __init__(self, loaded, batch_tokens, want_mean=False, want_logits=False):
        net = loaded.net
        self.tokenizer, self.device, self.batch_tokens = loaded.tokenizer, loaded.device, batch_tokens
        self.packed = loaded.packed
        self.encoder = getattr(net, "bert", net)  # the masked-LM and classifier models hold the encoder as .bert
        self.mlm_head = getattr(net, "cls", None)
        self.classifier = getattr(net, "classifier", None) if want_logits else None
        self.want_mean = want_mean
        self.stats = {"model_rows": 0, "model_tokens": 0, "model_seconds": 0.0}
        self.clear()

    def clear(self):
        """Forget every window and result."""
        self.ids = {}  # sequence -> its number
        self.sequences = {}  # number -> sequence
        self.tokens = {}  # number -> Tokenised
        self.logp, self.mean, self.logits = {}, {}, {}
        self._pending = {}  # (number, k or -1) -> None, in the order asked (an ordered set)
        self._next = 0

    def keep_only(self, sequences):
        """Forget every window but these and their results (after a saturation chunk: all but the REF region)."""
        numbers = set(self.sequences) - {self.ids[s] for s in sequences if s in self.ids}
        for number in numbers:
            self.ids.pop(self.sequences.pop(number), None)
            self.tokens.pop(number, None)
            self.mean.pop(number, None)
            self.logits.pop(number, None)
        self.logp = {key: value for key, value in self.logp.items() if key[0] not in numbers}

    def add(self, sequence):
        """The number of a window (upper case); tokenised by the next `tokenise()`."""
        number = self.ids.get(sequence)
        if number is None:
            number = self.ids[sequence] = self._next
            self.sequences[number] = sequence
            self._next += 1
        return number

    def tokenise(self):
        """Tokenise every window added since the last call (one tokenizer call)."""
        new = [number for number in self.sequences if number not in self.tokens]
        for number, tokens in zip(new, tokenise(self.tokenizer, [self.sequences[n] for n in new]) if new else ()):
            self.tokens[number] = tokens

    def masked(self, number, k):
        if (number, k) not in self.logp:
            self._pending[(number, k)] = None

    def plain(self, number):
        if number not in self.mean and number not in self.logits:
            self._pending[(number, -1)] = None

    def compute(self):
        """Run every pending request through the model, each distinct input once."""
        inputs = {}  # input -> the requests it answers
        for number, k in self._pending:
            inputs.setdefault(self._input(number, k), []).append((number, k))
        self._pending = {}
        groups = list(inputs.values())
        lengths = [len(self.tokens[group[0][0]].ids) for group in groups]
        for batch in sorted_batches(lengths, token_budget=self.batch_tokens, packed=self.packed):
            self._run([groups[i] for i in batch])

    def _input(self, number, k):
        """What the model sees for request (number, k): the ids with real token k masked, or the window itself."""
        if k < 0:
            return number
        ids = self.tokens[number].ids
        return ids[:k + 1].tobytes(), ids[k + 2:].tobytes()  # token k sits after [CLS]

    def _run(self, groups):
        """One batch: a model row per group of requests that share one input."""
        import torch

        rows = [group[0] for group in groups]
        batch = TokenRows.of([self.tokens[number].ids for number, _ in rows], self.tokenizer.pad_token_id, self.packed)
        starts = batch.starts  # flat position of each row's [CLS]
        ids, flat_ids = batch.ids, batch.ids.reshape(-1)  # a view: masking a token changes `ids`
        masked = [r for r, (_, k) in enumerate(rows) if k >= 0]
        # the positions whose last hidden state is read: every one of a plain row for emb's mean, else [CLS] only
        # (the classifier reads the pooler of [CLS]), which spares most of the last layer
        wanted = batch.own_tokens() if self.want_mean else np.zeros_like(ids)
        flat_wanted = wanted.reshape(-1)
        flat_wanted[starts] = 1
        for r in masked:
            position = starts[r] + rows[r][1] + 1  # token k sits after [CLS]
            flat_ids[position] = self.tokenizer.mask_token_id
            flat_wanted[starts[r]:starts[r] + batch.lengths[r]] = 0
            flat_wanted[position] = 1
        start = time.perf_counter()
        with torch.inference_mode():
            out = self.encoder(**batch.model_inputs(self.device),
                               output_mask=torch.from_numpy(wanted).to(self.device))
            hidden = out.last_hidden_state.flatten(0, 1)  # [B * S or T, H], 0 where not wanted
            if masked:
                self._store_logp(groups, masked, hidden, starts)
            plain = [r for r, (_, k) in enumerate(rows) if k < 0]
            if plain:
                self._store_plain(rows, plain, hidden, batch)
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        count_call(self.stats, time.perf_counter() - start)
        self.stats["model_rows"] += len(rows)
        self.stats["model_tokens"] += sum(batch.lengths)

    def _store_logp(self, groups, masked, hidden, starts):
        """log p of each request's own token, from the masked-LM head at the masked position of its row."""
        import torch

        positions = torch.as_tensor([starts[r] + groups[r][0][1] + 1 for r in masked], device=hidden.device)
        logits = self.mlm_head(hidden[positions]).float()  # [M, V], the masked positions only
        requests = [(m, request) for m, r in enumerate(masked) for request in groups[r]]
        which = torch.as_tensor([m for m, _ in requests], device=hidden.device)
        targets = torch.as_tensor([int(self.tokens[n].ids[k + 1]) for _, (n, k) in requests], device=hidden.device)
        picked = torch.log_softmax(logits, dim=-1)[which, targets]
        for (_, request), value in zip(requests, picked.double().cpu().numpy()):
            self.logp[request] = float(value)

    def _store_plain(self, rows, plain, hidden, batch):
        """emb's mean over a plain row's tokens but [CLS] and [SEP]; delta's classifier logits."""
        import torch

        if batch.packed:
            starts = batch.starts[plain]
            states = hidden[torch.as_tensor(starts, device=hidden.device)][:, None]  # [P, 1, H]: the [CLS] states
            if self.want_mean:
                mean = torch.stack([hidden[a + 1:a + n - 1].float().mean(0)
                                    for a, n in zip(starts, (batch.lengths[r] for r in plain))])  # [P, H]
        else:
            index = torch.as_tensor(plain, device=hidden.device)
            states = hidden.view(*batch.ids.shape, -1)[index]  # [P, S, H]
            if self.want_mean:
                real = torch.from_numpy(batch.attention).to(hidden.device)[index].clone()  # [P, S]: [CLS] ... [SEP]
                sep = real.sum(1) - 1
                real[:, 0] = 0
                real[torch.arange(len(plain), device=real.device), sep] = 0
                mean = (states.float() * real[..., None]).sum(1) / real.sum(1, keepdim=True)
        if self.want_mean:
            for r, vector in zip(plain, mean.double().cpu().numpy()):
                self.mean[rows[r][0]] = vector
        if self.classifier is not None:
            logits = self.classifier(self.encoder.pooler(states)).float()  # dropout is off in eval mode
            for r, vector in zip(plain, logits.double().cpu().numpy()):
                self.logits[rows[r][0]] = vector
