"""Checks for the exercises of chapter 1 (sequence to sequence with RNNs)."""
from __future__ import annotations

import torch
from torch import nn

from . import exercise

GRU_INPUT, GRU_HIDDEN = 384, 256   # exercise 1.1: the decoder GRU of `seq2seq`


def gru_parameters(input_size: int, hidden_size: int) -> int:
    """Three blocks (reset, update, candidate), each with W (hidden x input), U (hidden x hidden)
    and PyTorch's two bias vectors."""
    return 3 * (hidden_size * input_size + hidden_size * hidden_size + 2 * hidden_size)


@exercise("1.1")
def check_gru_parameters(answer) -> str:
    expected = gru_parameters(GRU_INPUT, GRU_HIDDEN)
    if isinstance(answer, bool) or not isinstance(answer, int):
        raise AssertionError(f"Give the number of parameters as an integer, not {type(answer).__name__}.")
    h, i = GRU_HIDDEN, GRU_INPUT
    if answer == h * i + h * h + 2 * h or answer == h * i + h * h + h:
        raise AssertionError("That is one block. The GRU has three: the reset gate, the update gate and the "
                             "candidate state each have their own W, U and biases.")
    if answer == 3 * (h * i + h * h + h):
        raise AssertionError("Close: PyTorch gives every block two bias vectors, b_ih (input part) and b_hh (state part).")
    if answer == 3 * (h * i + h * h):
        raise AssertionError("Close: you counted the weight matrices; add the biases (two vectors per block in PyTorch).")
    if answer != expected:
        raise AssertionError(f"{answer:,} is not right. Count, for each of the three blocks, the input matrix "
                             f"({h} x {i}), the state matrix ({h} x {h}) and two bias vectors of {h}.")
    return f"nn.GRU({i}, {h}) holds {expected:,} parameters."


def _reference_step(x: torch.Tensor, h: torch.Tensor, rnn: nn.GRU) -> torch.Tensor:
    """One step of ``rnn`` itself (PyTorch's implementation), independent of the package."""
    out, _ = rnn(x[:, None, :], h[None])
    return out[:, 0]


def _variant_step(x: torch.Tensor, h: torch.Tensor, rnn: nn.GRU, slip: str) -> torch.Tensor:
    """A GRU step with one of the usual slips, to recognise it and say what is wrong.

    "swapped_update": h' = z ⊙ n + (1 - z) ⊙ h;
    "bias_outside":   n = tanh(W_n x + b_in + r ⊙ (U_n h) + b_hn), b_hn outside the reset gate's product;
    "paper_reset":    n = tanh(W_n x + b_in + U_n (r ⊙ h) + b_hn), Cho et al.'s placement of the reset gate.
    """
    W_r, W_z, W_n = rnn.weight_ih_l0.chunk(3)
    U_r, U_z, U_n = rnn.weight_hh_l0.chunk(3)
    b_ir, b_iz, b_in = rnn.bias_ih_l0.chunk(3)
    b_hr, b_hz, b_hn = rnn.bias_hh_l0.chunk(3)
    r = torch.sigmoid(x @ W_r.T + b_ir + h @ U_r.T + b_hr)
    z = torch.sigmoid(x @ W_z.T + b_iz + h @ U_z.T + b_hz)
    if slip == "bias_outside":
        n = torch.tanh(x @ W_n.T + b_in + r * (h @ U_n.T) + b_hn)
    elif slip == "paper_reset":
        n = torch.tanh(x @ W_n.T + b_in + (r * h) @ U_n.T + b_hn)
    else:
        n = torch.tanh(x @ W_n.T + b_in + r * (h @ U_n.T + b_hn))
    if slip == "swapped_update":
        return z * n + (1 - z) * h
    return (1 - z) * n + z * h


_SLIP_HINTS = {
    "swapped_update": "The update gate is used the wrong way round: PyTorch computes h' = (1 - z) * n + z * h.",
    "bias_outside": "The bias b_hn belongs inside the reset gate's product: "
                    "n = tanh(W_n x + b_in + r * (U_n h + b_hn)), not ... + r * (U_n h) + b_hn.",
    "paper_reset": "That is the paper's GRU, U_n (r * h). nn.GRU applies the reset gate after the product "
                   "and its bias: n = tanh(W_n x + b_in + r * (U_n h + b_hn)).",
}


