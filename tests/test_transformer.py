"""The Transformer (Vaswani et al. 2017) behind the same interfaces as the RNN models: decoding
step by step equals teacher forcing, padding changes nothing, attention rows are distributions
over the real source words, positions can be switched off, greedy and beam search, the
training step, saving and loading, the Translator and the per-head weights all work with it.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from attention_course import pretrained
from attention_course.checkpoint import load_model, save_model
from attention_course.data.batching import make_batch, pad
from attention_course.data.vocabulary import SPECIALS, Vocabulary
from attention_course.models import ModelConfig, build_model
from attention_course.models.positional_encoding import sinusoidal_encoding
from attention_course.models.transformer_decoder import TransformerDecoder
from attention_course.search import beam_search, greedy_search
from attention_course.train import RunConfig, make_optimizer, training_step
from attention_course.transformer_heads import head_attention, head_count, step_heads
from attention_course.translator import Translator

from helpers_models import SRC_VOCAB, TGT_VOCAB, one_thread, random_ids  # noqa: F401 (one_thread: autouse fixture)

CONFIGS = Path(__file__).resolve().parents[1] / "lib" / "attention_course" / "configs"
TOL = dict(atol=1e-10, rtol=0)
TINY = dict(decoder="transformer", emb_size=16, layers=2, heads=4, ff_size=24, dropout=0.0)
SOURCES = random_ids((5, 3, 7, 1, 4), SRC_VOCAB, seed=40)
TARGETS = random_ids((4, 6, 2, 3, 8), TGT_VOCAB, seed=41)


def tiny_transformer(seed: int = 0, dtype=torch.float64, **overrides):
    """A random tiny Transformer in eval mode; weights scaled up so attention is far from uniform."""
    torch.manual_seed(seed)
    model = build_model(ModelConfig(**{**TINY, **overrides}), SRC_VOCAB, TGT_VOCAB).to(dtype)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() > 1 and "embedding" not in name:
                p.mul_(2.0)
    return model.eval()


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
    return torch.stack(logits, 1), torch.stack(attention, 1)


@torch.no_grad()
@pytest.mark.parametrize("dtype, tol", [(torch.float64, 1e-10), (torch.float32, 1e-5)])
def test_decoding_step_by_step_equals_teacher_forcing(dtype, tol):
    model = tiny_transformer(seed=1, dtype=dtype)
    batch = make_batch(SOURCES, TARGETS)
    logits_tf, attn_tf = teacher_forced(model, batch)
    logits_st, attn_st = step_by_step(model, batch)
    assert logits_tf.shape == (5, 9, TGT_VOCAB) and attn_tf.shape == (5, 9, 7)
    torch.testing.assert_close(logits_st.log_softmax(-1), logits_tf.log_softmax(-1), atol=tol, rtol=0)
    torch.testing.assert_close(attn_st, attn_tf, atol=tol, rtol=0)
    torch.testing.assert_close(model(batch.src, batch.src_lengths, batch.tgt_in)[0], logits_tf, atol=tol, rtol=0)


@torch.no_grad()
def test_padding_and_the_rest_of_the_batch_change_nothing():
    """Each sentence alone, then batched, then with extra padded columns on both sides: encoder
    outputs, logits and attention on real positions are equal; padding gets exactly 0 attention."""
    model = tiny_transformer(seed=3)
    alone = [make_batch([s], [t]) for s, t in zip(SOURCES, TARGETS)]
    batched = make_batch(SOURCES, TARGETS)
    extra = lambda x, n: torch.cat([x, torch.full((x.size(0), n), Vocabulary.pad_index)], 1)  # noqa: E731
    wide = type(batched)(extra(batched.src, 3), batched.src_lengths, extra(batched.tgt_in, 2), extra(batched.tgt_out, 2))
    for together in (batched, wide):
        enc = model.encoder(together.src, together.src_lengths)
        logits, attn = teacher_forced(model, together)
        for b, single in enumerate(alone):
            n, m = len(SOURCES[b]), len(TARGETS[b]) + 1
            torch.testing.assert_close(enc.annotations[b, :n], model.encoder(single.src, single.src_lengths).annotations[0], **TOL)
            assert bool((enc.annotations[b, n:] == 0).all())
            logits1, attn1 = teacher_forced(model, single)
            torch.testing.assert_close(logits[b, :m], logits1[0], **TOL)
            torch.testing.assert_close(attn[b, :m, :n], attn1[0], **TOL)
            assert bool((attn[b, :, n:] == 0).all()), "attention on padded source positions must be exactly 0"
        total = model.loss(together.src, together.src_lengths, together.tgt_in, together.tgt_out, reduction="sum")
        per_sentence = sum(model.loss(s.src, s.src_lengths, s.tgt_in, s.tgt_out, reduction="sum") for s in alone)
        torch.testing.assert_close(total, per_sentence, **TOL)


@torch.no_grad()
def test_attention_rows_sum_to_one_over_the_real_source_words_in_every_head():
    model = tiny_transformer(seed=4)
    batch = make_batch(SOURCES, TARGETS)
    memory = model.encode(batch.src, batch.src_lengths)
    heads = model.decoder.cross_attention(batch.tgt_in, memory)             # layers x batch x heads x tgt x src
    assert heads.shape == (2, 5, 4, 9, 7)
    _, attn = teacher_forced(model, batch)
    torch.testing.assert_close(attn, heads[-1].mean(1), **TOL)              # the alignment: last layer, head mean
    for b, n in enumerate(batch.src_lengths.tolist()):
        for w in (heads[:, b], attn[b]):
            real = w[..., :n].sum(-1)
            torch.testing.assert_close(real, torch.ones_like(real), **TOL)
            assert bool((w[..., n:] == 0).all()) and bool((w >= 0).all())
    assert float((heads[-1, 1, 0] - heads[-1, 1, 1]).abs().max()) > 1e-3, "heads should differ"


@torch.no_grad()
def test_later_target_words_are_never_seen():
    """Changing target word j changes no output before position j (the causal mask)."""
    model = tiny_transformer(seed=5)
    batch = make_batch(SOURCES[:1], TARGETS[4:5])
    changed = batch.tgt_in.clone()
    changed[0, 5] = (changed[0, 5] + 1) % TGT_VOCAB
    a, _ = teacher_forced(model, batch)
    b, _ = teacher_forced(model, type(batch)(batch.src, batch.src_lengths, changed, batch.tgt_out))
    torch.testing.assert_close(a[0, :5], b[0, :5], **TOL)
    assert not torch.allclose(a[0, 5:], b[0, 5:])


def test_sinusoidal_encoding_follows_the_formula():
    pe = sinusoidal_encoding(7, 6, dtype=torch.float64)
    pos, i = 5, 2
    assert float(pe[pos, 2 * i]) == pytest.approx(np.sin(pos / 10000 ** (2 * i / 6)), abs=1e-12)
    assert float(pe[pos, 2 * i + 1]) == pytest.approx(np.cos(pos / 10000 ** (2 * i / 6)), abs=1e-12)
    assert pe.shape == (7, 6) and sinusoidal_encoding(4, 5).shape == (4, 5)


@torch.no_grad()
def test_without_positions_the_encoder_ignores_word_order():
    """The ablation switch: without positional encodings, permuting the source permutes the
    encoder's outputs and nothing else; with them, it does not."""
    src = torch.tensor([SOURCES[2]])
    perm = torch.tensor([3, 0, 6, 1, 5, 2, 4])
    lengths = torch.tensor([7])
    for positional in (False, True):
        model = tiny_transformer(seed=6, positional=positional)
        out = model.encoder(src, lengths).annotations[0]
        permuted = model.encoder(src[:, perm], lengths).annotations[0]
        assert torch.allclose(permuted, out[perm], atol=1e-10) == (not positional)


