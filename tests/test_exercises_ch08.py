"""The checkers of the exercises of chapters/08_failures.ipynb: right answers pass, wrong ones raise AssertionError.

The right answers are computed here with the package's own functions (coverage, uncovered
words, GNMT's ranking score), which the checkers do not use: the two must agree.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from attention_course import pretrained
from attention_course.evaluation.failures import coverage
from attention_course.exercises import ch08, check
from attention_course.data.text import tokenize
from attention_course.search.beam import ranking_score


# --- 8.1 -----------------------------------------------------------------------------------------

def right_81():
    c = coverage(ch08.ATTENTION_81)
    return [w for w, cj in zip(ch08.SOURCE_81, c) if w != "." and cj < ch08.THRESHOLD_81]


def test_81_right_answer_passes(capsys):
    assert right_81() == ["small", "quickly"]
    check("8.1", right_81())
    check("8.1", {"quickly", "small"})
    check("8.1", [4, 6])                                   # positions work too
    assert capsys.readouterr().out.count("correct") == 3


def test_81_rows_are_probability_distributions():
    assert np.allclose(np.sum(ch08.ATTENTION_81, 1), 1.0)
    assert len(ch08.ATTENTION_81) == len(ch08.TARGET_81)
    assert all(len(row) == len(ch08.SOURCE_81) for row in ch08.ATTENTION_81)


@pytest.mark.parametrize("wrong, hint", [
    (["the", "small", "quickly"], "maximum"),             # column maximum instead of sum
    (["Le", "a"], "source words"),                        # rows instead of columns
    (["The", "cat", "ate", "the", "fish"], "below"),      # the covered ones
    (["small"], "Add up"),
    ("small", "as a list"),
    ([1.5], "positions"),
])
def test_81_wrong_answers_fail(wrong, hint):
    with pytest.raises(AssertionError, match=hint):
        check("8.1", wrong)


# --- 8.2 -----------------------------------------------------------------------------------------

def right_82(beta=ch08.BETA_82):
    return {k: ranking_score(log_p, len(tokens), ch08.ALPHA_82, torch.tensor(rows, dtype=torch.float64), beta)
            for k, (tokens, log_p, rows) in ch08.HYPOTHESES_82.items()}


def test_82_right_answer_passes_and_the_penalty_changes_the_winner(capsys):
    scores = right_82()
    check("8.2", scores)
    check("8.2", {k: round(v, 3) for k, v in scores.items()})
    assert capsys.readouterr().out.count("correct") == 2
    assert max(scores, key=scores.get) == "B"
    plain = right_82(beta=0.0)
    assert max(plain, key=plain.get) == "A"


def test_82_by_hand():
    # A: -1.2/5 + 0.5 (log 1 + log 1 + log .17 + log .18 + log .85)
    a = -1.2 / 5 + 0.5 * (math.log(0.17) + math.log(0.18) + math.log(0.85))
    assert right_82()["A"] == pytest.approx(a, abs=1e-9)


def uncapped(k):
    tokens, log_p, rows = ch08.HYPOTHESES_82[k]
    return log_p / len(tokens) + ch08.BETA_82 * float(np.log(np.sum(rows, 0)).sum())


@pytest.mark.parametrize("wrong, hint", [
    ({k: uncapped(k) for k in "ABC"}, "Cap"),
    ({k: v - ch08.HYPOTHESES_82[k][1] / len(ch08.HYPOTHESES_82[k][0]) + ch08.HYPOTHESES_82[k][1]
      for k, v in right_82().items()}, "Divide"),
    (right_82(beta=1.0), "Multiply"),
    (right_82(beta=0.0), "natural log"),
    ({"A": -2.06, "B": -0.29}, "one score per hypothesis"),
    ({"A": "x", "B": -0.29, "C": -0.39}, "number"),
])
def test_82_wrong_answers_fail(wrong, hint):
    with pytest.raises(AssertionError, match=hint):
        check("8.2", wrong)


# --- 8.3 -----------------------------------------------------------------------------------------

def no_repeat_bigram(log_probs, prefix):
    out = log_probs.clone()
    for a, b in zip(prefix, prefix[1:]):
        if prefix and a == prefix[-1]:
            out[b] = -math.inf
    return out


def test_83_right_answer_passes_and_removes_the_repetition(capsys):
    check("8.3", no_repeat_bigram)
    out = capsys.readouterr().out
    assert "correct" in out and "la température de la température" in out     # the plain greedy output
    with_it = out.split("with it:")[1]
    assert "la température de la température" not in with_it


def test_83_in_place_solution_passes(capsys):
    def in_place(log_probs, prefix):
        for i in range(len(prefix) - 1):
            if prefix[i] == prefix[-1]:
                log_probs[prefix[i + 1]] = float("-inf")
        return log_probs
    check("8.3", in_place)
    assert "correct" in capsys.readouterr().out


def block_used(log_probs, prefix):
    out = log_probs.clone()
    out[list(set(prefix))] = -math.inf
    return out


def block_last(log_probs, prefix):
    out = log_probs.clone()
    if prefix:
        out[prefix[-1]] = -math.inf
    return out


def off_by_one(log_probs, prefix):
    out = log_probs.clone()
    for i in range(len(prefix) - 1):
        if prefix[i] == prefix[-1]:
            out[prefix[i]] = -math.inf
    return out


def penalised(log_probs, prefix):
    out = no_repeat_bigram(log_probs, prefix)
    out[torch.isfinite(out)] -= 0.1
    return out


@pytest.mark.parametrize("wrong, hint", [
    (block_used, "every word already used"),
    (block_last, "immediate repeat"),
    (off_by_one, "immediate repeat|expected"),
    (penalised, "unchanged"),
    (lambda lp, prefix: lp[:5], "same shape"),
    (lambda lp, prefix: 1 / 0, "ZeroDivisionError"),
    (no_repeat_bigram(torch.zeros(3), [1]), "function itself"),
])
def test_83_wrong_answers_fail(wrong, hint):
    with pytest.raises(AssertionError, match=hint):
        check("8.3", wrong)


def test_83_greedy_with_no_change_is_the_package_greedy_search():
    tr = pretrained.load(ch08.MODEL_83)
    for text in (ch08.SENTENCE_83, "I like red cars.", "Where did you hide the keys?"):
        assert ch08.greedy_with(tr, text, lambda lp, prefix: lp) == tr.translate(text).raw_tokens


# --- 8.4 -----------------------------------------------------------------------------------------

def loss_84(change=None, with_eos=True, reduction="mean", pairs=None):
    """The solution of 8.4 as a reader would write it: a copy of the model with a change made to
    its weights, one padded batch, the package's batched teacher-forced loss."""
    import copy

    from attention_course.data.batching import make_batch

    tr = pretrained.load(ch08.MODEL_84)
    model = copy.deepcopy(tr.model)
    if change is not None:
        with torch.no_grad():
            change(model.decoder)
    pairs = pairs or ch08.PAIRS_84
    batch = make_batch([tr.src_vocab.encode(tokenize(e, "en")) for e, _ in pairs],
                       [tr.tgt_vocab.encode(tokenize(f, "fr")) for _, f in pairs])
    tgt_out = batch.tgt_out.clone()
    if not with_eos:
        tgt_out[tgt_out == tr.tgt_vocab.eos_index] = tr.tgt_vocab.pad_index
    with torch.no_grad():
        return model.loss(batch.src, batch.src_lengths, batch.tgt_in, tgt_out, reduction=reduction).item()


