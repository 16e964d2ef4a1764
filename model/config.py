"""`DNABert2Config`: the sizes and switches of the DNABERT-2 encoder, with named presets.

The defaults are the released DNABERT-2-117M `config.json`. That file has no `model_type` and carries keys for the
original remote code (`auto_map`, `position_embedding_type`, `use_cache`); they are dropped on load so that a
folder saved by this package never points at remote code.
"""
from transformers import PretrainedConfig

from dnabert2.errors import InputError

# keys of the released config.json that mean nothing here (remote code, absolute positions, decoder caches)
LEGACY_KEYS = ("auto_map", "position_embedding_type", "use_cache", "gradient_checkpointing", "flash_attn")

# preset name -> overrides of the defaults (the defaults are the release, `dnabert2-117m`)
PRESETS = {
    "dnabert2-117m": {},
    "small": {"hidden_size": 256, "num_hidden_layers": 4, "num_attention_heads": 4, "intermediate_size": 1024},
    "tiny": {"hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 128},
}


class DNABert2Config(PretrainedConfig):
    model_type = "dnabert2"

    def __init__(
        self,
        vocab_size=4096,  # BPE vocabulary size: rows of the word embedding and of the masked-LM decoder
        hidden_size=768,  # width of every token vector
        num_hidden_layers=12,  # encoder layers
        num_attention_heads=12,  # heads per layer; hidden_size must divide evenly (head size 64 in the release)
        intermediate_size=3072,  # GEGLU width: gated_layers has 2 x this many outputs
        hidden_act="gelu",  # activation of the GEGLU gate and the masked-LM transform: exact (erf) GELU
        hidden_dropout_prob=0.1,  # dropout after embeddings, attention output and feed-forward (training only)
        attention_probs_dropout_prob=0.0,  # dropout on attention probabilities (0 in the release)
        type_vocab_size=2,  # token type (segment) embeddings: 0 for the first sequence, 1 for the second of a pair
        initializer_range=0.02,  # std of the normal init of linear and embedding weights
        layer_norm_eps=1e-12,  # LayerNorm epsilon
        classifier_dropout=None,  # dropout before the classifier; None means hidden_dropout_prob
        alibi_starting_size=512,  # first ALiBi table length; grown on demand, so it is no length limit
        max_position_embeddings=512,  # kept for tools that read it; no position embeddings exist
        tie_word_embeddings=True,  # the masked-LM decoder shares the word embedding matrix
        **kwargs,
    ):
        for key in LEGACY_KEYS:
            kwargs.pop(key, None)
        if num_attention_heads < 1 or hidden_size % num_attention_heads:
            raise InputError(f"hidden_size ({hidden_size}) must be divisible by num_attention_heads "
                             f"({num_attention_heads})")
        for name, value in (("vocab_size", vocab_size), ("num_hidden_layers", num_hidden_layers),
                            ("intermediate_size", intermediate_size), ("type_vocab_size", type_vocab_size)):
            if not isinstance(value, int) or value < 1:
                raise InputError(f"{name} ({value!r}) must be a positive integer")
        if hidden_act not in ("gelu", "gelu_new", "gelu_pytorch_tanh"):
            raise InputError(f"hidden_act ({hidden_act!r}) must be gelu (the release) or a tanh GELU variant")
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.num_hidden_layers = num_hidden_layers
        self.num_attention_heads = num_attention_heads
        self.intermediate_size = intermediate_size
        self.hidden_act = hidden_act
        self.hidden_dropout_prob = hidden_dropout_prob
        self.attention_probs_dropout_prob = attention_probs_dropout_prob
        self.type_vocab_size = type_vocab_size
        self.initializer_range = initializer_range
        self.layer_norm_eps = layer_norm_eps
        self.classifier_dropout = classifier_dropout
        self.alibi_starting_size = alibi_starting_size
        self.max_position_embeddings = max_position_embeddings
        self.tie_word_embeddings = tie_word_embeddings
        super().__init__(**kwargs)
        if self.id2label is not None and not self.label2id:
            self.label2id = {label: i for i, label in self.id2label.items()}

    @property
    def head_size(self):
        return self.hidden_size // self.num_attention_heads

    @classmethod
    def from_preset(cls, name, **overrides):
        """A config by preset name (`dnabert2-117m`, `small`, `tiny`), any field overridden by keyword."""
        if name not in PRESETS:
            raise InputError(f"unknown model preset {name!r}: expected one of {', '.join(PRESETS)}")
        return cls(**{**PRESETS[name], **overrides})
