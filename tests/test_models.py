"""Encoder, decoders and the full model: teacher forcing equals step-by-step decoding for every
variant, the encoder and the attention-free decoders equal hand-written loops, and padding
(other sentences, extra padded positions) never changes anything on real positions.
"""
from __future__ import annotations

import pytest
import torch
from torch import nn

from attention_course.data.batching import make_batch
from attention_course.data.vocabulary import Vocabulary
from attention_course.models import ModelConfig, build_model

from helpers_models import (ATTENTION_VARIANTS, SRC_VOCAB, TGT_VOCAB, VARIANTS, random_batch, random_ids,
                            tiny_config, tiny_model, one_thread)  # noqa: F401 (one_thread: autouse fixture)

TOL = dict(atol=1e-10, rtol=0)


@pytest.fixture(autouse=True)
def _no_grad():
    with torch.no_grad():
        yield


def teacher_forced(model, batch):
    memory = model.encode(batch.src, batch.src_lengths)
    features, attention = model.decoder(batch.tgt_in, memory)
    return model.decoder.project(features), attention


def step_by_step(model, batch):
    memory = model.encode(batch.src, batch.src_lengths)
    state = model.decoder.initial_state(memory)
    logits, attention = [], []
    for t in range(batch.tgt_in.size(1)):
        out, state, alpha = model.decoder.step(batch.tgt_in[:, t], state, memory, t)
        logits.append(out), attention.append(alpha)
    return torch.stack(logits, 1), (None if attention[0] is None else torch.stack(attention, 1))


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_teacher_forcing_equals_step_by_step(variant):
    model = tiny_model(variant, seed=1)
    batch = random_batch(src_lengths=(5, 3, 7, 1, 4), tgt_lengths=(4, 6, 2, 3, 9), seed=2)
    logits_tf, attn_tf = teacher_forced(model, batch)
    logits_st, attn_st = step_by_step(model, batch)
    assert logits_tf.shape == (5, 10, TGT_VOCAB)
    torch.testing.assert_close(logits_tf, logits_st, **TOL)
    torch.testing.assert_close(model(batch.src, batch.src_lengths, batch.tgt_in)[0], logits_st, **TOL)
    if variant.startswith("context"):
        assert attn_tf is None and attn_st is None and not model.has_attention
    else:
        assert model.has_attention
        assert attn_tf.shape == (5, 10, 7)
        torch.testing.assert_close(attn_tf, attn_st, **TOL)


# ------------------------------------------------------------------------------------------
# Encoder and attention-free decoders against loops written here
# ------------------------------------------------------------------------------------------

def cell_from(rnn: nn.GRU, suffix: str = "") -> nn.GRUCell:
    cell = nn.GRUCell(rnn.input_size, rnn.hidden_size).double()
    for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
        getattr(cell, name).copy_(getattr(rnn, f"{name}_l0{suffix}"))
    return cell


def test_encoder_is_a_bidirectional_gru_over_real_words_only():
    """h_j = [→h_j ; ←h_j] computed word by word on each sentence alone; final = [→h_Tx ; ←h_1]."""
    model = tiny_model("bahdanau", seed=5)
    enc = model.encoder
    batch = random_batch(src_lengths=(5, 3, 7, 1), seed=6)
    out = enc(batch.src, batch.src_lengths)
    fwd, bwd = cell_from(enc.rnn), cell_from(enc.rnn, "_reverse")
    H = enc.rnn.hidden_size
    for b, n in enumerate(batch.src_lengths.tolist()):
        x = enc.embedding.weight[batch.src[b, :n]]
        h, forward_states = torch.zeros(1, H, dtype=torch.float64), []
        for j in range(n):
            h = fwd(x[j][None], h)
            forward_states.append(h[0])
        h, backward_states = torch.zeros(1, H, dtype=torch.float64), [None] * n
        for j in reversed(range(n)):
            h = bwd(x[j][None], h)
            backward_states[j] = h[0]
        expected = torch.stack([torch.cat([f, r]) for f, r in zip(forward_states, backward_states)])
        torch.testing.assert_close(out.annotations[b, :n], expected, **TOL)
        assert bool((out.annotations[b, n:] == 0).all()), "annotations at padding must be 0"
        torch.testing.assert_close(out.final[b], torch.cat([forward_states[-1], backward_states[0]]), **TOL)
    assert out.mask.tolist() == [[j < n for j in range(7)] for n in batch.src_lengths.tolist()]


