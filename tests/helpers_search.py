"""A hand-written 'model' for search tests: its next-word distributions are fixed by hand, so
the winner of each search setting can be worked out on paper (tests/test_search.py,
tests/test_coverage_penalty.py)."""
from __future__ import annotations

import torch

from attention_course.data.vocabulary import Vocabulary

EOS, BOS = Vocabulary.eos_index, Vocabulary.bos_index


class _Rows:
    """A stand-in for the encoder memory: only the number of rows matters."""

    def __init__(self, n):
        self.n = n

    def index_select(self, index):
        return _Rows(len(index))


class StubModel:
    """A 'model' whose next-word distribution is written by hand (vocabulary: 4 = a, 5 = b).

    "a </s>" has log-probability log .6 + log .9 = -0.616 (length 2: -0.308 per word),
    "b b b </s>" has log .35 + 3 log .99 = -1.080 (length 4: -0.270 per word),
    so raw probability (α = 0) prefers "a" and length normalisation (α = 1) prefers "b b b".
    """

    has_attention = False
    A, B = 4, 5

    def __init__(self):
        self.decoder = self

    def eval(self):
        return self

    def encode(self, src, lengths):
        return _Rows(src.size(0))

    def initial_state(self, memory):
        return torch.zeros(memory.n, 1)

    def distribution(self, prev: int, t: int) -> dict[int, float]:
        a, b = self.A, self.B
        if prev == BOS:
            return {a: 0.6, b: 0.35, EOS: 0.05}
        if prev == a:
            return {EOS: 0.9, a: 0.05, b: 0.05} if t == 1 else {a: 0.5, b: 0.5}
        if prev == b and t in (1, 2):
            return {b: 0.99, a: 0.01}
        if prev == b and t == 3:
            return {EOS: 0.99, a: 0.01}
        return {a: 0.5, b: 0.5}

    def step(self, prev, state, memory, t):
        rows = []
        for p in prev.tolist():
            probs = torch.full((6,), 1e-9, dtype=torch.float64)
            for w, v in self.distribution(p, t).items():
                probs[w] = v
            rows.append((probs / probs.sum()).log())
        return torch.stack(rows).float(), state, None
