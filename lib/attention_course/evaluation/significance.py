"""Paired bootstrap resampling over test sentences for BLEU and chrF differences (Koehn 2004).

>>> r = paired_bootstrap(hyps_a, hyps_b, references, metric="bleu")
>>> f"{r.delta:+.1f} [{r.low:+.1f}, {r.high:+.1f}]"      # score_a − score_b and its 95 % interval

The scores come from sacreBLEU's own sufficient statistics: each test sentence is reduced
once to its match counts (``Metric._extract_corpus_statistics``: for BLEU the hypothesis and
closest-reference lengths and the matched / total n-grams, for chrF the character and word
n-gram counts of the best reference), and the score of any multiset of sentences is
``Metric._compute_score_from_stats`` of the summed counts: exactly what
``sacrebleu.corpus_bleu`` / ``corpus_chrf`` returns for that list of sentences. A variable
number of references per sentence (``nrefs:var``) is handled by sacreBLEU: the shorter
reference lists are padded with ``None`` in the reference streams (:func:`reference_streams`)
and sacreBLEU drops the ``None`` entries sentence by sentence.

Resampling is *paired*: one resample draws n sentence indices with replacement (sacreBLEU's
``rng.choice(n, size=(resamples, n), replace=True)`` with ``numpy.random.default_rng(seed)``,
the draw of ``sacrebleu.significance._paired_bs_test``; 1000 resamples and seed 12345 are
sacreBLEU's defaults) and both systems are scored on the *same* sentences, so the variation
that comes from which sentences were picked cancels in the difference.

The interval is the 95 % percentile interval of the 1000 resampled differences, cut the way
``sacrebleu.significance.estimate_ci`` cuts it (the ⌊n/40⌋-th smallest and largest values
are its ends). The p-value is the two-sided test of "no difference" on the bootstrap
distribution shifted to mean zero (Koehn 2004; Riezler & Maxwell 2005):
(1 + #{|d* − mean d*| ≥ |d|}) / (resamples + 1). It is 1 for identical systems and at least
1 / (resamples + 1). (sacreBLEU's ``PairedTest`` centres |d*| instead of d*, which gives a
p-value of 1 / (resamples + 1) for two identical systems; the interval is the statistic to read.)

The same resampling gives an interval to any other statistic of the summed sentence statistics
(:func:`paired_statistic`). Besides BLEU and chrF, :func:`corpus_statistic` knows ``"p4/p1"``
(:func:`paired_precision_decay`): how much faster one system's n-gram precision falls from
1-grams to 4-grams than another's.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from sacrebleu.metrics import BLEU
from sacrebleu.metrics.base import Metric

from .bleu import bleu_metric, chrf_metric, one_word_unk, reference_streams

RESAMPLES = 1000     # sacreBLEU's default number of paired bootstrap resamples
SEED = 12345         # sacreBLEU's default seed (SACREBLEU_SEED)
METRICS = ("bleu", "chrf")   # the sacreBLEU metrics; corpus_statistic adds "p4/p1" from BLEU's statistics


def metric_object(metric: str) -> Metric:
    """The sacreBLEU metric object for ``"bleu"`` or ``"chrf"``, configured as :mod:`.bleu` scores."""
    if metric == "bleu":
        return bleu_metric()
    if metric == "chrf":
        return chrf_metric()
    raise ValueError(f"metric must be one of {', '.join(METRICS)}, got {metric!r}")


def sentence_statistics(hypotheses: Sequence[str], references: Sequence[Sequence[str]],
                        metric: str | Metric = "bleu") -> np.ndarray:
    """sacreBLEU's sufficient statistics, one row per sentence (float64: sums of them are exact)."""
    m = metric_object(metric) if isinstance(metric, str) else metric
    _check(hypotheses, references)
    hyps = [one_word_unk(h) for h in hypotheses] if isinstance(m, BLEU) else list(hypotheses)   # as corpus_bleu
    return np.asarray(m._extract_corpus_statistics(hyps, reference_streams(references)), dtype=np.float64)


def score_from_statistics(summed: np.ndarray, metric: str | Metric = "bleu") -> float:
    """The corpus score of summed sentence statistics (sacreBLEU's ``_compute_score_from_stats``)."""
    m = metric_object(metric) if isinstance(metric, str) else metric
    return float(m._compute_score_from_stats(summed).score)


