"""The checkers of chapter 5's exercises: a right answer passes, wrong ones raise AssertionError.

The right answers are recomputed here independently (and, for 5.3 and 5.4, with the
package's own beam rule and <unk> replacement), not copied from the checkers.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
from attention_course.exercises import ch05, check
from attention_course.search.beam import normalised
from attention_course.translator import replace_unknowns


def right_51():
    return {k: normalised(score, len(tokens), ch05.ALPHA_51) for k, (tokens, score) in ch05.HYPOTHESES.items()}


def test_51_right_answer_passes(capsys):
    check("5.1", right_51())
    assert "correct" in capsys.readouterr().out
    check("5.1", {k: round(v, 3) for k, v in right_51().items()})


def test_51_values_by_hand():
    # -2.3 / 3**0.8, -3.9 / 6**0.8, -4.6 / 7**0.8
    expected = {"A": -0.9552, "B": -0.9301, "C": -0.9699}
    assert all(abs(right_51()[k] - v) < 1e-3 for k, v in expected.items())


@pytest.mark.parametrize("answer", [
    {"A": -2.3, "B": -3.9, "C": -4.6},                                    # not normalised
    {k: s / (len(t) - 1) ** 0.8 for k, (t, s) in ch05.HYPOTHESES.items()},   # </s> not counted
    {"A": 0.955, "B": 0.930, "C": 0.970},                                 # sign lost
    {"A": -0.955, "B": -0.930},                                           # missing C
    "B", [-0.955, -0.930, -0.970], {"A": "x", "B": -0.93, "C": -0.97},
])
def test_51_wrong_answers_fail(answer):
    with pytest.raises(AssertionError):
        check("5.1", answer)


def test_52_tie():
    alpha = math.log(3.9 / 2.3) / math.log(2)
    check("5.2", alpha)
    check("5.2", round(alpha, 2))
    # at the tie both normalised scores are equal
    a, b = ch05.HYPOTHESES["A"], ch05.HYPOTHESES["B"]
    assert abs(normalised(a[1], len(a[0]), alpha) - normalised(b[1], len(b[0]), alpha)) < 1e-9
    for wrong in (0.5, 1.0, 0.7, -0.76, "0.76x", True):
        with pytest.raises(AssertionError):
            check("5.2", wrong)


def test_53_beam_rule():
    right = ["alive", "finished", "alive", "pruned", "alive", "pruned"]
    check("5.3", right)
    check("5.3", [s.upper() for s in right])
    for wrong in (["alive", "finished", "alive", "finished", "alive", "pruned"],   # 2nd </s> is outside the K best
                  ["alive", "finished", "alive", "pruned", "alive", "alive"],      # more than K alive
                  ["alive"] * 6, right[:5], "alive", ["alive", "done", "alive", "pruned", "alive", "pruned"]):
        with pytest.raises(AssertionError):
            check("5.3", wrong)


def test_53_agrees_with_the_package_beam(monkeypatch):
    """The same rule as beam_search: rebuild its keep/finished decision for the exercise's candidates."""
    import torch
    words = [w for w, _ in ch05.CANDIDATES_53]
    eos = [w == "</s>" for w in words]
    alive = ~torch.tensor(eos)
    keep = alive & (alive.long().cumsum(-1) <= ch05.BEAM_K)
    status = ["alive" if keep[r] else ("finished" if eos[r] and r < ch05.BEAM_K else "pruned") for r in range(len(words))]
    assert status == ["alive", "finished", "alive", "pruned", "alive", "pruned"]


def test_54_unk():
    right = replace_unknowns(ch05.RAW_54, np.array(ch05.ATTENTION_54), ch05.SOURCE_54)
    assert right == ["Où", "est", "le", "chat", "de", "Mortimer", "?"]
    check("5.4", right)
    for wrong in (ch05.RAW_54, ["Où", "est", "le", "chat", "de", "'s", "?"], right[:-1], "Mortimer",
                  ["Où", "est", "le", "chat", "de", "cat", "?"]):
        with pytest.raises(AssertionError):
            check("5.4", wrong)


def test_none_is_a_reminder(capsys):
    for key in ("5.1", "5.2", "5.3", "5.4"):
        check(key, None)
    assert capsys.readouterr().out.count("not answered yet") == 4
