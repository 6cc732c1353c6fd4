"""The chapter 7 checks accept right answers and reject wrong ones with a hint."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from attention_course.exercises import check


def right_attention(q, k, v):
    return torch.softmax(q @ k.T / math.sqrt(q.shape[-1]), dim=-1) @ v


@pytest.mark.parametrize("wrong, hint", [
    (lambda q, k, v: torch.softmax(q @ k.T, dim=-1) @ v, "√d_k"),
    (lambda q, k, v: torch.softmax(q @ k.T / q.shape[-1], dim=-1) @ v, "square root"),
    (lambda q, k, v: torch.softmax(q @ k.T / math.sqrt(q.shape[-1]), dim=0) @ v, "last axis"),
    (lambda q, k, v: (right_attention(q, k, v), None), "tuple"),
    (lambda q, k, v: right_attention(q, k, v).T, "output must be"),
    (lambda q, k, v: 1 / 0, "ZeroDivisionError"),
    (right_attention(torch.eye(2), torch.eye(2), torch.eye(2)), "function itself"),
])
def test_7_1_rejects(wrong, hint):
    with pytest.raises(AssertionError, match=hint):
        check("7.1", wrong)


def test_7_1_accepts(capsys):
    check("7.1", right_attention)
    # also a NumPy-style solution that goes through the tensors' values
    check("7.1", lambda q, k, v: torch.tensor(
        np.exp(s := (q @ k.T).numpy() / np.sqrt(q.shape[1])) / np.exp(s).sum(1, keepdims=True)) @ v)
    assert capsys.readouterr().out.count("correct") == 2


def test_7_1_none_is_a_reminder(capsys):
    check("7.1", None)
    assert "not answered yet" in capsys.readouterr().out


@pytest.mark.parametrize("wrong, hint", [
    (torch.ones(5, 5, dtype=torch.bool).triu(), "transpose"),
    (~torch.ones(5, 5, dtype=torch.bool).tril(), "forbidden"),
    (torch.ones(5, 5, dtype=torch.bool).tril(-1), "diagonal"),
    (torch.ones(4, 4, dtype=torch.bool).tril(), "5 x 5"),
    (torch.ones(5, 5).tril(), "booleans"),
    (torch.ones(5, 5, dtype=torch.bool), "j = 0 .. i"),
])
def test_7_2_rejects(wrong, hint):
    with pytest.raises(AssertionError, match=hint):
        check("7.2", wrong)


def test_7_2_accepts(capsys):
    check("7.2", torch.ones(5, 5, dtype=torch.bool).tril())
    check("7.2", np.tril(np.ones((5, 5), dtype=bool)))
    check("7.2", [[j <= i for j in range(5)] for i in range(5)])
    assert capsys.readouterr().out.count("correct") == 3


def simulated_variances(n=200_000, d_k=64, seed=0):
    """The variances of exercise 7.3 by simulation: independent of the checker's algebra."""
    g = torch.Generator().manual_seed(seed)
    q = 2.0 * torch.randn(n, d_k, generator=g, dtype=torch.float64)
    k = torch.randn(n, d_k, generator=g, dtype=torch.float64)
    dots = (q * k).sum(-1)
    return float(dots.var()), float((dots / math.sqrt(d_k)).var())


def test_7_3_accepts_theory_and_simulation(capsys):
    unscaled, scaled = simulated_variances()
    assert math.isclose(unscaled, 256, rel_tol=0.02) and math.isclose(scaled, 4, rel_tol=0.02)
    check("7.3", (256, 4))
    check("7.3", (unscaled, scaled))
    assert capsys.readouterr().out.count("correct") == 2


@pytest.mark.parametrize("wrong, hint", [
    ((64, 1), "Var\\(q_i\\)"),
    ((128, 2), "variance of 4"),
    ((256, 32), "not by √d_k"),
    ((256, 16), "c²"),
    ((512, 8), "sum of d_k"),
    (256, "pair of numbers"),
    (("a", "b"), "pair of numbers"),
])
def test_7_3_rejects(wrong, hint):
    with pytest.raises(AssertionError, match=hint):
        check("7.3", wrong)
