"""Turn token-id sequences into padded tensors and length-bucketed batches."""
from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from .vocabulary import Vocabulary


@dataclass
class Batch:
    """A padded batch. ``tgt_in`` starts with ``<s>``; ``tgt_out`` ends with ``</s>``."""

    src: torch.Tensor          # batch x src_len, padded with pad_index
    src_lengths: torch.Tensor  # batch
    tgt_in: torch.Tensor       # batch x tgt_len
    tgt_out: torch.Tensor      # batch x tgt_len

    def to(self, device) -> "Batch":
        return Batch(*(t.to(device) for t in (self.src, self.src_lengths, self.tgt_in, self.tgt_out)))

    @property
    def n_tokens(self) -> int:
        return int((self.tgt_out != Vocabulary.pad_index).sum())


def pad(seqs: Sequence[Sequence[int]], pad_index: int = Vocabulary.pad_index) -> torch.Tensor:
    width = max(len(s) for s in seqs)
    out = torch.full((len(seqs), width), pad_index, dtype=torch.long)
    for row, s in enumerate(seqs):
        out[row, : len(s)] = torch.as_tensor(list(s), dtype=torch.long)
    return out


def make_batch(src_ids: Sequence[Sequence[int]], tgt_ids: Sequence[Sequence[int]]) -> Batch:
    """``tgt_ids`` are target ids without ``<s>``/``</s>``; they are added here."""
    bos, eos = Vocabulary.bos_index, Vocabulary.eos_index
    return Batch(
        src=pad(src_ids),
        src_lengths=torch.tensor([len(s) for s in src_ids], dtype=torch.long),
        tgt_in=pad([[bos, *t] for t in tgt_ids]),
        tgt_out=pad([[*t, eos] for t in tgt_ids]),
    )


def bucket_batches(pairs: Sequence[tuple[list[int], list[int]]], batch_size: int,
                   rng: random.Random | None = None) -> list[Batch]:
    """Group pairs of similar source length so little padding is computed.

    Pairs are sorted by (source, target) length, cut into batches, and the batch
    order shuffled with ``rng`` (no shuffling when ``rng`` is None).
    """
    order = sorted(range(len(pairs)), key=lambda i: (len(pairs[i][0]), len(pairs[i][1])))
    if rng is not None:  # shuffle within equal lengths too, so batches differ between epochs
        keys = {i: rng.random() for i in order}
        order.sort(key=lambda i: (len(pairs[i][0]), len(pairs[i][1]), keys[i]))
    chunks = [order[k: k + batch_size] for k in range(0, len(order), batch_size)]
    if rng is not None:
        rng.shuffle(chunks)
    return [make_batch([pairs[i][0] for i in c], [pairs[i][1] for i in c]) for c in chunks]
