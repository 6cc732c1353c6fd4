"""What each attention head of a trained Transformer does, measured.

The Transformer's layers keep only what the next layer needs: the decoder returns the last
layer's cross-attention averaged over its heads (the row shown as the alignment), and the
encoder layers return no weights at all. Here the weights of every layer and head are read
from the model's own modules, never recomputed by a second copy of their code:

* :func:`encoder_self_attention` records what each encoder layer's
  :class:`~attention_course.models.multi_head_attention.MultiHeadAttention` returns, with
  forward hooks, while the model encodes a batch; :func:`decoder_self_attention` does the
  same for the decoder's masked self-attention on a teacher-forced target;
* :func:`cross_attention` is the decoder's own
  :meth:`~attention_course.models.transformer_decoder.TransformerDecoder.cross_attention`
  on a teacher-forced target.

and summarised per head with numbers rather than impressions:

* :func:`head_entropy`: the mean entropy of a head's weights (nats; 0 = all weight on one
  word, log n = spread evenly over n words);
* :func:`offset_share`: the mean weight a query puts on the word ``offset`` places away
  (−1 the previous word, 0 itself, +1 the next), over the queries that have such a word;
* :func:`alignment_error_by_head`: the AER of each head's argmax links against gold links.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from ..models.transformer_decoder import TransformerDecoder
from .alignment import Links, argmax_alignment, corpus_aer

__all__ = ["encoder_self_attention", "decoder_self_attention", "cross_attention", "head_entropy",
           "offset_share", "alignment_error_by_head"]


def _check_transformer(model) -> None:
    if not isinstance(model.decoder, TransformerDecoder):
        raise ValueError(f"the model's decoder is a {type(model.decoder).__name__}, not a Transformer: "
                         "it has one attention per step, no heads")


def _recorded(layers, run) -> torch.Tensor:
    """The weights each layer's ``self_attention`` returns while ``run()`` runs (forward hooks,
    removed afterwards): layers x batch x heads x queries x keys."""
    recorded: list[torch.Tensor] = []
    hooks = [layer.self_attention.register_forward_hook(lambda _m, _i, out: recorded.append(out[1]))
             for layer in layers]
    try:
        run()
    finally:
        for h in hooks:
            h.remove()
    return torch.stack(recorded)


@torch.no_grad()
def encoder_self_attention(model, src: torch.Tensor, src_lengths: torch.Tensor) -> torch.Tensor:
    """Every encoder layer's self-attention weights while ``model`` encodes ``src``:
    ``layers x batch x heads x src_len x src_len`` (row i: query word i; padded keys get 0)."""
    _check_transformer(model)
    model.eval()
    return _recorded(model.encoder.layers, lambda: model.encode(src, src_lengths))


@torch.no_grad()
def decoder_self_attention(model, src: torch.Tensor, src_lengths: torch.Tensor, tgt_in: torch.Tensor
                           ) -> torch.Tensor:
    """Every decoder layer's masked self-attention weights, teacher-forced on ``tgt_in`` (``<s>``
    and the target words): ``layers x batch x heads x tgt_len x tgt_len``, zero above the
    diagonal (row i sees ``tgt_in[:i + 1]``)."""
    _check_transformer(model)
    model.eval()
    return _recorded(model.decoder.layers, lambda: model(src, src_lengths, tgt_in))


@torch.no_grad()
def cross_attention(model, src: torch.Tensor, src_lengths: torch.Tensor, tgt_in: torch.Tensor) -> torch.Tensor:
    """Every decoder layer's weights over the source, teacher-forced on ``tgt_in`` (``<s>`` and
    the target words): ``layers x batch x heads x tgt_len x src_len``; row i predicts ``tgt_out[i]``."""
    _check_transformer(model)
    model.eval()
    return model.decoder.cross_attention(tgt_in, model.encode(src, src_lengths))


def _as_tensor(weights) -> torch.Tensor:
    w = torch.as_tensor(np.asarray(weights) if not isinstance(weights, torch.Tensor) else weights)
    if w.dim() < 2:
        raise ValueError(f"weights need at least 2 axes (queries x keys), got shape {tuple(w.shape)}")
    return w.double()


def head_entropy(weights: Sequence | torch.Tensor | np.ndarray) -> np.ndarray:
    """Mean entropy, in nats, of the rows of ``... x queries x keys`` weights, over the queries
    (0 log 0 = 0). Give one sentence without padding, or a list of them (each ``... x n_q x n_k``,
    the leading axes alike): the mean is then over all queries of all sentences."""
    sentences = weights if isinstance(weights, (list, tuple)) else [weights]
    total, count = 0.0, 0
    for w in map(_as_tensor, sentences):
        p_log_p = torch.where(w > 0, w * torch.log(w.clamp_min(1e-300)), torch.zeros_like(w))
        total = total - p_log_p.sum(-1).sum(-1)                  # ...: summed over the queries
        count += w.size(-2)
    return (total / count).numpy()


def offset_share(weights: Sequence | torch.Tensor | np.ndarray, offset: int) -> np.ndarray:
    """Mean weight that query i puts on key i + ``offset`` (−1: the previous word, 0: itself,
    +1: the next), over the queries that have such a key. ``weights``: one square
    ``... x n x n`` self-attention matrix or a list of them (one per sentence, no padding)."""
    if isinstance(offset, bool) or not isinstance(offset, int):
        raise ValueError(f"offset must be a whole number, got {offset!r}")
    sentences = weights if isinstance(weights, (list, tuple)) else [weights]
    total, count = 0.0, 0
    for w in map(_as_tensor, sentences):
        if w.size(-1) != w.size(-2):
            raise ValueError(f"self-attention weights are square (n x n), got {tuple(w.shape[-2:])}")
        diagonal = torch.diagonal(w, offset=offset, dim1=-2, dim2=-1)   # ... x (n - |offset|)
        total = total + diagonal.sum(-1)
        count += diagonal.size(-1)
    if count == 0:
        raise ValueError(f"no sentence is long enough to have a word {offset:+d} places away")
    return (total / count).numpy()


def alignment_error_by_head(weights: Sequence[np.ndarray | torch.Tensor], gold: Sequence[Links]) -> np.ndarray:
    """Corpus AER of each head's argmax alignment. ``weights``: one array per sentence,
    ``layers x heads x len(target) x len(source)`` (rows: target words, the ``</s>`` row left
    out), ``gold``: the sure links of each sentence. Returns ``layers x heads``."""
    if len(weights) != len(gold):
        raise ValueError(f"one attention array per sentence: {len(weights)} arrays, {len(gold)} alignments")
    arrays = [np.asarray(w) for w in weights]
    if not arrays or arrays[0].ndim != 4:
        raise ValueError("each sentence's weights must be layers x heads x target x source")
    layers, heads = arrays[0].shape[:2]
    out = np.zeros((layers, heads))
    for layer in range(layers):
        for head in range(heads):
            out[layer, head] = corpus_aer([argmax_alignment(a[layer, head]) for a in arrays], gold)
    return out
