"""attention_course.self_attention against torch's reference implementations and a plain formula."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from attention_course.models.attention import LuongAttention
from attention_course.self_attention import SelfAttention, causal_mask, scaled_dot_product_attention


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def plain_attention(q: np.ndarray, k: np.ndarray, v: np.ndarray, allowed: np.ndarray | None = None):
    """Eq. 1 written out with loops over queries, in float64 NumPy (independent of torch)."""
    n_q, d_k = q.shape
    out, weights = np.zeros((n_q, v.shape[1])), np.zeros((n_q, k.shape[0]))
    for i in range(n_q):
        s = np.array([q[i] @ k[j] / math.sqrt(d_k) for j in range(k.shape[0])])
        if allowed is not None:
            s = np.where(allowed[i], s, -np.inf)
        e = np.exp(s - s.max())
        weights[i] = e / e.sum()
        out[i] = weights[i] @ v
    return out, weights


def test_matches_the_plain_formula():
    q, k, v = torch.randn(4, 8, dtype=torch.float64), torch.randn(6, 8, dtype=torch.float64), \
        torch.randn(6, 5, dtype=torch.float64)
    out, w = scaled_dot_product_attention(q, k, v)
    ref_out, ref_w = plain_attention(q.numpy(), k.numpy(), v.numpy())
    np.testing.assert_allclose(out.numpy(), ref_out, atol=1e-12)
    np.testing.assert_allclose(w.numpy(), ref_w, atol=1e-12)
    np.testing.assert_allclose(w.sum(-1).numpy(), 1.0)


def test_matches_the_plain_formula_with_a_mask():
    q, k, v = (torch.randn(5, 4, dtype=torch.float64) for _ in range(3))
    allowed = causal_mask(5)
    out, w = scaled_dot_product_attention(q, k, v, allowed)
    ref_out, ref_w = plain_attention(q.numpy(), k.numpy(), v.numpy(), allowed.numpy())
    np.testing.assert_allclose(out.numpy(), ref_out, atol=1e-12)
    np.testing.assert_allclose(w.numpy(), ref_w, atol=1e-12)
    assert (w.triu(1) == 0).all()


@pytest.mark.parametrize("masked", [False, True])
def test_matches_torch_sdpa(masked):
    q, k, v = torch.randn(2, 3, 7, 16), torch.randn(2, 3, 9, 16), torch.randn(2, 3, 9, 10)
    mask = torch.rand(2, 1, 7, 9) > 0.3 if masked else None
    if masked:
        mask[..., 0] = True                      # every query sees at least one key
    out, _ = scaled_dot_product_attention(q, k, v, mask)
    ref = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-5)


def test_scale_one_is_luong_dot():
    """Luong's dot attention: q = h_t, k = v = h̄_s and no scaling."""
    h_t, h_bar = torch.randn(2, 3, 12), torch.randn(2, 5, 12)
    src_mask = torch.tensor([[True] * 5, [True, True, True, False, False]])
    luong = LuongAttention("dot", 12, 12)
    context, alpha = luong(h_t, luong.precompute(h_bar), h_bar, src_mask)
    out, w = scaled_dot_product_attention(h_t, h_bar, h_bar, src_mask[:, None, :], scale=1.0)
    torch.testing.assert_close(w, alpha)
    torch.testing.assert_close(out, context)
    ref = F.scaled_dot_product_attention(h_t, h_bar, h_bar, attn_mask=src_mask[:, None, :], scale=1.0)
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-5)


def test_causal_mask():
    m = causal_mask(4)
    assert m.dtype == torch.bool and m.shape == (4, 4)
    assert m.tolist() == [[j <= i for j in range(4)] for i in range(4)]
    with pytest.raises(ValueError):
        causal_mask(0)


