"""The DNABERT-2 models: bare encoder, masked-LM and sequence classification, on transformers' base classes.

Parameter names equal the release's (`bert.` is the base-model prefix), so `from_pretrained` loads folders this
package saves (safetensors, through transformers) and the released folder (`pytorch_model.bin`, through
checkpoint.py). Outputs are transformers output dataclasses; padded positions of every returned hidden state are 0.

Every model takes a padded batch (`input_ids [batch, seq]`, `attention_mask`) or a packed one: `input_ids [1, T]`,
the sequences laid end to end, and `cu_seqlens` (int [sequences + 1]: 0, the end of the first, ..., T); each
sequence attends only to itself, so its numbers equal those of the padded batch. Per-sequence outputs (pooler,
classifier logits) then have one row per sequence; `packing.py` packs and unpacks.
"""
import torch
from torch import nn
from transformers import PreTrainedModel
from transformers.modeling_outputs import BaseModelOutputWithPooling, MaskedLMOutput, SequenceClassifierOutput

from dnabert2.errors import InputError

from .attention import BACKENDS, TokenLayout
from .config import DNABert2Config
from .layers import DNABert2Embeddings, DNABert2Encoder, DNABert2OnlyMLMHead, DNABert2Pooler


class DNABert2PreTrainedModel(PreTrainedModel):
    config_class = DNABert2Config
    base_model_prefix = "bert"
    supports_gradient_checkpointing = True
    _supports_sdpa = True
    _supports_flash_attn = True
    _no_split_modules = ["DNABert2Layer"]
    _input_embed_layer = "word_embeddings"  # transformers finds embeddings.word_embeddings (heads: through .bert)

    def _check_and_adjust_attn_implementation(self, attn_implementation, is_init_check=False,
                                              allow_all_kernels=False):
        """Our own backends (attention.py): None means choose per call; flash-attn is checked when first used."""
        if attn_implementation is not None and attn_implementation not in BACKENDS:
            raise InputError(f"attn_implementation {attn_implementation!r}: expected one of {', '.join(BACKENDS)}")
        return attn_implementation

    def get_correct_attn_implementation(self, requested_attention, is_init_check=False):
        return self._check_and_adjust_attn_implementation(requested_attention, is_init_check)

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, *args, **kwargs):
        """Our folders and hub ids through transformers; a release-layout folder (pytorch_model.bin) through
        `checkpoint.load_release_folder`, which reads the pickle with weights_only=True and reports what it lacks."""
        from .checkpoint import is_release_folder, load_release_folder

        if not args and is_release_folder(pretrained_model_name_or_path):
            return load_release_folder(cls, pretrained_model_name_or_path, **kwargs)
        return super().from_pretrained(pretrained_model_name_or_path, *args, **kwargs)

    def _return(self, output, return_dict):
        return_dict = return_dict if return_dict is not None else self.config.return_dict
        return output if return_dict else output.to_tuple()


