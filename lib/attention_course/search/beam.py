"""Beam search, batched over sentences, with length normalisation.

Each of the K hypotheses of a sentence is extended by every word; of the K·|V|
extensions the 2K most probable are looked at in order: one that ends in </s>
and ranks among the first K is finished, the first K others stay alive, the rest
are pruned. A sentence is done when K hypotheses have finished (or at its length
limit, where </s> is forced). The winner maximises  log p(y|x) / |y|^α  (α = ``length_penalty``;
α = 0 is the raw probability, which favours short outputs), plus, with ``coverage_penalty`` β > 0,
GNMT's coverage penalty (Wu et al. 2016, Sec. 7), see :func:`ranking_score`. Both only re-rank
the finished hypotheses: which hypotheses finish does not depend on α or β.
"""
from __future__ import annotations

import torch

from ..data.vocabulary import Vocabulary
from ..models.decoder import select_state
from ..models.seq2seq import Seq2Seq
from .record import Candidate, Hypothesis, SearchResult, StepRecord, max_lengths, top_k_list

EOS = Vocabulary.eos_index
COVERAGE_FLOOR = 1e-6   # coverage is clamped to at least this before the log (log 0 would be -inf)


def normalised(score: float, length: int, alpha: float) -> float:
    return score / (length ** alpha)


def ranking_score(score: float, length: int, alpha: float, attention: torch.Tensor | None = None,
                  beta: float = 0.0) -> float:
    """What a finished hypothesis is ranked by: s(y, x) = log p(y|x) / |y|^α + cp(x; y), with
    GNMT's coverage penalty  cp(x; y) = β · Σ_j log min(Σ_i α_ij, 1)  (Wu et al. 2016, Sec. 7).

    ``attention`` holds the hypothesis' weights α_ij, one row per output word i (the step that
    chose </s> is left out), one column per source word j. A source word that received a total
    weight of 1 or more costs nothing; one that was hardly looked at costs a lot. Two deviations
    from the paper: the length term is the package's |y|^α (GNMT divides by ((5 + |y|) / 6)^α),
    and the coverage is clamped to at least COVERAGE_FLOOR, so that a word with no weight at all
    costs β · log 1e-6 instead of making the score -inf. β = 0 is exactly :func:`normalised`."""
    rank = normalised(score, length, alpha)
    if beta:
        coverage = attention.sum(0)                   # |x|: the total weight each source word received
        rank += beta * float(coverage.clamp(COVERAGE_FLOOR, 1.0).log().sum())
    return rank


