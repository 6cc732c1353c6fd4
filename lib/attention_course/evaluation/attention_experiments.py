"""Measurements on attention weights used by chapter 4 (Luong attention).

* :func:`next_step_attention`: what the query knows. The decoder reads ``<s>`` and a French
  prefix, then each candidate for the *next previous word*; we return the attention weights of
  the step that has just read the candidate. A decoder whose query is computed after it reads
  the previous word (Luong's ``h_t``) can react to the candidate; one whose query is computed
  before (Bahdanau's ``s_{i-1}``) returns the same weights for every candidate, by construction.
* :func:`row_entropies` and :func:`sentence_entropies`: how peaked the weights of each output
  word are, in nats.
* :func:`entropy_sample`: chapter 4's random sample of test sentences on which the entropies
  are measured (the seed runs of the results page are measured on the same sentences).
* :func:`mean_with_interval` and :func:`paired_difference`: the mean entropy per output word
  over a set of sentences, with a percentile bootstrap interval over *sentences* (the unit that
  was sampled), alone or as the difference of two models translating the same sentences.
"""
from __future__ import annotations

import functools
import random
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from ..data.text import tokenize

RESAMPLES = 1000
SEED = 0
ENTROPY_SENTENCES = 300     # chapter 4's sample of test sentences for the attention entropy


def _word_ids(vocab, words: Sequence[str]) -> list[int]:
    missing = [w for w in words if w not in vocab.stoi]
    if missing:
        raise ValueError(f"not in the target vocabulary: {missing}")
    return [vocab.stoi[w] for w in words]


@dataclass(frozen=True)
class NextStep:
    """The step that reads a candidate word: its attention weights over the source tokens and
    the word it then finds most probable."""
    attention: np.ndarray
    next_word: str


def next_step_attention(translator, source: str, prefix: Sequence[str], candidates: Sequence[str]
                        ) -> dict[str, NextStep]:
    """For each candidate word w: the :class:`NextStep` of the step that reads w, after the
    decoder has read ``<s>`` followed by every word of ``prefix``.

    The decoder therefore reads ``<s> prefix[0] … prefix[-1] w``; the weights are those it uses
    to predict the word after w (step ``len(prefix) + 1``, counted from 0)."""
    model, vocab = translator.model, translator.tgt_vocab
    if not model.has_attention:
        raise ValueError(f"{translator.name} has no attention")
    read = [vocab.bos_index, *_word_ids(vocab, prefix)]
    cand = _word_ids(vocab, candidates)
    src_tokens = tokenize(source, "en")
    src = torch.tensor([translator.src_vocab.encode(src_tokens)])
    dec = model.decoder
    with torch.no_grad():
        memory = model.encode(src, torch.tensor([len(src_tokens)]))
        state = dec.initial_state(memory)
        for t, word in enumerate(read):                       # <s>, then every prefix word
            _, state, _ = dec.step(torch.tensor([word]), state, memory, t)
        out = {}
        for w, i in zip(candidates, cand):
            logits, _, alpha = dec.step(torch.tensor([i]), state, memory, len(read))
            out[w] = NextStep(alpha[0].numpy(), vocab.itos[int(logits[0].argmax())])
        return out


def largest_change(rows: dict[str, NextStep]) -> tuple[float, int]:
    """The largest absolute difference between any two candidates' weights, and the source
    position where it occurs."""
    stacked = np.stack([r.attention if isinstance(r, NextStep) else r for r in rows.values()])
    spread = stacked.max(0) - stacked.min(0)
    k = int(spread.argmax())
    return float(spread[k]), k


def row_entropies(attention: np.ndarray) -> np.ndarray:
    """Entropy in nats of every row (output word) of an attention matrix, each row first
    normalised to sum to 1 (local-p rows sum to less)."""
    a = np.asarray(attention, dtype=np.float64)
    rows = a / a.sum(1, keepdims=True)
    safe = np.where(rows > 0, rows, 1.0)
    return -(rows * np.log(safe)).sum(1)


@dataclass(frozen=True)
class SentenceEntropies:
    """Per sentence: the sum of the row entropies and the number of rows (output words)."""
    total: np.ndarray
    rows: np.ndarray

    @property
    def mean(self) -> float:
        """Mean entropy per output word over all sentences."""
        return float(self.total.sum() / self.rows.sum())


def sentence_entropies(translations) -> SentenceEntropies:
    """:class:`SentenceEntropies` of a list of translations (their ``attention`` matrices)."""
    ent = [row_entropies(t.attention) for t in translations]
    return SentenceEntropies(np.array([e.sum() for e in ent]), np.array([len(e) for e in ent], dtype=np.float64))


def entropy_sample(sources: Sequence, n: int = ENTROPY_SENTENCES, seed: int = SEED) -> list:
    """``n`` of ``sources`` drawn at random without replacement (``random.Random(seed).sample``;
    all of them, shuffled, if there are fewer). Which positions are drawn depends only on the
    number of sources, so test examples and their source sentences give the same sample."""
    sources = list(sources)
    return random.Random(seed).sample(sources, min(n, len(sources)))


@functools.lru_cache(maxsize=4)
def _resample_counts(n: int, resamples: int, seed: int) -> np.ndarray:
    """resamples x n: how often each sentence is drawn in each bootstrap resample (read-only)."""
    idx = np.random.default_rng(seed).integers(0, n, size=(resamples, n))
    flat = (idx + n * np.arange(resamples)[:, None]).ravel()
    counts = np.bincount(flat, minlength=resamples * n).reshape(resamples, n).astype(np.float64)
    counts.flags.writeable = False
    return counts


def _interval(samples: np.ndarray) -> tuple[float, float]:
    low, high = np.percentile(samples, [2.5, 97.5])
    return float(low), float(high)


@dataclass(frozen=True)
class Estimate:
    value: float
    low: float
    high: float

    def format(self, digits: int = 2, sign: bool = False) -> str:
        f = f"{'+' if sign else ''}.{digits}f"
        return f"{self.value:{f}} [{self.low:{f}}, {self.high:{f}}]"


def mean_with_interval(s: SentenceEntropies, resamples: int = RESAMPLES, seed: int = SEED) -> Estimate:
    """Mean entropy per output word and its 95 % percentile bootstrap interval, resampling sentences."""
    counts = _resample_counts(len(s.total), resamples, seed)
    return Estimate(s.mean, *_interval((counts @ s.total) / (counts @ s.rows)))


def paired_difference(a: SentenceEntropies, b: SentenceEntropies, resamples: int = RESAMPLES,
                      seed: int = SEED) -> Estimate:
    """Mean entropy of ``a`` minus that of ``b`` (the same source sentences, in the same order),
    with a 95 % paired bootstrap interval: each resample draws the same sentences for both."""
    if len(a.total) != len(b.total):
        raise ValueError(f"{len(a.total)} sentences against {len(b.total)}: a paired comparison needs the same ones")
    counts = _resample_counts(len(a.total), resamples, seed)
    samples = (counts @ a.total) / (counts @ a.rows) - (counts @ b.total) / (counts @ b.rows)
    return Estimate(a.mean - b.mean, *_interval(samples))


__all__ = ["NextStep", "next_step_attention", "largest_change", "row_entropies", "SentenceEntropies", "sentence_entropies",
           "Estimate", "mean_with_interval", "paired_difference", "ENTROPY_SENTENCES", "entropy_sample"]
