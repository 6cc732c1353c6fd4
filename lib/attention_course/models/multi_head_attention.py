"""Multi-head scaled dot-product attention (Vaswani et al. 2017, Sec. 3.2.1-3.2.2).

    Attention(Q, K, V) = softmax(Q Kᵀ / √d_k) V
    MultiHead(Q, K, V) = Concat(head_1, ..., head_h) W^O,   head_i = Attention(Q W_i^Q, K W_i^K, V W_i^V)

with d_k = d / h, so h heads cost about what one head of width d costs. Each head can
attend to a different position (or kind of relation); the weights of every head are returned.
Keys and values are projected by :meth:`keys_values`, separately, so that a decoder can
project the encoder output once per sentence and reuse it at every step.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from .attention import masked_softmax


class MultiHeadAttention(nn.Module):
    def __init__(self, size: int, heads: int):
        super().__init__()
        if heads < 1 or size % heads:
            raise ValueError(f"the model size ({size}) must be a multiple of the number of heads ({heads})")
        self.size, self.heads = size, heads
        self.W_q = nn.Linear(size, size)
        self.W_kv = nn.Linear(size, 2 * size)   # [W^K W^V] of all heads, one product
        self.W_o = nn.Linear(size, size)

    def keys_values(self, x: torch.Tensor) -> torch.Tensor:
        """[K ; V] of ``x`` (batch x len x size): batch x len x 2*size."""
        return self.W_kv(x)

    def forward(self, query: torch.Tensor, kv: torch.Tensor, mask: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """``query`` batch x q_len x size; ``kv`` from :meth:`keys_values`, batch x k_len x 2*size;
        ``mask`` batch (or 1) x q_len (or 1) x k_len, True where a query may attend.
        Returns the output (batch x q_len x size) and the weights (batch x heads x q_len x k_len)."""
        B, q_len, _ = query.shape
        h, d_k = self.heads, self.size // self.heads
        q = self.W_q(query).view(B, q_len, h, d_k).transpose(1, 2)             # batch x heads x q_len x d_k
        k, v = kv.view(B, kv.size(1), 2, h, d_k).permute(2, 0, 3, 1, 4)        # each batch x heads x k_len x d_k
        scores = q @ k.transpose(-1, -2) / math.sqrt(d_k)                      # batch x heads x q_len x k_len
        weights = masked_softmax(scores, mask[:, None])
        out = (weights @ v).transpose(1, 2).reshape(B, q_len, self.size)      # heads concatenated
        return self.W_o(out), weights