@pytest.mark.parametrize("variant", ["context-init", "context-every-step"])
def test_attention_free_decoders_match_a_hand_written_loop(variant):
    """Context-as-initial-state: s_0 = tanh(W_s c), s_i = GRU(E y_{i-1}, s_{i-1}), t = maxout(W [s_i; E y_{i-1}]).
    Cho: the GRU also reads c, and so does the output layer."""
    model = tiny_model(variant, seed=7)
    dec = model.decoder
    batch = random_batch(seed=8)
    logits, _ = teacher_forced(model, batch)
    enc = model.encoder(batch.src, batch.src_lengths)
    cell = cell_from(dec.rnn)
    E = dec.embedding.weight
    every = variant == "context-every-step"
    for b in range(batch.src.size(0)):
        c = enc.final[b]
        s = torch.tanh(dec.init.W_s.weight @ c + dec.init.W_s.bias)
        for t in range(batch.tgt_in.size(1)):
            y = E[batch.tgt_in[b, t]]
            x = torch.cat([y, c]) if every else y
            s = cell(x[None], s[None])[0]
            parts = torch.cat([s, y, c] if every else [s, y])
            t_tilde = dec.output.inputs.weight @ parts + dec.output.inputs.bias
            feat = torch.maximum(t_tilde[0::2], t_tilde[1::2])
            torch.testing.assert_close(logits[b, t], E @ feat + dec.project.bias, **TOL)


def test_bahdanau_gru_module_is_the_batch_first_gru_of_its_steps():
    """The decoder steps with gru_step on its GRU's weights and never calls the module itself,
    but exercise 3.4's checker (exercises/ch03.py) runs ``dec.rnn`` over a batch x steps input:
    the module must be the same GRU, batch first."""
    dec = tiny_model("bahdanau", seed=9).decoder
    rnn = dec.rnn
    x = torch.randn(3, 5, rnn.input_size, dtype=torch.float64, generator=torch.Generator().manual_seed(10))
    s0 = torch.randn(3, rnn.hidden_size, dtype=torch.float64, generator=torch.Generator().manual_seed(11))
    out, _ = rnn(x, s0[None])
    cell, s = cell_from(rnn), s0
    for t in range(x.size(1)):
        s = cell(x[:, t], s)
        torch.testing.assert_close(out[:, t], s, **TOL)


def test_the_output_projection_is_tied_to_the_target_embedding():
    model = tiny_model("bahdanau")
    assert model.decoder.project.embedding.weight is model.decoder.embedding.weight


def test_model_config_rejects_unknown_settings():
    with pytest.raises(ValueError, match="decoder must be one of"):
        ModelConfig(decoder="perceiver")
    with pytest.raises(ValueError, match="unknown model settings"):
        ModelConfig.from_dict({"decoder": "bahdanau", "n_heads": 8})
    assert ModelConfig.from_dict(tiny_config("luong-local-p").to_dict()) == tiny_config("luong-local-p")


def test_encoder_rejects_empty_sentences_and_bad_shapes():
    model = tiny_model("bahdanau")
    with pytest.raises(ValueError, match="at least one token"):
        model.encoder(torch.tensor([[5, 6], [0, 0]]), torch.tensor([2, 0]))
    with pytest.raises(ValueError, match="batch x len"):
        model.encoder(torch.tensor([5, 6]), torch.tensor([2]))


# ------------------------------------------------------------------------------------------
# Padding invariance
# ------------------------------------------------------------------------------------------

def widen(batch, extra_src: int, extra_tgt: int):
    """The same batch with ``extra`` padded positions appended on each side."""
    def pad_cols(x, n):
        return torch.cat([x, torch.full((x.size(0), n), Vocabulary.pad_index)], 1)
    return type(batch)(pad_cols(batch.src, extra_src), batch.src_lengths,
                       pad_cols(batch.tgt_in, extra_tgt), pad_cols(batch.tgt_out, extra_tgt))


