"""Translate English text with a trained model: the API chapters and widgets use.

``Translator.translate(text, beam_size=1)`` returns a :class:`Translation` holding the
French text, the tokens on both sides, the attention matrix and a per-step record.
Unknown target words are replaced through attention (Luong et al. 2015, Sec. 4.1;
Jean et al. 2015): each ``<unk>`` becomes the source word it attends to most.
"""
from __future__ import annotations

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


@dataclass
class Translation:
    text: str                        # detokenised French
    source_tokens: list[str]
    target_tokens: list[str]         # after <unk> replacement (without </s>)
    attention: np.ndarray | None     # len(target_tokens) x len(source_tokens); None without attention
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


def check_beam(beam_size) -> int:
    if isinstance(beam_size, bool) or not isinstance(beam_size, int) or not 1 <= beam_size <= MAX_BEAM:
        raise ValueError(f"beam_size must be a whole number from 1 to {MAX_BEAM}, got {beam_size!r}.")
    return beam_size


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
                  top_k: int = 5) -> Translation:
        return self.translate_batch([text], beam_size, replace_unk, length_penalty, record=True, top_k=top_k)[0]

    def translate_batch(self, texts: list[str], beam_size: int = 1, replace_unk: bool = True,
                        length_penalty: float = 1.0, record: bool = False, top_k: int = 5,
                        batch_size: int = 100) -> list[Translation]:
        beam_size = check_beam(beam_size)
        sources = [check_text(t) for t in texts]
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
                results = beam_search(self.model, src, lengths, beam_size, length_penalty, record=record, top_k=top_k)
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
