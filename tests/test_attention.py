"""Every score function and decoder step against an independent formula written here.

The references below use plain loops over (sentence, step, source position) on small random
float64 tensors and read only the modules' weight matrices, never their methods; the GRU
references use ``torch.nn.GRUCell`` with the same weights.
"""
from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from attention_course.models import (BahdanauAttention, DeepOutput, LocalAttention, LuongAttention,
                                     build_attention, gru_step, masked_softmax)
from attention_course.models.layers import input_part

from helpers_models import one_thread, random_batch, tiny_model  # noqa: F401 (one_thread: autouse fixture)

B, T, S, Q, K, A = 4, 6, 7, 5, 8, 9     # batch, target steps, source length, query, key, attention sizes
LENGTHS = torch.tensor([7, 3, 5, 1])     # real source lengths (the rest is padding)
ATOL = 1e-12


@pytest.fixture(autouse=True)
def _float64():
    """Every tensor and module made in these tests is float64 (restored afterwards)."""
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    with torch.no_grad():
        yield
    torch.set_default_dtype(old)


def inputs(seed=0, query_size=Q, key_size=K, steps=T):
    g = torch.Generator().manual_seed(seed)
    query = torch.randn(B, steps, query_size, generator=g)
    ann = torch.randn(B, S, key_size, generator=g)
    mask = torch.arange(S)[None, :] < LENGTHS[:, None]
    ann = ann * mask[..., None]          # the encoder's annotations are zero at padding
    return query, ann, mask


def randomise(module, seed=1):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=g))
    return module


def softmax_over(scores: dict[int, float]) -> dict[int, float]:
    """Softmax of {position: score} written out: exp(e - max) / Σ exp(e - max)."""
    top = max(scores.values())
    exps = {s: math.exp(e - top) for s, e in scores.items()}
    total = sum(exps.values())
    return {s: v / total for s, v in exps.items()}


def reference_attention(score_fn, query, ann, positions_fn=None, window=None, gaussian=False):
    """alpha[b, i, s] and context[b, i] from a score function of (b, i, s), by loops.

    With ``positions_fn(b, i) -> p_t`` only positions with |s - p_t| <= window take part
    (local attention), and ``gaussian`` multiplies by exp(-(s - p_t)² / (2σ²)), σ = window/2.
    """
    alpha = torch.zeros(B, query.size(1), S)
    for b in range(B):
        for i in range(query.size(1)):
            real = range(int(LENGTHS[b]))
            if positions_fn is not None:
                p = positions_fn(b, i)
                real = [s for s in real if abs(s - p) <= window]
            weights = softmax_over({s: float(score_fn(b, i, s)) for s in real})
            for s, w in weights.items():
                if gaussian:
                    w *= math.exp(-((s - p) ** 2) / (2 * (window / 2) ** 2))
                alpha[b, i, s] = w
    context = torch.einsum("bis,bsk->bik", alpha, ann)
    return alpha, context


def run(module, query, ann, mask, **kw):
    return module(query, module.precompute(ann), ann, mask, **kw)


def check(module, query, ann, mask, alpha_ref, context_ref, **kw):
    context, alpha = run(module, query, ann, mask, **kw)
    torch.testing.assert_close(alpha, alpha_ref, atol=ATOL, rtol=0)
    torch.testing.assert_close(context, context_ref, atol=ATOL, rtol=0)
    assert bool((alpha[~mask[:, None, :].expand_as(alpha)] == 0).all()), "weight on padding must be exactly 0"
    return alpha


# ------------------------------------------------------------------------------------------
# masked softmax
# ------------------------------------------------------------------------------------------

