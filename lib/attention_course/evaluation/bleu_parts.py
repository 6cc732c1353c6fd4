"""BLEU and chrF from their parts, in plain Python: what sacreBLEU computes, written out to read.

BLEU (Papineni et al. 2002, Eq. 1-2) over a corpus of hypotheses, each with one or more references:

    p_n  = Σ_sentences Σ_{n-grams g of the hypothesis} min(count(g), max_ref count_ref(g))
           / Σ_sentences (number of n-grams in the hypothesis)            (modified precision, clipped)
    BP   = 1 if c > r else exp(1 - r / c)     c: hypothesis words, r: closest reference lengths, summed
    BLEU = BP · exp(Σ_{n=1..4} ¼ log p_n)                                  (geometric mean)

Counts are summed over the whole corpus *before* dividing (corpus BLEU is not the mean of sentence
BLEUs). Words come from sacreBLEU's "13a" tokenizer (the ``tok:13a`` of its signature): the same
text split differently gives a different score, which is why a BLEU number needs its signature.
A precision with no match at all is smoothed as sacreBLEU's default ("exp", as mteval-v13a):
the k-th such order counts 1 / 2^k matches.

chrF (Popović 2015) with sacreBLEU's defaults (chrF2: character 1- to 6-grams, spaces removed,
β = 2): per sentence the reference giving the best F-score is kept, the n-gram statistics are
summed over the corpus, precision and recall are averaged over the orders, then combined as
F_β = (1 + β²) P R / (β² P + R).

``tests/test_bleu_parts.py`` checks both against sacreBLEU on the test split for every shipped model.
"""
from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sacrebleu.tokenizers.tokenizer_13a import Tokenizer13a

from .bleu import one_word_unk

MAX_ORDER = 4        # BLEU's n-grams: 1 to 4
CHAR_ORDER = 6       # chrF's character n-grams: 1 to 6
BETA = 2.0           # chrF's recall weight

_tokenize_13a = Tokenizer13a()


def tokenize_13a(text: str) -> list[str]:
    """The words BLEU counts: sacreBLEU's 13a tokenizer (punctuation split off), then whitespace."""
    return _tokenize_13a(text.rstrip()).split()


def ngrams(words: Sequence[str], n: int) -> Counter:
    """How often each n-gram (a tuple of n words) occurs in ``words``."""
    return Counter(tuple(words[i:i + n]) for i in range(len(words) - n + 1))


def clipped_matches(hypothesis: Sequence[str], references: Sequence[Sequence[str]], n: int) -> tuple[int, int]:
    """(matches, total) for the n-grams of one hypothesis: each n-gram counts at most as often as it
    occurs in the one reference that has it most often (the clipping of modified precision)."""
    counts = ngrams(hypothesis, n)
    most = Counter()
    for reference in references:
        most |= ngrams(reference, n)          # | keeps the larger count of each n-gram
    matches = sum(min(count, most[g]) for g, count in counts.items())
    return matches, max(0, len(hypothesis) - n + 1)


def closest_reference_length(hypothesis_length: int, reference_lengths: Sequence[int]) -> int:
    """The reference length closest to the hypothesis' (the shorter one on a tie)."""
    return min(reference_lengths, key=lambda r: (abs(r - hypothesis_length), r))


def brevity_penalty(hypothesis_length: int, reference_length: int) -> float:
    """1 when the hypotheses are longer than the references, else exp(1 - r / c) (0 when c = 0)."""
    if hypothesis_length >= reference_length:
        return 1.0
    return math.exp(1 - reference_length / hypothesis_length) if hypothesis_length else 0.0


