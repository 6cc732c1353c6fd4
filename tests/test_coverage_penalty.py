"""GNMT's coverage penalty in beam search (``coverage_penalty`` β, Wu et al. 2016, Sec. 7).

* β = 0 changes nothing: the shipped models give the tokens and scores that beam search gave
  before the penalty existed (``beam_outputs_before_coverage.json``), on 133 invented sentences.
* β > 0 picks, among the hypotheses that finished, the one that a plain re-computation of
  log p / |y|^α + β Σ_j log min(Σ_i α_ij, 1) ranks first; the weights are recomputed here by
  teacher forcing each finished hypothesis, the sum and logarithms with Python loops.
* A hand-made model where the formula's winner is known; the translator's argument validation.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

import attention_course.translator as translator_module
from attention_course import pretrained
from attention_course.data.batching import pad
from attention_course.data.text import tokenize
from attention_course.data.vocabulary import Vocabulary
from attention_course.search import beam_search
from attention_course.search.beam import COVERAGE_FLOOR, normalised, ranking_score
from attention_course.translator import MAX_COVERAGE_PENALTY

from helpers_models import SRC_VOCAB, no_decoding, one_thread, random_ids, tiny_model  # noqa: F401 (fixtures)
from helpers_search import StubModel
from helpers_translator_sentences import INVENTED

EOS, BOS = Vocabulary.eos_index, Vocabulary.bos_index
REFERENCE = Path(__file__).with_name("beam_outputs_before_coverage.json")


def batch_of(sources):
    return pad(sources), torch.tensor([len(s) for s in sources])


def encoded(tr, sentences):
    return batch_of([tr.src_vocab.encode(tokenize(s, "en")) for s in sentences])


# ------------------------------------------------------------------------------------------
# β = 0 is the beam search as it was
# ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["seq2seq", "bahdanau", "luong-general", "luong-local-p"])
def test_beta_zero_gives_the_outputs_of_the_beam_search_before_the_penalty(name):
    before = json.loads(REFERENCE.read_text(encoding="utf-8"))
    assert before["sentences"] == len(INVENTED)
    tr = pretrained.load(name)
    src, lengths = encoded(tr, INVENTED)
    for setting, expected in before["models"][name].items():
        K, alpha = int(setting[4]), float(setting.split("alpha")[1])
        now = beam_search(tr.model, src, lengths, K, alpha, coverage_penalty=0.0)
        assert [r.tokens for r in now] == [tokens for tokens, _ in expected], setting
        assert [r.score for r in now] == pytest.approx([score for _, score in expected], abs=2e-5), setting
    default = beam_search(tr.model, src[:20], lengths[:20], 3, 0.0)
    zero = beam_search(tr.model, src[:20], lengths[:20], 3, 0.0, coverage_penalty=0.0)
    for a, b in zip(zero, default):      # β = 0 and no β at all: bit for bit the same
            assert a.tokens == b.tokens and a.score == b.score
            assert (a.attention is None and b.attention is None) or torch.equal(a.attention, b.attention)


def test_beta_zero_through_the_translator_changes_nothing():
    tr = pretrained.load("luong-general")
    plain = tr.translate_batch(INVENTED[:40], beam_size=5, record=True)
    zero = tr.translate_batch(INVENTED[:40], beam_size=5, record=True, coverage_penalty=0)
    for a, b in zip(plain, zero):
        assert (a.text, a.score, a.raw_tokens) == (b.text, b.score, b.raw_tokens)
        assert np.array_equal(a.attention, b.attention)
        statuses = [[[c.status for c in s.candidates] for s in t.steps] for t in (a, b)]
        assert statuses[0] == statuses[1]


def test_ranking_score_with_beta_zero_is_the_length_normalised_score():
    for score, length, alpha in [(-3.2, 7, 1.0), (-0.5, 2, 0.0), (-11.0, 13, 0.6)]:
        assert ranking_score(score, length, alpha, torch.rand(length - 1, 5), 0.0) == normalised(score, length, alpha)
        assert ranking_score(score, length, alpha) == normalised(score, length, alpha)


def test_ranking_score_by_hand():
    attention = torch.tensor([[0.5, 0.1, 0.0], [0.7, 0.2, 0.0]], dtype=torch.float64)   # coverage 1.2, 0.3, 0
    expected = -2.0 / 3 + 0.4 * (math.log(1.0) + math.log(0.3) + math.log(COVERAGE_FLOOR))
    assert ranking_score(-2.0, 3, 1.0, attention, 0.4) == pytest.approx(expected, abs=1e-12)


# ------------------------------------------------------------------------------------------
# β > 0: the winner is the hypothesis the plain formula ranks first
# ------------------------------------------------------------------------------------------

def finished_hypotheses(result):
    """(tokens with </s>, log p) of every hypothesis that finished, from the per-step record."""
    return [(c.tokens, c.score) for step in result.steps for c in step.candidates if c.status == "finished"]


def forced_attention(model, src_ids, tokens):
    """Attention rows of the output words (the </s> row dropped), by teacher forcing."""
    src = torch.tensor([src_ids])
    tgt_in = torch.tensor([[BOS] + tokens[:-1]])
    with torch.no_grad():
        _, attention = model(src, torch.tensor([len(src_ids)]), tgt_in)
    return attention[0, :-1].tolist()


def plain_score(log_p, n_tokens, alpha, rows, beta, n_src):
    """log p / |y|^α + β Σ_j log min(max(Σ_i α_ij, floor), 1), with loops."""
    total = 0.0
    for j in range(n_src):
        c = 0.0
        for row in rows:
            c += row[j]
        total += math.log(min(max(c, COVERAGE_FLOOR), 1.0))
    return log_p / n_tokens ** alpha + beta * total


def check_winners(model, sources, K, alpha, betas, tol):
    src, lengths = batch_of(sources)
    base = beam_search(model, src, lengths, K, alpha, record=True)
    checked = 0
    for beta in betas:
        results = beam_search(model, src, lengths, K, alpha, coverage_penalty=beta)
        for ids, b0, r in zip(sources, base, results):
            ranked = sorted(((plain_score(s, len(t), alpha, forced_attention(model, ids, t), beta, len(ids)), t, s)
                             for t, s in finished_hypotheses(b0)), key=lambda x: -x[0])
            if len(ranked) > 1 and ranked[0][0] - ranked[1][0] < tol:
                continue                                   # a near tie: either is right
            assert r.tokens + [EOS] == ranked[0][1], f"β = {beta}"
            assert r.score == pytest.approx(ranked[0][2], abs=1e-5)
            checked += 1
    return checked


@pytest.mark.parametrize("variant", ["bahdanau", "luong-general", "luong-concat", "luong-local-p"])
def test_tiny_models_pick_the_plain_formulas_winner(variant):
    model = tiny_model(variant, seed=11)
    sources = random_ids((3, 8, 5, 6, 2, 7), SRC_VOCAB, seed=12)
    assert check_winners(model, sources, K=4, alpha=0.7, betas=(0.3, 1.0, 4.0), tol=1e-9) >= 15


@pytest.mark.parametrize("name", ["bahdanau", "luong-general", "luong-local-p"])
def test_shipped_models_pick_the_plain_formulas_winner(name):
    tr = pretrained.load(name)
    sentences = INVENTED[::6]
    sources = [tr.src_vocab.encode(tokenize(s, "en")) for s in sentences]
    assert check_winners(tr.model, sources, K=5, alpha=1.0, betas=(0.2, 1.0), tol=1e-4) >= 0.9 * 2 * len(sentences)


def test_some_winner_changes_and_coverage_never_decreases_with_beta():
    """For a fixed set of finished hypotheses, the winner's coverage term can only grow with β."""
    tr = pretrained.load("luong-general")
    sentences = INVENTED[::3]
    src, lengths = encoded(tr, sentences)
    changed = 0
    previous = None
    for beta in (0.0, 0.2, 1.0, 5.0):
        results = beam_search(tr.model, src, lengths, 5, 1.0, coverage_penalty=beta)
        terms = [ranking_score(0.0, 1, 0.0, r.attention[:-1], 1.0) for r in results]   # Σ_j log min(c_j, 1)
        if previous is not None:
            assert all(t >= p - 1e-5 for t, p in zip(terms, previous[1]))
            changed += sum(a.tokens != b.tokens for a, b in zip(results, previous[0]))
        previous = (results, terms)
    assert changed > 0, "β should change some outputs"