@torch.no_grad()
def test_greedy_and_beam_search_decode_a_transformer():
    model = tiny_transformer(seed=2)
    src, lengths = pad(SOURCES), torch.tensor([len(s) for s in SOURCES])
    greedy = greedy_search(model, src, lengths, record=True)
    beam1 = beam_search(model, src, lengths, beam_size=1)
    assert any(len(r.tokens) > 1 for r in greedy), "the test needs outputs longer than one word"
    for b, (g, k) in enumerate(zip(greedy, beam1)):
        assert g.tokens == k.tokens and g.score == pytest.approx(k.score, abs=1e-5)
        torch.testing.assert_close(g.attention, k.attention, atol=1e-9, rtol=0)
        assert g.attention.shape == (len(g.tokens) + 1, len(SOURCES[b]))
        # the decode's attention rows are the teacher-forced ones on its own output
        single = make_batch([SOURCES[b]], [g.tokens])
        torch.testing.assert_close(teacher_forced(model, single)[1][0], g.attention, atol=1e-9, rtol=0)
        alone = greedy_search(model, *[pad([SOURCES[b]]), torch.tensor([len(SOURCES[b])])])[0]
        assert alone.tokens == g.tokens
    for r in beam_search(model, src, lengths, beam_size=4, record=True):
        assert r.steps and r.attention.shape[1] in {len(s) for s in SOURCES}


