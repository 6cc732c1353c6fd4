"""The Transformer decoder (Vaswani et al. 2017, Sec. 3.1-3.2.3): masked self-attention over
the target words so far, attention over the source in every layer, feed-forward (pre-LN, see
:mod:`.transformer_layers`), and the output projection tied to the target embedding (Sec. 3.4).

Teacher forcing runs the whole target at once; a causal mask keeps position i from seeing
the words after it. Decoding word by word (:meth:`step`) keeps the target prefix as its state
and runs the layers over the whole prefix at every step, which gives exactly the teacher-forced
output at the last position (recomputing costs O(n²) per sentence; cheap at these lengths).
The source's keys and values are projected once per sentence, for all layers (:meth:`precompute`).

The attention returned (and shown as the alignment) is that of the last layer, averaged over
its heads: ``batch x tgt_len x src_len``, like the RNN decoders'. Every layer's and head's
weights: :meth:`cross_attention`.
"""
from __future__ import annotations

import torch
from torch import nn

from .decoder import Decoder
from .encoder import EncoderOutput
from .layers import Memory
from .transformer_encoder import embed, init_embedding
from .transformer_layers import DecoderLayer, init_transformer_weights


class TransformerDecoder(Decoder):
    has_attention = True

    def __init__(self, vocab_size: int, size: int, layers: int, heads: int, ff_size: int,
                 dropout: float = 0.0, positional: bool = True):
        super().__init__(vocab_size, size, dropout)          # embedding, dropout, tied projection
        self.layers = nn.ModuleList(DecoderLayer(size, heads, ff_size, dropout) for _ in range(layers))
        self.norm = nn.LayerNorm(size)
        self.positional, self.size = positional, size
        init_transformer_weights(self)
        init_embedding(self.embedding)

    def precompute(self, enc: EncoderOutput) -> Memory:
        """The cross-attention keys and values of every layer: batch x src_len x layers*2*size."""
        return Memory(enc, torch.cat([layer.cross_attention.keys_values(enc.annotations) for layer in self.layers], -1))

    def initial_state(self, memory: Memory) -> torch.Tensor:
        """The target prefix decoded so far (ids, batch x 0 before the first step)."""
        return torch.zeros(memory.keys.size(0), 0, dtype=torch.long, device=memory.keys.device)

    def decode(self, tgt_in: torch.Tensor, memory: Memory) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Features ``batch x tgt_len x size`` (before the projection) and each layer's
        cross-attention weights, ``batch x heads x tgt_len x src_len``."""
        T = tgt_in.size(1)
        causal = torch.ones(T, T, dtype=torch.bool, device=tgt_in.device).tril()[None]   # 1 x tgt_len x tgt_len
        source_mask = memory.enc.mask[:, None, :]                                         # batch x 1 x src_len
        kv = memory.keys.chunk(len(self.layers), dim=-1)                                  # per layer: batch x src_len x 2*size
        y = self.dropout(embed(self.embedding, tgt_in, self.positional))                 # batch x tgt_len x size
        weights = []
        for layer, source_kv in zip(self.layers, kv):
            y, w = layer(y, causal, source_kv, source_mask)
            weights.append(w)
        return self.norm(y), weights

    def forward(self, tgt_in, memory):
        features, weights = self.decode(tgt_in, memory)
        return features, weights[-1].mean(1)                                              # batch x tgt_len x src_len

    def cross_attention(self, tgt_in: torch.Tensor, memory: Memory) -> torch.Tensor:
        """Every layer's and head's weights over the source: layers x batch x heads x tgt_len x src_len."""
        return torch.stack(self.decode(tgt_in, memory)[1])

    def step(self, prev, state, memory, t):
        prefix = torch.cat([state, prev[:, None]], 1)                                     # batch x t+1
        features, weights = self.decode(prefix, memory)
        return self.project(features[:, -1]), prefix, weights[-1][:, :, -1].mean(1)     # alpha: batch x src_len
