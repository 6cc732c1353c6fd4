"""From text pairs to token ids: tokenise once, build vocabularies, encode."""
from __future__ import annotations

from collections.abc import Sequence

from .text import tokenize
from .vocabulary import Vocabulary


def tokenize_pairs(pairs: Sequence[tuple[str, str]]) -> list[tuple[list[str], list[str]]]:
    return [(tokenize(en, "en"), tokenize(fr, "fr")) for en, fr in pairs]


def build_vocabularies(tokenized: Sequence[tuple[list[str], list[str]]], min_freq: int
                       ) -> tuple[Vocabulary, Vocabulary]:
    return (Vocabulary.build((s for s, _ in tokenized), min_freq),
            Vocabulary.build((t for _, t in tokenized), min_freq))


def encode_pairs(tokenized: Sequence[tuple[list[str], list[str]]], src_vocab: Vocabulary,
                 tgt_vocab: Vocabulary, max_len: int | None = None) -> list[tuple[list[int], list[int]]]:
    """Token ids per pair; pairs longer than ``max_len`` on either side are dropped."""
    return [(src_vocab.encode(s), tgt_vocab.encode(t)) for s, t in tokenized
            if s and t and (max_len is None or (len(s) <= max_len and len(t) <= max_len))]
