"""Numerical edge cases of the vocabulary projection's cross-entropy and of attention:
logits in the thousands (exp would overflow without the max subtraction), bfloat16 probabilities
that underflow to 0 (log 0 = -inf without the clamp), and which path runs (evaluation computes
no gradients; 2-D inputs never build the full logits with F.cross_entropy)."""
from __future__ import annotations

import math
import warnings

import pytest
import torch
import torch.nn.functional as F

from attention_course.models import layers
from attention_course.models.attention import masked_softmax
from attention_course.models.layers import projected_cross_entropy

from helpers_models import one_thread  # noqa: F401 (autouse fixture)

ROWS, WIDTH, VOCAB = 9, 6, 17
TINY_LOG = -math.log(torch.finfo(torch.float32).tiny)       # 87.34: the largest -log p a bf16 row can give


def huge_inputs(seed=0, scale=100.0, requires_grad=True):
    """float32 logits of a few thousand: exp() of them overflows, softmax of them does not."""
    g = torch.Generator().manual_seed(seed)
    t = torch.randn(ROWS, WIDTH, generator=g) * scale
    W = torch.randn(VOCAB, WIDTH, generator=g)
    b = torch.randn(VOCAB, generator=g) * scale
    y = torch.randint(0, VOCAB, (ROWS,), generator=g)
    return [x.requires_grad_(requires_grad) for x in (t, W, b)] + [y]


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("chunk", [None, 4])
def test_huge_logits_give_f_cross_entropys_loss_and_gradients(reduction, chunk):
    t, W, b, y = huge_inputs()
    assert float(F.linear(t, W, b).detach().abs().max()) > 500, "the logits must be large enough to overflow exp()"
    expected = F.cross_entropy(F.linear(t, W, b), y, reduction=reduction)
    expected_grads = torch.autograd.grad(expected, (t, W, b))
    got = projected_cross_entropy(t, W, b, y, reduction=reduction, chunk=chunk)
    got_grads = torch.autograd.grad(got, (t, W, b))
    assert torch.isfinite(got) and float(got.detach()) > 100
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-3)
    for g, e in zip(got_grads, expected_grads):
        torch.testing.assert_close(g, e, rtol=1e-4, atol=1e-3)
    with torch.no_grad():                                              # the evaluation path
        torch.testing.assert_close(projected_cross_entropy(t, W, b, y, reduction=reduction, chunk=chunk),
                                   expected, rtol=1e-5, atol=1e-3)


def unlikely_target_inputs(seed=1):
    """Modest logits, except that the target word (the same in every row) has a bias of -600:
    its probability, about e^-600, is 0 in bfloat16 (and in float32)."""
    t, W, b, _ = huge_inputs(seed=seed, scale=1.0, requires_grad=False)
    b[5] = -600.0
    y = torch.full((ROWS,), 5)
    return [x.requires_grad_() for x in (t, W, b)] + [y]


def test_bf16_probabilities_that_underflow_are_clamped_not_infinite():
    """The loss is then -log(float32 tiny) per word (finite), the gradients still softmax - one-hot."""
    t, W, b, y = unlikely_target_inputs()
    logits = F.linear(t, W, b)
    got = projected_cross_entropy(t, W, b, y, reduction="sum", dtype=torch.bfloat16)
    assert got.dtype == torch.float32 and torch.isfinite(got)
    assert float(got.detach()) == pytest.approx(ROWS * TINY_LOG, rel=1e-6)
    grads = torch.autograd.grad(got, (t, W, b))
    expected = torch.autograd.grad(F.cross_entropy(logits, y, reduction="sum"), (t, W, b))
    for g, e in zip(grads, expected):
        assert g.dtype == torch.float32 and bool(torch.isfinite(g).all())
        assert float((g - e).norm() / e.norm()) < 2e-2                  # bf16 keeps 8 bits: about 0.5 %
    # where the target is likely, the bf16 loss is the float32 one to bf16 precision
    y_best = logits.detach().argmax(-1)
    mixed = projected_cross_entropy(t, W, b, y_best, reduction="sum", dtype=torch.bfloat16)
    exact = F.cross_entropy(logits, y_best, reduction="sum")
    assert float(mixed.detach()) == pytest.approx(float(exact.detach()), rel=2e-2)


def test_bf16_is_used_only_when_asked_and_only_with_gradients():
    """dtype=bfloat16 on float32 inputs takes the mixed path (the clamp shows: a capped loss);
    dtype=float32 and evaluation (no gradients) take the exact float32 path."""
    t, W, b, y = unlikely_target_inputs(seed=2)
    exact = F.cross_entropy(F.linear(t, W, b), y, reduction="sum")
    assert float(exact.detach()) > 5 * ROWS * TINY_LOG
    capped = projected_cross_entropy(t, W, b, y, reduction="sum", dtype=torch.bfloat16)
    assert float(capped.detach()) == pytest.approx(ROWS * TINY_LOG, rel=1e-6)
    same = projected_cross_entropy(t, W, b, y, reduction="sum", dtype=torch.float32)
    torch.testing.assert_close(same, exact, rtol=1e-5, atol=1e-3)
    with torch.no_grad():
        torch.testing.assert_close(projected_cross_entropy(t, W, b, y, reduction="sum", dtype=torch.bfloat16),
                                   exact, rtol=1e-5, atol=1e-3)


