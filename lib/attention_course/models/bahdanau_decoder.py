"""The decoder of Bahdanau, Cho & Bengio (2014), "RNNsearch".

At step i the previous state s_{i-1} queries the annotations (Eq. 5-6):
    e_ij = v_aᵀ tanh(W_a s_{i-1} + U_a h_j),  α_ij = softmax_j(e_ij),  c_i = Σ_j α_ij h_j
the GRU reads the previous word and the context (Eq. 4):
    s_i = GRU([E y_{i-1} ; c_i], s_{i-1})
and a deep output layer predicts the word, p(y_i | y_<i, x) = g(y_{i-1}, s_i, c_i).
s_0 = tanh(W_s ←h_1), from the backward encoder state (App. A.2.2).

Training speed: U_a h_j is computed once per batch (``precompute``), the word
part of the GRU input for all steps at once, and the output layer for all steps
at once after the loop; only attention and the GRU update stay in the loop.
There ``forward`` does what ``_advance`` does with fewer, larger operations (the
same numbers up to float rounding; ``step``, used by the searches, calls ``_advance``).
"""
from __future__ import annotations

import torch
from torch import nn

from .attention import BahdanauAttention
from .bahdanau_recurrence import BahdanauRecurrence
from .decoder import Decoder
from .layers import DeepOutput, InitialState, Memory, gru_step, input_part


class BahdanauDecoder(Decoder):
    has_attention = True

    def __init__(self, vocab_size: int, emb_size: int, hidden_size: int, key_size: int,
                 attention_size: int, dropout: float = 0.0):
        super().__init__(vocab_size, emb_size, dropout)
        self.attention = BahdanauAttention(hidden_size, key_size, attention_size)
        self.init = InitialState(key_size // 2, hidden_size)
        self.rnn = nn.GRU(emb_size + key_size, hidden_size, batch_first=True)
        self.output = DeepOutput([hidden_size, emb_size, key_size], emb_size, dropout)
        self.emb_size = emb_size

    def precompute(self, enc):
        return Memory(enc, self.attention.precompute(enc.annotations))

    def initial_state(self, memory):
        backward_first = memory.enc.annotations[:, 0, memory.enc.annotations.size(-1) // 2:]
        return self.init(backward_first)

    def _advance(self, gi_y: torch.Tensor, s_prev: torch.Tensor, memory: Memory):
        """Attention with query s_{i-1}, then the GRU update; ``gi_y`` is the word part of its input."""
        enc = memory.enc
        c, alpha = self.attention(s_prev[:, None, :], memory.keys, enc.annotations, enc.mask)
        c, alpha = c[:, 0], alpha[:, 0]                                      # batch x key, batch x src_len
        s = gru_step(gi_y + input_part(c, self.rnn, self.emb_size, bias=False), s_prev, self.rnn)
        return s, c, alpha

    def forward(self, tgt_in, memory):
        """Teacher forcing: ``_advance`` at every step, regrouped for speed. s_{i-1} is both the
        attention query and the GRU's recurrent input, so one matrix product per step gives
        W_a s_{i-1} and U s_{i-1} + b_hh together; the mask becomes an additive 0 / -inf bias;
        the loop and its backward pass are :class:`BahdanauRecurrence`."""
        y = self.dropout(self.embedding(tgt_in))                            # batch x tgt_len x emb
        gi_y = input_part(y, self.rnn, 0, bias=True)                        # all steps at once
        enc, rnn, attention = memory.enc, self.rnn, self.attention
        W_s = torch.cat([rnn.weight_hh_l0, attention.W_a.weight])           # [U ; W_a]
        b_s = torch.cat([rnn.bias_hh_l0, rnn.bias_hh_l0.new_zeros(attention.W_a.out_features)])
        W_c = rnn.weight_ih_l0[:, self.emb_size:]                           # the context block of W_ih
        mask_bias = torch.zeros_like(enc.mask, dtype=gi_y.dtype).masked_fill(~enc.mask, float("-inf"))
        s_all, c_all, alphas = BahdanauRecurrence.apply(gi_y, self.initial_state(memory), memory.keys,
                                                        enc.annotations, mask_bias, W_s, b_s, W_c,
                                                        attention.v_a.weight[0])
        return self.output(self.dropout(s_all), y, c_all), alphas

    def step(self, prev, state, memory, t):
        y = self.embedding(prev)
        s, c, alpha = self._advance(input_part(y, self.rnn, 0, bias=True), state, memory)
        return self.project(self.output(s, y, c)), s, alpha