class DNABert2Model(DNABert2PreTrainedModel):
    """The encoder. `add_pooling_layer=False` leaves out the pooler, as the masked-LM model (and release) does."""

    def __init__(self, config, add_pooling_layer=True):
        super().__init__(config)
        self.embeddings = DNABert2Embeddings(config)
        self.encoder = DNABert2Encoder(config)
        self.pooler = DNABert2Pooler(config) if add_pooling_layer else None
        self.post_init()

    def forward(self, input_ids=None, attention_mask=None, token_type_ids=None, inputs_embeds=None,
                output_attentions=None, output_hidden_states=None, return_dict=None, output_mask=None,
                cu_seqlens=None, **kwargs):
        """output_mask: optional [batch, seq] (bool or 0/1), the positions whose last hidden state is wanted. The
        last layer then runs its attention output, feed-forward and LayerNorms on those positions only (every
        position still gives its keys and values), so they equal the full forward's while the others come back
        as 0, like padding; `pooler_output` is None unless the first position of every sequence is wanted. It
        saves most of a layer when a few positions are read, e.g. the masked ones of a pseudo-log-likelihood.

        cu_seqlens: a packed batch instead of a padded one (module docstring): input_ids [1, T], no
        attention_mask; `pooler_output` is then [sequences, H] and attentions (eager) [sequences, heads, longest,
        longest]."""
        if (input_ids is None) == (inputs_embeds is None):
            raise InputError("give exactly one of input_ids and inputs_embeds")
        shape = tuple(input_ids.shape if input_ids is not None else inputs_embeds.shape[:2])
        if len(shape) != 2:
            raise InputError(f"input_ids must be [batch, seq], got shape {list(shape)}")
        for name, tensor in (("attention_mask", attention_mask), ("token_type_ids", token_type_ids),
                             ("output_mask", output_mask)):
            if tensor is not None and tuple(tensor.shape) != shape:
                raise InputError(f"{name} has shape {list(tensor.shape)}, input_ids {list(shape)}")
        output_attentions = output_attentions if output_attentions is not None else self.config.output_attentions
        output_hidden_states = (output_hidden_states if output_hidden_states is not None
                                else self.config.output_hidden_states)

        embedded = self.embeddings(input_ids, token_type_ids, inputs_embeds)  # (b, s, H)
        if cu_seqlens is not None:
            layout = TokenLayout.packed(check_cu_seqlens(cu_seqlens, shape, attention_mask), shape[1])
            attention_mask = torch.ones(shape, dtype=torch.bool, device=embedded.device)
        else:
            if attention_mask is None:
                attention_mask = torch.ones(shape, dtype=torch.bool, device=embedded.device)
            layout = TokenLayout.from_mask(attention_mask)
        wanted = rows = None
        if output_mask is not None:
            wanted = output_mask.to(attention_mask.device).bool() & attention_mask.bool()  # (b, s)
            flat = torch.nonzero(wanted.flatten(), as_tuple=False).flatten()  # (r,)
            rows = layout.rows_of(flat)
        last, states, attentions = self.encoder(layout.unpad(embedded), layout,  # (t, H) or (r, H)
                                                output_hidden_states, output_attentions, rows)
        last_hidden_state = layout.pad(last) if rows is None else layout.pad_some(last, flat)  # (b, s, H)
        starts = layout.sequence_starts  # (n,) flat position of each sequence's first token
        pooled = self.pooler is not None and (wanted is None or bool(wanted.flatten()[starts].all()))
        if states is not None:
            states = [layout.pad(h) for h in states[:-1]] + [last_hidden_state]
        output = BaseModelOutputWithPooling(
            last_hidden_state=last_hidden_state,
            pooler_output=self.pooler(last_hidden_state.flatten(0, 1)[starts, None]) if pooled else None,  # (n, H)
            hidden_states=tuple(states) if states is not None else None,
            attentions=tuple(attentions) if attentions is not None else None,
        )
        return self._return(output, return_dict)


class DNABert2ForMaskedLM(DNABert2PreTrainedModel):
    """Encoder without pooler + masked-LM head (117,074,176 parameters at the release size)."""

    _tied_weights_keys = {"cls.predictions.decoder.weight": "bert.embeddings.word_embeddings.weight"}

    def __init__(self, config):
        super().__init__(config)
        self.bert = DNABert2Model(config, add_pooling_layer=False)
        self.cls = DNABert2OnlyMLMHead(config)
        self.post_init()

    def get_output_embeddings(self):
        return self.cls.predictions.decoder

    def set_output_embeddings(self, new_embeddings):
        self.cls.predictions.decoder = new_embeddings

    def forward(self, input_ids=None, attention_mask=None, token_type_ids=None, inputs_embeds=None, labels=None,
                output_attentions=None, output_hidden_states=None, return_dict=None, cu_seqlens=None, **kwargs):
        """`labels` [batch, seq]: token ids to predict, -100 where nothing is predicted (loss over the others)."""
        outputs = self.bert(input_ids, attention_mask, token_type_ids, inputs_embeds, output_attentions,
                            output_hidden_states, return_dict=True, cu_seqlens=cu_seqlens)
        logits = self.cls(outputs.last_hidden_state)  # (b, s, V)
        loss = None
        if labels is not None:
            loss = nn.functional.cross_entropy(logits.view(-1, logits.shape[-1]).float(),  # (b * s, V)
                                               labels.to(logits.device).view(-1), ignore_index=-100)
        output = MaskedLMOutput(loss=loss, logits=logits, hidden_states=outputs.hidden_states,
                                attentions=outputs.attentions)
        return self._return(output, return_dict)