def test_masked_softmax_is_a_softmax_over_real_positions_only():
    _, _, mask = inputs()
    scores = torch.randn(B, S) * 5
    p = masked_softmax(scores, mask)
    for b in range(B):
        n = int(LENGTHS[b])
        ref = softmax_over({s: float(scores[b, s]) for s in range(n)})
        assert p[b, :n].tolist() == pytest.approx([ref[s] for s in range(n)], abs=ATOL)
        assert bool((p[b, n:] == 0).all())
    torch.testing.assert_close(p.sum(-1), torch.ones(B))


# ------------------------------------------------------------------------------------------
# Bahdanau: e_ij = v_aᵀ tanh(W_a s_{i-1} + U_a h_j)
# ------------------------------------------------------------------------------------------

def test_bahdanau_energy_softmax_and_context():
    att = randomise(BahdanauAttention(Q, K, A))
    query, ann, mask = inputs()
    W, U, v = att.W_a.weight, att.U_a.weight, att.v_a.weight[0]

    def energy(b, i, j):
        return v @ torch.tanh(W @ query[b, i] + U @ ann[b, j])

    alpha_ref, ctx_ref = reference_attention(energy, query, ann)
    alpha = check(att, query, ann, mask, alpha_ref, ctx_ref)
    torch.testing.assert_close(alpha.sum(-1), torch.ones(B, T))


# ------------------------------------------------------------------------------------------
# Luong global scores
# ------------------------------------------------------------------------------------------

def luong_score_fn(att: LuongAttention, query, ann):
    if att.score == "dot":                                # h_tᵀ h̄_s
        return lambda b, i, s: query[b, i] @ ann[b, s]
    if att.score == "general":                            # h_tᵀ W_a h̄_s
        W = att.W_a.weight                                # query x key
        return lambda b, i, s: query[b, i] @ W @ ann[b, s]
    W, v = att.W_a.weight, att.v_a.weight[0]              # v_aᵀ tanh(W_a [h_t ; h̄_s])
    return lambda b, i, s: v @ torch.tanh(W @ torch.cat([query[b, i], ann[b, s]]))


@pytest.mark.parametrize("score", ["dot", "general", "concat"])
def test_luong_global_scores(score):
    key = Q if score == "dot" else K
    att = randomise(LuongAttention(score, Q, key, A))
    query, ann, mask = inputs(query_size=Q, key_size=key)
    alpha_ref, ctx_ref = reference_attention(luong_score_fn(att, query, ann), query, ann)
    alpha = check(att, query, ann, mask, alpha_ref, ctx_ref)
    torch.testing.assert_close(alpha.sum(-1), torch.ones(B, T))


def test_luong_rejects_bad_settings():
    with pytest.raises(ValueError, match="score must be one of"):
        LuongAttention("cosine", Q, K)
    with pytest.raises(ValueError, match="equal sizes"):
        LuongAttention("dot", Q, K)
    with pytest.raises(ValueError, match="unknown attention"):
        build_attention("multiplicative", Q, K, A)
    with pytest.raises(ValueError, match="window"):
        LocalAttention("general", Q, K, window=0, predictive=False)


# ------------------------------------------------------------------------------------------
# Luong local attention
# ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("score", ["general", "dot", "concat"])
@pytest.mark.parametrize("first_step", [0, 4])
def test_local_m_window(score, first_step):
    """p_t = t (clamped to the last real word), window |s - p_t| <= D, softmax inside it."""
    D = 2
    key = Q if score == "dot" else K
    att = randomise(LocalAttention(score, Q, key, window=D, predictive=False, attention_size=A))
    query, ann, mask = inputs(query_size=Q, key_size=key)

    def p(b, i):
        return min(first_step + i, int(LENGTHS[b]) - 1)

    alpha_ref, ctx_ref = reference_attention(luong_score_fn(att.align, query, ann), query, ann,
                                             positions_fn=p, window=D)
    alpha = check(att, query, ann, mask, alpha_ref, ctx_ref, step=first_step)
    torch.testing.assert_close(alpha.sum(-1), torch.ones(B, T))   # the window is never empty
    # the window really cuts: sentence 0 (7 words) at step 0 only sees positions 0..2
    if first_step == 0:
        assert bool((alpha[0, 0, D + 1:] == 0).all()) and bool((alpha[0, 0, : D + 1] > 0).all())


