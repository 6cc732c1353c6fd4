"""Source reversal (Sutskever et al. 2014, ``reverse_source``): a reversing model equals the plain
model fed reversed sentences, in training and in search; padding changes nothing; and with the
course's bidirectional encoder, reversal is only a relabelling of the two directions.
"""
from __future__ import annotations

import copy
from pathlib import Path

import pytest
import torch

from attention_course import pretrained
from attention_course.data.batching import make_batch, pad
from attention_course.checkpoint import load_model, save_model
from attention_course.data.text import tokenize
from attention_course.data.vocabulary import Vocabulary
from attention_course.models import ModelConfig, build_model, reverse_padded
from attention_course.search import beam_search, greedy_search
from attention_course.train import ConfigError, RunConfig

from helpers_models import (SRC_VOCAB, TGT_VOCAB, one_thread, random_ids, tiny_config,  # noqa: F401 (autouse)
                            tiny_model)

CONFIGS = Path(__file__).resolve().parents[1] / "lib" / "attention_course" / "configs"
TOL = dict(atol=1e-10, rtol=0)
SOURCES = random_ids((5, 3, 7, 1, 4), SRC_VOCAB, seed=50)
TARGETS = random_ids((4, 6, 2, 3, 8), TGT_VOCAB, seed=51)


def pair(variant: str, seed: int = 1):
    """The same tiny model twice: reading the source as written, and reversed."""
    plain = tiny_model(variant, seed=seed)
    reversing = build_model(tiny_config(variant, reverse_source=True), SRC_VOCAB, TGT_VOCAB).double().eval()
    reversing.load_state_dict(plain.state_dict())
    return plain, reversing


def reversed_by_hand(sources):
    return [list(reversed(s)) for s in sources]


def test_reverse_padded_reverses_real_words_only():
    x = torch.tensor([[1, 2, 3, 0, 0], [4, 5, 6, 7, 8], [9, 0, 0, 0, 0]])
    lengths = torch.tensor([3, 5, 1])
    assert reverse_padded(x, lengths).tolist() == [[3, 2, 1, 0, 0], [8, 7, 6, 5, 4], [9, 0, 0, 0, 0]]
    h = torch.randn(3, 5, 2)
    assert torch.equal(reverse_padded(reverse_padded(h, lengths), lengths), h)
    assert torch.equal(reverse_padded(h, lengths)[0, :3], h[0, :3].flip(0))


@torch.no_grad()
@pytest.mark.parametrize("variant", ["context-every-step", "context-init"])
def test_a_reversing_model_equals_the_plain_model_on_reversed_input(variant):
    plain, reversing = pair(variant)
    batch = make_batch(SOURCES, TARGETS)
    by_hand = make_batch(reversed_by_hand(SOURCES), TARGETS)
    assert not torch.equal(batch.src, by_hand.src)
    expected = plain(by_hand.src, by_hand.src_lengths, by_hand.tgt_in)[0]
    torch.testing.assert_close(reversing(batch.src, batch.src_lengths, batch.tgt_in)[0], expected, **TOL)
    torch.testing.assert_close(reversing.loss(batch.src, batch.src_lengths, batch.tgt_in, batch.tgt_out),
                               plain.loss(by_hand.src, by_hand.src_lengths, by_hand.tgt_in, by_hand.tgt_out), **TOL)
    lengths = batch.src_lengths
    for search in (lambda m, s: greedy_search(m, s, lengths), lambda m, s: beam_search(m, s, lengths, beam_size=3)):
        for a, b in zip(search(reversing, batch.src), search(plain, by_hand.src)):
            assert a.tokens == b.tokens and a.score == pytest.approx(b.score, abs=1e-9)


@torch.no_grad()
def test_padding_changes_nothing_for_a_reversing_model():
    """Each sentence alone equals it in a padded batch, also with extra padded columns
    (a reversal of the padded row, padding included, would fail this)."""
    _, model = pair("context-every-step", seed=2)
    batch = make_batch(SOURCES, TARGETS)
    wide_src = torch.cat([batch.src, torch.zeros(batch.src.size(0), 3, dtype=torch.long)], 1)
    for src in (batch.src, wide_src):
        logits = model(src, batch.src_lengths, batch.tgt_in)[0]
        for b, (s, t) in enumerate(zip(SOURCES, TARGETS)):
            single = make_batch([s], [t])
            m = len(t) + 1
            torch.testing.assert_close(logits[b, :m], model(single.src, single.src_lengths, single.tgt_in)[0][0], **TOL)
        together = greedy_search(model, src, batch.src_lengths)
        for b, s in enumerate(SOURCES):
            assert together[b].tokens == greedy_search(model, pad([s]), torch.tensor([len(s)]))[0].tokens