def resample_indices(n_sentences: int, resamples: int = RESAMPLES, seed: int | None = SEED) -> np.ndarray:
    """``resamples`` × ``n_sentences`` sentence indices drawn with replacement: the same draw as
    sacreBLEU's paired bootstrap test for the same seed (``None``: a fresh, unseeded draw)."""
    if n_sentences < 1:
        raise ValueError("the bootstrap needs at least one sentence")
    if resamples < 1:
        raise ValueError(f"resamples must be at least 1, got {resamples}")
    return np.random.default_rng(seed).choice(n_sentences, size=(resamples, n_sentences), replace=True)


def resampled_sums(stats: np.ndarray, indices: np.ndarray) -> np.ndarray:
    """For each resample (a row of ``indices``), the sum of the picked sentences' statistics.

    Computed as (how often each sentence is picked) @ stats; the statistics are whole numbers,
    so every sum is exact and equals summing the picked rows one by one."""
    resamples, n = indices.shape
    flat = (indices + n * np.arange(resamples)[:, None]).ravel()
    counts = np.bincount(flat, minlength=resamples * n).reshape(resamples, n).astype(np.float64)
    return counts @ stats


def percentile_interval(samples: np.ndarray) -> tuple[float, float]:
    """The 95 % percentile interval as ``sacrebleu.significance.estimate_ci`` takes it."""
    s = np.sort(np.asarray(samples, dtype=np.float64))
    cut = len(s) // 40
    return float(s[cut]), float(s[len(s) - cut - 1])


@dataclass(frozen=True)
class PairedResult:
    """``score_a − score_b`` on the full test set (``delta``) and its paired-bootstrap 95 % interval."""
    metric: str
    score_a: float
    score_b: float
    delta: float
    low: float
    high: float
    p_value: float
    resamples: int
    seed: int | None
    sentences: int
    samples: np.ndarray = field(repr=False, compare=False)   # the resampled differences

    def format(self, digits: int = 1) -> str:
        """``+10.8 [+9.9, +11.7]``"""
        return f"{self.delta:+.{digits}f} [{self.low:+.{digits}f}, {self.high:+.{digits}f}]"

    def as_dict(self, digits: int = 2) -> dict:
        """For a model card: rounded scores, difference, interval and p-value."""
        return {"score_a": round(self.score_a, digits), "score_b": round(self.score_b, digits),
                "delta": round(self.delta, digits), "ci95": [round(self.low, digits), round(self.high, digits)],
                "p_value": round(self.p_value, 4)}


def paired_bootstrap(hyps_a: Sequence[str], hyps_b: Sequence[str], references: Sequence[Sequence[str]],
                     metric: str = "bleu", n: int = RESAMPLES, seed: int | None = SEED, *,
                     stats_a: np.ndarray | None = None, stats_b: np.ndarray | None = None) -> PairedResult:
    """Paired bootstrap of ``score(a) − score(b)`` over the test sentences (``metric``: any
    name :func:`corpus_statistic` knows).

    ``references[i]`` lists every reference of sentence i (any number, at least one).
    ``stats_a`` / ``stats_b``, if given, are :func:`sentence_statistics` already computed for
    the same hypotheses and references (to compare one baseline with many systems)."""
    m, statistic = corpus_statistic(metric)
    sa, sb = _both_statistics(hyps_a, hyps_b, references, m, stats_a, stats_b)
    return paired_statistic(sa, sb, statistic, metric, n, seed)


def corpus_statistic(name: str) -> tuple[Metric, Callable[[np.ndarray], float]]:
    """For ``"bleu"``, ``"chrf"`` or ``"p4/p1"`` (:func:`precision_decay`): the sacreBLEU metric
    whose sentence statistics it is computed from, and the function of their sum that gives it."""
    if name == "p4/p1":
        return metric_object("bleu"), precision_decay
    if name not in METRICS:
        raise ValueError(f"metric must be one of {', '.join(METRICS)} or p4/p1, got {name!r}")
    m = metric_object(name)
    return m, lambda summed: score_from_statistics(summed, m)


