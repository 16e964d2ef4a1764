"""Pieces shared by the training loops of `pretrain` and `finetune`: the optimiser and the schedule."""


def make_optimizer(model, lr, weight_decay, betas=(0.9, 0.98), eps=1e-6):
    """AdamW over trainable parameters; no weight decay on biases and LayerNorm weights (1-D tensors)."""
    import torch

    params = [p for p in model.parameters() if p.requires_grad]
    decay = [p for p in params if p.ndim >= 2]
    no_decay = [p for p in params if p.ndim < 2]
    groups = [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=lr, betas=betas, eps=eps)


def linear_schedule(optimizer, warmup_steps, total_steps):
    """Linear warm-up from 0 to the optimiser's lr over `warmup_steps`, then linear decay to 0 at `total_steps`."""
    import torch

    def factor(step):
        if warmup_steps > 0 and step < warmup_steps:
            return step / warmup_steps
        remaining = max(total_steps - step, 0)
        return remaining / max(total_steps - warmup_steps, 1)

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
