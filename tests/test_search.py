"""Greedy and beam search: beam size 1 is greedy, the per-step records are consistent, length
normalisation picks the hypothesis the formula says, and batching never changes a sentence's output.
"""
from __future__ import annotations

import math

import pytest
import torch

from attention_course import pretrained
from attention_course.data.batching import pad
from attention_course.data.text import tokenize
from attention_course.data.vocabulary import Vocabulary
from attention_course.search import beam_search, greedy_search
from attention_course.search.record import max_lengths

from helpers_models import SRC_VOCAB, VARIANTS, one_thread, random_ids, tiny_model  # noqa: F401 (autouse fixture)
from helpers_search import StubModel

EOS, BOS = Vocabulary.eos_index, Vocabulary.bos_index
SOURCES = random_ids((4, 9, 2, 6, 1), SRC_VOCAB, seed=30)
INVENTED = ["The blue kettle is singing.", "My neighbour paints his boat every spring.",
            "Where did you hide the keys?", "We never eat soup on Tuesdays."]


def batch_of(sources):
    return pad(sources), torch.tensor([len(s) for s in sources])


def assert_same_result(a, b, tol=1e-9):
    assert a.tokens == b.tokens
    assert a.score == pytest.approx(b.score, abs=max(tol, 1e-5))   # searches sum scores in float32
    if a.attention is None:
        assert b.attention is None
    else:
        torch.testing.assert_close(a.attention, b.attention, atol=tol, rtol=0)


# ------------------------------------------------------------------------------------------
# beam size 1 = greedy
# ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("variant", list(VARIANTS))
def test_beam_size_1_is_greedy(variant):
    model = tiny_model(variant, seed=2)
    src, lengths = batch_of(SOURCES)
    greedy = greedy_search(model, src, lengths)
    beam = beam_search(model, src, lengths, beam_size=1)
    assert any(len(r.tokens) > 1 for r in greedy), "the test needs outputs longer than one word"
    for g, b in zip(greedy, beam):
        assert_same_result(g, b)


@pytest.mark.parametrize("name", ["seq2seq", "bahdanau", "luong-general", "luong-local-p"])
def test_beam_size_1_is_greedy_for_shipped_models(name):
    tr = pretrained.load(name)
    ids = [tr.src_vocab.encode(tokenize(s, "en")) for s in INVENTED]
    src, lengths = batch_of(ids)
    for g, b in zip(greedy_search(tr.model, src, lengths), beam_search(tr.model, src, lengths, beam_size=1)):
        assert_same_result(g, b, tol=1e-4)


def test_greedy_picks_the_most_probable_word_at_every_step():
    model = tiny_model("bahdanau", seed=4)
    src, lengths = batch_of(SOURCES[:2])
    for b, r in enumerate(greedy_search(model, src, lengths)):
        one_src, one_len = batch_of([SOURCES[b]])
        memory = model.encode(one_src, one_len)
        state = model.decoder.initial_state(memory)
        prev, total = torch.tensor([BOS]), 0.0
        for t, word in enumerate(r.tokens + [EOS]):
            with torch.no_grad():
                logits, state, _ = model.decoder.step(prev, state, memory, t)
            lp = logits.log_softmax(-1)[0]
            if t + 1 < int(max_lengths(one_len)[0]):
                assert int(lp.argmax()) == word
            total += float(lp[word])
            prev = torch.tensor([word])
        assert r.score == pytest.approx(total, abs=1e-5)   # float32 sum


def test_outputs_respect_the_length_limit():
    model = tiny_model("luong-general", seed=5)
    src, lengths = batch_of(SOURCES)
    limits = max_lengths(lengths).tolist()
    for results in (greedy_search(model, src, lengths), beam_search(model, src, lengths, beam_size=3)):
        for r, limit, n in zip(results, limits, lengths.tolist()):
            assert len(r.tokens) + 1 <= limit
            assert EOS not in r.tokens and Vocabulary.pad_index not in r.tokens
            assert r.attention.shape == (len(r.tokens) + 1, n)


def test_beam_rejects_a_bad_size():
    model = tiny_model("bahdanau")
    src, lengths = batch_of(SOURCES[:1])
    with pytest.raises(ValueError, match="beam_size"):
        beam_search(model, src, lengths, beam_size=0)


# ------------------------------------------------------------------------------------------
# Batching never changes a sentence's output
# ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("variant", ["context-every-step", "bahdanau", "luong-general", "luong-local-m",
                                     "luong-local-p"])
def test_search_output_does_not_depend_on_the_rest_of_the_batch(variant):
    model = tiny_model(variant, seed=6)
    short = SOURCES[4]                                    # one word, batched with longer sentences
    for search in (lambda src, n: greedy_search(model, src, n), lambda src, n: beam_search(model, src, n, beam_size=3)):
        alone = search(*batch_of([short]))[0]
        together = search(*batch_of(SOURCES))[4]
        assert_same_result(alone, together)
        middle = search(*batch_of([SOURCES[1], SOURCES[2], SOURCES[0]]))
        for got, i in zip(middle, (1, 2, 0)):
            assert_same_result(got, search(*batch_of([SOURCES[i]]))[0])


