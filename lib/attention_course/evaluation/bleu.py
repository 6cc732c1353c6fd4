"""Corpus BLEU and chrF on detokenised text with sacrebleu (Post 2018), multi-reference.

Each hypothesis may have any number of references; sacrebleu takes reference
*streams*, so shorter reference lists are padded with None (its "nrefs:var").

One rule of our own: BLEU counts each ``<unk>`` a model leaves in its output as **one** wrong
word (:func:`one_word_unk`). sacreBLEU's 13a tokenizer would split it into three, ``<``, ``unk``
and ``>``, none of which can match, so a model that cannot replace its ``<unk>`` (the models
without attention) would lose about 3 BLEU to the tokenizer, not to its translations (chapter 05
measures it). References never contain ``<unk>``; chrF, which reads characters, is left as it is.
"""
from __future__ import annotations

from collections.abc import Sequence

from sacrebleu.metrics import BLEU, CHRF
from sacrebleu.metrics.base import Score

LENGTH_BUCKETS = ((1, 5), (6, 10), (11, 15), (16, None))


def reference_streams(references: Sequence[Sequence[str]]) -> list[list[str | None]]:
    """Per-hypothesis reference lists -> sacrebleu's reference streams (stream k holds every
    hypothesis' k-th reference, or None where it has fewer: sacrebleu skips those)."""
    if not references:
        return [[]]
    width = max(len(r) for r in references)
    if width == 0:
        raise ValueError("every hypothesis needs at least one reference")
    return [[r[k] if k < len(r) else None for r in references] for k in range(width)]


UNK = "<unk>"
UNK_WORD = "UNKNOWNWORD"     # one word, in no reference: how BLEU reads an <unk> left in the output


def one_word_unk(text: str) -> str:
    """``text`` as BLEU scores it: every literal ``<unk>`` written as the one word :data:`UNK_WORD`."""
    return text.replace(UNK, UNK_WORD)


def bleu_metric() -> BLEU:
    """The BLEU every score of the course uses (sacrebleu's defaults: 13a, mixed case, exp smoothing)."""
    return BLEU()


def chrf_metric() -> CHRF:
    """The chrF every score of the course uses (sacrebleu's defaults: chrF2, character 6-grams)."""
    return CHRF()


def corpus_bleu(hypotheses: Sequence[str], references: Sequence[Sequence[str]]) -> Score:
    """sacrebleu corpus BLEU (13a tokenisation, mixed case) of the hypotheses with each ``<unk>``
    as one word. ``str(score)`` is the full report and ``score.signature`` the sacrebleu
    signature of this very call."""
    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses but {len(references)} reference lists")
    bleu = bleu_metric()
    score = bleu.corpus_score([one_word_unk(h) for h in hypotheses], reference_streams(references))
    score.signature = str(bleu.get_signature())
    return score


def corpus_chrf(hypotheses: Sequence[str], references: Sequence[Sequence[str]]) -> Score:
    return chrf_metric().corpus_score(list(hypotheses), reference_streams(references))


def length_bucket(n_words: int) -> str:
    for lo, hi in LENGTH_BUCKETS:
        if n_words >= lo and (hi is None or n_words <= hi):
            return f"{lo}-{hi}" if hi else f"{lo}+"
    raise ValueError(f"a sentence needs at least one word, got {n_words}")


def bleu_by_length(sources: Sequence[str], hypotheses: Sequence[str], references: Sequence[Sequence[str]]
                   ) -> dict[str, dict[str, float]]:
    """BLEU per source-length bucket (words = whitespace-separated tokens of the English source)."""
    groups: dict[str, list[int]] = {}
    for i, src in enumerate(sources):
        groups.setdefault(length_bucket(max(1, len(src.split()))), []).append(i)
    out = {}
    for lo, hi in LENGTH_BUCKETS:
        key = f"{lo}-{hi}" if hi else f"{lo}+"
        idx = groups.get(key, [])
        if idx:
            score = corpus_bleu([hypotheses[i] for i in idx], [references[i] for i in idx])
            out[key] = {"bleu": round(score.score, 2), "sentences": len(idx)}
    return out
