"""Exercises of chapter 3 (Bahdanau attention): the energies, the masked weights and the
context, and the decoder's first state.

The data of each exercise is defined here once (small, rounded numbers from a fixed seed);
the chapter prints it from here, so the question and its checker can never disagree. Each
check recomputes the right answer independently with plain NumPy loops (never with the
package's attention code) and raises an AssertionError with a hint when the answer is wrong.
"""
from __future__ import annotations

import math

import numpy as np

from . import exercise
from .answers import rounded_normal as _data, as_array as _as_array, softmax as _softmax

TOL = 1e-3


# 3.1: one decoder state s_{i-1} (size 3) queries 4 annotations h_j (size 4) through an
# alignment model with 3 hidden units: W_a is 3 x 3, U_a is 3 x 4, v_a has 3 entries.
DATA_31 = _data(31, {"s_prev": (3,), "H": (4, 4), "W_a": (3, 3), "U_a": (3, 4), "v_a": (3,)})

# 3.2: a padded batch row: 5 positions, of which the first 3 are real words.
DATA_32 = {"e": np.array([1.2, -0.4, 2.0, 0.7, 3.1]),
           "H": np.array([[1.0, 0.0], [0.5, -1.0], [-0.5, 2.0], [0.0, 0.0], [0.0, 0.0]]),
           "length": 3}

# 3.3: annotations of a 4-word sentence from a BiGRU with 2 units per direction
# (row j = [→h_j ; ←h_j]), and the initial-state layer W_s (3 x 2), b_s (3).
DATA_33 = _data(33, {"H": (4, 4), "W_s": (3, 2), "b_s": (3,)})


def data(key: str) -> dict:
    """The data of exercise ``key`` ("3.1", "3.2" or "3.3") as torch tensors (float32)."""
    import torch

    source = {"3.1": DATA_31, "3.2": DATA_32, "3.3": DATA_33}[key]
    return {k: torch.tensor(v, dtype=torch.float32) if isinstance(v, np.ndarray) else v
            for k, v in source.items()}


# ----------------------------------------------------------------------------------------------
# 3.1 The energies e_ij = v_aᵀ tanh(W_a s_{i-1} + U_a h_j)
# ----------------------------------------------------------------------------------------------

def energies_31(tanh: bool = True) -> np.ndarray:
    d = DATA_31
    f = math.tanh if tanh else (lambda x: x)
    out = []
    for h in d["H"]:
        hidden = [f(sum(d["W_a"][k, m] * d["s_prev"][m] for m in range(3)) +
                    sum(d["U_a"][k, m] * h[m] for m in range(4))) for k in range(3)]
        out.append(sum(d["v_a"][k] * hidden[k] for k in range(3)))
    return np.array(out)


@exercise("3.1")
def check_energies(answer) -> str:
    got = _as_array(answer, "The energies").squeeze()
    right = energies_31()
    if got.shape != right.shape:
        raise AssertionError(f"Give one energy per source word: {right.shape[0]} numbers "
                             f"(e_i1 .. e_i4), got shape {got.shape}.")
    if np.allclose(got, right, atol=TOL):
        j = int(right.argmax())
        return f"The state s_(i-1) matches annotation h_{j + 1} best (e = {right[j]:.3f})."
    if np.allclose(got, _softmax(right), atol=TOL):
        raise AssertionError("These are the weights α_ij = softmax(e_ij). The exercise asks for the "
                             "energies e_ij themselves, before the softmax.")
    if np.allclose(got, energies_31(tanh=False), atol=TOL):
        raise AssertionError("Apply tanh to W_a s_(i-1) + U_a h_j before taking the dot product with v_a.")
    raise AssertionError("Not quite. For each annotation h_j (a row of H) compute the vector "
                         "tanh(W_a @ s_prev + U_a @ h_j), then its dot product with v_a. In one line: "
                         "torch.tanh(W_a @ s_prev + H @ U_a.T) @ v_a.")


# ----------------------------------------------------------------------------------------------
# 3.2 The masked weights α_ij and the context c_i
# ----------------------------------------------------------------------------------------------

