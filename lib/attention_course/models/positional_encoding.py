"""Sinusoidal positional encodings (Vaswani et al. 2017, Sec. 3.5).

Self-attention is blind to word order (permuting the words permutes its outputs), so the
position is added to each word embedding:

    PE(pos, 2i) = sin(pos / 10000^(2i / d)),   PE(pos, 2i + 1) = cos(pos / 10000^(2i / d))

Each dimension pair is a sinusoid of its own wavelength (2π to 10000 · 2π), so PE(pos + k)
is a linear function of PE(pos) for any offset k. Nothing here is learned.
"""
from __future__ import annotations

import math

import torch


def sinusoidal_encoding(length: int, size: int, device=None, dtype=torch.float32) -> torch.Tensor:
    """PE for positions 0 .. length-1: ``length x size`` (an odd size drops the last cosine)."""
    pos = torch.arange(length, device=device, dtype=torch.float64)[:, None]                 # length x 1
    rate = torch.exp(torch.arange(0, size, 2, device=device, dtype=torch.float64)
                     * (-math.log(10000.0) / size))                                         # ceil(size/2)
    pe = torch.zeros(length, size, device=device, dtype=torch.float64)
    pe[:, 0::2] = torch.sin(pos * rate)
    pe[:, 1::2] = torch.cos(pos * rate[: size // 2])
    return pe.to(dtype)
