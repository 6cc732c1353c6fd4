"""Every model setting reaches the modules built from it, and changes what they compute.

For each setting of ``ModelConfig`` (decoder, attention, input_feeding, window, local_score,
emb_size, hidden_size, decoder_size, attention_size, dropout) the built model is inspected
(module types, weight shapes, the attention's own settings) and, where a setting changes
behaviour without changing a shape (the window D, the align score of local attention, the step
at which local-m starts), the behaviour is checked: teacher forcing equals step-by-step decoding
for every combination, and local-m's weights lie inside [t - D, t + D] from the first step on.
"""
from __future__ import annotations

import itertools

import pytest
import torch

from attention_course.models import (BahdanauAttention, BahdanauDecoder, ContextEveryStepDecoder, ContextInitDecoder,
                                     LocalAttention, LuongAttention, LuongDecoder, ModelConfig, build_model)
from attention_course.models.dropout import Dropout

from helpers_models import SRC_VOCAB, TGT_VOCAB, one_thread, random_batch  # noqa: F401 (autouse fixture)

# sizes all different from each other, so a size that reaches the wrong place shows
SIZES = dict(emb_size=6, hidden_size=5, decoder_size=10, attention_size=7)


def build(**settings):
    torch.manual_seed(0)
    cfg = ModelConfig(**{**SIZES, "dropout": 0.0, **settings})
    model = build_model(cfg, SRC_VOCAB, TGT_VOCAB).double()
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() > 1:
                p.mul_(2.0)            # sharper attention than the default initialisation
    return model.eval()


# ------------------------------------------------------------------------------------------
# Shapes and module settings
# ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("decoder", ["context-init", "context-every-step", "bahdanau", "luong"])
def test_sizes_reach_the_encoder_and_the_decoder(decoder):
    model = build(decoder=decoder, attention="concat")
    E, H, D, A = SIZES["emb_size"], SIZES["hidden_size"], SIZES["decoder_size"], SIZES["attention_size"]
    enc, dec = model.encoder, model.decoder
    assert tuple(enc.embedding.weight.shape) == (SRC_VOCAB, E)
    assert (enc.rnn.input_size, enc.rnn.hidden_size, enc.rnn.bidirectional) == (E, H, True)
    assert tuple(dec.embedding.weight.shape) == (TGT_VOCAB, E)
    assert dec.project.embedding is dec.embedding and tuple(dec.project.bias.shape) == (TGT_VOCAB,)
    assert dec.rnn.hidden_size == D
    kind = {"context-init": ContextInitDecoder, "context-every-step": ContextEveryStepDecoder,
            "bahdanau": BahdanauDecoder, "luong": LuongDecoder}[decoder]
    assert type(dec) is kind
    if decoder == "bahdanau":      # s_0 = tanh(W_s ←h_1); GRU([E y; c]); maxout over [s; E y; c]
        assert (dec.init.W_s.in_features, dec.init.W_s.out_features) == (H, D)
        assert dec.rnn.input_size == E + 2 * H
        assert (dec.output.inputs.in_features, dec.output.inputs.out_features) == (D + E + 2 * H, 2 * E)
        att = dec.attention
        assert type(att) is BahdanauAttention
        assert tuple(att.W_a.weight.shape) == (A, D) and tuple(att.U_a.weight.shape) == (A, 2 * H)
        assert tuple(att.v_a.weight.shape) == (1, A)
    elif decoder == "luong":       # h_0 = tanh(W_s [→h ; ←h]); h̃ = tanh(W_c [c ; h]); W_b: D -> E
        assert (dec.init.W_s.in_features, dec.init.W_s.out_features) == (2 * H, D)
        assert tuple(dec.W_c.weight.shape) == (D, 2 * H + D) and tuple(dec.W_b.weight.shape) == (E, D)
        assert dec.rnn.input_size == E + D
    else:
        ctx = 2 * H if decoder == "context-every-step" else 0
        assert (dec.init.W_s.in_features, dec.init.W_s.out_features) == (2 * H, D)
        assert dec.rnn.input_size == E + ctx
        assert dec.output.inputs.in_features == D + E + ctx and dec.output.inputs.out_features == 2 * E