class DNABert2ForSequenceClassification(DNABert2PreTrainedModel):
    """classifier(dropout(pooler(h))): single-label, regression or multi-label through `config.problem_type`
    (inferred from num_labels and the label dtype when unset, as transformers does)."""

    def __init__(self, config):
        super().__init__(config)
        self.num_labels = config.num_labels
        self.bert = DNABert2Model(config)
        dropout = config.classifier_dropout if config.classifier_dropout is not None else config.hidden_dropout_prob
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)
        self.post_init()

    def forward(self, input_ids=None, attention_mask=None, token_type_ids=None, inputs_embeds=None, labels=None,
                output_attentions=None, output_hidden_states=None, return_dict=None, cu_seqlens=None, **kwargs):
        """`labels` [batch] (packed: [sequences]) or [batch, labels] for multi-label."""
        outputs = self.bert(input_ids, attention_mask, token_type_ids, inputs_embeds, output_attentions,
                            output_hidden_states, return_dict=True, cu_seqlens=cu_seqlens)
        logits = self.classifier(self.dropout(outputs.pooler_output))  # (b, num_labels)
        loss = None
        if labels is not None:
            loss = self._loss(logits, labels.to(logits.device))
        output = SequenceClassifierOutput(loss=loss, logits=logits, hidden_states=outputs.hidden_states,
                                          attentions=outputs.attentions)
        return self._return(output, return_dict)

    def _loss(self, logits, labels):
        if self.config.problem_type is None:
            if self.num_labels == 1:
                self.config.problem_type = "regression"
            elif labels.dtype in (torch.long, torch.int):
                self.config.problem_type = "single_label_classification"
            else:
                self.config.problem_type = "multi_label_classification"
        return sequence_classification_loss(logits, labels, self.config.problem_type)


def check_cu_seqlens(cu_seqlens, shape, attention_mask):
    """The `cu_seqlens` of a packed batch of input shape `shape` checked (InputError naming what is wrong)."""
    if attention_mask is not None:
        raise InputError("give attention_mask (a padded batch) or cu_seqlens (a packed one), not both")
    if shape[0] != 1:
        raise InputError(f"a packed batch is one row: input_ids must be [1, tokens] with cu_seqlens, got "
                         f"{list(shape)}")
    if cu_seqlens.dim() != 1 or cu_seqlens.numel() < 2 or cu_seqlens.is_floating_point():
        raise InputError(f"cu_seqlens must be a 1-D integer tensor [sequences + 1], got {cu_seqlens.dtype} "
                         f"{list(cu_seqlens.shape)}")
    ends = cu_seqlens.tolist()
    if ends[0] != 0 or ends[-1] != shape[1] or any(b <= a for a, b in zip(ends, ends[1:])):
        raise InputError(f"cu_seqlens must rise strictly from 0 to the {shape[1]} tokens of input_ids (no empty "
                         f"sequence), got {ends if len(ends) <= 8 else ends[:4] + ['...'] + ends[-2:]}")
    return cu_seqlens


def sequence_classification_loss(logits, labels, problem_type, weight=None):
    """The loss of classification logits [B, C] in float32: mean squared error ("regression"), cross-entropy
    ("single_label_classification", `weight` per class) or binary cross-entropy with logits per label
    ("multi_label_classification", `weight` is the positive weight per label)."""
    logits = logits.float()
    if problem_type == "regression":
        if logits.shape[-1] == 1:
            # one value per example: labels [B] or [B, 1] against logits [B]
            labels = labels.squeeze(-1) if labels.dim() == logits.dim() else labels
            return nn.functional.mse_loss(logits.squeeze(-1), labels.float())
        return nn.functional.mse_loss(logits, labels.float())
    if problem_type == "single_label_classification":
        return nn.functional.cross_entropy(logits.view(-1, logits.shape[-1]), labels.view(-1), weight=weight)
    if problem_type == "multi_label_classification":
        return nn.functional.binary_cross_entropy_with_logits(logits, labels.float(), pos_weight=weight)
    raise InputError(f"problem_type {problem_type!r}: expected regression, "
                     "single_label_classification or multi_label_classification")