@pytest.mark.parametrize("D", [1, 2, 3])
def test_local_p_predicted_position_window_and_gaussian(D):
    """p_t = S · sigmoid(v_pᵀ tanh(W_p h_t)), |s - p_t| <= D, a_t(s) = align · exp(-(s-p_t)²/(2σ²)), σ = D/2."""
    att = randomise(LocalAttention("general", Q, K, window=D, predictive=True, attention_size=A))
    query, ann, mask = inputs()
    Wp, vp = att.W_p.weight, att.v_p.weight[0]
    positions = {}

    def p(b, i):
        S_b = int(LENGTHS[b])
        positions[b, i] = S_b * torch.sigmoid(vp @ torch.tanh(Wp @ query[b, i])).item()
        return positions[b, i]

    alpha_ref, ctx_ref = reference_attention(luong_score_fn(att.align, query, ann), query, ann,
                                             positions_fn=p, window=D, gaussian=True)
    alpha = check(att, query, ann, mask, alpha_ref, ctx_ref)
    got_p = att.positions(query, LENGTHS, 0)
    for (b, i), value in positions.items():
        assert got_p[b, i].item() == pytest.approx(value, abs=ATOL)
        assert 0 <= value <= int(LENGTHS[b])
    assert bool((alpha.sum(-1) <= 1 + 1e-12).all()) and bool((alpha.sum(-1) > 0).all())


def test_local_p_weights_are_a_scaled_windowed_softmax():
    """Cross-check with a second, vectorised formula: positions far from p_t get nothing."""
    D = 2
    att = randomise(LocalAttention("general", Q, K, window=D, predictive=True, attention_size=A), seed=5)
    query, ann, mask = inputs(seed=3)
    _, alpha = run(att, query, ann, mask)
    p = att.positions(query, LENGTHS, 0)                                    # B x T
    s = torch.arange(S, dtype=torch.float64)
    dist = s[None, None, :] - p[..., None]
    assert bool((alpha[dist.abs() > D] == 0).all())
    inside = (dist.abs() <= D) & mask[:, None, :]
    scores = torch.einsum("btq,qk,bsk->bts", query, att.align.W_a.weight, ann).masked_fill(~inside, -torch.inf)
    expected = torch.softmax(scores, -1) * torch.exp(-dist ** 2 / (2 * (D / 2) ** 2))
    torch.testing.assert_close(alpha, expected, atol=ATOL, rtol=0)


# ------------------------------------------------------------------------------------------
# GRU step and deep output
# ------------------------------------------------------------------------------------------

def test_gru_step_equals_torch_gru_cell():
    rnn = randomise(nn.GRU(7, 5, batch_first=True), seed=2)
    cell = nn.GRUCell(7, 5)
    with torch.no_grad():
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(cell, name).copy_(getattr(rnn, f"{name}_l0"))
    g = torch.Generator().manual_seed(0)
    x, h = torch.randn(3, 7, generator=g), torch.randn(3, 5, generator=g)
    torch.testing.assert_close(gru_step(input_part(x, rnn, 0, bias=True), h, rnn), cell(x, h), atol=ATOL, rtol=0)
    # the input projection split into slices (as the decoders do) adds up to the whole
    gi = input_part(x[:, :3], rnn, 0, bias=True) + input_part(x[:, 3:], rnn, 3, bias=False)
    torch.testing.assert_close(gru_step(gi, h, rnn), cell(x, h), atol=ATOL, rtol=0)
    # and a fused nn.GRU over a sequence agrees with repeated steps
    xs = torch.randn(3, 4, 7, generator=g)
    out, _ = rnn(xs, h[None])
    state = h
    for t in range(4):
        state = gru_step(input_part(xs[:, t], rnn, 0, bias=True), state, rnn)
        torch.testing.assert_close(out[:, t], state, atol=1e-10, rtol=0)


