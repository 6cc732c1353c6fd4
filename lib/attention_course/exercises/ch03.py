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


# ----------------------------------------------------------------------------------------------
# 3.4 Ablation: the trained model with uniform attention weights
# ----------------------------------------------------------------------------------------------

UNIFORM_MODEL = "bahdanau"
FIXED_VECTOR_MODEL = "seq2seq"     # for scale in the success message: trained with one fixed vector
UNIFORM_TOL = 1e-3                 # nats per target token


def uniform_word_losses(model, batch, context: str = "mean"):
    """-log p of every target position (batch x tgt_len, padding included) of a Bahdanau model
    whose context c_i is the same vector at every step:

    "mean": the average of the real annotations (uniform weights over the real words),
    "mean-padded": the average over all positions, padding included, "sum": the sum of the real
    annotations (every weight 1), "keys": the average of the projected keys U_a h_j.

    Since c_i does not change, ``nn.GRU`` runs the whole target sentence in one call; the first
    state, the maxout output and the projection are written out here. Nothing of the decoder's
    own ``forward``, ``step`` or attention module is used, so this is independent of a reader's
    answer.
    """
    import torch

    dec = model.decoder
    with torch.no_grad():
        enc = model.encode(batch.src, batch.src_lengths).enc
        H, real = enc.annotations, enc.mask.to(enc.annotations.dtype)[:, :, None]
        if context == "mean":
            c = (H * real).sum(1) / real.sum(1)
        elif context == "mean-padded":
            c = H.mean(1)
        elif context == "sum":
            c = (H * real).sum(1)
        elif context == "keys":
            c = (dec.attention.U_a(H) * real).sum(1) / real.sum(1)
        else:
            raise ValueError(f"unknown context {context!r}")
        s_0 = torch.tanh(dec.init.W_s(H[:, 0, H.size(-1) // 2:]))           # tanh(W_s ←h_1 + b_s)
        y = dec.embedding(batch.tgt_in)                                      # batch x tgt_len x emb
        c = c[:, None, :].expand(-1, y.size(1), -1)                          # the same c_i at every step
        s, _ = dec.rnn(torch.cat([y, c], -1), s_0[None])                     # s_1 .. s_Ty
        t = dec.output.inputs(torch.cat([s, y, c], -1))                      # t~_i
        t = t.view(*t.shape[:-1], -1, 2).amax(-1)                            # maxout over pairs
        logits = t @ dec.embedding.weight.T + dec.project.bias               # W_o = E (tied)
        return -logits.log_softmax(-1).gather(-1, batch.tgt_out[..., None])[..., 0]



@exercise("3.4")
def check_uniform_attention(answer) -> str:
    import torch

    from .. import pretrained
    from .answers import as_float, as_function, mean_over_words, run_on_copy
    from .ch01 import ABLATION_PAIRS, ablation_batch

    as_function(answer, "loss_with_uniform_attention")
    translator = pretrained.load(UNIFORM_MODEL)
    batch = ablation_batch(translator)
    got = as_float(run_on_copy(answer, translator.model, batch), "The loss")
    ref = translator.model
    right = uniform_word_losses(ref, batch)
    expected = mean_over_words(right, batch)
    with torch.no_grad():
        intact = float(ref.loss(batch.src, batch.src_lengths, batch.tgt_in, batch.tgt_out))
    if abs(got - expected) > UNIFORM_TOL:
        real = batch.tgt_out != 0
        slips = [
            (intact, "That is the loss of the intact model. Note that model.loss runs the decoder's "
                     "forward, which computes the attention inline for speed and never calls "
                     "decoder.attention. Run decoder.step once per target position, feeding the "
                     "reference word (teacher forcing)."),
            (mean_over_words(uniform_word_losses(ref, batch, "mean-padded"), batch),
             "The padding got weight too: give each of the sentence's real words 1/T_x and the "
             "padded positions 0 (masked_softmax of equal energies does exactly that)."),
            (mean_over_words(uniform_word_losses(ref, batch, "sum"), batch),
             "The weights must sum to 1: each real word gets 1/T_x, so c_i is the average of the "
             "annotations, not their sum."),
            (mean_over_words(uniform_word_losses(ref, batch, "keys"), batch),
             "You averaged the keys U_a h_j. The context averages the annotations h_j themselves "
             "(the third argument of the attention's forward)."),
            (float(right[real].sum()), "That is the sum over the words; give the mean per real target word."),
            (float(right.mean()), "Leave the padding out: average over the real target tokens only "
                                  "(tgt_out != 0), as Seq2Seq.loss does."),
        ]
        for value, hint in slips:
            if abs(got - value) <= UNIFORM_TOL:
                raise AssertionError(hint)
        raise AssertionError(f"{got:.3f} is not the teacher-forced loss with uniform weights (expected "
                             f"within {UNIFORM_TOL} of the check's value). At every step give each real "
                             "source word the weight 1/T_x, feed the reference word, and average the "
                             "cross-entropy over the real words of tgt_out.")
    other = pretrained.load(FIXED_VECTOR_MODEL)
    fb = ablation_batch(other)
    with torch.no_grad():
        fixed = float(other.model.loss(fb.src, fb.src_lengths, fb.tgt_in, fb.tgt_out))
    return (f"On these {len(ABLATION_PAIRS)} pairs, {UNIFORM_MODEL}'s loss per word is "
            f"{intact:.2f} nats with its attention and {expected:.2f} with uniform weights; "
            f"{FIXED_VECTOR_MODEL}, trained to read one fixed vector, scores {fixed:.2f}.")
