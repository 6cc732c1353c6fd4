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

def loss_84(hide=True, with_eos=True, reduction="mean", pairs=None, offset=0):
    """The solution of 8.4 as a reader would write it: the hidden word's entry of the attention
    mask set to False, the decoder run over the whole reference at once (teacher forcing)."""
    import torch.nn.functional as F

    from attention_course.data.batching import make_batch

    tr = pretrained.load(ch08.MODEL_84)
    model = tr.model
    total, tokens = 0.0, 0
    for english, french, word, _ in pairs or ch08.PAIRS_84:
        words = tokenize(english, "en")
        b = make_batch([tr.src_vocab.encode(words)], [tr.tgt_vocab.encode(tokenize(french, "fr"))])
        with torch.no_grad():
            memory = model.encode(b.src, b.src_lengths)
            if hide:
                memory.enc.mask[0, words.index(word) + offset] = False
            features, _ = model.decoder(b.tgt_in, memory)
            logits = model.decoder.project(features)[0]
        targets = b.tgt_out[0] if with_eos else b.tgt_out[0, :-1]
        total += F.cross_entropy(logits[: len(targets)], targets, reduction="sum").item()
        tokens += len(targets)
    return total / tokens if reduction == "mean" else total


def test_84_right_answer_passes(capsys):
    right = loss_84()
    assert right > 2 * loss_84(hide=False)          # the hidden words cost a lot
    check("8.4", right)
    check("8.4", round(right, 4))
    out = capsys.readouterr().out
    assert out.count("correct") == 2
    assert pretrained.load(ch08.MODEL_84).translate("I like red cars.").text == "J'aime les voitures rouges."


def test_84_checker_agrees_with_a_second_implementation():
    assert ch08._loss_84() == pytest.approx(loss_84(), rel=1e-4)             # attention scores vs mask
    assert ch08._loss_84("none") == pytest.approx(loss_84(hide=False), rel=1e-4)
    assert ch08._loss_84(translation_only=True) < 0.5 < ch08._loss_84("none", translation_only=True)


def test_84_pairs_are_our_own_and_known_words():
    tr = pretrained.load(ch08.MODEL_84)
    for english, french, word, translation in ch08.PAIRS_84:
        assert all(w in tr.src_vocab.stoi for w in tokenize(english, "en")), english
        assert all(w in tr.tgt_vocab.stoi for w in tokenize(french, "fr")), french
        assert tokenize(english, "en").count(word) == 1 and tokenize(french, "fr").count(translation) == 1


@pytest.mark.parametrize("wrong, hint", [
    (lambda: loss_84(hide=False), "unchanged model"),
    (lambda: ch08._loss_84("zero"), "annotation"),
    (lambda: ch08._loss_84("drop"), "removed the word"),
    (lambda: loss_84(offset=1), "the word after"),
    (lambda: loss_84(with_eos=False), "Count </s>"),
    (lambda: loss_84(reduction="sum"), "sum over all tokens"),
    (lambda: loss_84(pairs=ch08.PAIRS_84[:5]), "For each pair"),
    (lambda: "0.7", "For each pair"),
    (lambda: torch.tensor([0.4, 0.5]), "one number"),
])
def test_84_wrong_answers_fail(wrong, hint):
    with pytest.raises(AssertionError, match=hint):
        check("8.4", wrong())


def test_none_is_a_reminder(capsys):
    for key in ("8.1", "8.2", "8.3", "8.4"):
        check(key, None)
    assert capsys.readouterr().out.count("not answered yet") == 4