def test_deep_output_maxout():
    """t̃ = U_o s + V_o E y + C_o c (+ b);  t_k = max(t̃_{2k-1}, t̃_{2k})  (1-based pairs)."""
    layer = randomise(DeepOutput([4, 3, 2], width=5), seed=4).eval()
    g = torch.Generator().manual_seed(1)
    s, y, c = torch.randn(6, 4, generator=g), torch.randn(6, 3, generator=g), torch.randn(6, 2, generator=g)
    W, bias = layer.inputs.weight, layer.inputs.bias
    U_o, V_o, C_o = W[:, :4], W[:, 4:7], W[:, 7:]
    got = layer(s, y, c)
    assert got.shape == (6, 5)
    for n in range(6):
        t_tilde = U_o @ s[n] + V_o @ y[n] + C_o @ c[n] + bias
        for k in range(5):
            assert got[n, k].item() == pytest.approx(max(t_tilde[2 * k].item(), t_tilde[2 * k + 1].item()), abs=ATOL)


# ------------------------------------------------------------------------------------------
# Decoders re-implemented by hand with the modules' weights
# ------------------------------------------------------------------------------------------

def gru_cell_like(rnn: nn.GRU) -> nn.GRUCell:
    cell = nn.GRUCell(rnn.input_size, rnn.hidden_size)
    with torch.no_grad():
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(cell, name).copy_(getattr(rnn, f"{name}_l0"))
    return cell


def attention_row(att, h, ann_b, length, t):
    """Weights of one query over one sentence's real words, by the formulas of the paper."""
    kind = type(att).__name__
    ann_b = ann_b[:length]
    if kind == "BahdanauAttention":
        scores = {s: (att.v_a.weight[0] @ torch.tanh(att.W_a.weight @ h + att.U_a.weight @ ann_b[s])).item()
                  for s in range(length)}
        return softmax_over(scores)
    if kind == "LuongAttention":
        fn = luong_score_fn(att, h[None, None], ann_b[None])
        return softmax_over({s: fn(0, 0, s).item() for s in range(length)})
    # local
    fn = luong_score_fn(att.align, h[None, None], ann_b[None])
    if att.predictive:
        p = length * torch.sigmoid(att.v_p.weight[0] @ torch.tanh(att.W_p.weight @ h)).item()
    else:
        p = min(t, length - 1)
    inside = [s for s in range(length) if abs(s - p) <= att.window]
    w = softmax_over({s: fn(0, 0, s).item() for s in inside})
    if att.predictive:
        sigma = att.window / 2
        w = {s: v * math.exp(-((s - p) ** 2) / (2 * sigma ** 2)) for s, v in w.items()}
    return w