@dataclass(frozen=True)
class BleuParts:
    """The sufficient statistics of corpus BLEU and the score they give."""
    matches: tuple[int, ...]         # clipped n-gram matches, n = 1 .. 4, summed over the corpus
    totals: tuple[int, ...]          # n-grams in the hypotheses, n = 1 .. 4
    hypothesis_length: int           # c: words in the hypotheses
    reference_length: int            # r: the closest reference length of each sentence, summed

    @property
    def precisions(self) -> tuple[float, ...]:
        """Modified precisions p_n in percent, with sacreBLEU's "exp" smoothing of empty orders."""
        precisions, halvings = [], 1.0
        for matches, total in zip(self.matches, self.totals):
            if total == 0:
                precisions.append(0.0)
            elif matches == 0:
                halvings *= 2
                precisions.append(100.0 / (halvings * total))
            else:
                precisions.append(100.0 * matches / total)
        return tuple(precisions)

    @property
    def brevity_penalty(self) -> float:
        return brevity_penalty(self.hypothesis_length, self.reference_length)

    @property
    def score(self) -> float:
        """BP · geometric mean of the precisions, in percent (0 when nothing matches at all)."""
        precisions = self.precisions
        if not any(self.matches) or min(precisions) == 0.0:
            return 0.0
        return self.brevity_penalty * math.exp(sum(math.log(p) for p in precisions) / len(precisions))


def corpus_bleu_parts(hypotheses: Sequence[str], references: Sequence[Sequence[str]],
                      tokenize: Callable[[str], list[str]] = tokenize_13a, max_order: int = MAX_ORDER) -> BleuParts:
    """Corpus BLEU of detokenised ``hypotheses``, each with its list of ``references`` (an ``<unk>``
    left in a hypothesis is one word, as in :func:`~attention_course.evaluation.bleu.corpus_bleu`)."""
    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses but {len(references)} reference lists")
    if any(not refs for refs in references):
        raise ValueError("every hypothesis needs at least one reference")
    matches, totals = [0] * max_order, [0] * max_order
    c = r = 0
    for hypothesis, refs in zip(hypotheses, references):
        words, ref_words = tokenize(one_word_unk(hypothesis)), [tokenize(ref) for ref in refs]   # <unk>: one word
        c += len(words)
        r += closest_reference_length(len(words), [len(w) for w in ref_words])
        for n in range(1, max_order + 1):
            m, t = clipped_matches(words, ref_words, n)
            matches[n - 1] += m
            totals[n - 1] += t
    return BleuParts(tuple(matches), tuple(totals), c, r)


def _char_ngrams(text: str, n: int) -> Counter:
    text = "".join(text.split())             # chrF ignores spaces
    return Counter(text[i:i + n] for i in range(len(text) - n + 1))


def _chrf_statistics(hypothesis: str, reference: str) -> list[tuple[int, int, int]]:
    """(hypothesis n-grams, reference n-grams, matches) for n = 1 .. 6. An order the reference is
    too short to have does not count the hypothesis' n-grams either (as sacreBLEU)."""
    stats = []
    for n in range(1, CHAR_ORDER + 1):
        h, r = _char_ngrams(hypothesis, n), _char_ngrams(reference, n)
        stats.append((sum(h.values()) if r else 0, sum(r.values()), sum((h & r).values())))
    return stats


def chrf_from_statistics(stats: Sequence[tuple[int, int, int]], beta: float = BETA) -> float:
    """chrF in percent: precision and recall averaged over the orders that occur, then F_β."""
    precision = recall = 0.0
    orders = 0
    for n_hyp, n_ref, n_match in stats:
        if n_hyp > 0 and n_ref > 0:
            precision += n_match / n_hyp
            recall += n_match / n_ref
            orders += 1
    if orders == 0:
        return 0.0
    precision, recall = precision / orders, recall / orders
    if precision + recall == 0:
        return 0.0
    return 100 * (1 + beta ** 2) * precision * recall / (beta ** 2 * precision + recall)


def corpus_chrf_parts(hypotheses: Sequence[str], references: Sequence[Sequence[str]]) -> float:
    """Corpus chrF: per sentence the statistics of its best reference, summed, then one F-score."""
    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses but {len(references)} reference lists")
    total = [[0, 0, 0] for _ in range(CHAR_ORDER)]
    for hypothesis, refs in zip(hypotheses, references):
        if not refs:
            raise ValueError("every hypothesis needs at least one reference")
        best, best_f = None, -1.0
        for ref in refs:
            stats = _chrf_statistics(hypothesis, ref)
            f = chrf_from_statistics(stats)
            if f > best_f:
                best, best_f = stats, f
        for acc, s in zip(total, best):
            for k in range(3):
                acc[k] += s[k]
    return chrf_from_statistics([tuple(t) for t in total])