def zero_h_tilde_columns(decoder):
    decoder.rnn.weight_ih_l0[:, decoder.emb_size:] = 0


def zero_word_columns(decoder):
    decoder.rnn.weight_ih_l0[:, : decoder.emb_size] = 0


def test_84_right_answer_passes(capsys):
    right = loss_84(zero_h_tilde_columns)
    assert right > 2 * loss_84()                     # the trained model relies on input feeding
    check("8.4", right)
    check("8.4", round(right, 4))
    out = capsys.readouterr().out
    assert out.count("correct") == 2 and "luong-general-nofeed" in out
    assert pretrained.load(ch08.MODEL_84).model.decoder.rnn.weight_ih_l0.abs().sum() > 0    # untouched


def test_84_pairs_are_our_own_and_known_words():
    tr = pretrained.load(ch08.MODEL_84)
    for english, french in ch08.PAIRS_84:
        assert all(w in tr.src_vocab.stoi for w in tokenize(english, "en")), english
        assert all(w in tr.tgt_vocab.stoi for w in tokenize(french, "fr")), french


@pytest.mark.parametrize("wrong, hint", [
    (lambda: loss_84(), "unchanged model"),
    (lambda: loss_84(zero_h_tilde_columns, with_eos=False), "Count </s>"),
    (lambda: loss_84(zero_h_tilde_columns, reduction="sum"), "sum over all tokens"),
    (lambda: loss_84(zero_h_tilde_columns, pairs=ch08.PAIRS_84[:5]), "Take a fresh copy"),
    (lambda: loss_84(zero_word_columns), "Take a fresh copy"),
    (lambda: "2.5", "Take a fresh copy"),
    (lambda: torch.tensor([0.4, 0.5]), "one number"),
])
def test_84_wrong_answers_fail(wrong, hint):
    with pytest.raises(AssertionError, match=hint):
        check("8.4", wrong())


def test_84_hints_for_the_wrong_part_of_the_state():
    """Zeroing the GRU state instead, or both parts: the checker's step-by-step variants; its right
    value agrees with the batched solution above."""
    right = ch08._loss_84(zero=("h_tilde",))
    assert right == pytest.approx(loss_84(zero_h_tilde_columns), rel=1e-4)      # two implementations agree
    for zero, hint in ((("h",), "GRU state"), (("h", "h_tilde"), "Keep the GRU state")):
        with pytest.raises(AssertionError, match=hint):
            check("8.4", ch08._loss_84(zero=zero))


def test_none_is_a_reminder(capsys):
    for key in ("8.1", "8.2", "8.3", "8.4"):
        check(key, None)
    assert capsys.readouterr().out.count("not answered yet") == 4