@exercise("1.2")
def check_gru_step(answer) -> str:
    if not callable(answer):
        raise AssertionError("Set answer to your function itself (answer = my_gru_step), not to its result.")
    gen = torch.Generator().manual_seed(12)
    for batch, n_in, n_hidden in ((1, 3, 4), (5, 7, 6)):
        with torch.random.fork_rng():
            torch.manual_seed(int(torch.randint(0, 10_000, (1,), generator=gen)))
            rnn = nn.GRU(n_in, n_hidden, batch_first=True)
        x = torch.randn(batch, n_in, generator=gen)
        h = torch.randn(batch, n_hidden, generator=gen)
        with torch.no_grad():
            expected = _reference_step(x, h, rnn)
            try:
                got = answer(x.clone(), h.clone(), rnn)
            except Exception as e:  # the reader's code failed: say so plainly
                raise AssertionError(f"Your function raised {e.__class__.__name__}: {e}") from None
        if got is None:
            raise AssertionError("Your function returned None: return the new state.")
        if not isinstance(got, torch.Tensor):
            raise AssertionError(f"Return a tensor, not {type(got).__name__}.")
        if tuple(got.shape) != tuple(expected.shape):
            raise AssertionError(f"The new state should have shape {tuple(expected.shape)} (batch x hidden), "
                                 f"got {tuple(got.shape)}.")
        if torch.allclose(got, expected, atol=1e-5):
            continue
        with torch.no_grad():
            for slip, hint in _SLIP_HINTS.items():
                if torch.allclose(got, _variant_step(x, h, rnn, slip), atol=1e-5):
                    raise AssertionError(hint)
        raise AssertionError("The new state differs from nn.GRU's. Check the order of the blocks (reset, update, "
                             "candidate), both biases, and that the reset gate multiplies (U_n h + b_hn).")
    return "Your step matches nn.GRU."


@exercise("1.3")
def check_teacher_forcing(answer) -> str:
    from ..data.batching import make_batch
    from ..data.vocabulary import SPECIALS, Vocabulary

    target = ["Il", "pleut", "."]
    vocab = Vocabulary([*SPECIALS, *target])
    batch = make_batch([[4]], [vocab.encode(target)])
    expected_in = [vocab.itos[i] for i in batch.tgt_in[0]]
    expected_out = [vocab.itos[i] for i in batch.tgt_out[0]]
    if not isinstance(answer, (tuple, list)) or len(answer) != 2:
        raise AssertionError("Give a pair (tgt_in, tgt_out) of two lists of tokens.")
    got_in, got_out = (list(a) if isinstance(a, (list, tuple)) else a for a in answer)
    if not isinstance(got_in, list) or not isinstance(got_out, list):
        raise AssertionError("Both tgt_in and tgt_out should be lists of tokens (strings).")
    if got_in == expected_out and got_out == expected_in:
        raise AssertionError("You swapped them: the decoder *reads* the sequence that starts with <s>.")
    if got_in != expected_in:
        raise AssertionError("tgt_in is not right: the decoder first reads the start marker, then the reference "
                             "words, and never reads </s>.")
    if got_out != expected_out:
        raise AssertionError("tgt_out is not right: at every step the decoder must predict the next reference "
                             "word, and after the last word it must predict the end marker.")
    return "Each step reads tgt_in[i] and predicts tgt_out[i]."


# ----------------------------------------------------------------------------------------------
# 1.4 Ablation: how much does the trained decoder rely on the summary c?
# ----------------------------------------------------------------------------------------------

# Sentence pairs of our own (never corpus sentences), of different lengths so the batch is padded.
ABLATION_PAIRS = (
    ("I am cold.", "J'ai froid."),
    ("Tom is here.", "Tom est là."),
    ("Where is my dog?", "Où est mon chien ?"),
    ("I like red cars.", "J'aime les voitures rouges."),
    ("She is reading a book in the garden.", "Elle lit un livre dans le jardin."),
    ("We are going to the beach tomorrow.", "Nous allons à la plage demain."),
    ("My brother bought a new bicycle yesterday.", "Mon frère a acheté un nouveau vélo hier."),
    ("It is raining, so we will stay at home tonight.",
     "Il pleut, alors nous resterons à la maison ce soir."),
)
ABLATION_MODELS = ("seq2seq", "seq2seq-init")   # context-every-step, context-as-initial-state
ABLATION_TOL = 1e-3                             # nats per target token


def ablation_batch(translator):
    """``ABLATION_PAIRS`` as one padded batch, in the vocabularies of ``translator``."""
    from ..data.batching import make_batch
    from ..data.text import tokenize

    src = [translator.src_vocab.encode(tokenize(en, "en")) for en, _ in ABLATION_PAIRS]
    tgt = [translator.tgt_vocab.encode(tokenize(fr, "fr")) for _, fr in ABLATION_PAIRS]
    return make_batch(src, tgt)


