"""Greedy decoding, batched: at each step take the single most probable word."""
from __future__ import annotations

import torch

from ..data.vocabulary import Vocabulary
from ..models.seq2seq import Seq2Seq
from .record import Hypothesis, SearchResult, StepRecord, max_lengths, top_k_list


@torch.no_grad()
def greedy_search(model: Seq2Seq, src: torch.Tensor, src_lengths: torch.Tensor, record: bool = False,
                  top_k: int = 5, max_len_a: float = 2.0, max_len_b: int = 10) -> list[SearchResult]:
    model.eval()
    batch = src.size(0)
    memory = model.encode(src, src_lengths)
    state = model.decoder.initial_state(memory)
    limit = max_lengths(src_lengths, max_len_a, max_len_b).to(src.device)
    prev = torch.full((batch,), Vocabulary.bos_index, dtype=torch.long, device=src.device)
    done = torch.zeros(batch, dtype=torch.bool, device=src.device)
    tokens, scores, attn, log_probs_seen = [], torch.zeros(batch, device=src.device), [], []
    for t in range(int(limit.max())):
        logits, state, alpha = model.decoder.step(prev, state, memory, t)
        log_probs = logits.log_softmax(-1)
        log_probs[limit <= t + 1, : Vocabulary.eos_index] = -float("inf")   # force </s> at the limit
        log_probs[limit <= t + 1, Vocabulary.eos_index + 1:] = -float("inf")
        best_lp, prev = log_probs.max(-1)
        prev = prev.masked_fill(done, Vocabulary.pad_index)
        scores += best_lp.masked_fill(done, 0.0)
        tokens.append(prev), attn.append(alpha)
        if record:
            log_probs_seen.append(log_probs)
        done |= prev == Vocabulary.eos_index
        if bool(done.all()):
            break
    return [_result(b, tokens, scores, attn, log_probs_seen, int(src_lengths[b]), top_k) for b in range(batch)]


def _result(b, tokens, scores, attn, log_probs_seen, src_len, top_k) -> SearchResult:
    seq = [int(step[b]) for step in tokens]
    n = seq.index(Vocabulary.eos_index) + 1 if Vocabulary.eos_index in seq else len(seq)
    has_attn = attn[0] is not None
    weights = torch.stack([a[b, :src_len] for a in attn[:n]]) if has_attn else None
    steps = []
    for t in range(n if log_probs_seen else 0):
        hyp = Hypothesis(seq[:t], 0.0, weights[t].tolist() if has_attn else None,
                         top_k_list(log_probs_seen[t][b], top_k))
        hyp.score = float(sum(log_probs_seen[u][b, seq[u]] for u in range(t)))
        steps.append(StepRecord(t, [hyp], seq[: t + 1]))
    return SearchResult(seq[: n - 1] if seq[n - 1] == Vocabulary.eos_index else seq[:n], float(scores[b]),
                        weights, steps)