def test_the_training_step_lowers_the_loss_with_the_projected_bf16_cross_entropy():
    torch.manual_seed(0)
    model = build_model(ModelConfig(**{**TINY, "dropout": 0.1}), SRC_VOCAB, TGT_VOCAB).train()
    assert model.decoder.project.embedding.weight is model.decoder.embedding.weight, "tied projection"
    optimizer = make_optimizer(model, 3e-3)
    batch = make_batch(SOURCES, TARGETS)
    losses = [float(training_step(model, optimizer, batch, 1.0, torch.bfloat16)) for _ in range(40)]
    assert losses[-1] < 0.5 * losses[0]
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


def test_a_saved_transformer_loads_with_the_same_outputs(tmp_path):
    model = tiny_transformer(seed=7, dtype=torch.float32)
    cfg = ModelConfig(**TINY)
    src_vocab = Vocabulary([*SPECIALS, *(f"s{i}" for i in range(SRC_VOCAB - 4))])
    tgt_vocab = Vocabulary([*SPECIALS, *(f"t{i}" for i in range(TGT_VOCAB - 4))])
    directory = save_model(tmp_path / "tr", model, cfg, src_vocab, tgt_vocab, "tiny-transformer")
    assert json.loads((directory / "config.json").read_text())["model"]["heads"] == 4
    loaded, config, _, _ = load_model(directory)
    batch = make_batch(SOURCES, TARGETS)
    with torch.no_grad():
        torch.testing.assert_close(teacher_forced(loaded, batch)[0], teacher_forced(model, batch)[0])


def test_the_translator_and_the_per_head_weights():
    model = tiny_transformer(seed=8, dtype=torch.float32)
    src_vocab = Vocabulary([*SPECIALS, *(f"s{i}" for i in range(SRC_VOCAB - 4))])
    tgt_vocab = Vocabulary([*SPECIALS, *(f"t{i}" for i in range(TGT_VOCAB - 4))])
    tr = Translator(model, src_vocab, tgt_vocab, name="tiny-transformer")
    assert tr.has_attention
    for beam in (1, 3):
        t = tr.translate("s1 s5 s2 s9 s0", beam_size=beam, replace_unk=False)
        assert t.attention.shape == (len(t.target_tokens), 5)
        heads = head_attention(tr, t.source_tokens, t.raw_tokens)
        assert heads.shape == (2, 4, len(t.raw_tokens) + 1, 5)
        np.testing.assert_allclose(heads[-1].mean(0)[: len(t.raw_tokens)], t.attention, atol=1e-5)
        np.testing.assert_allclose(heads.sum(-1), 1.0, atol=1e-5)
        for step in t.steps[1:]:              # a hypothesis' weights at a step: the last row of its prefix
            h = step.hypotheses[0]
            np.testing.assert_allclose(head_attention(tr, t.source_tokens, h.tokens)[-1, :, -1].mean(0),
                                       h.attention, atol=1e-5)


def test_per_head_weights_need_a_transformer():
    torch.manual_seed(0)
    rnn = build_model(ModelConfig(decoder="bahdanau", emb_size=8, hidden_size=6, decoder_size=12,
                                  attention_size=10), SRC_VOCAB, TGT_VOCAB)
    vocab = Vocabulary([*SPECIALS, *(f"w{i}" for i in range(TGT_VOCAB - 4))])
    with pytest.raises(ValueError, match="not a Transformer"):
        head_attention(Translator(rnn, vocab, vocab), ["w1"], [])
    assert head_count(Translator(rnn, vocab, vocab)) is None and head_count(object()) is None


