"""Attention mechanisms. Each returns the context vectors *and* the weights.

Shapes: queries are ``batch x steps x query_size`` (steps = 1 while decoding
word by word, the whole target while teacher forcing), annotations are
``batch x src_len x key_size`` and ``mask`` is ``batch x src_len`` (True = real word).
Keys are projected once per sentence by ``precompute`` and passed back in, so
each module stays a pure function of its inputs.
"""
from __future__ import annotations


import torch
from torch import nn


def masked_softmax(scores: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Softmax over the last axis, restricted to positions where ``mask`` is True."""
    return torch.softmax(scores.masked_fill(~mask, float("-inf")), dim=-1)


class BahdanauAttention(nn.Module):
    """Additive attention (Bahdanau et al. 2014, Eq. 5-6 and App. A.1.2).

    e_ij = v_aᵀ tanh(W_a s_{i-1} + U_a h_j),  α_ij = softmax_j(e_ij),  c_i = Σ_j α_ij h_j
    """

    def __init__(self, query_size: int, key_size: int, attention_size: int):
        super().__init__()
        self.W_a = nn.Linear(query_size, attention_size, bias=False)
        self.U_a = nn.Linear(key_size, attention_size, bias=False)
        self.v_a = nn.Linear(attention_size, 1, bias=False)

    def precompute(self, annotations: torch.Tensor) -> torch.Tensor:
        return self.U_a(annotations)                                   # batch x src_len x attn

    def forward(self, query, keys, annotations, mask, **_):
        energy = self.v_a(torch.tanh(self.W_a(query)[:, :, None, :] + keys[:, None, :, :]))
        alpha = masked_softmax(energy.squeeze(-1), mask[:, None, :])   # batch x steps x src_len
        return alpha @ annotations, alpha                              # context: batch x steps x key


class LuongAttention(nn.Module):
    """Global attention with Luong et al. (2015, Sec. 3.1) scores:

    dot:     score(h_t, h̄_s) = h_tᵀ h̄_s
    general: score(h_t, h̄_s) = h_tᵀ W_a h̄_s
    concat:  score(h_t, h̄_s) = v_aᵀ tanh(W_a [h_t ; h̄_s])
    a_t(s) = softmax_s(score),  c_t = Σ_s a_t(s) h̄_s
    """

    SCORES = ("dot", "general", "concat")

    def __init__(self, score: str, query_size: int, key_size: int, attention_size: int | None = None):
        super().__init__()
        if score not in self.SCORES:
            raise ValueError(f"score must be one of {self.SCORES}, got {score!r}")
        self.score = score
        if score == "dot" and query_size != key_size:
            raise ValueError(f"dot attention needs equal sizes, got query {query_size} and key {key_size}")
        if score == "general":
            self.W_a = nn.Linear(key_size, query_size, bias=False)
        if score == "concat":  # W_a [h_t ; h̄_s] split into its query and key columns
            attention_size = attention_size or query_size
            self.W_a = nn.Linear(query_size + key_size, attention_size, bias=False)
            self.v_a = nn.Linear(attention_size, 1, bias=False)
        self.query_size = query_size

    def precompute(self, annotations: torch.Tensor) -> torch.Tensor:
        if self.score == "dot":
            return annotations
        if self.score == "general":
            return self.W_a(annotations)                                # W_a h̄_s: batch x src_len x query
        return annotations @ self.W_a.weight[:, self.query_size:].T     # key half of W_a

    def scores(self, query: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
        if self.score == "concat":
            q = query @ self.W_a.weight[:, : self.query_size].T         # query half of W_a
            return self.v_a(torch.tanh(q[:, :, None, :] + keys[:, None, :, :])).squeeze(-1)
        return query @ keys.transpose(1, 2)                             # batch x steps x src_len

    def forward(self, query, keys, annotations, mask, **_):
        alpha = masked_softmax(self.scores(query, keys), mask[:, None, :])
        return alpha @ annotations, alpha


class LocalAttention(nn.Module):
    """Local attention (Luong et al. 2015, Sec. 3.2) around an aligned position p_t.

    local-m: p_t = t (monotonic; clamped to the last source word).
    local-p: p_t = S · sigmoid(v_pᵀ tanh(W_p h_t)), S = source length, and the
             weights are scaled by a Gaussian: a_t(s) = align(h_t, h̄_s) exp(-(s - p_t)² / (2σ²)), σ = D/2.
    align() is a softmax of the chosen Luong score over the window [p_t - D, p_t + D].
    """

    def __init__(self, score: str, query_size: int, key_size: int, window: int,
                 predictive: bool, attention_size: int | None = None):
        super().__init__()
        if window < 1:
            raise ValueError(f"window D must be at least 1, got {window}")
        self.align = LuongAttention(score, query_size, key_size, attention_size)
        self.window, self.predictive = window, predictive
        if predictive:
            self.W_p = nn.Linear(query_size, attention_size or query_size, bias=False)
            self.v_p = nn.Linear(attention_size or query_size, 1, bias=False)

    def precompute(self, annotations: torch.Tensor) -> torch.Tensor:
        return self.align.precompute(annotations)

    def positions(self, query: torch.Tensor, lengths: torch.Tensor, step: int) -> torch.Tensor:
        """p_t for every query: batch x steps (real-valued for local-p, integer for local-m)."""
        S = lengths.to(query.dtype)[:, None]
        if self.predictive:
            return S * torch.sigmoid(self.v_p(torch.tanh(self.W_p(query)))).squeeze(-1)
        t = torch.arange(step, step + query.size(1), device=query.device, dtype=query.dtype)
        return torch.minimum(t[None, :].expand(query.size(0), -1), S - 1)

    def forward(self, query, keys, annotations, mask, lengths=None, step: int = 0):
        lengths = mask.sum(-1) if lengths is None else lengths
        p = self.positions(query, lengths, step)                               # batch x steps
        s = torch.arange(mask.size(1), device=query.device, dtype=query.dtype)  # source positions
        dist = s[None, None, :] - p[:, :, None]                               # batch x steps x src_len
        window = mask[:, None, :] & (dist.abs() <= self.window)
        alpha = masked_softmax(self.align.scores(query, keys), window)
        if self.predictive:
            sigma = self.window / 2
            alpha = alpha * torch.exp(-dist.pow(2) / (2 * sigma ** 2))
        return alpha @ annotations, alpha


def build_attention(kind: str, query_size: int, key_size: int, attention_size: int,
                    window: int = 10, local_score: str = "general") -> nn.Module:
    """``kind`` is bahdanau, dot, general, concat, local-m or local-p."""
    if kind == "bahdanau":
        return BahdanauAttention(query_size, key_size, attention_size)
    if kind in LuongAttention.SCORES:
        return LuongAttention(kind, query_size, key_size, attention_size)
    if kind in ("local-m", "local-p"):
        return LocalAttention(local_score, query_size, key_size, window, kind == "local-p", attention_size)
    raise ValueError(f"unknown attention {kind!r}; choose bahdanau, dot, general, concat, local-m or local-p")


__all__ = ["BahdanauAttention", "LuongAttention", "LocalAttention", "build_attention", "masked_softmax"]