@pytest.mark.parametrize("bad", [
    lambda: scaled_dot_product_attention(torch.randn(3, 4), torch.randn(5, 6), torch.randn(5, 2)),
    lambda: scaled_dot_product_attention(torch.randn(3, 4), torch.randn(5, 4), torch.randn(6, 2)),
    lambda: scaled_dot_product_attention(torch.randn(4), torch.randn(5, 4), torch.randn(5, 2)),
    lambda: scaled_dot_product_attention(torch.randn(3, 4), torch.randn(5, 4), torch.randn(5, 2),
                                         torch.ones(3, 5)),
    lambda: scaled_dot_product_attention(torch.randn(3, 4), torch.randn(5, 4), torch.randn(5, 2),
                                         torch.ones(2, 5, dtype=torch.bool)),
    lambda: scaled_dot_product_attention(torch.randn(3, 4), torch.randn(5, 4), torch.randn(5, 2),
                                         torch.zeros(3, 5, dtype=torch.bool)),
    lambda: SelfAttention(10, heads=3),
    lambda: SelfAttention(8)(torch.randn(2, 3, 6)),
    lambda: SelfAttention(8)(torch.randn(2, 3, 8), mask=torch.ones(2, 4, dtype=torch.bool)),
])
def test_bad_input_is_a_clear_value_error(bad):
    with pytest.raises(ValueError):
        bad()


def test_single_head_is_eq1_on_projections():
    x = torch.randn(1, 6, 8)
    sa = SelfAttention(8)
    out, w = sa(x)
    assert sa.W_o is None and w.shape == (1, 1, 6, 6)
    X = x[0].double().numpy()
    Wq, Wk, Wv = (m.weight.detach().double().numpy() for m in (sa.W_q, sa.W_k, sa.W_v))
    ref_out, ref_w = plain_attention(X @ Wq.T, X @ Wk.T, X @ Wv.T)
    np.testing.assert_allclose(out[0].detach().numpy(), ref_out, atol=1e-5)
    np.testing.assert_allclose(w[0, 0].detach().numpy(), ref_w, atol=1e-6)


@pytest.mark.parametrize("heads", [1, 4])
@pytest.mark.parametrize("causal", [False, True])
def test_matches_torch_multihead_attention(heads, causal):
    d, n = 16, 7
    x = torch.randn(3, n, d)
    lengths = torch.tensor([7, 4, 1])
    mask = torch.arange(n)[None, :] < lengths[:, None]          # True at real words
    sa = SelfAttention(d, heads=heads)
    mha = nn.MultiheadAttention(d, heads, bias=False, batch_first=True)
    with torch.no_grad():
        mha.in_proj_weight.copy_(torch.cat([sa.W_q.weight, sa.W_k.weight, sa.W_v.weight]))
        mha.out_proj.weight.copy_(sa.W_o.weight if sa.W_o is not None else torch.eye(d))
    out, w = sa(x, mask=mask, causal=causal)
    ref, ref_w = mha(x, x, x, key_padding_mask=~mask, need_weights=True, average_attn_weights=False,
                     attn_mask=~causal_mask(n) if causal else None)
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(w, ref_w, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("heads", [1, 2])
def test_padding_changes_nothing_at_real_words(heads):
    sa = SelfAttention(8, heads=heads)
    x = torch.randn(1, 4, 8)
    alone, w_alone = sa(x)
    padded = torch.cat([x, torch.randn(1, 3, 8) * 100], dim=1)  # junk in the padding
    mask = torch.tensor([[True] * 4 + [False] * 3])
    out, w = sa(padded, mask=mask)
    torch.testing.assert_close(out[:, :4], alone, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(w[..., :4, :4], w_alone, atol=1e-6, rtol=1e-5)
    assert (w[..., 4:] == 0).all()


def test_causal_output_ignores_the_future():
    sa = SelfAttention(8, heads=2)
    x = torch.randn(1, 5, 8)
    changed = x.clone()
    changed[:, 3:] = torch.randn(1, 2, 8)
    a, _ = sa(x, causal=True)
    b, _ = sa(changed, causal=True)
    torch.testing.assert_close(a[:, :3], b[:, :3])
    assert not torch.allclose(a[:, 3:], b[:, 3:])


def test_self_attention_is_permutation_equivariant():
    sa = SelfAttention(8, heads=2)
    x = torch.randn(1, 6, 8)
    perm = torch.tensor([3, 0, 5, 1, 4, 2])
    a, _ = sa(x)
    b, _ = sa(x[:, perm])
    torch.testing.assert_close(b, a[:, perm], atol=1e-6, rtol=1e-5)


def test_scaling_keeps_the_variance_near_one():
    g = torch.Generator().manual_seed(0)
    d = 256
    q, k = torch.randn(20000, d, generator=g), torch.randn(20000, d, generator=g)
    dots = (q * k).sum(-1)
    assert abs(float(dots.var()) / d - 1) < 0.05
    assert abs(float((dots / math.sqrt(d)).var()) - 1) < 0.05
