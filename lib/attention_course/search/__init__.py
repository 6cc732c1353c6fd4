"""Decoding: greedy and beam search, with a per-step record for replay."""
from .beam import beam_search
from .greedy import greedy_search
from .record import Candidate, Hypothesis, SearchResult, StepRecord

__all__ = ["beam_search", "greedy_search", "Candidate", "Hypothesis", "SearchResult", "StepRecord"]