@pytest.mark.parametrize("attention", ["dot", "general", "concat", "local-m", "local-p"])
def test_luong_attention_settings_reach_the_attention_module(attention):
    D, H, A = SIZES["decoder_size"], SIZES["hidden_size"], SIZES["attention_size"]
    key = 2 * H
    if attention == "dot":
        model = build(decoder="luong", attention="dot", hidden_size=D // 2)   # dot needs key = query size
        assert type(model.decoder.attention) is LuongAttention and model.decoder.attention.score == "dot"
        assert not any(p.dim() for p in model.decoder.attention.parameters())
        return
    model = build(decoder="luong", attention=attention, window=3, local_score="concat")
    att = model.decoder.attention
    params = {name: tuple(p.shape) for name, p in att.named_parameters()}   # the paper's formulas: no biases
    if attention == "general":
        assert params == {"W_a.weight": (D, key)}
    elif attention == "concat":
        assert params == {"W_a.weight": (A, D + key), "v_a.weight": (1, A)}
    elif attention == "local-m":
        assert params == {"align.W_a.weight": (A, D + key), "align.v_a.weight": (1, A)}
    else:
        assert params == {"align.W_a.weight": (A, D + key), "align.v_a.weight": (1, A), "W_p.weight": (A, D),
                          "v_p.weight": (1, A)}
    if attention.startswith("local"):
        assert type(att) is LocalAttention
        assert att.window == 3 and att.predictive == (attention == "local-p")
        assert att.align.score == "concat"
        assert tuple(att.align.W_a.weight.shape) == (A, D + key) and tuple(att.align.v_a.weight.shape) == (1, A)
        if attention == "local-p":      # p_t = S · sigmoid(v_pᵀ tanh(W_p h_t))
            assert tuple(att.W_p.weight.shape) == (A, D) and tuple(att.v_p.weight.shape) == (1, A)
        else:
            assert not hasattr(att, "W_p")
    else:
        assert type(att) is LuongAttention and att.score == attention
        W = att.W_a.weight
        assert tuple(W.shape) == ((D, key) if attention == "general" else (A, D + key))


def test_attention_sizes_default_to_the_query_size():
    """Built directly, without attention_size: concat's W_a and local-p's W_p are query-sized."""
    c = LuongAttention("concat", 5, 8)
    assert {n: tuple(p.shape) for n, p in c.named_parameters()} == {"W_a.weight": (5, 13), "v_a.weight": (1, 5)}
    p = LocalAttention("general", 5, 8, window=2, predictive=True)
    assert {n: tuple(p.shape) for n, p in p.named_parameters()} == {"align.W_a.weight": (5, 8), "W_p.weight": (5, 5),
                                                                     "v_p.weight": (1, 5)}
    b = BahdanauAttention(5, 8, 3)
    assert {n: tuple(p.shape) for n, p in b.named_parameters()} == {"W_a.weight": (3, 5), "U_a.weight": (3, 8),
                                                                     "v_a.weight": (1, 3)}


@pytest.mark.parametrize("score", ["dot", "general", "concat"])
def test_the_local_score_setting_reaches_the_align_function(score):
    hidden = SIZES["decoder_size"] // 2 if score == "dot" else SIZES["hidden_size"]
    model = build(decoder="luong", attention="local-p", local_score=score, hidden_size=hidden, window=4)
    att = model.decoder.attention
    assert att.align.score == score and att.window == 4
    assert hasattr(att.align, "W_a") == (score != "dot") and hasattr(att.align, "v_a") == (score == "concat")


@pytest.mark.parametrize("feed", [True, False])
def test_input_feeding_setting(feed):
    model = build(decoder="luong", attention="general", input_feeding=feed)
    dec = model.decoder
    assert dec.input_feeding is feed
    assert dec.rnn.input_size == SIZES["emb_size"] + (SIZES["decoder_size"] if feed else 0)
    batch = random_batch(src_lengths=(3, 5), tgt_lengths=(2, 2))
    memory = model.encode(batch.src, batch.src_lengths)
    state = dec.initial_state(memory)
    if feed:                       # (h_0, h̃_0 = 0)
        assert isinstance(state, tuple) and len(state) == 2 and bool((state[1] == 0).all())
    else:
        assert isinstance(state, torch.Tensor) and tuple(state.shape) == (2, SIZES["decoder_size"])


@pytest.mark.parametrize("decoder, attention", [("bahdanau", "general"), ("luong", "general"), ("luong", "local-p"),
                                                ("context-init", "general"), ("context-every-step", "general")])
def test_the_dropout_rate_reaches_every_dropout_module(decoder, attention):
    torch.manual_seed(0)
    model = build_model(ModelConfig(**SIZES, decoder=decoder, attention=attention, dropout=0.35), SRC_VOCAB, TGT_VOCAB)
    rates = {name: m.p for name, m in model.named_modules() if isinstance(m, torch.nn.Dropout)}
    expected = {"encoder.dropout", "decoder.dropout"} | ({"decoder.output.dropout"} if decoder != "luong" else set())
    assert set(rates) == expected and set(rates.values()) == {0.35}
    assert all(isinstance(m, Dropout) for m in model.modules() if isinstance(m, torch.nn.Dropout))


def test_the_attention_size_changes_the_bahdanau_and_concat_weights_only():
    for size in (3, 9):
        b = build(decoder="bahdanau", attention_size=size).decoder.attention
        assert b.W_a.out_features == b.U_a.out_features == b.v_a.in_features == size
        c = build(decoder="luong", attention="concat", attention_size=size).decoder.attention
        assert c.W_a.out_features == c.v_a.in_features == size
        p = build(decoder="luong", attention="local-p", attention_size=size).decoder.attention
        assert p.W_p.out_features == p.v_p.in_features == size
        g = build(decoder="luong", attention="general", attention_size=size).decoder.attention
        assert tuple(g.W_a.weight.shape) == (SIZES["decoder_size"], 2 * SIZES["hidden_size"])


# ------------------------------------------------------------------------------------------
# Behaviour: every Luong combination decodes the same way teacher-forced and step by step
# ------------------------------------------------------------------------------------------

LUONG = [(a, f, s) for a, f, s in itertools.product(["general", "concat", "local-m", "local-p"], [True, False],
                                                     ["general", "concat"])
         if a.startswith("local") or s == "general"]


def teacher_forced_and_stepped(model, batch):
    with torch.no_grad():
        logits, attn = model(batch.src, batch.src_lengths, batch.tgt_in)
        memory = model.encode(batch.src, batch.src_lengths)
        state = model.decoder.initial_state(memory)
        steps, alphas = [], []
        for t in range(batch.tgt_in.size(1)):
            out, state, alpha = model.decoder.step(batch.tgt_in[:, t], state, memory, t)
            steps.append(out), alphas.append(alpha)
    return logits, attn, torch.stack(steps, 1), torch.stack(alphas, 1)


@pytest.mark.parametrize("attention, feed, score", LUONG, ids=[f"{a}-{'feed' if f else 'nofeed'}-{s}" for a, f, s in LUONG])
def test_teacher_forcing_equals_step_by_step_for_every_luong_setting(attention, feed, score):
    model = build(decoder="luong", attention=attention, input_feeding=feed, local_score=score, window=1)
    batch = random_batch(src_lengths=(6, 3, 7, 1), tgt_lengths=(8, 2, 4, 5), seed=3)
    logits, attn, step_logits, step_attn = teacher_forced_and_stepped(model, batch)
    torch.testing.assert_close(logits, step_logits, atol=1e-10, rtol=0)
    torch.testing.assert_close(attn, step_attn, atol=1e-10, rtol=0)


@pytest.mark.parametrize("feed", [True, False])
@pytest.mark.parametrize("D", [1, 2])
def test_local_m_attends_inside_its_window_from_the_first_step(feed, D):
    """p_t = t (0-based, clamped to the last word): every weight outside [p_t - D, p_t + D] is 0,
    and the window is never empty, from step 0 on, teacher-forced and step by step."""
    model = build(decoder="luong", attention="local-m", input_feeding=feed, window=D)
    batch = random_batch(src_lengths=(7, 3, 6, 1), tgt_lengths=(8, 2, 4, 5), seed=4)
    _, attn, _, step_attn = teacher_forced_and_stepped(model, batch)
    for a in (attn, step_attn):
        for b, n in enumerate(batch.src_lengths.tolist()):
            for t in range(a.size(1)):
                p = min(t, n - 1)
                inside = [s for s in range(n) if abs(s - p) <= D]
                assert bool((a[b, t, inside] > 0).all()), (b, t)
                outside = [s for s in range(a.size(2)) if s not in inside]
                assert bool((a[b, t, outside] == 0).all()), (b, t)
                assert float(a[b, t].sum()) == pytest.approx(1.0, abs=1e-12)


def test_the_window_changes_local_p_weights():
    """The same weights with D = 1 and D = 3 give different attention (the window and σ = D/2)."""
    batch = random_batch(src_lengths=(7, 6, 7, 5), tgt_lengths=(4, 4, 4, 4), seed=5)
    attn = {}
    for D in (1, 3):
        model = build(decoder="luong", attention="local-p", window=D)
        attn[D] = teacher_forced_and_stepped(model, batch)[1]
        nonzero = (attn[D] > 0).sum(-1)
        assert int(nonzero.max()) <= 2 * D + 1
    assert not torch.allclose(attn[1], attn[3])
    assert int((attn[3] > 0).sum(-1).max()) > 3
