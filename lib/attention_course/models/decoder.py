"""The interface every decoder implements, so search and training treat them alike.

``forward`` is the teacher-forced training path (as parallel as the model allows);
it returns the features t_i *before* the vocabulary projection, so training can
project only real (unpadded) target positions. ``step`` advances one target word
and returns logits; it is what greedy and beam search call.
A decoder state is a tensor or a tuple of tensors whose first axis is the batch.
"""
from __future__ import annotations

import torch
from torch import nn

from .dropout import Dropout
from .encoder import EncoderOutput
from .layers import Memory, TiedProjection

State = torch.Tensor | tuple[torch.Tensor, ...]


def select_state(state: State, index: torch.Tensor) -> State:
    if isinstance(state, tuple):
        return tuple(s.index_select(0, index) for s in state)
    return state.index_select(0, index)


class Decoder(nn.Module):
    has_attention = False

    def __init__(self, vocab_size: int, emb_size: int, dropout: float, pad_index: int = 0):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, emb_size, padding_idx=pad_index)
        self.dropout = Dropout(dropout)
        self.project = TiedProjection(self.embedding)   # W_o, shared with the target embedding

    def precompute(self, enc: EncoderOutput) -> Memory:
        """Everything that depends only on the source, computed once per sentence."""
        return Memory(enc, None)

    def initial_state(self, memory: Memory) -> State:
        raise NotImplementedError

    def forward(self, tgt_in: torch.Tensor, memory: Memory) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Features ``batch x tgt_len x emb`` (logits = ``self.project(features)``) and
        attention ``batch x tgt_len x src_len`` (or None)."""
        raise NotImplementedError

    def step(self, prev: torch.Tensor, state: State, memory: Memory, t: int
             ) -> tuple[torch.Tensor, State, torch.Tensor | None]:
        """Logits ``batch x vocab`` for step ``t`` given the previous word ``prev`` (batch)."""
        raise NotImplementedError
