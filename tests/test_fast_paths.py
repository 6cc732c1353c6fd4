"""The training fast paths against plain PyTorch: the blockwise projected cross-entropy equals
``F.cross_entropy(F.linear(t, W, b), y)`` in value and gradients, the fused Bahdanau
teacher-forcing loop equals a loop over ``_advance`` written here, and the mixed-precision
(bfloat16) projection used for training stays close to float32 (it also trains: test_training.py).
"""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from attention_course.models.layers import input_part, projected_cross_entropy

from helpers_models import random_batch, tiny_model, one_thread  # noqa: F401 (one_thread: autouse fixture)

ROWS, WIDTH, VOCAB = 13, 7, 29
TOLS = {torch.float64: dict(atol=1e-12, rtol=1e-10), torch.float32: dict(atol=2e-5, rtol=1e-5)}


def inputs(dtype, seed=0, requires_grad=True):
    g = torch.Generator().manual_seed(seed)
    t = (torch.randn(ROWS, WIDTH, generator=g) * 2).to(dtype)
    W = (torch.randn(VOCAB, WIDTH, generator=g) * 2).to(dtype)
    b = torch.randn(VOCAB, generator=g).to(dtype)
    y = torch.randint(0, VOCAB, (ROWS,), generator=g)
    y[3] = y[4]                                     # a repeated target inside one block
    return [x.requires_grad_(requires_grad) for x in (t, W, b)] + [y]


def value_and_grads(fn, t, W, b, y):
    loss = fn(t, W, b, y)
    grads = torch.autograd.grad(loss.sum(), (t, W, b))
    return loss.detach(), grads


def plain(reduction):
    return lambda t, W, b, y: F.cross_entropy(F.linear(t, W, b), y, reduction=reduction)


# ------------------------------------------------------------------------------------------
# projected_cross_entropy == F.cross_entropy(F.linear(...))
# ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("chunk", [None, 1, 4, 5, 13, 100])   # 13 rows: 1 and 13 divide, 4 and 5 do not
def test_projected_cross_entropy_equals_linear_then_cross_entropy(dtype, reduction, chunk):
    t, W, b, y = inputs(dtype)
    expected, expected_grads = value_and_grads(plain(reduction), t, W, b, y)
    got, got_grads = value_and_grads(
        lambda *a: projected_cross_entropy(*a, reduction=reduction, chunk=chunk), t, W, b, y)
    assert got.shape == expected.shape and got.dtype == dtype
    torch.testing.assert_close(got, expected, **TOLS[dtype])
    for name, g, e in zip(("t", "W", "b"), got_grads, expected_grads):
        torch.testing.assert_close(g, e, **TOLS[dtype], msg=lambda m: f"gradient for {name}: {m}")


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("chunk", [None, 4, 13])
def test_projected_cross_entropy_without_gradients(dtype, reduction, chunk):
    t, W, b, y = inputs(dtype, seed=1)
    with torch.no_grad():
        got = projected_cross_entropy(t, W, b, y, reduction=reduction, chunk=chunk)
        expected = plain(reduction)(t, W, b, y)
    assert not got.requires_grad
    torch.testing.assert_close(got, expected, **TOLS[dtype])


def test_projected_cross_entropy_gradient_for_some_inputs_only_and_upstream_scale():
    t, W, b, y = inputs(torch.float64, seed=2)
    W.requires_grad_(False)
    loss = projected_cross_entropy(t, W, b, y, chunk=4)
    gt, gb = torch.autograd.grad(3.5 * loss, (t, b))
    et, eb = torch.autograd.grad(3.5 * plain("mean")(t, W, b, y), (t, b))
    torch.testing.assert_close(gt, et, **TOLS[torch.float64])
    torch.testing.assert_close(gb, eb, **TOLS[torch.float64])


def relative_error(got: torch.Tensor, expected: torch.Tensor) -> float:
    return float((got.double() - expected.double()).norm() / expected.double().norm())


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("chunk", [None, 1, 7, 64, 1000])      # 150 rows: 1 divides, 7 and 64 do not
def test_mixed_precision_projection_is_close_to_float32(reduction, chunk):
    g = torch.Generator().manual_seed(5)
    rows, width, vocab = 150, 24, 500
    t = torch.randn(rows, width, generator=g, requires_grad=True)
    W = (torch.randn(vocab, width, generator=g) * 0.5).requires_grad_()
    b = (torch.randn(vocab, generator=g) * 0.1).requires_grad_()
    y = torch.randint(0, vocab, (rows,), generator=g)
    y[10:20] = y[0]                                  # repeated targets
    expected, expected_grads = value_and_grads(plain(reduction), t, W, b, y)
    got, got_grads = value_and_grads(
        lambda *a: projected_cross_entropy(*a, reduction=reduction, chunk=chunk, dtype=torch.bfloat16), t, W, b, y)
    assert got.dtype == torch.float32 and all(x.dtype == torch.float32 for x in got_grads)
    assert relative_error(got, expected) < 2e-3
    for name, gr, e in zip(("t", "W", "b"), got_grads, expected_grads):
        assert relative_error(gr, e) < 2e-2, name      # bf16 keeps 8 bits: about 0.5 % here
    # without gradients (evaluation) the float32 path runs: the same numbers as float32
    with torch.no_grad():
        exact = projected_cross_entropy(t, W, b, y, reduction=reduction, chunk=chunk, dtype=torch.bfloat16)
    torch.testing.assert_close(exact, expected, **TOLS[torch.float32])


def test_projected_cross_entropy_rejects_a_bad_reduction():
    t, W, b, y = inputs(torch.float32)
    with pytest.raises(ValueError, match="reduction"):
        projected_cross_entropy(t, W, b, y, reduction="average")


