"""An encoder-decoder model, built from a plain configuration."""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields

import torch
from torch import nn

from ..data.vocabulary import Vocabulary
from .bahdanau_decoder import BahdanauDecoder
from .decoder import Decoder
from .encoder import Encoder
from .layers import Memory
from .luong_decoder import LuongDecoder
from .plain_decoders import ContextEveryStepDecoder, ContextInitDecoder

DECODERS = ("context-init", "context-every-step", "bahdanau", "luong")


@dataclass(frozen=True)
class ModelConfig:
    decoder: str = "bahdanau"          # one of DECODERS
    attention: str = "general"         # luong only: dot, general, concat, local-m, local-p
    input_feeding: bool = True         # luong only
    window: int = 10                   # local attention: D
    local_score: str = "general"       # local attention: the align() score
    emb_size: int = 128
    hidden_size: int = 128             # encoder GRU, per direction
    decoder_size: int = 256
    attention_size: int = 256
    dropout: float = 0.2

    def __post_init__(self):
        if self.decoder not in DECODERS:
            raise ValueError(f"decoder must be one of {DECODERS}, got {self.decoder!r}")

    @classmethod
    def from_dict(cls, d: dict) -> "ModelConfig":
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown model settings {sorted(unknown)}; known: {sorted(known)}")
        return cls(**d)

    def to_dict(self) -> dict:
        return asdict(self)


class Seq2Seq(nn.Module):
    def __init__(self, encoder: Encoder, decoder: Decoder):
        super().__init__()
        self.encoder, self.decoder = encoder, decoder

    @property
    def has_attention(self) -> bool:
        return self.decoder.has_attention

    def encode(self, src: torch.Tensor, src_lengths: torch.Tensor) -> Memory:
        return self.decoder.precompute(self.encoder(src, src_lengths))

    def forward(self, src, src_lengths, tgt_in):
        """Teacher-forced logits ``batch x tgt_len x vocab`` and attention (or None)."""
        features, attention = self.decoder(tgt_in, self.encode(src, src_lengths))
        return self.decoder.project(features), attention

    def loss(self, src, src_lengths, tgt_in, tgt_out, reduction: str = "mean",
             projection_dtype: torch.dtype | None = None) -> torch.Tensor:
        """Cross-entropy per real target token. Only real positions are projected onto the
        vocabulary (the costliest layer), so padding costs nothing there and changes nothing.
        ``projection_dtype=torch.bfloat16`` trains that projection in mixed precision
        (see :func:`~attention_course.models.layers.projected_cross_entropy`)."""
        features, _ = self.decoder(tgt_in, self.encode(src, src_lengths))
        real = tgt_out != Vocabulary.pad_index
        return self.decoder.project.cross_entropy(features[real], tgt_out[real], reduction=reduction,
                                                  dtype=projection_dtype)


def build_model(cfg: ModelConfig, src_vocab_size: int, tgt_vocab_size: int) -> Seq2Seq:
    encoder = Encoder(src_vocab_size, cfg.emb_size, cfg.hidden_size, cfg.dropout)
    key = encoder.output_size
    common = dict(vocab_size=tgt_vocab_size, emb_size=cfg.emb_size, hidden_size=cfg.decoder_size,
                  dropout=cfg.dropout)
    if cfg.decoder == "context-init":
        decoder = ContextInitDecoder(context_size=key, **common)
    elif cfg.decoder == "context-every-step":
        decoder = ContextEveryStepDecoder(context_size=key, **common)
    elif cfg.decoder == "bahdanau":
        decoder = BahdanauDecoder(key_size=key, attention_size=cfg.attention_size, **common)
    else:
        decoder = LuongDecoder(key_size=key, attention=cfg.attention, input_feeding=cfg.input_feeding,
                               attention_size=cfg.attention_size, window=cfg.window,
                               local_score=cfg.local_score, **common)
    return Seq2Seq(encoder, decoder)
