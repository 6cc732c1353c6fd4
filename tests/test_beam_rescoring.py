"""Beam search results checked from outside the search.

1. Re-scoring: the returned tokens, teacher-forced through the model, give back the returned
   score (Σ log p of every word *and* </s>) and the returned attention (one teacher-forced row per
   output word and one for </s>, over the real source words). A search that keeps a hypothesis's
   words but mixes up its decoder state, its score or its attention history when beams are
   re-ranked fails this, even when its per-step records stay internally consistent.
2. A plain reference beam search written here (one hypothesis at a time, no batching, no state
   re-ordering) with beam.py's documented rules: of the K·|V| extensions the 2K best are read in
   order; </s> among the first K finishes a hypothesis, the first K others stay alive; a sentence
   stops at the first step after which K hypotheses have finished (or at its length limit, where
   only </s> is allowed); the winner maximises score / |y|^α, |y| counting </s>. The per-step
   record must show exactly the reference's hypotheses and 2K candidates with their statuses.
3. Searches switch the model to eval mode, and results and records hold plain Python numbers.
"""
from __future__ import annotations

import math

import pytest
import torch

from attention_course.data.batching import pad
from attention_course.data.vocabulary import Vocabulary
from attention_course.models import build_model
from attention_course.search import beam_search, greedy_search
from attention_course.search.beam import ranking_score
from attention_course.search.record import max_lengths

from helpers_models import one_thread  # noqa: F401 (autouse fixture)
from helpers_models import SRC_VOCAB, TGT_VOCAB, random_ids, tiny_config, tiny_model

EOS, BOS = Vocabulary.eos_index, Vocabulary.bos_index
SOURCES = random_ids((3, 6, 1, 5), SRC_VOCAB, seed=41)


def batch_of(sources):
    return pad(sources), torch.tensor([len(s) for s in sources])


@torch.no_grad()
def rescore(model, source: list[int], tokens: list[int]):
    """Teacher-forced Σ log p(y_t | y_<t, x) over tokens + </s>, and the attention rows."""
    src, lengths = batch_of([source])
    tgt_in = torch.tensor([[BOS] + tokens])
    logits, attention = model(src, lengths, tgt_in)
    log_p = logits.log_softmax(-1)[0]
    score = sum(float(log_p[t, w]) for t, w in enumerate(tokens + [EOS]))
    return score, None if attention is None else attention[0, :, : len(source)]


@torch.no_grad()
def reference_beam(model, source: list[int], K: int, alpha: float, max_len_a: float = 2.0, max_len_b: int = 10):
    """(tokens, score, record) of the beam search described in the module docstring. The record
    has one entry per step: the hypotheses it started from, (tokens, score), and the 2K best
    extensions, (tokens, score, parent, status)."""
    src, lengths = batch_of([source])
    memory = model.encode(src, lengths)
    limit = int(max_lengths(lengths, max_len_a, max_len_b)[0])
    hyps = [([], 0.0, model.decoder.initial_state(memory))]      # tokens, score, state
    finished, record = [], []
    for t in range(limit):
        cands = []
        for k, (toks, score, state) in enumerate(hyps):
            prev = torch.tensor([toks[-1] if toks else BOS])
            logits, new_state, _ = model.decoder.step(prev, state, memory, t)
            lp = logits.log_softmax(-1)[0].tolist()
            for w, v in enumerate(lp):
                if t + 1 >= limit and w != EOS:
                    continue                                       # only </s> at the limit
                cands.append((score + v, k, w, new_state))
        cands.sort(key=lambda c: -c[0])                            # stable: ties keep (beam, word) order
        top = cands[: 2 * K]
        alive = [c for c in top if c[2] != EOS][:K]
        statuses = []
        for r, (s, k, w, _) in enumerate(top):
            if w == EOS and r < K:
                toks = hyps[k][0]
                finished.append((s / (len(toks) + 1) ** alpha, toks, s))
                statuses.append("finished")
            else:
                statuses.append("alive" if any(c is top[r] for c in alive) else "pruned")
        record.append(([(h[0], h[1]) for h in hyps],
                       [(hyps[k][0] + [w], s, k, st) for (s, k, w, _), st in zip(top, statuses)]))
        if len(finished) >= K or t + 1 >= limit:
            break
        hyps = [(hyps[k][0] + [w], s, st) for s, k, w, st in alive]
    best = max(finished, key=lambda f: f[0])
    return best[1], best[2], record


