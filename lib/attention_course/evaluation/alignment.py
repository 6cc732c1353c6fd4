"""Word alignments from attention, and the alignment error rate (Och & Ney 2003).

An alignment is a set of links ``(i, j)``: target word ``i`` is a translation of source
word ``j`` (0-based; row ``i`` and column ``j`` of an attention matrix α_ij). Annotators
mark *sure* links S and *possible* links P ⊇ S (ambiguous cases). For a predicted
alignment A,

    precision = |A ∩ P| / |A|,   recall = |A ∩ S| / |S|,
    AER = 1 − (|A ∩ S| + |A ∩ P|) / (|A| + |S|).

With only sure links (P = S) the AER is 1 − F1 of A against S. Over a corpus the four
counts are summed over sentences before dividing.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import torch

Links = Iterable[tuple[int, int]]

__all__ = ["alignment_counts", "aer", "corpus_aer", "precision_recall", "argmax_alignment",
           "diagonal_alignment", "teacher_forced_attention"]


def _links(links: Links, what: str) -> frozenset[tuple[int, int]]:
    out = set()
    for link in links:
        if (not isinstance(link, (tuple, list)) or len(link) != 2
                or not all(isinstance(x, (int, np.integer)) and not isinstance(x, bool) and x >= 0 for x in link)):
            raise ValueError(f"{what} must hold pairs (i, j) of non-negative whole numbers "
                             f"(target position, source position), got {link!r}")
        out.add((int(link[0]), int(link[1])))
    return frozenset(out)


def alignment_counts(predicted: Links, sure: Links, possible: Links | None = None) -> tuple[int, int, int, int]:
    """``(|A ∩ S|, |A ∩ P|, |A|, |S|)`` for one sentence; ``possible`` defaults to ``sure``."""
    A, S = _links(predicted, "predicted"), _links(sure, "sure")
    P = S if possible is None else _links(possible, "possible") | S   # sure links are possible too
    return len(A & S), len(A & P), len(A), len(S)


def _aer(a_s: int, a_p: int, a: int, s: int) -> float:
    if a + s == 0:
        raise ValueError("the AER is undefined without any link (both the predicted and the gold alignment are empty)")
    return 1.0 - (a_s + a_p) / (a + s)


def aer(predicted: Links, sure: Links, possible: Links | None = None) -> float:
    """The alignment error rate of one sentence (0 = perfect, 1 = no correct link)."""
    return _aer(*alignment_counts(predicted, sure, possible))


def corpus_aer(predicted: Sequence[Links], sure: Sequence[Links],
               possible: Sequence[Links] | None = None) -> float:
    """The AER of a corpus: the counts of every sentence summed, then divided once."""
    if len(predicted) != len(sure) or (possible is not None and len(possible) != len(sure)):
        raise ValueError(f"one alignment per sentence is needed: got {len(predicted)} predicted and "
                         f"{len(sure)} gold" + ("" if possible is None else f" and {len(possible)} possible"))
    totals = np.zeros(4, dtype=np.int64)
    for k in range(len(sure)):
        totals += alignment_counts(predicted[k], sure[k], None if possible is None else possible[k])
    return _aer(*(int(x) for x in totals))


def precision_recall(predicted: Links, sure: Links, possible: Links | None = None) -> tuple[float, float]:
    a_s, a_p, a, s = alignment_counts(predicted, sure, possible)
    return (a_p / a if a else 0.0), (a_s / s if s else 0.0)


def argmax_alignment(attention) -> frozenset[tuple[int, int]]:
    """Link every target word i to the source word it attends to most: ``(i, argmax_j α_ij)``."""
    a = np.asarray(attention.detach().cpu() if isinstance(attention, torch.Tensor) else attention, dtype=float)
    if a.ndim != 2 or 0 in a.shape:
        raise ValueError(f"attention must be a (target x source) matrix, got shape {a.shape}")
    return frozenset((i, int(j)) for i, j in enumerate(a.argmax(1)))


def diagonal_alignment(n_target: int, n_source: int) -> frozenset[tuple[int, int]]:
    """A baseline that ignores the words: target word i links to the source word at the same
    relative position, j = round(i · (J − 1) / (I − 1))."""
    if n_target < 1 or n_source < 1:
        raise ValueError("both sentences need at least one word")
    scale = (n_source - 1) / max(n_target - 1, 1)
    return frozenset((i, int(round(i * scale))) for i in range(n_target))


@torch.no_grad()
def teacher_forced_attention(model, src: torch.Tensor, src_lengths: torch.Tensor, tgt_in: torch.Tensor,
                             tgt_lengths: torch.Tensor) -> list[np.ndarray]:
    """The attention a model pays while it is fed the gold translation (forced decoding):
    one ``len(target) x len(source)`` matrix per sentence, row i being the weights used to
    predict target word i (the row that predicts ``</s>`` is left out)."""
    if not model.has_attention:
        raise ValueError("this model has no attention, so it has no attention weights to align with")
    model.eval()
    _, attention = model(src, src_lengths, tgt_in)             # batch x tgt_len x src_len
    return [attention[b, : int(tgt_lengths[b]), : int(src_lengths[b])].cpu().numpy()
            for b in range(src.size(0))]