# ------------------------------------------------------------------------------------------
# A hand-made model: the winner the formula predicts
# ------------------------------------------------------------------------------------------

class AttendingStub(StubModel):
    """Vocabulary: 4 = a, 5 = b; three source words. "a </s>" has log p = log .6 + log .9 and
    looks only at source word 0; "b b b </s>" has log p = log .35 + 3 log .99 and looks at words
    0, 1, 2 in turn (step t attends to word t). With α = 0 and no penalty "a" wins; its coverage
    is (1, 0, 0), so its penalty is 2 β log(floor) and "b b b" wins once β exceeds
    (log p(a) − log p(bbb)) / (−2 log floor) ≈ 0.0168."""

    has_attention = True

    def step(self, prev, state, memory, t):
        logits, state, _ = super().step(prev, state, memory, t)
        alpha = torch.zeros(logits.size(0), 3)
        alpha[:, min(t, 2)] = 1.0
        return logits, state, alpha


@pytest.mark.parametrize("beta, expected", [(0.0, [4]), (0.015, [4]), (0.019, [5, 5, 5]), (1.0, [5, 5, 5])])
def test_the_penalty_overturns_the_more_probable_but_partial_hypothesis(beta, expected):
    src, lengths = batch_of([[7, 8, 9]])
    r = beam_search(AttendingStub(), src, lengths, beam_size=2, length_penalty=0.0, coverage_penalty=beta)[0]
    assert r.tokens == expected
    threshold = (math.log(0.6) + math.log(0.9) - math.log(0.35) - 3 * math.log(0.99)) / (-2 * math.log(COVERAGE_FLOOR))
    assert 0.015 < threshold < 0.019


