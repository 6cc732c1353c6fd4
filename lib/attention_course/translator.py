"""Translate English text with a trained model: the API chapters and widgets use.

``Translator.translate(text, beam_size=1)`` returns a :class:`Translation` holding the
French text, the tokens on both sides, the attention matrix and a per-step record.
Unknown target words are replaced through attention (Luong et al. 2015, Sec. 4.1;
Jean et al. 2015): each ``<unk>`` becomes the source word it attends to most.
"""
from __future__ import annotations

import numbers
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

import numpy as np
import torch

from .data.batching import pad
from .data.text import detokenize, tokenize
from .data.vocabulary import UNK, Vocabulary
from .models.seq2seq import Seq2Seq
from .search import beam_search, greedy_search
from .search.record import SearchResult, StepRecord

MAX_TOKENS = 100   # words and punctuation marks per input
MAX_BEAM = 20
MAX_LENGTH_PENALTY = 5.0   # α in score / |y|^α; 0 is the raw probability, 1 the per-word average
MAX_COVERAGE_PENALTY = 5.0   # β in GNMT's coverage penalty β Σ_j log min(Σ_i α_ij, 1); 0 switches it off


@dataclass
class Translation:
    text: str                        # detokenised French
    source_tokens: list[str]
    target_tokens: list[str]         # after <unk> replacement (without </s>)
    attention: np.ndarray | None     # len(target_tokens) x len(source_tokens); None without attention;
    #                                  a Transformer's: its last layer's heads averaged (each head: transformer_heads)
    steps: list[StepRecord] = field(default_factory=list)  # with words, one per decoding step (</s> included)
    score: float = 0.0               # log-probability of the output
    raw_tokens: list[str] = field(default_factory=list)    # before <unk> replacement


def check_text(text) -> list[str]:
    """The English tokens of ``text``, or a ValueError a reader understands."""
    if not isinstance(text, str):
        raise ValueError(f"Please give the English text as a string, not {type(text).__name__}.")
    tokens = tokenize(text, "en")
    if not tokens:
        raise ValueError("There is nothing to translate: type an English sentence (the text is empty or only spaces).")
    if len(tokens) > MAX_TOKENS:
        raise ValueError(f"The text has {len(tokens)} words and punctuation marks; the models translate at most "
                         f"{MAX_TOKENS} at a time (they were trained on single sentences). Split it into sentences.")
    return tokens


def check_whole(name: str, value, low: int, high: int | None = None, what: str = "") -> int:
    """``value`` as an int if it is a whole number (not a bool, not a float) in [low, high],
    else a ValueError naming the argument, its value and the allowed range."""
    if (isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral)
            or value < low or (high is not None and value > high)):
        allowed = f"from {low} to {high}{what}" if high is not None else f"of at least {low}"
        raise ValueError(f"{name} must be a whole number {allowed}, got {value!r}.")
    return int(value)


def check_beam(beam_size) -> int:
    return check_whole("beam_size", beam_size, 1, MAX_BEAM)


def check_top_k(top_k, vocab_size: int) -> int:
    """How many of the most probable next words each recorded step keeps: 1 to the target vocabulary."""
    return check_whole("top_k", top_k, 1, vocab_size, " (the size of the target vocabulary)")


def check_length_penalty(length_penalty) -> float:
    if (isinstance(length_penalty, (bool, np.bool_)) or not isinstance(length_penalty, numbers.Real)
            or not 0 <= length_penalty <= MAX_LENGTH_PENALTY):   # NaN fails the comparison too
        raise ValueError(f"length_penalty must be a number from 0 to {MAX_LENGTH_PENALTY:g} "
                         f"(0: raw log-probability, 1: per word), got {length_penalty!r}.")
    return float(length_penalty)


def check_coverage_penalty(coverage_penalty, has_attention: bool) -> float:
    """β of the coverage penalty: a number from 0 to :data:`MAX_COVERAGE_PENALTY`; above 0 only
    for a model with attention (the penalty is computed from its weights)."""
    if (isinstance(coverage_penalty, (bool, np.bool_)) or not isinstance(coverage_penalty, numbers.Real)
            or not 0 <= coverage_penalty <= MAX_COVERAGE_PENALTY):   # NaN fails the comparison too
        raise ValueError(f"coverage_penalty must be a number from 0 to {MAX_COVERAGE_PENALTY:g} "
                         f"(0: no penalty), got {coverage_penalty!r}.")
    if coverage_penalty and not has_attention:
        raise ValueError(f"coverage_penalty must be 0 for a model without attention (the penalty is "
                         f"computed from attention weights), got {coverage_penalty!r}.")
    return float(coverage_penalty)


def check_flag(name: str, value) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be True or False, got {value!r}.")
    return bool(value)