def weights_32(masked: bool = True) -> tuple[np.ndarray, np.ndarray]:
    e, H, n = DATA_32["e"], DATA_32["H"], DATA_32["length"]
    alpha = np.zeros_like(e)
    if masked:
        alpha[:n] = _softmax(e[:n])
    else:
        alpha = _softmax(e)
    return alpha, alpha @ H


@exercise("3.2")
def check_weights_and_context(answer) -> str:
    if not isinstance(answer, (tuple, list)) or len(answer) != 2:
        raise AssertionError("Give a pair (alpha, c): the 5 weights (padding included) and the context vector.")
    alpha, c = _as_array(answer[0], "alpha").squeeze(), _as_array(answer[1], "c").squeeze()
    right_alpha, right_c = weights_32()
    if alpha.shape != right_alpha.shape:
        raise AssertionError(f"alpha needs one weight per position, padding included: shape "
                             f"{right_alpha.shape}, got {alpha.shape}.")
    wrong_alpha, wrong_c = weights_32(masked=False)
    if np.allclose(alpha, wrong_alpha, atol=TOL):
        raise AssertionError("The padding positions received weight: the softmax must run over the 3 real "
                             "words only (set the energies of padding to -inf first, as masked_softmax does).")
    if not np.allclose(alpha, right_alpha, atol=TOL):
        if abs(alpha.sum() - 1) > TOL:
            raise AssertionError(f"The weights must sum to 1 (yours sum to {alpha.sum():.3f}).")
        raise AssertionError("alpha is not right: softmax over the first 3 energies, 0 at the 2 padding positions.")
    if c.shape != right_c.shape:
        raise AssertionError(f"c has the size of one annotation, {right_c.shape[0]}, got shape {c.shape}.")
    if not np.allclose(c, right_c, atol=TOL):
        raise AssertionError("alpha is right but c is not: c = Σ_j α_ij h_j, i.e. alpha @ H.")
    return (f"The padding rows get weight 0, so c = {np.round(right_c, 3).tolist()} mixes the 3 real "
            f"annotations only.")


# ----------------------------------------------------------------------------------------------
# 3.3 The first decoder state s_0 = tanh(W_s ←h_1 + b_s)
# ----------------------------------------------------------------------------------------------

def initial_state_33(row: int = 0, half: str = "backward", tanh: bool = True) -> np.ndarray:
    d = DATA_33
    h = d["H"][row, 2:] if half == "backward" else d["H"][row, :2]
    pre = np.array([sum(d["W_s"][k, m] * h[m] for m in range(2)) + d["b_s"][k] for k in range(3)])
    return np.tanh(pre) if tanh else pre


@exercise("3.3")
def check_initial_state(answer) -> str:
    got = _as_array(answer, "s_0").squeeze()
    right = initial_state_33()
    if got.shape != right.shape:
        raise AssertionError(f"s_0 has the decoder's size, {right.shape[0]}, got shape {got.shape}.")
    if np.allclose(got, right, atol=TOL):
        return ("The backward RNN reads the sentence right to left, so its state at the first word, "
                "←h_1, has seen the whole sentence.")
    if np.allclose(got, initial_state_33(row=-1), atol=TOL):
        raise AssertionError("You used the last row. ←h_1 is the backward state at the *first* word "
                             "(row 0): the backward RNN ends there after reading the whole sentence.")
    if np.allclose(got, initial_state_33(half="forward"), atol=TOL) or \
            np.allclose(got, initial_state_33(row=-1, half="forward"), atol=TOL):
        raise AssertionError("That is the forward half. A row is [→h_j ; ←h_j]: the backward state is "
                             "the second half of the row, H[0, 2:].")
    if np.allclose(got, initial_state_33(tanh=False), atol=TOL):
        raise AssertionError("Right input, but apply tanh: s_0 = tanh(W_s ←h_1 + b_s).")
    raise AssertionError("Not quite: take ←h_1 = H[0, 2:] (second half of the first row), "
                         "then s_0 = tanh(W_s @ ←h_1 + b_s).")
