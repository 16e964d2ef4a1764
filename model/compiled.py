"""`compile_encoder`: `torch.compile` of the encoder layers, in place, for whoever runs many batches.

Each layer's linear layers, GEGLU, dropout, residuals and LayerNorms become one compiled graph with the token count
as a dynamic (symbolic) dimension: one compilation serves every batch, whatever its sequences' lengths, so nothing
recompiles per shape and no token is padded to a bucket. The attention call stays outside the graphs
(`attention.attend`): the batch's layout changes with every batch, SDPA and flash-attn are single kernels already,
and flex compiles its own kernel per power-of-two row bucket (flex.py). `nn.Module.compile` keeps the modules and
their parameter names, so a compiled model saves, loads and trains as before.

The first forward pays for the compilation (13-35 s on 2 shared CPU cores at the released width; the first
training step compiles its backward too). Measured on the CPU it does not pay for itself (0.96-1.19x afterwards,
bench/README.md), so nothing compiles by default.
"""


def compile_encoder(model, dynamic=True, **options):
    """Compile every encoder layer of `model` (a DNABert2Model or a model with one as `.bert`) in place and return
    `model`; `options` go to `torch.compile` (e.g. `mode="max-autotune"`)."""
    for layer in model.base_model.encoder.layer:
        layer.compile(dynamic=dynamic, **options)
    return model
