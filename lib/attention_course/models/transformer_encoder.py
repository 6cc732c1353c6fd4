"""The Transformer encoder (Vaswani et al. 2017, Sec. 3.1): embeddings plus positions, then
N layers of self-attention and feed-forward (pre-LN, see :mod:`.transformer_layers`).

It returns the same :class:`EncoderOutput` as the recurrent encoder, so the decoder, search
and training code read it alike: the annotations are the last layer's outputs (one vector
per source word, zeros at padding). The recurrent decoders' fixed-size summary has no
counterpart here; ``final`` is the mean of the annotations of the real words (unused by the
Transformer decoder, kept so the output has the same fields).
"""
from __future__ import annotations

import math

import torch
from torch import nn

from .dropout import Dropout
from .encoder import EncoderOutput, lengths_to_mask
from .positional_encoding import sinusoidal_encoding
from .transformer_layers import EncoderLayer, init_transformer_weights


def embed(embedding: nn.Embedding, ids: torch.Tensor, positional: bool) -> torch.Tensor:
    """E x · √d + PE (Sec. 3.4-3.5): batch x len x d. The embeddings are initialised with
    standard deviation 1/√d, so the scaled word vectors and the encodings have similar sizes."""
    d = embedding.embedding_dim
    x = embedding(ids) * math.sqrt(d)                                        # batch x len x d
    if positional:
        x = x + sinusoidal_encoding(ids.size(1), d, device=x.device, dtype=x.dtype)
    return x


def init_embedding(embedding: nn.Embedding) -> None:
    nn.init.normal_(embedding.weight, 0.0, embedding.embedding_dim ** -0.5)
    if embedding.padding_idx is not None:
        with torch.no_grad():
            embedding.weight[embedding.padding_idx].zero_()


class TransformerEncoder(nn.Module):
    def __init__(self, vocab_size: int, size: int, layers: int, heads: int, ff_size: int,
                 dropout: float = 0.0, positional: bool = True, pad_index: int = 0):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, size, padding_idx=pad_index)
        self.layers = nn.ModuleList(EncoderLayer(size, heads, ff_size, dropout) for _ in range(layers))
        self.norm = nn.LayerNorm(size)
        self.dropout = Dropout(dropout)
        self.positional = positional
        self.output_size = size
        init_transformer_weights(self)
        init_embedding(self.embedding)

    def forward(self, src: torch.Tensor, lengths: torch.Tensor) -> EncoderOutput:
        if src.dim() != 2 or lengths.shape != src.shape[:1]:
            raise ValueError(f"src must be batch x len and lengths batch, got {tuple(src.shape)}, {tuple(lengths.shape)}")
        if int(lengths.min()) < 1:
            raise ValueError("every source sentence needs at least one token")
        mask = lengths_to_mask(lengths, src.size(1))                          # batch x src_len
        x = self.dropout(embed(self.embedding, src, self.positional))         # batch x src_len x d
        for layer in self.layers:
            x = layer(x, mask[:, None, :])
        x = self.norm(x).masked_fill(~mask[:, :, None], 0.0)                  # zeros at padding
        final = x.sum(1) / lengths[:, None].to(x.dtype)                       # batch x d
        return EncoderOutput(x, final, mask, lengths)