def precision_decay(summed: np.ndarray) -> float:
    """p_4 / p_1 in %: the share of its 1-gram precision a system keeps at 4-grams, from summed
    BLEU statistics (``[c, r, matches_1..4, totals_1..4]``; p_n = matches_n / totals_n)."""
    if len(summed) != 10:
        raise ValueError(f"BLEU statistics of 4 n-gram orders have 10 columns, got {len(summed)}")
    p1, p4 = summed[2] / summed[6], summed[5] / summed[9]
    return float(100.0 * p4 / p1)


def paired_precision_decay(hyps_a: Sequence[str], hyps_b: Sequence[str], references: Sequence[Sequence[str]],
                           n: int = RESAMPLES, seed: int | None = SEED, *,
                           stats_a: np.ndarray | None = None, stats_b: np.ndarray | None = None) -> PairedResult:
    """Paired bootstrap of ``p4/p1(a) − p4/p1(b)`` (:func:`precision_decay`, in points of %):
    above 0, system a's n-gram precision falls less from 1-grams to 4-grams than b's.
    ``stats_a`` / ``stats_b``: BLEU :func:`sentence_statistics`, if already computed."""
    return paired_bootstrap(hyps_a, hyps_b, references, "p4/p1", n, seed, stats_a=stats_a, stats_b=stats_b)


def paired_statistic(stats_a: np.ndarray, stats_b: np.ndarray, statistic: Callable[[np.ndarray], float],
                     name: str, n: int = RESAMPLES, seed: int | None = SEED) -> PairedResult:
    """Paired bootstrap of ``statistic(a) − statistic(b)``, where ``statistic`` maps the summed
    sentence statistics of a set of sentences to a number (a corpus score)."""
    sa, sb = np.asarray(stats_a, dtype=np.float64), np.asarray(stats_b, dtype=np.float64)
    if sa.shape != sb.shape or sa.ndim != 2:
        raise ValueError(f"statistics of shape {sa.shape} and {sb.shape}: one row per sentence, the same for both")
    score_a, score_b = statistic(sa.sum(0)), statistic(sb.sum(0))
    delta = score_a - score_b
    idx = resample_indices(len(sa), n, seed)
    sums_a, sums_b = resampled_sums(sa, idx), resampled_sums(sb, idx)
    samples = np.array([statistic(x) - statistic(y) for x, y in zip(sums_a, sums_b)])
    low, high = percentile_interval(samples)
    centred = np.abs(samples - samples.mean())
    # a tolerance so that identical systems (all differences 0 up to rounding) give p = 1
    p_value = (1 + int(np.sum(centred >= abs(delta) - 1e-9))) / (n + 1)
    return PairedResult(name, score_a, score_b, delta, low, high, p_value, n, seed, len(sa), samples)


def _both_statistics(hyps_a, hyps_b, references, m: Metric, stats_a, stats_b) -> tuple[np.ndarray, np.ndarray]:
    if len(hyps_a) != len(hyps_b):
        raise ValueError(f"system A has {len(hyps_a)} hypotheses but system B {len(hyps_b)}")
    sa = sentence_statistics(hyps_a, references, m) if stats_a is None else np.asarray(stats_a, dtype=np.float64)
    sb = sentence_statistics(hyps_b, references, m) if stats_b is None else np.asarray(stats_b, dtype=np.float64)
    if sa.shape != sb.shape or sa.shape[0] != len(hyps_a):
        raise ValueError(f"statistics of shape {sa.shape} and {sb.shape} for {len(hyps_a)} sentences")
    return sa, sb


def _check(hypotheses: Sequence[str], references: Sequence[Sequence[str]]) -> None:
    if isinstance(hypotheses, str):
        raise ValueError("hypotheses must be a list of strings, not one string")
    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses but {len(references)} reference lists")
    if not len(hypotheses):
        raise ValueError("the bootstrap needs at least one sentence")
    if any(isinstance(r, str) or len(r) == 0 for r in references):
        raise ValueError("references[i] must be a non-empty list of the references of sentence i")


__all__ = ["RESAMPLES", "SEED", "METRICS", "PairedResult", "paired_bootstrap", "paired_precision_decay",
           "paired_statistic", "precision_decay", "corpus_statistic", "sentence_statistics",
           "score_from_statistics", "resample_indices", "resampled_sums", "percentile_interval", "metric_object"]
