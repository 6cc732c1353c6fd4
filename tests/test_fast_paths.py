"""The training fast paths against plain PyTorch: the blockwise projected cross-entropy equals
``F.cross_entropy(F.linear(t, W, b), y)`` in value and gradients, the fused Bahdanau
teacher-forcing loop equals a loop over ``_advance`` written here, and the opt-in bfloat16
projection (``bf16_projection``) stays close to float32 and still trains.
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
