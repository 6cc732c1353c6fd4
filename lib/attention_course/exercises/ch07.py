"""Checks for the exercises of chapter 7 (towards self-attention).

Each check recomputes the right answer independently (plain NumPy loops or the variance
algebra), never with the package's own attention code, and raises an AssertionError with a
hint when the answer is wrong.
"""
from __future__ import annotations

import math
from functools import partial

import numpy as np

from . import exercise
from .answers import as_array

_as_array = partial(as_array, dtype=None)


def _plain_attention(q: np.ndarray, k: np.ndarray, v: np.ndarray, scale: float | None = None) -> np.ndarray:
    """softmax(q kᵀ / √d_k) v with loops over the queries (float64)."""
    scale = 1.0 / math.sqrt(q.shape[1]) if scale is None else scale
    out = np.zeros((q.shape[0], v.shape[1]))
    for i in range(q.shape[0]):
        s = np.array([q[i] @ k[j] for j in range(k.shape[0])]) * scale
        e = np.exp(s - s.max())
        out[i] = (e / e.sum()) @ v
    return out


@exercise("7.1")
def scaled_dot_product_by_hand(fn):
    """``fn(q, k, v)`` returns softmax(q kᵀ / √d_k) v for 2-D float tensors."""
    import torch

    assert callable(fn), "answer should be your function itself (answer = my_attention), not its result"
    rng = np.random.default_rng(7)
    for n_q, n_k, d_k, d_v in [(3, 5, 4, 2), (4, 6, 64, 3), (1, 2, 16, 16)]:
        q, k, v = rng.normal(size=(n_q, d_k)) * 2, rng.normal(size=(n_k, d_k)), rng.normal(size=(n_k, d_v))
        try:
            got = fn(torch.tensor(q), torch.tensor(k), torch.tensor(v))
        except Exception as exc:  # noqa: BLE001 - report the reader's error as a hint
            raise AssertionError(f"your function raised {type(exc).__name__}: {exc}") from exc
        if isinstance(got, tuple):
            raise AssertionError("return only the output softmax(q kᵀ / √d_k) v, not a tuple")
        got = _as_array(got, "the output")
        assert got.shape == (n_q, d_v), (
            f"for {n_q} queries and values of size {d_v} the output must be {n_q} x {d_v}, got {got.shape}")
        if np.allclose(got, _plain_attention(q, k, v)):
            continue
        if np.allclose(got, _plain_attention(q, k, v, scale=1.0)):
            raise AssertionError("these are Luong's dot weights: divide the scores q kᵀ by √d_k")
        if np.allclose(got, _plain_attention(q, k, v, scale=1.0 / d_k)):
            raise AssertionError("divide by the square root of d_k, not by d_k itself")
        raise AssertionError(
            "the output differs from softmax(q kᵀ / √d_k) v; the softmax runs over the keys "
            "(the last axis of the scores), then the weights multiply v")
    return "Your function agrees with Eq. 1 on three sets of random q, k and v."


@exercise("7.2")
def causal_mask_for_five(answer):
    """The 5 x 5 causal mask: True where query i may attend to key j, i.e. j ≤ i."""
    m = _as_array(answer, "the mask")
    assert m.shape == (5, 5), f"the mask for 5 words is 5 x 5 (queries x keys), got shape {m.shape}"
    assert m.dtype == bool, f"the mask should hold booleans (True = may attend), got {m.dtype}"
    i, j = np.indices((5, 5))
    right = j <= i
    if (m == right).all():
        return "Row i lets word i see itself and the words before it."
    if (m == right.T).all():
        raise AssertionError("that is the transpose: row i is query i, and it may see keys j ≤ i (lower triangle)")
    if (m == ~right).all():
        raise AssertionError("True should mean 'may attend'; you marked the forbidden positions")
    if (m == (j < i)).all():
        raise AssertionError("a word may attend to itself: keep the diagonal")
    raise AssertionError("row i (query i) should be True exactly at the keys j = 0 .. i")


@exercise("7.3")
def variance_of_dot_products(answer):
    """(Var(q·k), Var(q·k/√d_k)) for d_k = 64, q_i ~ N(0, 2²), k_i ~ N(0, 1), all independent."""
    try:
        unscaled, scaled = (float(x) for x in answer)
    except (TypeError, ValueError):
        raise AssertionError("answer should be a pair of numbers: (variance of q·k, variance of q·k / √d_k)") from None
    d_k, var_q, var_k = 64, 4.0, 1.0
    # Var(q_i k_i) = E[q_i²] E[k_i²] = var_q var_k (zero means, independent); d_k such terms add up.
    want_unscaled = d_k * var_q * var_k
    want_scaled = want_unscaled / d_k
    if abs(unscaled - want_unscaled) > 0.05 * want_unscaled:
        if math.isclose(unscaled, d_k, rel_tol=0.05):
            raise AssertionError("Var(q·k) is not d_k here: each term q_i k_i has variance Var(q_i)·Var(k_i)")
        if math.isclose(unscaled, d_k * 2, rel_tol=0.05):
            raise AssertionError("a standard deviation of 2 is a variance of 4")
        raise AssertionError(f"Var(q·k) is the sum of d_k = {d_k} terms, each of variance Var(q_i)·Var(k_i)")
    if abs(scaled - want_scaled) > 0.05 * want_scaled:
        if math.isclose(scaled, want_unscaled / math.sqrt(d_k), rel_tol=0.05):
            raise AssertionError("dividing a number by √d_k divides its variance by d_k, not by √d_k")
        raise AssertionError("Var(c·X) = c²·Var(X): what does multiplying by 1/√d_k do to the variance?")
    return ("Scaling by 1/√d_k removes the growth with d_k, but not the queries' own scale: "
            "the variance is Var(q_i)·Var(k_i).")


__all__ = ["scaled_dot_product_by_hand", "causal_mask_for_five", "variance_of_dot_products"]