def reference_decode(model, src, lengths, tgt_in):
    """Logits B x T x V and attention B x T x S of a Bahdanau or Luong decoder, step by step by hand."""
    enc = model.encoder(src, lengths)
    dec = model.decoder
    E, out_bias = dec.embedding.weight, dec.project.bias
    cell = gru_cell_like(dec.rnn)
    Bn, Tn, Sn = src.size(0), tgt_in.size(1), src.size(1)
    logits = torch.zeros(Bn, Tn, E.size(0))
    alphas = torch.zeros(Bn, Tn, Sn)
    bahdanau = type(dec).__name__ == "BahdanauDecoder"
    for b in range(Bn):
        n = int(lengths[b])
        ann = enc.annotations[b]
        if bahdanau:   # s_0 = tanh(W_s ←h_1)
            s = torch.tanh(dec.init.W_s.weight @ ann[0, ann.size(-1) // 2:] + dec.init.W_s.bias)
        else:          # h_0 = tanh(W_s [→h_Tx ; ←h_1]),  h̃_0 = 0
            s = torch.tanh(dec.init.W_s.weight @ enc.final[b] + dec.init.W_s.bias)
            h_tilde = torch.zeros_like(s)
        for t in range(Tn):
            y = E[tgt_in[b, t]]
            if bahdanau:
                w = attention_row(dec.attention, s, ann, n, t)        # query: s_{i-1}
                c = sum(w[j] * ann[j] for j in w)
                s = cell(torch.cat([y, c])[None], s[None])[0]         # s_i = GRU([E y_{i-1}; c_i], s_{i-1})
                W = dec.output.inputs.weight
                t_tilde = W @ torch.cat([s, y, c]) + dec.output.inputs.bias
                feat = t_tilde.view(-1, 2).max(-1).values             # maxout over pairs
            else:
                x = torch.cat([y, h_tilde]) if dec.input_feeding else y
                s = cell(x[None], s[None])[0]                          # h_t
                w = attention_row(dec.attention, s, ann, n, t)        # query: h_t
                c = sum(w[j] * ann[j] for j in w)
                h_tilde = torch.tanh(dec.W_c.weight @ torch.cat([c, s]))   # h̃_t = tanh(W_c [c_t; h_t])
                feat = dec.W_b.weight @ h_tilde
            logits[b, t] = E @ feat + out_bias
            for j, v in w.items():
                alphas[b, t, j] = v
    return logits, alphas


@pytest.mark.parametrize("variant", ["bahdanau", "luong-dot", "luong-general", "luong-concat",
                                     "luong-general-nofeed", "luong-local-m", "luong-local-p"])
def test_decoder_matches_a_hand_written_step_loop(variant):
    """Teacher forcing (``forward``) and ``step`` both equal the loop written out here,
    including h̃_t = tanh(W_c [c_t; h_t]) and input feeding ([E y_{t-1}; h̃_{t-1}], h̃_0 = 0)."""
    model = tiny_model(variant, seed=3)
    batch = random_batch(src_lengths=(5, 3, 7, 1), tgt_lengths=(6, 2, 4, 5), seed=11)
    with torch.no_grad():
        ref_logits, ref_alpha = reference_decode(model, batch.src, batch.src_lengths, batch.tgt_in)
        logits, alpha = model(batch.src, batch.src_lengths, batch.tgt_in)
        torch.testing.assert_close(logits, ref_logits, atol=1e-10, rtol=0)
        torch.testing.assert_close(alpha, ref_alpha, atol=1e-10, rtol=0)
        memory = model.encode(batch.src, batch.src_lengths)
        state = model.decoder.initial_state(memory)
        for t in range(batch.tgt_in.size(1)):
            step_logits, state, a = model.decoder.step(batch.tgt_in[:, t], state, memory, t)
            torch.testing.assert_close(step_logits, ref_logits[:, t], atol=1e-10, rtol=0)
            torch.testing.assert_close(a, ref_alpha[:, t], atol=1e-10, rtol=0)


def test_input_feeding_really_feeds_the_previous_attentional_state():
    """Changing h̃_{t-1} in the state changes step t's output only with input feeding."""
    model = tiny_model("luong-general", seed=2)
    batch = random_batch(seed=4)
    with torch.no_grad():
        memory = model.encode(batch.src, batch.src_lengths)
        h0, h_tilde0 = model.decoder.initial_state(memory)
        assert bool((h_tilde0 == 0).all()), "h̃_0 must be 0"
        prev = batch.tgt_in[:, 0]
        a, _, _ = model.decoder.step(prev, (h0, h_tilde0), memory, 0)
        b, _, _ = model.decoder.step(prev, (h0, h_tilde0 + 0.5), memory, 0)
        assert not torch.allclose(a, b)
        assert model.decoder.rnn.input_size == 8 + 12      # [E y ; h̃]
        assert tiny_model("luong-general-nofeed").decoder.rnn.input_size == 8
