"""`compile_encoder`: the compiled layers give the plain model's numbers and compile once for every batch shape."""
import pytest
import torch

from dnabert2.model import DNABert2ForMaskedLM, compile_encoder, pack_padded
from test_model import batch, randomise, small_config

# inductor compiles through torch.jit helpers that warn of their own deprecation
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def test_compiled_encoder_equals_plain_across_shapes_and_trains():
    import torch._dynamo

    cfg = small_config(heads=3, head_size=8, layers=2, hidden_dropout_prob=0.0)
    plain = randomise(DNABert2ForMaskedLM(cfg), seed=50)
    compiled = compile_encoder(randomise(DNABert2ForMaskedLM(cfg), seed=50))
    assert compiled.state_dict().keys() == plain.state_dict().keys()  # parameter names kept: saves as before
    torch._dynamo.utils.counters.clear()
    graphs = []
    for lengths in ([9, 33, 1, 20], [12, 12], [70, 3, 41], [5, 90], [31, 31, 31], [2, 17, 8, 1, 60]):
        ids, mask = batch(lengths, seed=len(lengths))
        with torch.no_grad():
            ref = plain(ids, attention_mask=mask, output_hidden_states=True).hidden_states
            out = compiled(ids, attention_mask=mask, output_hidden_states=True).hidden_states
            packed_ids, cu = pack_padded(ids, mask)
            packed = compiled(packed_ids, cu_seqlens=cu).logits[0]
            ref_logits = plain(ids, attention_mask=mask).logits[mask.bool()]
        for ours, theirs in zip(out, ref):
            torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(packed, ref_logits, atol=1e-5, rtol=1e-5)
        graphs.append(torch._dynamo.utils.counters["stats"]["unique_graphs"])
    # the first two batches (padded, unpadded, each also packed) compile every variant: later shapes reuse them
    assert graphs[1] == graphs[-1] <= 8
    ids, mask = batch([9, 33, 1, 20], seed=51)
    labels = ids.masked_fill(mask == 0, -100)
    grads = []
    for model in (plain.train(), compiled.train()):
        model(ids, attention_mask=mask, labels=labels).loss.backward()
        grads.append({n: p.grad for n, p in model.named_parameters()})
    for name in grads[0]:
        torch.testing.assert_close(grads[1][name], grads[0][name], atol=1e-5, rtol=1e-5, msg=name)
