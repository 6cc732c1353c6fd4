"""Decoders without attention: the whole source reaches them as one fixed vector c.

Both read c, the summary of the package's bidirectional GRU encoder, start from the
tanh bridge s_0 = tanh(W_s c) and predict with a maxout deep output g that reads y_{i-1}
(``DeepOutput``). They differ only in how often they read c:

``ContextInitDecoder``, the context-as-initial-state decoder (``"context-init"``, model
    ``seq2seq-init``): c only initialises the decoder, the idea of Sutskever et al. (2014),
    s_i = GRU(y_{i-1}, s_{i-1}),  p(y_i) = g(s_i, y_{i-1}).
    It is not their model: theirs had deep LSTMs, started the decoder from the encoder's
    last state without a bridge, and predicted with a plain softmax over the decoder state.
``ContextEveryStepDecoder``, the context-every-step decoder (``"context-every-step"``, model
    ``seq2seq``; as Cho et al. 2014, the "RNNencdec" baseline of Bahdanau et al.):
    c is also read at every step and by the output layer,
    s_i = GRU([y_{i-1}; c], s_{i-1}),  p(y_i) = g(s_i, y_{i-1}, c).
With no attention every step's input is known in advance, so teacher forcing runs
the whole target through one fused GRU call.
"""
from __future__ import annotations

import torch
from torch import nn

from .decoder import Decoder
from .layers import DeepOutput, InitialState, Memory, gru_step, input_part


class ContextInitDecoder(Decoder):
    """The context-as-initial-state decoder: c sets s_0 = tanh(W_s c) and is not read again
    (``reads_context_every_step = True`` makes the context-every-step decoder)."""
    reads_context_every_step = False

    def __init__(self, vocab_size: int, emb_size: int, hidden_size: int, context_size: int,
                 dropout: float = 0.0):
        super().__init__(vocab_size, emb_size, dropout)
        ctx = context_size if self.reads_context_every_step else 0
        self.init = InitialState(context_size, hidden_size)
        self.rnn = nn.GRU(emb_size + ctx, hidden_size, batch_first=True)
        self.output = DeepOutput([hidden_size, emb_size, ctx], emb_size, dropout)

    def initial_state(self, memory: Memory) -> torch.Tensor:
        return self.init(memory.enc.final)

    def _with_context(self, x: torch.Tensor, c: torch.Tensor) -> list[torch.Tensor]:
        return [x, c.expand(*x.shape[:-1], -1)] if self.reads_context_every_step else [x]

    def forward(self, tgt_in, memory):
        y = self.dropout(self.embedding(tgt_in))                                # batch x tgt_len x emb
        c = memory.enc.final[:, None, :]                                       # batch x 1 x ctx
        s, _ = self.rnn(torch.cat(self._with_context(y, c), -1), self.initial_state(memory)[None])
        return self.output(self.dropout(s), *self._with_context(y, c)), None

    def step(self, prev, state, memory, t):
        y = self.embedding(prev)                                               # batch x emb
        inputs = self._with_context(y, memory.enc.final)
        s = gru_step(input_part(torch.cat(inputs, -1), self.rnn, 0, bias=True), state, self.rnn)
        return self.project(self.output(s, *inputs)), s, None


class ContextEveryStepDecoder(ContextInitDecoder):
    reads_context_every_step = True