def check_texts(texts) -> list:
    """The texts given to ``translate_batch`` as a list (each one is then checked by :func:`check_text`)."""
    if isinstance(texts, (str, bytes)) or not isinstance(texts, Iterable):
        raise ValueError(f"translate_batch takes a list of English strings, not {type(texts).__name__}"
                         + (": use translate() for a single text." if isinstance(texts, str) else "."))
    return list(texts)


def replace_unknowns(tokens: list[str], attention: np.ndarray | None, source: list[str]) -> list[str]:
    """Each ``<unk>`` becomes the source word with the highest attention weight at that step."""
    if attention is None:
        return list(tokens)
    return [source[int(attention[i].argmax())] if tok == UNK else tok for i, tok in enumerate(tokens)]


class Translator:
    def __init__(self, model: Seq2Seq, src_vocab: Vocabulary, tgt_vocab: Vocabulary, name: str = "model",
                 device: str | torch.device | None = None):
        self.model, self.src_vocab, self.tgt_vocab, self.name = model.eval(), src_vocab, tgt_vocab, name
        self.device = torch.device(device) if device else next(model.parameters()).device
        self.model.to(self.device)

    @property
    def has_attention(self) -> bool:
        return self.model.has_attention

    def translate(self, text: str, beam_size: int = 1, replace_unk: bool = True, length_penalty: float = 1.0,
                  top_k: int = 5, coverage_penalty: float = 0.0) -> Translation:
        """Translate one English text. ``beam_size`` 1 to :data:`MAX_BEAM` (1 is greedy);
        ``length_penalty`` α from 0 to :data:`MAX_LENGTH_PENALTY` (beam only); ``top_k`` the number of
        next-word candidates each step records, 1 to the target vocabulary size;
        ``coverage_penalty`` β from 0 to :data:`MAX_COVERAGE_PENALTY` (beam only, models with
        attention only; GNMT's coverage penalty, see :func:`~attention_course.search.beam.ranking_score`).
        Bad arguments raise a ValueError that names the argument and its allowed range, before any decoding."""
        return self.translate_batch([text], beam_size, replace_unk, length_penalty, record=True, top_k=top_k,
                                    coverage_penalty=coverage_penalty)[0]

    def translate_batch(self, texts: list[str], beam_size: int = 1, replace_unk: bool = True,
                        length_penalty: float = 1.0, record: bool = False, top_k: int = 5,
                        batch_size: int = 100, coverage_penalty: float = 0.0) -> list[Translation]:
        """Translate a list of English texts (arguments as for :meth:`translate`; ``record`` keeps the
        per-step record, ``batch_size`` sentences are decoded together)."""
        beam_size = check_beam(beam_size)
        replace_unk, record = check_flag("replace_unk", replace_unk), check_flag("record", record)
        length_penalty = check_length_penalty(length_penalty)
        coverage_penalty = check_coverage_penalty(coverage_penalty, self.has_attention)
        top_k = check_top_k(top_k, len(self.tgt_vocab))
        batch_size = check_whole("batch_size", batch_size, 1)
        sources = [check_text(t) for t in check_texts(texts)]
        order = sorted(range(len(sources)), key=lambda i: len(sources[i]))
        out: list[Translation | None] = [None] * len(sources)
        for k in range(0, len(order), batch_size):
            idx = order[k: k + batch_size]
            ids = [self.src_vocab.encode(sources[i]) for i in idx]
            src = pad(ids).to(self.device)
            lengths = torch.tensor([len(x) for x in ids], device=self.device)
            if beam_size == 1:
                results = greedy_search(self.model, src, lengths, record=record, top_k=top_k)
            else:
                results = beam_search(self.model, src, lengths, beam_size, length_penalty, record=record, top_k=top_k,
                                      coverage_penalty=coverage_penalty)
            for i, r in zip(idx, results):
                out[i] = self._translation(sources[i], r, replace_unk)
        return out

    def _translation(self, source: list[str], r: SearchResult, replace_unk: bool) -> Translation:
        raw = [self.tgt_vocab.itos[t] for t in r.tokens]
        attn = None if r.attention is None else r.attention[: len(raw)].cpu().numpy()
        tokens = replace_unknowns(raw, attn, source) if replace_unk else raw
        return Translation(detokenize(tokens, "fr"), source, tokens, attn, [self._words(s) for s in r.steps],
                           r.score, raw)

    def _words(self, step: StepRecord) -> StepRecord:
        w = self.tgt_vocab.itos
        return replace(
            step,
            hypotheses=[replace(h, tokens=[w[t] for t in h.tokens], top_k=[(w[t], p) for t, p in h.top_k])
                        for h in step.hypotheses],
            chosen=[w[t] for t in step.chosen],
            candidates=[replace(c, tokens=[w[t] for t in c.tokens]) for c in step.candidates])
