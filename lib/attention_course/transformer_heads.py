"""Every attention head of a Transformer translation, for the step-by-step views.

A decode records one attention row per step: for the Transformer, the last layer's weights
averaged over its heads (:mod:`attention_course.models.transformer_decoder`). The weights of
every layer and head are recomputed here by one teacher-forced pass over the words the
decoder chose, which gives exactly what the decoder computed at each of those steps (its
step function runs the same layers over the same prefix). The widgets show one head with these
(:class:`~attention_course.widgets.DecodingStepper`, :class:`~attention_course.widgets.AttentionExplorer`).
"""
from __future__ import annotations

import numpy as np
import torch

from .data.vocabulary import Vocabulary
from .models.transformer_decoder import TransformerDecoder
from .translator import Translator


def model_head_count(model) -> int | None:
    """The number of heads of the last layer's attention over the source; None when ``model`` is
    not a Transformer (an RNN model has one attention per step, or none)."""
    decoder = getattr(model, "decoder", None)
    return decoder.layers[-1].cross_attention.heads if isinstance(decoder, TransformerDecoder) else None


def head_count(translator) -> int | None:
    """:func:`model_head_count` of the model ``translator`` holds (None without one)."""
    return model_head_count(getattr(translator, "model", None))


@torch.no_grad()
def head_attention(translator: Translator, source_tokens: list[str], target_tokens: list[str]) -> np.ndarray:
    """Cross-attention weights ``layers x heads x (len(target_tokens) + 1) x len(source_tokens)``.

    Row i holds the weights with which the decoder chose target word i after ``target_tokens[:i]``
    (the last row: the word after the whole prefix, </s> for a finished translation). Give the
    words the decoder produced (``Translation.raw_tokens``, before ``<unk>`` replacement) or a
    hypothesis' prefix from a step record; the weights at that step are then ``[..., -1, :]``.
    """
    model = translator.model
    if not isinstance(model.decoder, TransformerDecoder):
        raise ValueError(f"{translator.name} is not a Transformer: it has one attention per step, "
                         f"Translation.attention")
    if not source_tokens:
        raise ValueError("source_tokens is empty")
    device = translator.device
    src = torch.tensor([translator.src_vocab.encode(source_tokens)], device=device)          # 1 x src_len
    tgt_in = torch.tensor([[Vocabulary.bos_index, *translator.tgt_vocab.encode(target_tokens)]],
                          device=device)                                                        # 1 x tgt_len+1
    model.eval()
    memory = model.encode(src, torch.tensor([src.size(1)], device=device))
    weights = model.decoder.cross_attention(tgt_in, memory)            # layers x 1 x heads x tgt_len+1 x src_len
    return weights[:, 0].float().cpu().numpy()


def step_heads(translator: Translator, source_tokens: list[str], prefix: list[str]) -> np.ndarray:
    """The last layer's weights ``heads x len(source_tokens)`` at the step that follows ``prefix``
    (a hypothesis' words at that step, ``StepRecord.hypotheses[k].tokens``); their mean over the
    heads is what the search recorded for it (``Hypothesis.attention``)."""
    return head_attention(translator, source_tokens, prefix)[-1, :, -1]