@torch.no_grad()
def test_an_attention_model_still_attends_to_the_source_words_as_written():
    """The annotations are put back in source order: attention weights index the words as written."""
    plain, reversing = pair("luong-general", seed=3)
    batch = make_batch(SOURCES, TARGETS)
    enc = reversing.encode(batch.src, batch.src_lengths).enc
    by_hand = plain.encoder(pad(reversed_by_hand(SOURCES)), batch.src_lengths)
    torch.testing.assert_close(enc.annotations, reverse_padded(by_hand.annotations, batch.src_lengths), **TOL)
    assert bool((enc.annotations[3, 1:] == 0).all())


@torch.no_grad()
def test_with_a_bidirectional_encoder_reversal_only_swaps_the_two_directions():
    """Why seq2seq-reverse can only differ from seq2seq by chance: the plain model equals a reversing
    model whose forward and backward GRUs are exchanged (and the halves of the summary it passes on
    swapped in the decoder's weights). Sutskever et al. reversed the input of a one-way encoder."""
    plain, reversing = pair("context-every-step", seed=4)
    enc, dec = reversing.encoder.rnn, reversing.decoder
    H = enc.hidden_size
    for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
        forward, backward = getattr(plain.encoder.rnn, f"{name}_l0"), getattr(plain.encoder.rnn, f"{name}_l0_reverse")
        getattr(enc, f"{name}_l0").copy_(backward)
        getattr(enc, f"{name}_l0_reverse").copy_(forward)
    swap = lambda w, start: torch.cat([w[:, :start], w[:, start + H: start + 2 * H], w[:, start: start + H],  # noqa: E731
                                       w[:, start + 2 * H:]], 1)
    dec.init.W_s.weight.copy_(swap(plain.decoder.init.W_s.weight, 0))                     # s_0 = tanh(W_s c)
    emb = dec.embedding.embedding_dim
    dec.rnn.weight_ih_l0.copy_(swap(plain.decoder.rnn.weight_ih_l0, emb))                 # GRU input [E y ; c]
    dec.output.inputs.weight.copy_(swap(plain.decoder.output.inputs.weight, dec.rnn.hidden_size + emb))  # [s ; E y ; c]
    batch = make_batch(SOURCES, TARGETS)
    torch.testing.assert_close(reversing(batch.src, batch.src_lengths, batch.tgt_in)[0],
                               plain(batch.src, batch.src_lengths, batch.tgt_in)[0], **TOL)


def test_the_shipped_configs_are_seq2seq_with_a_one_way_encoder_reading_forwards_and_backwards():
    base = RunConfig.load(CONFIGS / "seq2seq.json")
    uni = RunConfig.load(CONFIGS / "seq2seq-uni.json")
    rev = RunConfig.load(CONFIGS / "seq2seq-reverse.json")
    assert uni.model.to_dict() == {**base.model.to_dict(), "bidirectional": False}
    assert rev.model.to_dict() == {**uni.model.to_dict(), "reverse_source": True}
    assert (rev.data, rev.train) == (uni.data, uni.train) == (base.data, base.train)
    assert "reverse_source" not in base.model.to_dict(), "configs that do not reverse read as before"
    assert "bidirectional" not in base.model.to_dict(), "two-way encoders' configs read as before"


def test_a_one_way_encoder_keeps_the_sizes_and_reads_left_to_right_only():
    two_way = tiny_model("context-every-step", seed=5)
    one_way = tiny_model("context-every-step", seed=5, bidirectional=False)
    assert one_way.encoder.output_size == two_way.encoder.output_size
    assert not one_way.encoder.rnn.bidirectional and one_way.encoder.rnn.hidden_size == 2 * two_way.encoder.rnn.hidden_size
    batch = make_batch(SOURCES, TARGETS)
    with torch.no_grad():
        enc = one_way.encoder(batch.src, batch.src_lengths)
        # Left to right only: the annotation of word j does not depend on the words after it.
        changed = batch.src.clone()
        assert batch.src_lengths[2] == 7
        changed[2, 4:7] = (changed[2, 4:7] % (SRC_VOCAB - 5)) + 5
        assert not torch.equal(changed, batch.src)
        enc2 = one_way.encoder(changed, batch.src_lengths)
        torch.testing.assert_close(enc2.annotations[2, :4], enc.annotations[2, :4], **TOL)
        assert not torch.allclose(enc2.annotations[2, 4:7], enc.annotations[2, 4:7])
        # The summary is the state after each sentence's last real word.
        for b, n in enumerate(batch.src_lengths.tolist()):
            torch.testing.assert_close(enc.final[b], enc.annotations[b, n - 1], **TOL)


