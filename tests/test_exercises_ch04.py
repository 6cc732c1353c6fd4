"""The checkers of chapter 4's exercises: a right answer (computed here with the package's own
attention modules, independently of the checkers' NumPy loops) passes; typical wrong answers
raise an AssertionError with a hint."""
from __future__ import annotations

import pytest
import torch

from attention_course.exercises import ch04, check
from attention_course.models.attention import LocalAttention, LuongAttention


def _fails(key, answer, hint: str):
    with pytest.raises(AssertionError, match=hint):
        check(key, answer)


def _general_scores() -> torch.Tensor:
    d = ch04.data("4.1")
    att = LuongAttention("general", query_size=3, key_size=3)
    with torch.no_grad():
        att.W_a.weight.copy_(d["W_a"])
        return att.scores(d["h_t"][None, None], att.precompute(d["H"][None]))[0, 0]


def test_unanswered_prints_a_reminder(capsys):
    check("4.2", None)
    assert "not answered yet" in capsys.readouterr().out


def test_41_right_answers_pass(capsys):
    d = ch04.data("4.1")
    check("4.1", _general_scores())
    check("4.1", d["H"] @ d["W_a"].T @ d["h_t"])
    assert capsys.readouterr().out.count("correct") == 2


def test_41_wrong_answers_fail():
    d = ch04.data("4.1")
    right = _general_scores()
    _fails("4.1", torch.softmax(right, -1), "weights")
    _fails("4.1", d["H"] @ d["h_t"], "dot score")
    _fails("4.1", d["H"] @ d["W_a"] @ d["h_t"], "transposed")
    _fails("4.1", right[:4], "one score per source word")
    _fails("4.1", right * 2, "Not quite")


def _local_p(window: int = 2) -> LocalAttention:
    att = LocalAttention("general", query_size=3, key_size=3, window=window, predictive=True, attention_size=2)
    d = ch04.data("4.2")
    with torch.no_grad():
        att.W_p.weight.copy_(d["W_p"])
        att.v_p.weight.copy_(d["v_p"][None, :])
    return att


def test_42_right_answer_passes(capsys):
    d = ch04.data("4.2")
    with torch.no_grad():
        p = _local_p().positions(d["h_t"][None, None], torch.tensor([d["S"]]), step=0)
    check("4.2", p)
    check("4.2", float(p))
    assert capsys.readouterr().out.count("correct") == 2


def test_42_wrong_answers_fail():
    right = ch04.position_42()
    _fails("4.2", right / 9, "multiply it by the source length")
    _fails("4.2", right * 8 / 9, "S itself")
    _fails("4.2", ch04.position_42(squash=False), "sigmoid|Not quite")
    _fails("4.2", right + 0.5, "Not quite")
    _fails("4.2", torch.ones(3), "one number")
    _fails("4.2", True, "number")


def _local_weights_with_module() -> torch.Tensor:
    """LocalAttention.forward with the dot score on 1-d keys (so the scores are the keys) and
    p_t fixed to the exercise's value."""
    d = ch04.data("4.3")
    n = d["scores"].numel()
    att = LocalAttention("dot", query_size=1, key_size=1, window=d["D"], predictive=True)
    att.positions = lambda query, lengths, step: torch.full((1, 1), d["p_t"])
    keys = d["scores"][None, :, None]
    with torch.no_grad():
        _, alpha = att(torch.ones(1, 1, 1), keys, keys, torch.ones(1, n, dtype=torch.bool))
    return alpha[0, 0]


def test_43_right_answer_passes(capsys):
    check("4.3", _local_weights_with_module())
    assert "correct" in capsys.readouterr().out


def test_43_wrong_answers_fail():
    d = ch04.data("4.3")
    right = _local_weights_with_module()
    _fails("4.3", torch.softmax(d["scores"], -1) *
           torch.exp(-(torch.arange(9.0) - d["p_t"]) ** 2 / 2), "window only")
    _fails("4.3", torch.tensor(ch04.local_weights_43(gaussian=False)), "multiply each weight")
    _fails("4.3", torch.tensor(ch04.local_weights_43(sigma=2.0)), "D / 2")
    _fails("4.3", right / right.sum(), "renormalise")
    _fails("4.3", right[2:6], "one weight per source position")
    _fails("4.3", right + 0.01, "Not quite")
