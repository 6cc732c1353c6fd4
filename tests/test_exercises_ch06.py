"""The checkers of chapter 6's exercises: right answers (written as a reader would, or with the
package's own alignment functions) pass, typical wrong ones fail with a hint."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from attention_course.evaluation.alignment import aer, argmax_alignment
from attention_course.exercises import ch06, check

def links_above(weights, tau):
    links = set()
    for i, row in enumerate(weights):
        above = [j for j, w in enumerate(row) if w >= tau]
        links |= {(i, j) for j in (above or [int(np.argmax(row))])}
    return links


def test_61_right_answer_passes(capsys):
    check("6.1", links_above)
    # a vectorised version, returning a list of pairs
    check("6.1", lambda w, t: [(int(i), int(j)) for i, j in zip(*np.nonzero(
        (w >= t) | ((w == w.max(1, keepdims=True)) & ~(w >= t).any(1, keepdims=True))))])
    out = capsys.readouterr().out
    assert out.count("correct") == 2
    assert "les→like, les→cars" in out and "rouges→red, rouges→cars" in out


def test_61_the_cases_tell_the_wrong_rules_apart():
    for weights, tau in ch06._cases_61():
        assert np.allclose(weights.sum(1), 1, atol=0.03)
        assert (weights < tau).all(1).any()                               # a row falls back to its argmax
        assert (weights == tau).any()                                     # a weight exactly at τ
        assert links_above(weights, tau) != {(i, int(np.argmax(r))) for i, r in enumerate(weights)}


def threshold_only(weights, tau):
    return {(i, j) for i, row in enumerate(weights) for j, w in enumerate(row) if w >= tau}


def strict(weights, tau):
    return {(i, j) for i, row in enumerate(weights)
            for j in ([j for j, w in enumerate(row) if w > tau] or [int(np.argmax(row))])}


@pytest.mark.parametrize("wrong, hint", [
    (threshold_only, "no link"),
    (lambda w, t: argmax_alignment(w), "one link per row"),
    (strict, "exactly equal"),
    (lambda w, t: {(j, i) for i, j in links_above(w, t)}, "reversed"),
    (lambda w, t: links_above(w.T, t), "expected"),                          # columns as target words
    (lambda w, t: 1 / 0, "ZeroDivisionError"),
    (lambda w, t: "links", "pairs"),
    ({(0, 0), (1, 1), (2, 3), (3, 3), (4, 2)}, "function itself"),        # the old answer: a set of links
])
def test_61_wrong_answers_fail(wrong, hint):
    with pytest.raises(AssertionError, match=hint):
        check("6.1", wrong)


def test_62_aer(capsys):
    right = aer(ch06.PREDICTED_62, ch06.SURE_62, ch06.POSSIBLE_62)
    assert abs(right - 0.375) < 1e-12             # 1 - (2 + 3) / (4 + 4), by hand
    check("6.2", right)
    check("6.2", 0.375)
    assert "correct" in capsys.readouterr().out


@pytest.mark.parametrize("answer,hint", [
    (0.5, "P = S"),                      # the possible link ignored
    (0.625, "1 − AER"),
    (0.25, "Count"),
    ("x", "number"),
    (True, "number"),
])
def test_62_wrong_answers_fail(answer, hint):
    with pytest.raises(AssertionError, match=hint):
        check("6.2", answer)


# --- 6.3 -----------------------------------------------------------------------------------------

def accuracy_63(hide=True, shift=0, with_eos=True):
    """The solution of 6.3, written as a reader would: a fresh model, the attention's mask changed
    at each step (the checker changes the scores instead), one batch, the hits counted."""
    from importlib import resources

    from attention_course.checkpoint import load_model
    from attention_course.data import alignment_task as task

    model, _, src_vocab, tgt_vocab = load_model(resources.files("attention_course") / "alignment_models"
                                                / "luong-general")
    pairs = ch06.pairs_63()
    gold = [dict(p.links) for p in pairs]
    attend = model.decoder.attention.forward

    def without_gold(query, keys, annotations, mask, step=0, **rest):
        mask = mask.clone()
        for b, links in enumerate(gold):
            if step + shift in links:
                mask[b, links[step + shift]] = False
        return attend(query, keys, annotations, mask, step=step, **rest)

    if hide:
        model.decoder.attention.forward = without_gold
    batch = task.to_batch(pairs, src_vocab, tgt_vocab)
    with torch.no_grad():
        logits, _ = model(batch.src, batch.src_lengths, batch.tgt_in)
    real = batch.tgt_out != tgt_vocab.pad_index
    if not with_eos:
        real &= batch.tgt_out != tgt_vocab.eos_index
    return ((logits.argmax(-1) == batch.tgt_out) & real).sum().item() / real.sum().item()


def test_63_right_answer_passes(capsys):
    right = accuracy_63()
    assert right < 0.5 < accuracy_63(shift=-1)      # the gold word matters, the previous one hardly
    check("6.3", right)
    check("6.3", torch.tensor(right))
    out = capsys.readouterr().out
    assert out.count("correct") == 2 and "1.000" in out


@pytest.mark.parametrize("wrong, hint", [
    (lambda: accuracy_63(hide=False), "unchanged model"),
    (lambda: accuracy_63(shift=-1), "target word i − 1"),
    (lambda: accuracy_63(shift=1), "target word i \\+ 1"),
    (lambda: ch06._forced_accuracy_63("annotation"), "zeroed the word's annotation"),
    (lambda: accuracy_63(with_eos=False), "Count </s>"),
    (lambda: ch06._forced_accuracy_63(padding=True), "padding positions"),
    (lambda: accuracy_63() + 0.05, "Load a fresh model"),
    (lambda: 30.6, "between 0 and 1"),
    (lambda: "0.31", "Load a fresh model"),
    (lambda: [0.3, 0.4], "number"),
])
def test_63_wrong_answers_fail(wrong, hint):
    with pytest.raises(AssertionError, match=hint):
        check("6.3", wrong())


def test_none_is_a_reminder(capsys):
    for key in ("6.1", "6.2", "6.3"):
        check(key, None)
    assert capsys.readouterr().out.count("not answered yet") == 3