@torch.no_grad()
def test_with_a_one_way_encoder_reversal_changes_what_the_model_computes():
    """Unlike the bidirectional case, a one-way reader of the reversed sentence is another function."""
    plain = tiny_model("context-every-step", seed=6, bidirectional=False)
    reversing = build_model(tiny_config("context-every-step", bidirectional=False, reverse_source=True),
                            SRC_VOCAB, TGT_VOCAB).double().eval()
    reversing.load_state_dict(plain.state_dict())
    batch = make_batch(SOURCES, TARGETS)
    by_hand = make_batch(reversed_by_hand(SOURCES), TARGETS)
    torch.testing.assert_close(reversing(batch.src, batch.src_lengths, batch.tgt_in)[0],
                               plain(by_hand.src, by_hand.src_lengths, by_hand.tgt_in)[0], **TOL)
    assert not torch.allclose(reversing(batch.src, batch.src_lengths, batch.tgt_in)[0],
                              plain(batch.src, batch.src_lengths, batch.tgt_in)[0])


# ---- the shipped one-way models (issue 15) -----------------------------------------------------

INVENTED = ["I like red cars.", "The little girl is reading a book in the garden.", "Hello!",
            "We will go to the beach tomorrow if the weather is nice."]


@torch.no_grad()
@pytest.mark.parametrize("name", [n for n in ("seq2seq-uni", "seq2seq-reverse") if n in pretrained.available()])
def test_the_shipped_one_way_models_read_as_their_names_say(name):
    """seq2seq-uni reads each sentence left to right, seq2seq-reverse right to left: the shipped
    reversing model decodes exactly what the same weights decode from sentences reversed by hand
    (greedy and beam, batched), through the same Translator API as every model."""
    tr = pretrained.load(name)
    model = tr.model
    assert not model.encoder.rnn.bidirectional and not model.has_attention
    assert model.reverse_source == (name == "seq2seq-reverse")
    ids = [tr.src_vocab.encode(tokenize(s, "en")) for s in INVENTED]
    lengths = torch.tensor([len(x) for x in ids])
    as_written, by_hand = pad(ids), pad(reversed_by_hand(ids))
    plain = copy.deepcopy(model)
    plain.reverse_source = False
    for search in (lambda m, s: greedy_search(m, s, lengths), lambda m, s: beam_search(m, s, lengths, beam_size=3)):
        got = search(model, as_written)
        want = search(plain, by_hand if model.reverse_source else as_written)
        for a, b in zip(got, want):
            assert a.tokens == b.tokens and a.score == pytest.approx(b.score, abs=1e-5)
    if model.reverse_source:      # reading forwards instead is another function
        assert [r.tokens for r in greedy_search(plain, as_written, lengths)] != \
            [r.tokens for r in greedy_search(model, as_written, lengths)]
    for t in tr.translate_batch(INVENTED, beam_size=3, record=True):
        assert t.attention is None and t.text and len(t.steps) >= len(t.target_tokens) + 1


# ---- attention models, the Transformer, and a saved reversing model ----------------------------

TINY_TRANSFORMER = dict(decoder="transformer", emb_size=16, layers=2, heads=4, ff_size=24, dropout=0.0)


def pair_of(variant: str, seed: int):
    """``pair`` for the recurrent variants, and for a tiny Transformer."""
    if variant != "transformer":
        return pair(variant, seed)
    torch.manual_seed(seed)
    plain = build_model(ModelConfig(**TINY_TRANSFORMER), SRC_VOCAB, TGT_VOCAB).double().eval()
    reversing = build_model(ModelConfig(**TINY_TRANSFORMER, reverse_source=True), SRC_VOCAB, TGT_VOCAB).double().eval()
    reversing.load_state_dict(plain.state_dict())
    return plain, reversing


