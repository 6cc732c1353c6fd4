"""Reading the source backwards (Sutskever, Vinyals & Le 2014, Sec. 3.3).

"We found it extremely valuable to reverse the order of the words of the input sentence":
with a, b, c → α, β, γ fed as c, b, a → α, β, γ, the first source words end up next to the
first target words, which introduces short-term dependencies that make optimisation easier.

Only the real words of each padded row are reversed; the padding stays at the end, so a
padded batch gives every sentence what it would get alone. Reversing twice is the identity.

Note: the effect is a property of a *unidirectional* encoder read left to right. A
bidirectional encoder already reads the sentence both ways, and on reversed input it only
swaps the roles of its two directions (see ``tests/test_source_reversal.py``).
"""
from __future__ import annotations

import torch


def reverse_padded(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """``x`` (batch x len x ...) with the first ``lengths[b]`` entries of row b in reverse order
    and the padding after them left where it is."""
    pos = torch.arange(x.size(1), device=x.device)[None, :]                 # 1 x len
    n = lengths.to(x.device)[:, None]                                       # batch x 1
    index = torch.where(pos < n, n - 1 - pos, pos)                          # batch x len
    index = index.view(*index.shape, *(1,) * (x.dim() - 2)).expand_as(x)
    return x.gather(1, index)