def _word_losses(model, batch, c_init: str, c_step: str) -> torch.Tensor:
    """-log p of every target position (batch x tgt_len, padding included), with teacher forcing,
    computed step by step through ``decoder.initial_state`` and ``decoder.step`` (not the
    decoder's ``forward``, which a reader's answer would use).

    ``c_init`` is what starts the decoder: "c" (s_0 = tanh(W_s c + b_s)), "zero" (the same with
    c = 0) or "s0=0" (the state itself set to zero); ``c_step`` is the c read at every step
    ("c" or "zero"; the context-as-initial-state decoder reads none).
    """
    from dataclasses import replace

    from ..models.layers import Memory

    with torch.no_grad():
        memory = model.encode(batch.src, batch.src_lengths)
        enc = memory.enc
        zero = Memory(replace(enc, final=torch.zeros_like(enc.final)), memory.keys)
        pick = {"c": memory, "zero": zero}
        if c_init == "s0=0":
            state = torch.zeros_like(model.decoder.initial_state(memory))
        else:
            state = model.decoder.initial_state(pick[c_init])
        losses = []
        for t in range(batch.tgt_in.size(1)):
            logits, state, _ = model.decoder.step(batch.tgt_in[:, t], state, pick[c_step], t)
            losses.append(-logits.log_softmax(-1).gather(1, batch.tgt_out[:, t, None])[:, 0])
    return torch.stack(losses, 1)



@exercise("1.4")
def check_summary_ablation(answer) -> str:
    from .. import pretrained
    from .answers import as_float, as_function, mean_over_words, run_on_copy

    as_function(answer, "loss_without_summary")
    measured = {}
    for name in ABLATION_MODELS:
        translator = pretrained.load(name)
        batch = ablation_batch(translator)
        got = as_float(run_on_copy(answer, translator.model, batch), "The loss")
        ref = translator.model
        right = _word_losses(ref, batch, "zero", "zero")
        expected = mean_over_words(right, batch)
        if abs(got - expected) <= ABLATION_TOL:
            intact = mean_over_words(_word_losses(ref, batch, "c", "c"), batch)
            measured[name] = (intact, expected)
            continue
        real = batch.tgt_out != 0
        first_state_zero = ("You set the decoder's first state to zero. Ablate the summary c "
                            "itself: with c = 0 the first state is s_0 = tanh(W_s 0 + b_s) = "
                            "tanh(b_s), not 0.")
        slips = [
            (mean_over_words(_word_losses(ref, batch, "c", "c"), batch),
             "That is the loss of the intact model. Replace the summary (memory.enc.final) by "
             "zeros after the encoder and before the decoder reads it."),
            (mean_over_words(_word_losses(ref, batch, "s0=0", "c"), batch), first_state_zero),
            (mean_over_words(_word_losses(ref, batch, "s0=0", "zero"), batch), first_state_zero),
            (mean_over_words(_word_losses(ref, batch, "zero", "c"), batch),
             "The first state saw c = 0, but every step still read the real c: seq2seq reads "
             "the summary at every step too. Zero memory.enc.final itself, so both see it."),
            (mean_over_words(_word_losses(ref, batch, "c", "zero"), batch),
             "Every step read c = 0, but the first state still came from the real c. Zero "
             "memory.enc.final itself, so that s_0 comes from the zero summary too."),
            (float(right[real].sum()),
             "That is the sum over the words; give the mean per real target word."),
            (float(right.mean()),
             "Leave the padding out: average over the real target tokens only "
             "(tgt_out != 0), as Seq2Seq.loss does."),
            (float(torch.stack([right[k][real[k]].mean() for k in range(len(real))]).mean()),
             "That is the mean of the sentences' mean losses; pool the words of all sentences "
             "instead (every real word counts once)."),
        ]
        for value, hint in slips:
            if abs(got - value) <= ABLATION_TOL:
                raise AssertionError(f"{name}: {hint}")
        raise AssertionError(f"{name}: {got:.3f} is not the teacher-forced loss with c = 0 "
                             f"(expected within {ABLATION_TOL} of the check's value). Encode, "
                             "replace memory.enc.final by zeros, run the decoder on tgt_in, and "
                             "average the cross-entropy over the real words of tgt_out.")
    lines = [f"On these {len(ABLATION_PAIRS)} pairs, the loss per word (nats):"]
    for name, (intact, ablated) in measured.items():
        lines.append(f"  {name:13s} {intact:.2f} with the summary, {ablated:.2f} with c = 0")
    return "\n".join(lines)
