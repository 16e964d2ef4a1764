"""The masked-LM objective of pretraining: summed loss and correct predictions over masked tokens, and the
held-out evaluation that uses it."""


def masked_lm_objective(model):
    """A module whose forward returns (loss summed over masked tokens, correct predictions) as float32.

    Only the masked positions go through the prediction head (the 4096-way decoder dominates the cost of
    small models otherwise). DistributedDataParallel wraps this module, so its hooks see every parameter.
    """
    import torch
    import torch.nn.functional as F

    class Objective(torch.nn.Module):
        def __init__(self, mlm):
            super().__init__()
            self.mlm = mlm

        def forward(self, input_ids, labels, attention_mask=None, cu_seqlens=None):
            # a padded batch (attention_mask) or a packed one (input_ids and labels [1, T], cu_seqlens)
            hidden = self.mlm.bert(input_ids=input_ids, attention_mask=attention_mask,
                                   cu_seqlens=cu_seqlens).last_hidden_state
            chosen = labels != -100                              # [B, S] (packed: [1, T])
            logits = self.mlm.cls(hidden[chosen])                # [N, V]  N = masked tokens in the batch
            target = labels[chosen]
            loss_sum = F.cross_entropy(logits.float(), target, reduction="sum")
            correct = (logits.argmax(-1) == target).sum().float()
            return loss_sum, correct

    return Objective(model)


def evaluate(objective, batches, device, dtype):
    """(mean loss, accuracy) over the masked tokens of `batches`, without dropout or gradients."""
    import torch

    from dnabert2.common.runtime import autocast

    was_training = objective.training
    objective.eval()
    loss = correct = count = 0.0
    with torch.no_grad():
        for batch in batches:
            batch = {k: v.to(device) for k, v in batch.items()}
            with autocast(device, dtype):
                l, c = objective(**batch)
            loss += float(l)
            correct += float(c)
            count += float((batch["labels"] != -100).sum())
    objective.train(was_training)
    return loss / max(count, 1.0), correct / max(count, 1.0)