def test_beam_search_refuses_a_negative_beta_and_a_model_without_attention():
    model = tiny_model("luong-general", seed=1)
    src, lengths = batch_of(random_ids((3,), SRC_VOCAB, seed=2))
    for bad in (-0.1, float("nan")):
        with pytest.raises(ValueError, match="coverage_penalty"):
            beam_search(model, src, lengths, 3, coverage_penalty=bad)
    with pytest.raises(ValueError, match="no attention"):
        beam_search(tiny_model("context-init", seed=1), src, lengths, 3, coverage_penalty=0.2)
    beam_search(tiny_model("context-init", seed=1), src, lengths, 3, coverage_penalty=0.0)   # 0 is fine


# ------------------------------------------------------------------------------------------
# translate(..., coverage_penalty=β): validated like the other arguments
# ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("bad", [None, "x", "0.2", float("nan"), float("inf"), -0.1, MAX_COVERAGE_PENALTY + 0.5,
                                 True, False, [0.2], 1j])
@pytest.mark.parametrize("beam", [1, 3])
def test_bad_coverage_penalty_is_a_value_error(no_decoding, bad, beam):
    with pytest.raises(ValueError) as err:
        no_decoding.translate("I am here.", beam_size=beam, coverage_penalty=bad)
    message = str(err.value)
    assert message.startswith("coverage_penalty must be") and repr(bad) in message
    assert f"from 0 to {MAX_COVERAGE_PENALTY:g}" in message and len(message) < 400
    with pytest.raises(ValueError, match="coverage_penalty"):
        no_decoding.translate_batch(["I am here."], beam_size=beam, coverage_penalty=bad)


def test_a_model_without_attention_takes_no_coverage_penalty(monkeypatch):
    tr = pretrained.load("seq2seq")
    monkeypatch.setattr(translator_module, "beam_search", lambda *a, **k: pytest.fail("decoded"))
    with pytest.raises(ValueError, match="coverage_penalty must be 0 for a model without attention"):
        tr.translate("I am here.", beam_size=3, coverage_penalty=0.2)


def test_coverage_penalty_at_the_edges_and_with_greedy():
    tr = pretrained.load("bahdanau")
    for beta in (0, 0.0, np.float32(0.5), MAX_COVERAGE_PENALTY):
        t = tr.translate("She bought a new dress for the party.", beam_size=3, coverage_penalty=beta)
        assert t.text and t.attention.shape == (len(t.target_tokens), len(t.source_tokens))
    greedy = tr.translate("She bought a new dress for the party.")
    assert tr.translate("She bought a new dress for the party.", coverage_penalty=1.0).text == greedy.text  # beam only