SENTENCES_SRC = random_ids((4, 9, 2, 6), SRC_VOCAB, seed=20)
SENTENCES_TGT = random_ids((5, 3, 8, 6), TGT_VOCAB, seed=21)


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_padding_changes_nothing_on_real_positions(variant):
    """Sentence 0 alone, then batched with longer and shorter sentences, then with extra
    padded positions: encoder outputs, final state, logits and attention on real positions
    are equal; attention on padding is exactly 0; the summed loss is the sum over sentences."""
    model = tiny_model(variant, seed=3)
    alone = [make_batch([s], [t]) for s, t in zip(SENTENCES_SRC, SENTENCES_TGT)]
    batched = make_batch(SENTENCES_SRC, SENTENCES_TGT)
    wide = widen(batched, 3, 2)
    for together in (batched, wide):
        enc = model.encoder(together.src, together.src_lengths)
        logits, attn = teacher_forced(model, together)
        for b, single in enumerate(alone):
            n, m = len(SENTENCES_SRC[b]), len(SENTENCES_TGT[b]) + 1
            enc1 = model.encoder(single.src, single.src_lengths)
            torch.testing.assert_close(enc.annotations[b, :n], enc1.annotations[0], **TOL)
            assert bool((enc.annotations[b, n:] == 0).all())
            torch.testing.assert_close(enc.final[b], enc1.final[0], **TOL)
            logits1, attn1 = teacher_forced(model, single)
            torch.testing.assert_close(logits[b, :m], logits1[0], **TOL)
            if attn is not None:
                torch.testing.assert_close(attn[b, :m, :n], attn1[0], **TOL)
                assert bool((attn[b, :, n:] == 0).all()), "attention on padded source positions must be exactly 0"
                sums = attn[b, :m].sum(-1)
                assert bool((sums <= 1 + 1e-12).all()) and bool((sums > 0).all())
        total = model.loss(together.src, together.src_lengths, together.tgt_in, together.tgt_out, reduction="sum")
        per_sentence = [model.loss(s.src, s.src_lengths, s.tgt_in, s.tgt_out, reduction="sum") for s in alone]
        torch.testing.assert_close(total, sum(per_sentence), **TOL)
        mean = model.loss(together.src, together.src_lengths, together.tgt_in, together.tgt_out)
        torch.testing.assert_close(mean, total / together.n_tokens, **TOL)


def test_loss_is_the_cross_entropy_of_real_target_words():
    model = tiny_model("luong-general", seed=9)
    batch = make_batch(SENTENCES_SRC, SENTENCES_TGT)
    logits, _ = teacher_forced(model, batch)
    log_p = logits.log_softmax(-1)
    expected = -sum(log_p[b, t, batch.tgt_out[b, t]] for b in range(4) for t in range(batch.tgt_out.size(1))
                    if batch.tgt_out[b, t] != Vocabulary.pad_index)
    got = model.loss(batch.src, batch.src_lengths, batch.tgt_in, batch.tgt_out, reduction="sum")
    torch.testing.assert_close(got, expected, **TOL)


def test_dropout_is_active_in_training_only():
    torch.manual_seed(0)
    model = build_model(tiny_config("bahdanau", dropout=0.5), SRC_VOCAB, TGT_VOCAB).double()
    batch = random_batch(seed=3)
    model.eval()
    a = model(batch.src, batch.src_lengths, batch.tgt_in)[0]
    assert torch.equal(a, model(batch.src, batch.src_lengths, batch.tgt_in)[0])
    model.train()
    assert not torch.allclose(model(batch.src, batch.src_lengths, batch.tgt_in)[0], a)


@pytest.mark.parametrize("variant", ATTENTION_VARIANTS)
def test_attention_rows_are_distributions_over_the_source(variant):
    model = tiny_model(variant, seed=4)
    batch = random_batch(seed=5)
    _, attn = teacher_forced(model, batch)
    sums = attn.sum(-1)
    if variant == "luong-local-p":           # scaled by a Gaussian: at most 1
        assert bool((sums <= 1 + 1e-12).all()) and bool((sums > 0).all())
    else:
        torch.testing.assert_close(sums, torch.ones_like(sums), **TOL)
    assert bool((attn >= 0).all())
