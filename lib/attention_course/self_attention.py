"""Scaled dot-product attention and self-attention (Vaswani et al. 2017, Sec. 3.2).

The bridge from the course's RNN attention to the Transformer's:

    Attention(Q, K, V) = softmax(Q Kᵀ / √d_k) V                          (Eq. 1)

Luong's dot score is the special case q = h_t, k = v = h̄_s with the scale 1.
Self-attention feeds one sequence X in three roles, Q = X W_Q, K = X W_K, V = X W_V,
and multi-head attention runs h such attentions side by side on slices of size
d_model / h, then mixes them: MultiHead(X) = Concat(head_1, ..., head_h) W_O (Sec. 3.2.2).

Masks follow the rest of the package (and torch's boolean ``attn_mask``): True = may attend.
"""
from __future__ import annotations

import math

import torch
from torch import nn


def causal_mask(n: int, device: torch.device | str | None = None) -> torch.Tensor:
    """``n x n`` boolean mask, True where query i may see key j, i.e. j ≤ i (no peeking ahead)."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"the sequence length must be a positive whole number, got {n!r}")
    return torch.ones(n, n, dtype=torch.bool, device=device).tril()


def scaled_dot_product_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                                 mask: torch.Tensor | None = None, scale: float | None = None
                                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """softmax(q kᵀ · scale) v, with scale = 1/√d_k unless given (Vaswani et al. 2017, Eq. 1).

    q: ``... x n_q x d_k``, k: ``... x n_k x d_k``, v: ``... x n_k x d_v`` (any leading batch or
    head axes, broadcast). ``mask`` (bool, broadcastable to ``... x n_q x n_k``) is True where a
    query may attend to a key. Returns the output ``... x n_q x d_v`` and the weights
    ``... x n_q x n_k`` (each row sums to 1). ``scale=1.0`` gives Luong's dot attention.
    """
    if q.dim() < 2 or k.dim() < 2 or v.dim() < 2:
        raise ValueError(f"q, k and v need at least 2 axes (positions x features), got shapes "
                         f"{tuple(q.shape)}, {tuple(k.shape)}, {tuple(v.shape)}")
    if q.size(-1) != k.size(-1):
        raise ValueError(f"queries and keys must have the same size d_k, got {q.size(-1)} and {k.size(-1)}")
    if k.size(-2) != v.size(-2):
        raise ValueError(f"there must be one value per key, got {k.size(-2)} keys and {v.size(-2)} values")
    scale = 1.0 / math.sqrt(q.size(-1)) if scale is None else scale
    scores = (q @ k.transpose(-2, -1)) * scale                        # ... x n_q x n_k
    if mask is not None:
        if mask.dtype != torch.bool:
            raise ValueError(f"mask must be boolean (True = may attend), got {mask.dtype}")
        try:
            mask = torch.broadcast_to(mask, scores.shape)
        except RuntimeError:
            raise ValueError(f"mask of shape {tuple(mask.shape)} does not fit the scores "
                             f"{tuple(scores.shape)} (queries x keys)") from None
        if not bool(mask.any(-1).all()):
            raise ValueError("every query must be allowed to attend to at least one key")
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = torch.softmax(scores, dim=-1)                           # ... x n_q x n_k
    return weights @ v, weights                                       # ... x n_q x d_v


class SelfAttention(nn.Module):
    """Self-attention: the sequence ``x`` provides the queries, the keys and the values.

    ``heads=1``: Attention(X W_Q, X W_K, X W_V) exactly as Eq. 1, with d_k = d_v = d_model.
    ``heads=h``: multi-head attention (Sec. 3.2.2). W_Q, W_K, W_V project to h slices of
    size d_model / h, each slice attends on its own, and W_O mixes the concatenated heads.
    No biases, as in the paper's equations.
    """

    def __init__(self, d_model: int, heads: int = 1):
        super().__init__()
        if heads < 1 or d_model % heads:
            raise ValueError(f"d_model ({d_model}) must be a positive multiple of heads ({heads})")
        self.d_model, self.heads, self.d_k = d_model, heads, d_model // heads
        self.W_q = nn.Linear(d_model, d_model, bias=False)
        self.W_k = nn.Linear(d_model, d_model, bias=False)
        self.W_v = nn.Linear(d_model, d_model, bias=False)
        self.W_o = nn.Linear(d_model, d_model, bias=False) if heads > 1 else None

    def split(self, x: torch.Tensor) -> torch.Tensor:
        """batch x n x d_model → batch x heads x n x d_k"""
        return x.unflatten(-1, (self.heads, self.d_k)).transpose(1, 2)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None, causal: bool = False
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """x: ``batch x n x d_model``; mask: ``batch x n``, True at real (unpadded) words.

        Returns the output ``batch x n x d_model`` and the weights ``batch x heads x n x n``.
        """
        if x.dim() != 3 or x.size(-1) != self.d_model:
            raise ValueError(f"x must be batch x n x {self.d_model}, got {tuple(x.shape)}")
        q, k, v = self.split(self.W_q(x)), self.split(self.W_k(x)), self.split(self.W_v(x))
        allowed = None                                                  # broadcast to batch x heads x n x n
        if mask is not None:
            if mask.shape != x.shape[:2]:
                raise ValueError(f"mask must be batch x n = {tuple(x.shape[:2])}, got {tuple(mask.shape)}")
            allowed = mask[:, None, None, :]                            # every query sees the real keys
        if causal:
            tri = causal_mask(x.size(1), x.device)                      # query i sees keys j ≤ i
            allowed = tri if allowed is None else allowed & tri
        out, weights = scaled_dot_product_attention(q, k, v, allowed)  # batch x heads x n x d_k
        out = out.transpose(1, 2).flatten(2)                            # concat heads: batch x n x d_model
        return (self.W_o(out) if self.W_o is not None else out), weights


__all__ = ["causal_mask", "scaled_dot_product_attention", "SelfAttention"]
