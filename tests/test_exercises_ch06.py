"""The checkers of chapter 6's exercises, against the package's own alignment functions."""
from __future__ import annotations

import numpy as np
import pytest
from attention_course.evaluation.alignment import aer, argmax_alignment
from attention_course.exercises import ch06, check

RIGHT_61 = {(0, 0), (1, 1), (2, 3), (3, 3), (4, 2)}


def test_61_right_answer_passes(capsys):
    assert argmax_alignment(np.array(ch06.ATTENTION_61)) == RIGHT_61
    check("6.1", RIGHT_61)
    check("6.1", [[0, 0], [1, 1], [2, 3], [3, 3], [4, 2]])
    check("6.1", argmax_alignment(np.array(ch06.ATTENTION_61)))
    assert capsys.readouterr().out.count("correct") == 3


@pytest.mark.parametrize("answer", [
    {(0, 0), (1, 1), (2, 2), (3, 3), (4, 4)},      # the diagonal
    {(0, 0), (1, 1), (2, 1), (3, 3), (4, 2)},      # second-best for "les"
    {(0, 0), (1, 1), (3, 3), (4, 2)},              # a link missing
    RIGHT_61 | {(4, 3)},                           # an extra link
    "links", 3, {(0, 0, 1)},
])
def test_61_wrong_answers_fail(answer):
    with pytest.raises(AssertionError):
        check("6.1", answer)


def test_61_reversed_pairs_get_a_hint():
    with pytest.raises(AssertionError, match="reversed"):
        check("6.1", {(j, i) for i, j in RIGHT_61})


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


def test_none_is_a_reminder(capsys):
    check("6.1", None)
    check("6.2", None)
    assert capsys.readouterr().out.count("not answered yet") == 2
