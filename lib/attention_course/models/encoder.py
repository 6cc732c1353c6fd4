"""Bidirectional GRU encoder (Bahdanau et al. 2014, Sec. 3.2).

The annotation of word j concatenates the forward and backward states,
h_j = [→h_j ; ←h_j], so it summarises the whole sentence with a focus around j.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from .dropout import Dropout


@dataclass
class EncoderOutput:
    annotations: torch.Tensor  # batch x src_len x 2*hidden   (h_1 .. h_Tx; zeros at padding)
    final: torch.Tensor        # batch x 2*hidden             ([→h_Tx ; ←h_1], the fixed-size summary)
    mask: torch.Tensor         # batch x src_len, True at real (unpadded) positions
    lengths: torch.Tensor      # batch

    def index_select(self, index: torch.Tensor) -> "EncoderOutput":
        """Rows ``index`` of every field (used by beam search to repeat sentences)."""
        return EncoderOutput(*(t.index_select(0, index) for t in
                               (self.annotations, self.final, self.mask, self.lengths)))


def lengths_to_mask(lengths: torch.Tensor, max_len: int) -> torch.Tensor:
    return torch.arange(max_len, device=lengths.device)[None, :] < lengths[:, None]


class Encoder(nn.Module):
    """Embedding + bidirectional GRU over packed sequences, so padding never enters the RNN.

    ``bidirectional=False`` reads left to right only, as Sutskever et al. (2014) did, with one GRU
    of ``2 * hidden_size`` units, so the annotations and the summary keep their size.
    """

    def __init__(self, vocab_size: int, emb_size: int, hidden_size: int,
                 dropout: float = 0.0, pad_index: int = 0, bidirectional: bool = True):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, emb_size, padding_idx=pad_index)
        self.bidirectional = bidirectional
        width = hidden_size if bidirectional else 2 * hidden_size
        self.rnn = nn.GRU(emb_size, width, batch_first=True, bidirectional=bidirectional)
        self.dropout = Dropout(dropout)
        self.output_size = 2 * hidden_size

    def forward(self, src: torch.Tensor, lengths: torch.Tensor) -> EncoderOutput:
        if src.dim() != 2 or lengths.shape != src.shape[:1]:
            raise ValueError(f"src must be batch x len and lengths batch, got {tuple(src.shape)}, {tuple(lengths.shape)}")
        if int(lengths.min()) < 1:
            raise ValueError("every source sentence needs at least one token")
        emb = self.dropout(self.embedding(src))                              # batch x src_len x emb
        packed = pack_padded_sequence(emb, lengths.cpu(), batch_first=True, enforce_sorted=False)
        out, h_n = self.rnn(packed)                                          # h_n: 2 x batch x hidden
        out, _ = pad_packed_sequence(out, batch_first=True, total_length=src.size(1))
        final = torch.cat([h_n[0], h_n[1]], dim=-1) if self.bidirectional else h_n[0]  # batch x 2*hidden
        return EncoderOutput(self.dropout(out), final, lengths_to_mask(lengths, src.size(1)), lengths)