@torch.no_grad()
def beam_search(model: Seq2Seq, src: torch.Tensor, src_lengths: torch.Tensor, beam_size: int = 5,
                length_penalty: float = 1.0, record: bool = False, top_k: int = 5,
                max_len_a: float = 2.0, max_len_b: int = 10, coverage_penalty: float = 0.0) -> list[SearchResult]:
    if beam_size < 1:
        raise ValueError(f"beam_size must be at least 1, got {beam_size}")
    if not coverage_penalty >= 0:
        raise ValueError(f"coverage_penalty must be at least 0, got {coverage_penalty}")
    if coverage_penalty and not model.has_attention:
        raise ValueError("coverage_penalty needs attention weights, and this model has no attention")
    model.eval()
    B, K, dev = src.size(0), beam_size, src.device
    memory = model.encode(src, src_lengths).index_select(torch.arange(B, device=dev).repeat_interleave(K))
    state = model.decoder.initial_state(memory)
    limit_t = max_lengths(src_lengths, max_len_a, max_len_b).to(dev)
    limit, n_src = limit_t.tolist(), src_lengths.tolist()
    scores = torch.full((B, K), -float("inf"), device=dev)
    scores[:, 0] = 0.0
    prev = torch.full((B * K,), Vocabulary.bos_index, dtype=torch.long, device=dev)
    hist = torch.zeros(B * K, 0, dtype=torch.long, device=dev)
    attn_hist = None
    finished: list[list[tuple[float, list[int], float, torch.Tensor | None]]] = [[] for _ in range(B)]
    steps: list[list[StepRecord]] = [[] for _ in range(B)]
    done = [False] * B
    for t in range(max(limit)):
        logits, state, alpha = model.decoder.step(prev, state, memory, t)
        V = logits.size(-1)
        lp = logits.log_softmax(-1).view(B, K, V)
        last = limit_t <= t + 1                          # last allowed step: only </s>
        if bool(last.any()):
            lp[last, :, :EOS] = -float("inf")
            lp[last, :, EOS + 1:] = -float("inf")
        top_scores, top_idx = (scores[:, :, None] + lp).view(B, -1).topk(2 * K, dim=-1)
        parent, word = top_idx // V, top_idx % V                                # B x 2K
        alive = (word != EOS) & torch.isfinite(top_scores)
        keep_rank = alive.long().cumsum(-1)
        keep = alive & (keep_rank <= K)
        sel = keep.nonzero()                                                    # exactly K per sentence
        if sel.size(0) != B * K:                                                # (fewer finite candidates at the limit)
            keep_idx = torch.stack([_first_k(keep[b], alive[b], K) for b in range(B)])
        else:
            keep_idx = sel[:, 1].view(B, K)
        new_parent = parent.gather(1, keep_idx)                                 # B x K
        flat_parent = (torch.arange(B, device=dev)[:, None] * K + new_parent).view(-1)
        a_step = None if alpha is None else alpha.index_select(0, flat_parent)
        new_attn = None if alpha is None else (
            a_step[:, None] if attn_hist is None else torch.cat([attn_hist.index_select(0, flat_parent), a_step[:, None]], 1))
        word_l, score_l, parent_l = word.tolist(), top_scores.tolist(), parent.tolist()   # one device sync
        for b in range(B):
            if done[b]:
                continue
            for r in range(K):   # </s> among the K best → finished
                if word_l[b][r] == EOS and score_l[b][r] > -float("inf"):
                    row = b * K + parent_l[b][r]
                    a = None if alpha is None else torch.cat([attn_hist[row] if attn_hist is not None
                                                               else alpha.new_zeros(0, alpha.size(-1)), alpha[row][None]])
                    toks = hist[row].tolist()
                    s = score_l[b][r]
                    rank = ranking_score(s, len(toks) + 1, length_penalty,   # rows of the words, real source words
                                         None if a is None else a[:-1, : n_src[b]], coverage_penalty)
                    finished[b].append((rank, toks, s, a))
            if record:
                steps[b].append(_record(t, b, K, hist, scores, alpha, lp, top_scores, parent, word, keep, top_k, finished[b]))
            if len(finished[b]) >= K or limit[b] <= t + 1:
                done[b] = True
        scores = top_scores.gather(1, keep_idx)
        prev = word.gather(1, keep_idx).view(-1)
        hist = torch.cat([hist.index_select(0, flat_parent), prev[:, None]], 1)
        attn_hist = new_attn
        state = select_state(state, flat_parent)
        if all(done):
            break
    results = []
    for b in range(B):
        best = max(finished[b], key=lambda f: f[0])
        a = None if best[3] is None else best[3][:, : int(src_lengths[b])]
        results.append(SearchResult(best[1], best[2], a, steps[b]))
    return results


def _first_k(keep: torch.Tensor, alive: torch.Tensor, K: int) -> torch.Tensor:
    """Indices of the kept candidates, padded with any candidate when fewer than K are alive."""
    idx = keep.nonzero().view(-1).tolist()
    idx += [i for i in range(keep.numel()) if i not in idx][: K - len(idx)]
    return torch.tensor(idx[:K], device=keep.device)


def _record(t, b, K, hist, scores, alpha, lp, top_scores, parent, word, keep, top_k, finished) -> StepRecord:
    hyps = []
    for k in range(K):
        if torch.isfinite(scores[b, k]):
            row = b * K + k
            hyps.append(Hypothesis(hist[row].tolist(), float(scores[b, k]),
                                   None if alpha is None else alpha[row].tolist(), top_k_list(lp[b, k], top_k)))
    cands = []
    for r in range(word.size(1)):
        if not torch.isfinite(top_scores[b, r]):
            continue
        p = int(parent[b, r])
        status = "alive" if keep[b, r] else ("finished" if word[b, r] == EOS and r < K else "pruned")
        cands.append(Candidate(hist[b * K + p].tolist() + [int(word[b, r])], float(top_scores[b, r]), p, status))
    best_alive = next((c.tokens for c in cands if c.status == "alive"), [])
    return StepRecord(t, hyps, best_alive, cands)
