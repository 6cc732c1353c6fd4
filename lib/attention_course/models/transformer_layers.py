"""The layers of the Transformer (Vaswani et al. 2017, Sec. 3.1 and 3.3), in the pre-LN arrangement.

Each sub-layer (self-attention, attention over the source, feed-forward) is wrapped in a
residual connection. The paper normalises after the residual sum (post-LN),
``x = LayerNorm(x + Sublayer(x))``, which needs a learning-rate warm-up to train stably.
Here the normalisation comes first (pre-LN; Wang et al. 2019, Xiong et al. 2020),

    x = x + Dropout(Sublayer(LayerNorm(x))),

and one final LayerNorm follows the last layer of each stack. The residual path is then an
identity from the embeddings to the output, gradients are well scaled at initialisation, and
the model trains with the same Adam schedule as the RNN models, without warm-up.
"""
from __future__ import annotations

import torch
from torch import nn

from .dropout import Dropout
from .multi_head_attention import MultiHeadAttention


class FeedForward(nn.Module):
    """FFN(x) = max(0, x W_1 + b_1) W_2 + b_2, applied at every position alike (Sec. 3.3)."""

    def __init__(self, size: int, ff_size: int):
        super().__init__()
        self.W_1, self.W_2 = nn.Linear(size, ff_size), nn.Linear(ff_size, size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.W_2(torch.relu(self.W_1(x)))


class EncoderLayer(nn.Module):
    """Self-attention over the source, then the feed-forward layer."""

    def __init__(self, size: int, heads: int, ff_size: int, dropout: float = 0.0):
        super().__init__()
        self.norm_self, self.self_attention = nn.LayerNorm(size), MultiHeadAttention(size, heads)
        self.norm_ff, self.feed_forward = nn.LayerNorm(size), FeedForward(size, ff_size)
        self.dropout = Dropout(dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """``x`` batch x src_len x size; ``mask`` batch x 1 x src_len (True at real words)."""
        h = self.norm_self(x)
        a, _ = self.self_attention(h, self.self_attention.keys_values(h), mask)
        x = x + self.dropout(a)
        return x + self.dropout(self.feed_forward(self.norm_ff(x)))


class DecoderLayer(nn.Module):
    """Masked self-attention over the target prefix, attention over the source, feed-forward."""

    def __init__(self, size: int, heads: int, ff_size: int, dropout: float = 0.0):
        super().__init__()
        self.norm_self, self.self_attention = nn.LayerNorm(size), MultiHeadAttention(size, heads)
        self.norm_cross, self.cross_attention = nn.LayerNorm(size), MultiHeadAttention(size, heads)
        self.norm_ff, self.feed_forward = nn.LayerNorm(size), FeedForward(size, ff_size)
        self.dropout = Dropout(dropout)

    def forward(self, y: torch.Tensor, causal: torch.Tensor, source_kv: torch.Tensor, source_mask: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """``y`` batch x tgt_len x size; ``causal`` 1 x tgt_len x tgt_len; ``source_kv`` the
        cross-attention's keys and values of the encoder output, batch x src_len x 2*size;
        ``source_mask`` batch x 1 x src_len. Returns y and the cross-attention weights,
        batch x heads x tgt_len x src_len."""
        h = self.norm_self(y)
        a, _ = self.self_attention(h, self.self_attention.keys_values(h), causal)
        y = y + self.dropout(a)
        c, weights = self.cross_attention(self.norm_cross(y), source_kv, source_mask)
        y = y + self.dropout(c)
        return y + self.dropout(self.feed_forward(self.norm_ff(y))), weights


def init_transformer_weights(module: nn.Module) -> None:
    """Glorot-uniform weights and zero biases for every linear layer (as in the reference
    implementation, tensor2tensor; W^K and W^V each as a matrix of their own); LayerNorms
    start as the identity."""
    for m in module.modules():
        if isinstance(m, nn.Linear):
            nn.init.xavier_uniform_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
    for m in module.modules():
        if isinstance(m, MultiHeadAttention):
            for w in m.W_kv.weight.data.chunk(2):
                nn.init.xavier_uniform_(w)