def test_the_shipped_config_and_its_size():
    cfg = RunConfig.load(CONFIGS / "transformer.json")
    seq2seq = RunConfig.load(CONFIGS / "seq2seq.json")
    assert (cfg.data, cfg.train) == (seq2seq.data, seq2seq.train), "the RNN models' data and budget"
    assert (cfg.model.emb_size, cfg.model.layers, cfg.model.heads, cfg.model.ff_size) == (128, 2, 4, 256)
    assert cfg.model.positional
    with torch.device("meta"):                          # the vocabulary sizes of the shipped models
        model = build_model(cfg.model, 7687, 11807)
    assert isinstance(model.decoder, TransformerDecoder)
    assert 3.1e6 < sum(p.numel() for p in model.parameters()) < 3.9e6
    assert ModelConfig.from_dict(cfg.model.to_dict()) == cfg.model


def test_transformer_settings_are_checked():
    from attention_course.checkpoint import CheckpointError, validate_model_config
    with pytest.raises(CheckpointError, match="model.heads is 3"):
        validate_model_config({**TINY, "heads": 3})
    with pytest.raises(CheckpointError, match="model.positional"):
        validate_model_config({**TINY, "positional": "yes"})
    assert validate_model_config(TINY) == ModelConfig(**TINY)


def test_tensors_are_made_on_the_device_of_the_inputs():
    """For --device cuda, checked without a GPU: on the meta device, a tensor made on the CPU (a mask,
    the position encodings, the empty prefix) could not be combined with the inputs and would raise."""
    from attention_course.models.encoder import EncoderOutput
    from attention_course.models.source_reversal import reverse_padded
    from attention_course.models.transformer_encoder import embed
    with torch.device("meta"):
        model = build_model(ModelConfig(**TINY), SRC_VOCAB, TGT_VOCAB)
    meta = dict(device="meta")
    src, lengths = torch.zeros(3, 5, dtype=torch.long, **meta), torch.zeros(3, dtype=torch.long, **meta)
    assert reverse_padded(src, lengths).device.type == "meta"
    x = embed(model.encoder.embedding, src, positional=True)
    mask = torch.ones(3, 5, dtype=torch.bool, **meta)
    for layer in model.encoder.layers:
        x = layer(x, mask[:, None, :])
    memory = model.decoder.precompute(EncoderOutput(x, x[:, 0], mask, lengths))
    features, attention = model.decoder(torch.zeros(3, 4, dtype=torch.long, **meta), memory)
    assert features.shape == (3, 4, 16) and attention.shape == (3, 4, 5) and attention.device.type == "meta"
    state = model.decoder.initial_state(memory)
    logits, state, alpha = model.decoder.step(torch.zeros(3, dtype=torch.long, **meta), state, memory, 0)
    assert logits.shape == (3, TGT_VOCAB) and state.device.type == "meta" and alpha.shape == (3, 5)


@pytest.mark.skipif("transformer" not in pretrained.available(), reason="the transformer checkpoint is not shipped")
@pytest.mark.parametrize("beam", [1, 4])
def test_the_shipped_transformers_heads_give_every_recorded_step(beam):
    """For every step of a decode and every hypothesis in the beam at that step (prefixes that
    need not lead to the output), the mean of ``step_heads`` is the weights the search recorded,
    and each head is a distribution over the source."""
    tr = pretrained.load("transformer")
    heads = head_count(tr)
    assert heads == pretrained.config("transformer")["model"]["heads"]
    t = tr.translate("The little girl is reading a book in the garden.", beam_size=beam)
    checked = 0
    for step in t.steps:
        for h in step.hypotheses:
            weights = step_heads(tr, t.source_tokens, h.tokens)            # heads x source words
            assert weights.shape == (heads, len(t.source_tokens))
            np.testing.assert_allclose(weights.mean(0), h.attention, atol=1e-5)
            np.testing.assert_allclose(weights.sum(-1), 1.0, atol=1e-5)
            checked += 1
    assert checked == sum(len(s.hypotheses) for s in t.steps) >= len(t.steps) * (1 if beam == 1 else 2)
    outputs = [h.tokens for s in t.steps for h in s.hypotheses]
    assert beam == 1 or any(o != t.raw_tokens[: len(o)] for o in outputs), "some hypotheses should leave the output's path"
    per_head = head_attention(tr, t.source_tokens, t.raw_tokens)[-1]
    np.testing.assert_allclose(per_head.mean(0)[: len(t.target_tokens)], t.attention, atol=1e-5)
    assert float(np.abs(per_head[0] - per_head[1]).max()) > 0.05, "trained heads should differ"
