"""The blocks of the DNABERT-2 encoder; module and parameter names are the release's, so its weights load as is.

Each block takes the config and nothing else. Inside the encoder, token vectors are a `[tokens, hidden]` matrix of
the real (unpadded) tokens; `TokenLayout` (attention.py) knows where they sit in the padded batch.
"""
import torch
from torch import nn
from transformers.activations import ACT2FN

from .alibi import AlibiTable
from .attention import attend, choose_backend


class DNABert2Embeddings(nn.Module):
    """LayerNorm(word[ids] + token_type[type_ids]), then dropout. No position embeddings (ALiBi instead)."""

    def __init__(self, config):
        super().__init__()
        self.word_embeddings = nn.Embedding(config.vocab_size, config.hidden_size)
        self.token_type_embeddings = nn.Embedding(config.type_vocab_size, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, input_ids=None, token_type_ids=None, inputs_embeds=None):
        if inputs_embeds is None:
            inputs_embeds = self.word_embeddings(input_ids)  # (b, s, H)
        if token_type_ids is None:
            types = self.token_type_embeddings.weight[0]  # (H,) broadcast over every token
        else:
            types = self.token_type_embeddings(token_type_ids)  # (b, s, H)
        return self.dropout(self.LayerNorm(inputs_embeds + types))


class DNABert2SelfAttention(nn.Module):
    """One fused Wqkv projection, then the backend the call's device and dtype call for."""

    def __init__(self, config):
        super().__init__()
        self.config = config
        self.num_heads = config.num_attention_heads
        self.head_size = config.hidden_size // config.num_attention_heads
        self.dropout_p = config.attention_probs_dropout_prob
        self.Wqkv = nn.Linear(config.hidden_size, 3 * config.hidden_size)

    def forward(self, hidden, layout, alibi, need_weights=False):
        qkv = self.Wqkv(hidden).view(-1, 3, self.num_heads, self.head_size)  # (t, 3, h, d)
        backend = choose_backend(self.config._attn_implementation, qkv.device, qkv.dtype, need_weights,
                                 qkv.requires_grad)
        dropout_p = self.dropout_p if self.training else 0.0
        out, weights = attend(backend, qkv, layout, alibi, dropout_p, need_weights)  # (t, h, d)
        return out.reshape(out.shape[0], -1), weights  # (t, H)


class DNABert2SelfOutput(nn.Module):
    """Post-LN residual: LayerNorm(dropout(dense(attention)) + input)."""

    def __init__(self, config):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, attended, residual):
        return self.LayerNorm(self.dropout(self.dense(attended)) + residual)


class DNABert2Attention(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.self = DNABert2SelfAttention(config)
        self.output = DNABert2SelfOutput(config)

    def forward(self, hidden, layout, alibi, need_weights=False, rows=None):
        """rows: None, or the token rows whose output is wanted (every row still serves as key and value)."""
        attended, weights = self.self(hidden, layout, alibi, need_weights)
        if rows is not None:
            attended, hidden = attended.index_select(0, rows), hidden.index_select(0, rows)  # (r, H)
        return self.output(attended, hidden), weights


class DNABert2GatedMLP(nn.Module):
    """GEGLU feed-forward: g = gated_layers(x); LayerNorm(wo(dropout(gelu(g[:I]) * g[I:])) + x)."""

    def __init__(self, config):
        super().__init__()
        self.intermediate_size = config.intermediate_size
        self.gated_layers = nn.Linear(config.hidden_size, 2 * config.intermediate_size, bias=False)
        self.act = ACT2FN[config.hidden_act]
        self.dropout = nn.Dropout(config.hidden_dropout_prob)
        self.wo = nn.Linear(config.intermediate_size, config.hidden_size)
        self.layernorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)

    def forward(self, hidden):
        gated, linear = self.gated_layers(hidden).split(self.intermediate_size, dim=-1)  # 2 x (t, I)
        return self.layernorm(self.wo(self.dropout(self.act(gated) * linear)) + hidden)


class DNABert2Layer(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.attention = DNABert2Attention(config)
        self.mlp = DNABert2GatedMLP(config)

    def forward(self, hidden, layout, alibi, need_weights=False, rows=None):
        """[tokens, H] -> [tokens, H], or [len(rows), H]: the output of those token rows only"""
        hidden, weights = self.attention(hidden, layout, alibi, need_weights, rows)
        return self.mlp(hidden), weights


class DNABert2Encoder(nn.Module):
    """The layers, one ALiBi table shared by all, and optional gradient checkpointing (set by transformers)."""

    def __init__(self, config):
        super().__init__()
        self.layer = nn.ModuleList(DNABert2Layer(config) for _ in range(config.num_hidden_layers))
        self.alibi = AlibiTable(config.num_attention_heads, config.alibi_starting_size)
        self.gradient_checkpointing = False

    def forward(self, hidden, layout, output_hidden_states=False, output_attentions=False, last_rows=None):
        """hidden [tokens, H] -> (last [tokens, H], every layer's output or None, attention probs or None).

        last_rows: None, or a LongTensor of token rows: the last layer then computes its output (attention output
        projection, feed-forward, LayerNorms) for those rows only, and `last` is [len(last_rows), H]. Every row
        still gives its keys and values, so those outputs equal the full forward's."""
        states = [hidden] if output_hidden_states else None
        attentions = [] if output_attentions else None
        for i, layer in enumerate(self.layer):
            rows = last_rows if i == len(self.layer) - 1 else None
            if self.gradient_checkpointing and self.training and torch.is_grad_enabled():
                hidden, weights = self._gradient_checkpointing_func(layer.__call__, hidden, layout, self.alibi,
                                                                    output_attentions, rows)
            else:
                hidden, weights = layer(hidden, layout, self.alibi, output_attentions, rows)
            if states is not None:
                states.append(hidden)
            if attentions is not None:
                attentions.append(weights)
        return hidden, states, attentions


class DNABert2Pooler(nn.Module):
    """tanh(dense(first token)); absent from the released weights, so untrained there."""

    def __init__(self, config):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.activation = nn.Tanh()

    def forward(self, last_hidden_state):
        return self.activation(self.dense(last_hidden_state[:, 0]))  # (b, H)


class DNABert2PredictionHeadTransform(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.transform_act_fn = ACT2FN[config.hidden_act]
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)

    def forward(self, hidden):
        return self.LayerNorm(self.transform_act_fn(self.dense(hidden)))


class DNABert2LMPredictionHead(nn.Module):
    """decoder(LayerNorm(gelu(dense(h)))); the decoder weight is tied to the word embeddings by the model."""

    def __init__(self, config):
        super().__init__()
        self.transform = DNABert2PredictionHeadTransform(config)
        self.decoder = nn.Linear(config.hidden_size, config.vocab_size)

    def forward(self, hidden):
        return self.decoder(self.transform(hidden))


class DNABert2OnlyMLMHead(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.predictions = DNABert2LMPredictionHead(config)

    def forward(self, hidden):
        return self.predictions(hidden)