# ------------------------------------------------------------------------------------------
# The fused Bahdanau teacher-forcing loop == a loop over _advance + output
# ------------------------------------------------------------------------------------------

def advance_loop(decoder, tgt_in, memory):
    """Teacher forcing one step at a time through ``_advance`` (what ``step`` uses)."""
    y = decoder.embedding(tgt_in)
    gi_y = input_part(y, decoder.rnn, 0, bias=True)
    s = decoder.initial_state(memory)
    states, contexts, alphas = [], [], []
    for i in range(tgt_in.size(1)):
        s, c, alpha = decoder._advance(gi_y[:, i], s, memory)
        states.append(s), contexts.append(c), alphas.append(alpha)
    features = decoder.output(torch.stack(states, 1), y, torch.stack(contexts, 1))
    return features, torch.stack(alphas, 1)


@pytest.mark.parametrize("seed", [0, 1])
def test_fused_bahdanau_forward_equals_a_loop_over_advance(seed):
    model = tiny_model("bahdanau", seed=seed)          # float64, eval mode
    assert not model.training and next(model.parameters()).dtype == torch.float64
    # unequal lengths on both sides: padded source positions (masked) and padded target positions
    batch = random_batch(src_lengths=(5, 3, 7, 1, 4), tgt_lengths=(4, 6, 2, 3, 9), seed=seed + 10)
    assert (batch.src == 0).any() and (batch.tgt_in == 0).any()
    memory = model.encode(batch.src, batch.src_lengths)
    features, attention = model.decoder(batch.tgt_in, memory)
    loop_features, loop_attention = advance_loop(model.decoder, batch.tgt_in, memory)
    assert features.shape == (5, 10, 8) and attention.shape == (5, 10, 7)
    torch.testing.assert_close(features, loop_features, atol=1e-12, rtol=0)     # every position, padding too
    torch.testing.assert_close(attention, loop_attention, atol=1e-12, rtol=0)
    mask = memory.enc.mask[:, None, :].expand_as(attention)
    assert torch.equal(attention[~mask], torch.zeros_like(attention[~mask]))   # no weight on padded sources
    torch.testing.assert_close(attention.sum(-1), torch.ones(5, 10, dtype=torch.float64), atol=1e-12, rtol=0)


def test_fused_bahdanau_gradients_equal_the_loop():
    model = tiny_model("bahdanau", seed=3)
    batch = random_batch(src_lengths=(6, 2, 4), tgt_lengths=(3, 7, 5), seed=4)
    real = batch.tgt_out != 0
    grads = []
    for run in (lambda m: model.decoder(batch.tgt_in, m)[0], lambda m: advance_loop(model.decoder, batch.tgt_in, m)[0]):
        features = run(model.encode(batch.src, batch.src_lengths))
        loss = F.cross_entropy(model.decoder.project(features[real]), batch.tgt_out[real])
        grads.append(torch.autograd.grad(loss, list(model.parameters())))
    for (name, _), g, e in zip(model.named_parameters(), *grads):
        torch.testing.assert_close(g, e, atol=1e-12, rtol=1e-9, msg=lambda m: f"{name}: {m}")


def test_hand_written_backward_of_the_bahdanau_recurrence_passes_gradcheck():
    """Every input's gradient, through all three outputs (states, contexts and the attention
    weights), against finite differences; one sentence has padded source positions."""
    from attention_course.models.bahdanau_recurrence import BahdanauRecurrence
    g = torch.Generator().manual_seed(11)
    B, T, S, D, A, K = 3, 4, 5, 3, 4, 6
    r = lambda *shape: torch.randn(*shape, generator=g, dtype=torch.float64, requires_grad=True)  # noqa: E731
    mask = torch.ones(B, S, dtype=torch.bool)
    mask[1, 3:] = False
    mask_bias = torch.zeros(B, S, dtype=torch.float64).masked_fill(~mask, float("-inf"))
    inputs = (r(B, T, 3 * D), r(B, D), r(B, S, A), r(B, S, K), mask_bias, r(3 * D + A, D), r(3 * D + A),
              r(3 * D, K), r(A))
    assert torch.autograd.gradcheck(BahdanauRecurrence.apply, inputs, eps=1e-6, atol=1e-7)
    states, contexts, alphas = BahdanauRecurrence.apply(*inputs)
    assert torch.equal(alphas[1, :, 3:], torch.zeros(T, 2, dtype=torch.float64))   # no weight on padding


# ------------------------------------------------------------------------------------------
# Dropout with a torch.rand mask: the distribution and scaling of nn.Dropout
# ------------------------------------------------------------------------------------------

def test_dropout_zeroes_a_fraction_p_and_scales_the_rest():
    from attention_course.models.dropout import Dropout
    torch.manual_seed(0)
    x = torch.rand(400_000, dtype=torch.float64) + 0.5          # no zeros of its own
    x.requires_grad_()
    drop = Dropout(0.2).train()
    y = drop(x)
    kept = y != 0
    n = x.numel()
    assert abs(float(1 - kept.double().mean()) - 0.2) < 5 * (0.2 * 0.8 / n) ** 0.5     # 5 sigma
    torch.testing.assert_close(y[kept], x[kept] / 0.8, atol=0, rtol=1e-15)
    (grad,) = torch.autograd.grad(y.sum(), x)
    torch.testing.assert_close(grad, kept.double() / 0.8, atol=0, rtol=1e-15)
    assert torch.equal(drop.eval()(x), x)                           # off outside training
    assert torch.equal(Dropout(0.0).train()(x), x)
    assert torch.equal(Dropout(1.0).train()(x), torch.zeros_like(x))
    with pytest.raises(ValueError):
        Dropout(1.5)
