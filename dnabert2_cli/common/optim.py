"""The optimiser and learning-rate schedule of the training loops (`pretrain`, `finetune`)."""


def make_optimizer(model, lr, weight_decay, betas=(0.9, 0.98), eps=1e-6):
    """AdamW over trainable parameters; no weight decay on biases and LayerNorm weights (1-D tensors)."""
    import torch

    params = [p for p in model.parameters() if p.requires_grad]
    decay = [p for p in params if p.ndim >= 2]
    no_decay = [p for p in params if p.ndim < 2]
    groups = [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=lr, betas=betas, eps=eps)


def linear_schedule(optimizer, warmup_steps, total_steps):
    """Linear warm-up from 0 to the optimiser's lr over `warmup_steps`, then linear decay to 0 at `total_steps`
    (transformers' schedule, which the original training script used)."""
    from transformers import get_linear_schedule_with_warmup

    return get_linear_schedule_with_warmup(optimizer, warmup_steps, total_steps)