def reverse_source_axis(attention, lengths):
    """Attention weights (batch x target x source) with each row's real source positions reversed."""
    return reverse_padded(attention.transpose(1, 2), lengths).transpose(1, 2)


@torch.no_grad()
@pytest.mark.parametrize("variant", ["luong-general", "luong-concat", "transformer"])
def test_a_reversing_attention_model_equals_the_plain_model_on_reversed_input(variant):
    """Global attention reads the annotations as a set, so a reversing model computes what the plain
    model computes from the reversed sentence, to the last digit; only the attention weights come
    back in source order (the plain model's weights, reversed), in training and in search."""
    plain, reversing = pair_of(variant, seed=7)
    batch = make_batch(SOURCES, TARGETS)
    by_hand = make_batch(reversed_by_hand(SOURCES), TARGETS)
    logits, attention = reversing(batch.src, batch.src_lengths, batch.tgt_in)
    want_logits, want_attention = plain(by_hand.src, by_hand.src_lengths, by_hand.tgt_in)
    torch.testing.assert_close(logits, want_logits, **TOL)
    torch.testing.assert_close(attention, reverse_source_axis(want_attention, batch.src_lengths), **TOL)
    assert not torch.allclose(attention, want_attention), "the weights index the words as written"
    lengths = batch.src_lengths
    for search in (lambda m, s: greedy_search(m, s, lengths, record=True),
                   lambda m, s: beam_search(m, s, lengths, beam_size=3, record=True)):
        for a, b in zip(search(reversing, batch.src), search(plain, by_hand.src)):
            assert a.tokens == b.tokens and a.score == pytest.approx(b.score, abs=1e-9)
            torch.testing.assert_close(a.attention, b.attention.flip(-1), **TOL)


@torch.no_grad()
def test_local_attention_places_its_window_on_the_source_as_written():
    """Local-p attention predicts a position p_t in the source: a reversing model puts it on the
    sentence as written, so it is not the plain model on reversed input (global attention is)."""
    plain, reversing = pair("luong-local-p", seed=8)
    batch = make_batch(SOURCES, TARGETS)
    by_hand = make_batch(reversed_by_hand(SOURCES), TARGETS)
    assert not torch.allclose(reversing(batch.src, batch.src_lengths, batch.tgt_in)[0],
                              plain(by_hand.src, by_hand.src_lengths, by_hand.tgt_in)[0])


def test_a_saved_reversing_model_loads_as_a_reversing_model(tmp_path):
    """``reverse_source`` travels with the weights: the loaded model computes what was saved."""
    _, reversing = pair("luong-general", seed=9)
    src = Vocabulary(["<pad>", "<unk>", "<s>", "</s>"] + [f"en{i}" for i in range(SRC_VOCAB - 4)])
    tgt = Vocabulary(["<pad>", "<unk>", "<s>", "</s>"] + [f"fr{i}" for i in range(TGT_VOCAB - 4)])
    d = save_model(tmp_path / "tiny-reverse", reversing, tiny_config("luong-general", reverse_source=True), src, tgt,
                   "tiny-reverse", dtype=torch.float64)
    loaded, config, _, _ = load_model(d)
    assert loaded.reverse_source and config["model"]["reverse_source"] is True
    batch = make_batch(SOURCES, TARGETS)
    loaded = loaded.double()
    torch.testing.assert_close(loaded(batch.src, batch.src_lengths, batch.tgt_in)[0],
                               reversing(batch.src, batch.src_lengths, batch.tgt_in)[0], **TOL)


@pytest.mark.parametrize("settings", [dict(reverse_source=True), dict(bidirectional=False),
                                      dict(reverse_source=True, bidirectional=False)])
def test_bahdanau_needs_the_backward_state_of_the_sentence_as_written(settings):
    """Bahdanau's s_0 = tanh(W_s ←h_1) reads the annotation of the first word: reversed or read one
    way, that state has seen one word. The combination is refused with one clear error."""
    with pytest.raises(ValueError, match="decoder 'bahdanau' starts from s_0"):
        ModelConfig(decoder="bahdanau", **settings)
    ModelConfig(decoder="luong", **settings)
    config = RunConfig.load(CONFIGS / "bahdanau.json").to_dict()
    config["model"].update(settings)
    with pytest.raises(ConfigError, match="^decoder 'bahdanau' starts from s_0"):    # one line, before any work
        RunConfig.from_dict(config)