VARIANTS = ["bahdanau", "luong-general", "luong-general-nofeed", "luong-local-m", "luong-local-p",
            "context-every-step"]


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("K", [2, 3])
def test_beam_results_equal_their_teacher_forced_rescoring(variant, K):
    model = tiny_model(variant, seed=12)
    src, lengths = batch_of(SOURCES)
    results = beam_search(model, src, lengths, beam_size=K, length_penalty=1.0)
    assert any(len(r.tokens) >= 3 for r in results), "the test needs outputs of several words"
    for source, r in zip(SOURCES, results):
        score, attention = rescore(model, source, r.tokens)
        assert r.score == pytest.approx(score, abs=1e-6)
        if attention is None:
            assert r.attention is None
        else:
            assert r.attention.shape == (len(r.tokens) + 1, len(source))
            torch.testing.assert_close(r.attention, attention, atol=1e-8, rtol=0)


@pytest.mark.parametrize("variant", ["bahdanau", "luong-concat", "luong-local-m", "context-init"])
@pytest.mark.parametrize("K, alpha", [(2, 0.0), (3, 1.0), (5, 0.6)])
def test_beam_search_equals_a_reference_beam_search(variant, K, alpha):
    model = tiny_model(variant, seed=13)
    src, lengths = batch_of(SOURCES)
    results = beam_search(model, src, lengths, beam_size=K, length_penalty=alpha, record=True)
    for source, r in zip(SOURCES, results):
        tokens, score, record = reference_beam(model, source, K, alpha)
        assert r.tokens == tokens
        assert r.score == pytest.approx(score, abs=1e-6)
        assert len(r.steps) == len(record), "the search stops at the first step with K finished hypotheses"
        for step, (hyps, cands) in zip(r.steps, record):      # the record shows exactly these steps
            assert [h.tokens for h in step.hypotheses] == [h[0] for h in hyps]
            assert [h.score for h in step.hypotheses] == pytest.approx([h[1] for h in hyps], abs=1e-6)
            assert [(c.tokens, c.parent, c.status) for c in step.candidates] == [(c[0], c[2], c[3]) for c in cands]
            assert [c.score for c in step.candidates] == pytest.approx([c[1] for c in cands], abs=1e-6)


def test_the_search_stops_as_soon_as_K_hypotheses_have_finished():
    """Seeds where a sentence ends because exactly K hypotheses finished (not at its limit):
    the record has one step per decoding step, and the step count is the reference's."""
    hits = 0
    for seed in range(6):
        model = tiny_model("luong-general", seed=seed)
        src, lengths = batch_of(SOURCES)
        for K in (2, 3):
            results = beam_search(model, src, lengths, beam_size=K, record=True)
            for source, r, limit in zip(SOURCES, results, max_lengths(lengths).tolist()):
                n_finished = [sum(c.status == "finished" for c in step.candidates) for step in r.steps]
                total = [sum(n_finished[: i + 1]) for i in range(len(n_finished))]
                if len(r.steps) < limit:
                    assert total[-1] >= K and all(n < K for n in total[:-1])
                    hits += total[-1] == K
                assert len(r.steps) == len(reference_beam(model, source, K, 1.0)[2])
    assert hits > 0, "no sentence stopped with exactly K finished hypotheses: choose other seeds"