# ------------------------------------------------------------------------------------------
# Beam records
# ------------------------------------------------------------------------------------------

def check_records(result, K, limit):
    """The per-step record of one beam search is internally consistent; returns the finished candidates.
    ``limit`` is the length limit: its last step may only end hypotheses."""
    finished = []
    steps = result.steps
    assert steps, "record=True must record the steps"
    for n, step in enumerate(steps):
        assert step.t == n
        if n == 0:
            assert [h.tokens for h in step.hypotheses] == [[]] and step.hypotheses[0].score == 0.0
        cands = step.candidates
        assert {c.status for c in cands} <= {"alive", "finished", "pruned"}
        scores = [c.score for c in cands]
        assert scores == sorted(scores, reverse=True), "candidates are listed best first"
        alive = [c for c in cands if c.status == "alive"]
        if n + 1 == limit:
            assert alive == [] and all(c.tokens[-1] == EOS for c in cands), "</s> is forced at the limit"
        else:
            assert len(alive) == K
        assert all(c.tokens[-1] != EOS for c in alive)
        non_eos = [c for c in cands if c.tokens[-1] != EOS]
        assert alive == non_eos[:K], "the K best extensions that do not end in </s> stay alive"
        for r, c in enumerate(cands):
            hyp = step.hypotheses[c.parent]
            assert c.tokens[:-1] == hyp.tokens, "a candidate extends its parent"
            assert c.score <= hyp.score + 1e-9
            probs = dict(hyp.top_k)
            if c.tokens[-1] in probs:
                assert c.score == pytest.approx(hyp.score + math.log(probs[c.tokens[-1]]), abs=1e-6)
            if c.status == "finished":
                assert c.tokens[-1] == EOS and r < K, "only </s> among the K best finishes"
            if c.tokens[-1] == EOS and r < K:
                assert c.status == "finished"
        finished += [c for c in cands if c.status == "finished"]
        assert step.chosen == (alive[0].tokens if alive else [])
        if n + 1 < len(steps):   # the next step starts from exactly the alive candidates
            nxt = steps[n + 1].hypotheses
            assert [h.tokens for h in nxt] == [c.tokens for c in alive]
            assert [h.score for h in nxt] == pytest.approx([c.score for c in alive], abs=1e-9)
    assert len(finished) >= K or len(steps) == limit, "a search ends when K hypotheses finished"
    return finished


@pytest.mark.parametrize("variant", ["context-init", "bahdanau", "luong-concat", "luong-local-p"])
@pytest.mark.parametrize("K", [2, 4])
def test_beam_records_are_consistent_and_the_winner_follows_the_formula(variant, K):
    model = tiny_model(variant, seed=8)
    src, lengths = batch_of(SOURCES[:3])
    for alpha in (0.0, 0.6, 1.0):
        results = beam_search(model, src, lengths, beam_size=K, length_penalty=alpha, record=True)
        for r, limit in zip(results, max_lengths(lengths).tolist()):
            finished = check_records(r, K, limit)
            best = max(finished, key=lambda c: c.score / len(c.tokens) ** alpha)
            assert r.tokens + [EOS] == best.tokens
            assert r.score == pytest.approx(best.score, abs=1e-9)


@pytest.mark.parametrize("alpha, expected", [(0.0, [StubModel.A]), (1.0, [StubModel.B] * 3)])
def test_length_normalisation_changes_the_winner_as_the_formula_says(alpha, expected):
    src, lengths = batch_of([[5, 6, 7]])
    r = beam_search(StubModel(), src, lengths, beam_size=2, length_penalty=alpha, record=True)[0]
    assert r.tokens == expected
    score = {0.0: math.log(0.6) + math.log(0.9), 1.0: math.log(0.35) + 3 * math.log(0.99)}[alpha]
    assert r.score == pytest.approx(score, abs=1e-5)
    finished = check_records(r, 2, limit=16)
    assert {tuple(c.tokens) for c in finished} >= {(StubModel.A, EOS), (StubModel.B,) * 3 + (EOS,)}
    assert greedy_search(StubModel(), src, lengths)[0].tokens == [StubModel.A]


def test_greedy_records_replay_the_decode():
    model = tiny_model("luong-general", seed=9)
    src, lengths = batch_of(SOURCES[:2])
    for r in greedy_search(model, src, lengths, record=True, top_k=3):
        seq = r.tokens + [EOS]
        assert len(r.steps) == len(seq)
        total = 0.0
        for t, step in enumerate(r.steps):
            hyp = step.hypotheses[0]
            assert hyp.tokens == seq[:t] and step.chosen == seq[: t + 1]
            assert hyp.score == pytest.approx(total, abs=1e-9)
            assert len(hyp.top_k) == 3 and hyp.top_k[0][0] == seq[t]
            assert [p for _, p in hyp.top_k] == sorted((p for _, p in hyp.top_k), reverse=True)
            assert hyp.attention == pytest.approx(r.attention[t].tolist(), abs=1e-12)
            total += math.log(dict(hyp.top_k)[seq[t]])
        assert r.score == pytest.approx(total, abs=1e-6)
