"""Word alignments from attention, and the alignment error rate (Och & Ney 2003).

An alignment is a set of links ``(i, j)``: target word ``i`` is a translation of source
word ``j`` (0-based; row ``i`` and column ``j`` of an attention matrix α_ij). Annotators
mark *sure* links S and *possible* links P ⊇ S (ambiguous cases). For a predicted
alignment A,

    precision = |A ∩ P| / |A|,   recall = |A ∩ S| / |S|,
    AER = 1 − (|A ∩ S| + |A ∩ P|) / (|A| + |S|).

With only sure links (P = S) the AER is 1 − F1 of A against S. Over a corpus the four
counts are summed over sentences before dividing.

Where do the wrong links point? :func:`error_types` sorts each predicted link that is not a
gold link by the target word whose gold source word it picks: the previous target word's
(the model still looks at what it has just translated), the next one's (it already looks at
what it translates next), or neither. :func:`bootstrap_interval` gives a percentile interval
for any statistic of counts summed over sentences (an AER, a share of errors, or the
difference of two models on the same sentences), by resampling the sentences.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import torch

Links = Iterable[tuple[int, int]]

__all__ = ["alignment_counts", "aer", "corpus_aer", "precision_recall", "argmax_alignment",
           "diagonal_alignment", "teacher_forced_attention", "ERROR_TYPES", "error_types",
           "corpus_error_types", "bootstrap_interval"]

ERROR_TYPES = ("previous", "next", "elsewhere")


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


def error_types(predicted: Links, gold: Links) -> dict[str, int]:
    """Sort the wrong links of one sentence by where they point; counts per type of :data:`ERROR_TYPES`.

    A predicted link ``(i, ĵ)`` is wrong if it is not a gold link. It is

    * ``"previous"`` if ``(i − 1, ĵ)`` is a gold link: ĵ is a source word of the previous
      target word, the one translated just before word i;
    * ``"next"`` if it is not "previous" and ``(i + 1, ĵ)`` is a gold link: ĵ is a source
      word of the next target word, the one translated just after word i;
    * ``"elsewhere"`` otherwise.

    The neighbours are neighbours in the *target* order (the order of the decoder's steps),
    not source positions ĵ = j ± 1; the two agree only where the word order is kept.
    """
    A, G = _links(predicted, "predicted"), _links(gold, "gold")
    counts = dict.fromkeys(ERROR_TYPES, 0)
    for i, j in A - G:
        if (i - 1, j) in G:
            counts["previous"] += 1
        elif (i + 1, j) in G:
            counts["next"] += 1
        else:
            counts["elsewhere"] += 1
    return counts


def corpus_error_types(predicted: Sequence[Links], gold: Sequence[Links]) -> dict[str, int]:
    """:func:`error_types` summed over a corpus, with ``"links"`` (all predicted links) and
    ``"wrong"`` (those not in the gold alignment, the sum of the three types)."""
    if len(predicted) != len(gold):
        raise ValueError(f"one alignment per sentence is needed: got {len(predicted)} predicted and "
                         f"{len(gold)} gold")
    totals = {"links": 0, "wrong": 0, **dict.fromkeys(ERROR_TYPES, 0)}
    for a, g in zip(predicted, gold):
        counts = error_types(a, g)
        totals["links"] += len(_links(a, "predicted"))
        totals["wrong"] += sum(counts.values())
        for key, n in counts.items():
            totals[key] += n
    return totals


def bootstrap_interval(counts, statistic, resamples: int = 1000, seed: int = 0,
                       confidence: float = 0.95) -> tuple[float, float]:
    """A percentile bootstrap interval for a statistic of counts summed over sentences.

    ``counts`` has one row per sentence (for example :func:`alignment_counts` of each
    sentence, or the counts of two models side by side, for a paired comparison);
    ``statistic`` maps summed counts (the last axis) to a number and must work on a stack of
    them (numpy broadcasting). Each resample draws as many sentences as there are, with
    replacement (``numpy.random.default_rng(seed).integers``, one row of indices per
    resample); the interval holds the middle ``confidence`` of the resampled statistics
    (``numpy.quantile``'s default linear interpolation)."""
    c = np.asarray(counts, dtype=np.float64)
    if c.ndim != 2 or c.shape[0] < 1:
        raise ValueError(f"counts must have one row per sentence (at least one), got shape {c.shape}")
    if resamples < 1 or not 0 < confidence < 1:
        raise ValueError("resamples must be at least 1 and confidence between 0 and 1")
    n = c.shape[0]
    idx = np.random.default_rng(seed).integers(0, n, size=(resamples, n))
    picked = np.zeros((resamples, n))
    np.add.at(picked, (np.arange(resamples)[:, None], idx), 1.0)    # how often each sentence is drawn
    values = np.asarray(statistic(picked @ c), dtype=np.float64)
    tail = (1 - confidence) / 2
    low, high = np.quantile(values, [tail, 1 - tail])
    return float(low), float(high)