def test_a_finished_hypothesis_keeps_its_own_attention_history():
    """The attention of the winner is its own, row by row, also when it did not come from beam 0:
    check every sentence where the winner's last parent was not the best hypothesis."""
    model = tiny_model("bahdanau", seed=14)
    src, lengths = batch_of(SOURCES)
    seen_other_parent = False
    for K in (3, 4):
        for source, r in zip(SOURCES, beam_search(model, src, lengths, beam_size=K, record=True)):
            last = r.steps[len(r.tokens)]                  # the step that chose </s> for the winner
            winner = next(c for c in last.candidates if c.tokens == r.tokens + [EOS])
            seen_other_parent |= winner.parent != 0
            _, attention = rescore(model, source, r.tokens)
            torch.testing.assert_close(r.attention, attention, atol=1e-8, rtol=0)
            assert last.hypotheses[winner.parent].attention[: len(source)] == pytest.approx(attention[-1].tolist(), abs=1e-8)
    assert seen_other_parent, "no winner came from a beam other than 0: choose another seed"


def test_searches_run_in_eval_mode():
    """A model left in training mode with dropout 0.5 decodes deterministically: greedy and beam
    search switch it to eval mode first (and leave it there)."""
    torch.manual_seed(0)
    model = build_model(tiny_config("bahdanau", dropout=0.5), SRC_VOCAB, TGT_VOCAB).double()
    src, lengths = batch_of(SOURCES)
    for search in (greedy_search, lambda m, s, n: beam_search(m, s, n, beam_size=2)):
        outputs = []
        for seed in (1, 2):
            model.train()
            torch.manual_seed(seed)
            outputs.append([(r.tokens, r.score) for r in search(model, src, lengths)])
            assert not model.training
        assert outputs[0] == outputs[1]


def test_results_and_records_hold_plain_python_numbers():
    """Scores are floats and tokens ints (widgets and JSON exports read them), in the results and
    in every recorded hypothesis and candidate, for greedy and beam search."""
    model = tiny_model("luong-general", seed=15)
    src, lengths = batch_of(SOURCES[:2])
    for results in (greedy_search(model, src, lengths, record=True),
                    beam_search(model, src, lengths, beam_size=2, record=True)):
        for r in results:
            assert type(r.score) is float and all(type(w) is int for w in r.tokens)
            for step in r.steps:
                for h in step.hypotheses:
                    assert type(h.score) is float and all(type(w) is int for w in h.tokens)
                    assert all(type(a) is float for a in h.attention)
                for c in step.candidates:
                    assert type(c.score) is float and type(c.parent) is int
                    assert all(type(w) is int for w in c.tokens)


def test_ranking_score_is_a_python_float():
    """With a coverage penalty the rank adds a float to the length-normalised score (not a tensor)."""
    attention = torch.tensor([[0.5, 0.25], [0.25, 0.5]], dtype=torch.float64)
    rank = ranking_score(-2.0, 3, 1.0, attention, 0.4)
    assert type(rank) is float
    assert rank == pytest.approx(-2.0 / 3 + 0.4 * 2 * math.log(0.75), abs=1e-12)   # coverage 0.75 per word


@pytest.mark.parametrize("K", [1, 2, 3])
def test_each_sentence_stops_at_its_own_length_limit(K):
    """Tight limits (a = 0.5, b = 1: 2, 4, 1 and 3 steps for SOURCES): a sentence whose limit is
    one step may only say </s> (an empty output) and stops there while the others go on, and
    a sentence stopped by its limit, alone or in a batch, with B·K = 2 too (beam 2 on one
    sentence, beam 1 on two), has the reference's result and one record per step."""
    model = tiny_model("luong-general", seed=16)
    a, b = 0.5, 1
    assert max_lengths(batch_of(SOURCES)[1], a, b).tolist() == [2, 4, 1, 3]
    for sources in (SOURCES, SOURCES[2:], *([s] for s in SOURCES)):
        src, lengths = batch_of(sources)
        results = beam_search(model, src, lengths, beam_size=K, record=True, max_len_a=a, max_len_b=b)
        for source, r in zip(sources, results):
            tokens, score, record = reference_beam(model, source, K, 1.0, a, b)
            assert (r.tokens, len(r.steps)) == (tokens, len(record))
            assert r.score == pytest.approx(score, abs=1e-6)
            if len(source) == 1:
                assert r.tokens == [] and len(r.steps) == 1
