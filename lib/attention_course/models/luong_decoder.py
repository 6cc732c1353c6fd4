"""The decoder of Luong, Pham & Manning (2015), with global or local attention.

The current state h_t queries the source (not the previous one, as in Bahdanau):
    h_t = GRU(input_t, h_{t-1}),  c_t = Σ_s a_t(s) h̄_s,  h̃_t = tanh(W_c [c_t ; h_t])
    p(y_t | y_<t, x) = softmax(W_s h̃_t)
Input feeding (Sec. 3.3): input_t = [E y_{t-1} ; h̃_{t-1}], so past alignment
decisions inform the next. Without it, input_t = E y_{t-1}, and teacher forcing
runs the GRU over the whole target in one call and attends for all steps at once.
W_s is factored as E·W_b (tied embedding E, narrow W_b) to keep the projection small.
"""
from __future__ import annotations

import torch
from torch import nn

from .attention import build_attention
from .decoder import Decoder
from .layers import InitialState, Memory, gru_step, input_part


class LuongDecoder(Decoder):
    has_attention = True

    def __init__(self, vocab_size: int, emb_size: int, hidden_size: int, key_size: int,
                 attention: str = "general", input_feeding: bool = True, attention_size: int | None = None,
                 window: int = 10, local_score: str = "general", dropout: float = 0.0):
        super().__init__(vocab_size, emb_size, dropout)
        self.attention = build_attention(attention, hidden_size, key_size, attention_size or hidden_size,
                                         window=window, local_score=local_score)
        self.input_feeding = input_feeding
        self.init = InitialState(key_size, hidden_size)
        self.rnn = nn.GRU(emb_size + (hidden_size if input_feeding else 0), hidden_size, batch_first=True)
        self.W_c = nn.Linear(key_size + hidden_size, hidden_size, bias=False)
        self.W_b = nn.Linear(hidden_size, emb_size, bias=False)
        self.emb_size, self.hidden_size = emb_size, hidden_size

    def precompute(self, enc):
        return Memory(enc, self.attention.precompute(enc.annotations))

    def initial_state(self, memory):
        h0 = self.init(memory.enc.final)
        return (h0, torch.zeros_like(h0)) if self.input_feeding else h0   # (h_0, h̃_0 = 0)

    def _attend(self, h: torch.Tensor, memory: Memory, t: int):
        """Attention with the current states h (batch x steps x hidden) → h̃_t and the weights."""
        enc = memory.enc
        c, alpha = self.attention(h, memory.keys, enc.annotations, enc.mask, lengths=enc.lengths, step=t)
        return torch.tanh(self.W_c(torch.cat([c, h], -1))), alpha

    def _features(self, h_tilde: torch.Tensor) -> torch.Tensor:
        return self.W_b(self.dropout(h_tilde))

    def forward(self, tgt_in, memory):
        y = self.dropout(self.embedding(tgt_in))                            # batch x tgt_len x emb
        state = self.initial_state(memory)
        if not self.input_feeding:                                          # fully parallel
            h, _ = self.rnn(y, state[None])
            h_tilde, alpha = self._attend(h, memory, 0)
            return self._features(h_tilde), alpha
        gi_y = input_part(y, self.rnn, 0, bias=True)
        h, h_tilde = state
        outs, alphas = [], []
        for t in range(tgt_in.size(1)):
            h = gru_step(gi_y[:, t] + input_part(h_tilde, self.rnn, self.emb_size, bias=False), h, self.rnn)
            h_tilde, alpha = self._attend(h[:, None], memory, t)
            h_tilde = h_tilde[:, 0]
            outs.append(h_tilde), alphas.append(alpha[:, 0])
        return self._features(torch.stack(outs, 1)), torch.stack(alphas, 1)

    def step(self, prev, state, memory, t):
        y = self.embedding(prev)
        gi = input_part(y, self.rnn, 0, bias=True)
        if self.input_feeding:
            h, h_tilde_prev = state
            gi = gi + input_part(h_tilde_prev, self.rnn, self.emb_size, bias=False)
        else:
            h = state
        h = gru_step(gi, h, self.rnn)
        h_tilde, alpha = self._attend(h[:, None], memory, t)
        h_tilde = h_tilde[:, 0]
        new_state = (h, h_tilde) if self.input_feeding else h
        return self.project(self._features(h_tilde)), new_state, alpha[:, 0]