def test_evaluation_computes_no_gradients(monkeypatch):
    """Under no_grad, or when nothing requires a gradient, the blockwise sum runs without gradient
    buffers; with a gradient needed it fills them."""
    calls = []
    original = layers._projected_nll_sum

    def spy(t, weight, bias, target, chunk, grads):
        calls.append(grads is None)
        return original(t, weight, bias, target, chunk, grads)

    monkeypatch.setattr(layers, "_projected_nll_sum", spy)
    t, W, b, y = huge_inputs(seed=3, scale=1.0)
    with torch.no_grad():
        projected_cross_entropy(t, W, b, y)
    plain = [x.detach() for x in (t, W, b)]
    projected_cross_entropy(*plain, y)
    assert calls == [True, True]
    projected_cross_entropy(t, W, b, y)
    assert calls == [True, True, False]


def test_two_dimensional_inputs_never_build_the_logits_with_f_cross_entropy(monkeypatch):
    """The blockwise path is taken for rows x d inputs with mean or sum (F.cross_entropy is
    the plain path, for reduction="none")."""
    t, W, b, y = huge_inputs(seed=4, scale=1.0)
    expected = {r: F.cross_entropy(F.linear(t, W, b), y, reduction=r) for r in ("mean", "sum", "none")}

    def refuse(*args, **kwargs):
        raise AssertionError("F.cross_entropy called on the blockwise path")

    monkeypatch.setattr(layers.F, "cross_entropy", refuse)
    for reduction in ("mean", "sum"):
        got = projected_cross_entropy(t, W, b, y, reduction=reduction)
        if reduction == "sum":
            assert type(got.grad_fn).__name__.startswith("_ProjectedCrossEntropy")
        torch.testing.assert_close(got, expected[reduction])
        with torch.no_grad():
            torch.testing.assert_close(projected_cross_entropy(t, W, b, y, reduction=reduction), expected[reduction])
    monkeypatch.undo()
    torch.testing.assert_close(projected_cross_entropy(t, W, b, y, reduction="none"), expected["none"])


def test_masked_softmax_of_huge_scores():
    scores = torch.tensor([[1e4, -1e4, 3e4, 0.0], [-5e4, -5e4 - 1, 7.0, 1e30]])
    mask = torch.tensor([[True, True, False, True], [True, True, False, False]])
    p = masked_softmax(scores, mask)
    assert bool(torch.isfinite(p).all())
    torch.testing.assert_close(p[0], torch.tensor([1.0, 0.0, 0.0, 0.0]))
    torch.testing.assert_close(p[1], torch.tensor([1 / (1 + math.exp(-1)), math.exp(-1) / (1 + math.exp(-1)), 0.0, 0.0]))


@pytest.mark.parametrize("dtype", [None, torch.bfloat16])
@pytest.mark.parametrize("chunk", [2, 4, 5])
def test_the_blockwise_results_are_written_in_place_without_warnings(chunk, dtype):
    """Each block's softmax (bf16 path) and d loss / d t (float32 path) go straight into their rows
    of a preallocated buffer (out=rows): no resized outputs (PyTorch warns when an out= tensor has
    the wrong shape)."""
    t, W, b, y = huge_inputs(seed=5, scale=1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss = projected_cross_entropy(t, W, b, y, reduction="sum", chunk=chunk, dtype=dtype)
        got = torch.autograd.grad(loss, (t, W, b))
    expected_loss = F.cross_entropy(F.linear(t, W, b), y, reduction="sum")
    expected = torch.autograd.grad(expected_loss, (t, W, b))
    tol = dict(rtol=1e-5, atol=1e-5) if dtype is None else dict(rtol=2e-2, atol=2e-2)
    torch.testing.assert_close(loss, expected_loss, **tol)
    for g, e in zip(got, expected):
        torch.testing.assert_close(g, e, **tol)


@pytest.mark.parametrize("dtype", [None, torch.bfloat16])
@pytest.mark.parametrize("needs", [(True, False, False), (False, True, False), (False, False, True),
                                   (True, True, False), (False, True, True), (True, False, True)])
def test_gradients_for_any_subset_of_the_inputs(needs, dtype):
    """Whichever of t, W and b need a gradient, each gets its own (as from F.cross_entropy)."""
    t, W, b, y = huge_inputs(seed=6, scale=1.0, requires_grad=False)
    inputs = [x.requires_grad_(n) for x, n in zip((t, W, b), needs)]
    wanted = [x for x in inputs if x.requires_grad]
    got = torch.autograd.grad(projected_cross_entropy(t, W, b, y, chunk=4, dtype=dtype), wanted)
    expected = torch.autograd.grad(F.cross_entropy(F.linear(t, W, b), y), wanted)
    tol = dict(rtol=1e-5, atol=1e-6) if dtype is None else dict(rtol=2e-2, atol=2e-3)
    for g, e in zip(got, expected):
        assert g is not None and g.shape == e.shape
        torch.testing.assert_close(g, e, **tol)


def test_bf16_gradients_come_back_in_float32_and_are_scaled_there():
    """The mixed path rounds each gradient to bfloat16 once, inside its matrix product, and hands
    it back as float32: the backward pass then scales it in float32 (a 0-dim float32 upstream
    gradient times a bfloat16 tensor would stay bfloat16 and round a second time). So the mean
    loss' gradients are exactly the summed loss' divided by the number of rows (ROWS = 9: 1/9
    is not a power of two, a second rounding would show)."""
    t, W, b, y = huge_inputs(seed=7, scale=1.0)
    summed = torch.autograd.grad(projected_cross_entropy(t, W, b, y, reduction="sum", dtype=torch.bfloat16),
                                 (t, W, b))
    mean = torch.autograd.grad(projected_cross_entropy(t, W, b, y, reduction="mean", dtype=torch.bfloat16),
                               (t, W, b))
    for name, s, m in zip(("t", "W", "b"), summed, mean):
        assert m.dtype == s.dtype == torch.float32, name
        torch.testing.assert_close(m, s / ROWS, rtol=1e-6, atol=0, msg=f"d loss / d {name}")
