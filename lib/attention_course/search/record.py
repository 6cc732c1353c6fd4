"""What a search returns: the hypotheses and, optionally, a per-step record that
lets a widget replay the decode exactly, step by step."""
from __future__ import annotations

from dataclasses import dataclass, field

import torch


@dataclass
class Candidate:
    """One extension considered at a beam step and what became of it."""

    tokens: list         # the prefix including the new word (ids; words in a Translation)
    score: float        # total log-probability of the prefix
    parent: int         # which hypothesis it extends
    status: str         # "alive", "finished" or "pruned"


@dataclass
class Hypothesis:
    """A prefix being decoded, as it stood when a step started."""

    tokens: list                    # ids in a search result, words in a Translation
    score: float
    attention: list[float] | None   # its weights over the source at this step
    top_k: list[tuple]             # the most probable next words and their probabilities


@dataclass
class StepRecord:
    """Step t of a decode. ``hypotheses[0]`` is the greedy path (or the best beam)."""

    t: int
    hypotheses: list[Hypothesis]
    chosen: list                                    # greedy: the prefix after this step
    candidates: list[Candidate] = field(default_factory=list)  # beam only


@dataclass
class SearchResult:
    tokens: list[int]                # without </s>
    score: float                     # total log-probability (with </s>)
    attention: torch.Tensor | None   # len(tokens)+1 x src_len (the last row chose </s>)
    steps: list[StepRecord] = field(default_factory=list)


def max_lengths(src_lengths: torch.Tensor, a: float = 2.0, b: int = 10) -> torch.Tensor:
    """The longest output allowed per sentence: a · |x| + b target words (</s> included)."""
    return (src_lengths.float() * a).long() + b


def top_k_list(log_probs: torch.Tensor, k: int) -> list[tuple[int, float]]:
    p, i = log_probs.exp().topk(min(k, log_probs.numel()))
    return list(zip(i.tolist(), p.tolist()))   # one conversion, not one per element
