"""An encoder-decoder model, built from a plain configuration."""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace

import torch
from torch import nn

from ..data.vocabulary import Vocabulary
from .bahdanau_decoder import BahdanauDecoder
from .decoder import Decoder
from .encoder import Encoder
from .layers import Memory
from .luong_decoder import LuongDecoder
from .plain_decoders import ContextEveryStepDecoder, ContextInitDecoder
from .source_reversal import reverse_padded
from .transformer_decoder import TransformerDecoder
from .transformer_encoder import TransformerEncoder

DECODERS = ("context-init", "context-every-step", "bahdanau", "luong", "transformer")
# Settings added after the first models shipped: to_dict() writes them only where they matter
# (reverse_source when true, bidirectional when false, the Transformer's for a Transformer or when not at their default),
# so the config of a model that does not use them reads exactly as before.
TRANSFORMER_SETTINGS = ("layers", "heads", "ff_size", "positional")


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
    reverse_source: bool = False       # feed each source sentence backwards (Sutskever et al. 2014, Sec. 3.3); not with bahdanau
    bidirectional: bool = True         # false: one left-to-right GRU of 2 * hidden_size (as Sutskever et al.); not with bahdanau
    # decoder "transformer" (Vaswani et al. 2017): encoder and decoder are Transformers of width
    # emb_size (d_model); hidden_size, decoder_size, attention_size and the Luong settings do not apply
    layers: int = 2                    # encoder layers, and as many decoder layers
    heads: int = 1                     # attention heads (emb_size must be a multiple of it)
    ff_size: int = 256                 # inner width of the position-wise feed-forward layers
    positional: bool = True            # add sinusoidal position encodings (false: an ablation)

    def __post_init__(self):
        if self.decoder not in DECODERS:
            raise ValueError(f"decoder must be one of {DECODERS}, got {self.decoder!r}")
        if self.decoder == "bahdanau" and (self.reverse_source or not self.bidirectional):
            raise ValueError("decoder 'bahdanau' starts from s_0 = tanh(W_s ←h_1), the backward state of a "
                             "bidirectional encoder at the first word of the sentence as written, which has read "
                             "the whole sentence; with reverse_source or a one-way encoder that state has read one "
                             "word. Use a Luong decoder (it starts from the encoder's final state) or leave "
                             "reverse_source false and bidirectional true")

    @classmethod
    def from_dict(cls, d: dict) -> "ModelConfig":
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown model settings {sorted(unknown)}; known: {sorted(known)}")
        return cls(**d)

    def to_dict(self) -> dict:
        d = asdict(self)
        if not self.reverse_source:
            del d["reverse_source"]
        if self.bidirectional:
            del d["bidirectional"]
        if self.decoder != "transformer":
            defaults = {f.name: f.default for f in fields(self)}
            d = {k: v for k, v in d.items() if k not in TRANSFORMER_SETTINGS or v != defaults[k]}
        return d


class Seq2Seq(nn.Module):
    def __init__(self, encoder: Encoder | TransformerEncoder, decoder: Decoder, reverse_source: bool = False):
        super().__init__()
        self.encoder, self.decoder = encoder, decoder
        self.reverse_source = reverse_source

    @property
    def has_attention(self) -> bool:
        return self.decoder.has_attention

    def encode(self, src: torch.Tensor, src_lengths: torch.Tensor) -> Memory:
        """The encoder output, prepared for the decoder. Training, greedy and beam search all
        start here, so ``reverse_source`` is applied in this one place: the encoder reads each
        sentence backwards (padding stays at the end), and its annotations are put back in
        source order, so that attention weights still index the source words as written."""
        if not self.reverse_source:
            return self.decoder.precompute(self.encoder(src, src_lengths))
        enc = self.encoder(reverse_padded(src, src_lengths), src_lengths)
        return self.decoder.precompute(replace(enc, annotations=reverse_padded(enc.annotations, src_lengths)))

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
    if cfg.decoder == "transformer":
        t = dict(size=cfg.emb_size, layers=cfg.layers, heads=cfg.heads, ff_size=cfg.ff_size,
                 dropout=cfg.dropout, positional=cfg.positional)
        return Seq2Seq(TransformerEncoder(src_vocab_size, **t), TransformerDecoder(tgt_vocab_size, **t),
                       cfg.reverse_source)
    encoder = Encoder(src_vocab_size, cfg.emb_size, cfg.hidden_size, cfg.dropout,
                      bidirectional=cfg.bidirectional)
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
    return Seq2Seq(encoder, decoder, cfg.reverse_source)
