"""Perplexity: exp of the mean cross-entropy per target token (</s> included)."""
from __future__ import annotations

import math

import torch

from ..data.batching import Batch


@torch.no_grad()
def perplexity(model, batches: list[Batch], device="cpu") -> float:
    model.eval()
    total, tokens = 0.0, 0
    for batch in batches:
        b = batch.to(device)
        total += float(model.loss(b.src, b.src_lengths, b.tgt_in, b.tgt_out, reduction="sum"))
        tokens += b.n_tokens
    return math.exp(total / max(tokens, 1))
