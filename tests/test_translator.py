"""The Translator with the shipped models: odd and hostile input gives either a sane
Translation or a readable ValueError, never a hang or a deep torch traceback; unknown
target words are replaced through attention.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

from attention_course import pretrained
from attention_course.data.batching import pad
from attention_course.data.text import tokenize
from attention_course.search import beam_search, greedy_search
from attention_course.translator import MAX_BEAM, MAX_LENGTH_PENALTY, MAX_TOKENS, Translation, replace_unknowns

from helpers_models import hang_guard, no_decoding, one_thread  # noqa: F401 (fixtures)

UNK = "<unk>"
HANG_SECONDS = 60   # a guard against hangs, far above the ~0.1 s a sentence takes (not a speed test)

ODD_INPUTS = {
    "empty": "",
    "whitespace": " \t\n \u00a0 ",
    "zero-width": "\u200b\u200b",
    "punctuation": "?!...,;:",
    "one dot": ".",
    "unknown word": "Zorglubination",
    "emoji": "I love 😀🍕 so much 🎉",
    "only emoji": "😀😀😀",
    "chinese": "我喜欢吃苹果。",
    "arabic": "أحب القطط كثيرا",
    "cyrillic": "Я люблю кошек.",
    "mixed scripts": "Tom said привет and 你好 to Mary.",
    "control characters": "Hello\x00 there\x07\x1b[31m friend\x7f.",
    "script tag": '<script>alert("x")</script>',
    "html": '<img src=x onerror="alert(1)"> <b>bold</b> &amp; &lt;',
    "quotes": "\"Hello,\" she said, 'don't' \u201csmart\u201d \u2018quotes\u2019.",
    "one long word": "a" * 5000,
    "numbers": "3.14159 1,000,000 12:45 42",
    "newlines": "Line one.\n\nLine two.\r\nLine three.",
    "surrogate-free astral": "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𝕥𝕖𝕩𝕥",
    "lone surrogate": "I like \ud800 cars.",
    "only lone surrogates": "\udc00 \ud800",      # low before high: no pair, nothing left
}
MODELS = pretrained.available()
WITH_ATTENTION = [n for n in MODELS if pretrained.load(n).has_attention]
# The models issue 15 added (a Transformer; one-way seq2seq reading forwards or backwards), where shipped.
NEW = [n for n in ("seq2seq-uni", "seq2seq-reverse", "transformer") if n in MODELS]


def assert_sane(t: Translation, tr, beam: int = 1) -> None:
    assert isinstance(t, Translation)
    assert isinstance(t.text, str)
    for text in [t.text, *t.source_tokens, *t.target_tokens]:
        text.encode("utf-8")     # no lone surrogate: the text can go into HTML and files
    assert all(isinstance(w, str) for w in t.source_tokens + t.target_tokens + t.raw_tokens)
    assert len(t.raw_tokens) == len(t.target_tokens)
    assert "</s>" not in t.target_tokens and "<pad>" not in t.target_tokens and "<s>" not in t.target_tokens
    assert np.isfinite(t.score) and t.score <= 0
    if beam == 1:
        assert len(t.steps) == len(t.target_tokens) + 1    # the last step chose </s>
    else:                                                   # the beam goes on until K hypotheses end
        assert len(t.steps) >= len(t.target_tokens) + 1
    if tr.has_attention:
        assert isinstance(t.attention, np.ndarray)
        assert t.attention.shape == (len(t.target_tokens), len(t.source_tokens))
        assert np.isfinite(t.attention).all() and (t.attention >= 0).all()
        assert (t.attention.sum(1) <= 1 + 1e-5).all()
    else:
        assert t.attention is None


def translate_or_value_error(tr, text, **kw):
    with hang_guard(HANG_SECONDS, f"translating {text[:40]!r} with {tr.name}"):
        try:
            return tr.translate(text, **kw)
        except ValueError as e:
            message = str(e)
            assert 20 < len(message) < 400 and "Traceback" not in message and "tensor" not in message
            return e


def check_odd_inputs(tr, labels, beams):
    outcome = {}
    for label in labels:
        for beam in beams:
            got = translate_or_value_error(tr, ODD_INPUTS[label], beam_size=beam)
            if isinstance(got, Translation):
                assert_sane(got, tr, beam)
            outcome[label] = type(got).__name__
    for label in {"empty", "whitespace", "zero-width", "only lone surrogates"} & set(labels):
        assert outcome[label] == "ValueError", f"{label!r} has nothing to translate"
    for label in {"unknown word", "emoji", "chinese", "cyrillic", "script tag", "quotes",
                  "lone surrogate"} & set(labels):
        assert outcome[label] == "Translation", f"{label!r} is translatable text"


@pytest.mark.parametrize("name, beams", [("bahdanau", (1, 3)), ("luong-local-p", (1,)), ("seq2seq", (1,))],
                         ids=["bahdanau", "luong-local-p", "seq2seq"])
def test_odd_input_gives_a_sane_translation_or_a_readable_error(name, beams):
    """Every odd input on one model of each family (and with a beam on one of them)."""
    check_odd_inputs(pretrained.load(name), list(ODD_INPUTS), beams=beams)


@pytest.mark.parametrize("name", [n for n in MODELS if n not in ("bahdanau", "luong-local-p", "seq2seq")])
def test_odd_input_on_the_other_models(name):
    check_odd_inputs(pretrained.load(name), ["empty", "punctuation", "emoji", "chinese", "arabic", "cyrillic",
                                             "control characters", "quotes", "one long word"], beams=(1,))


def test_empty_text_message_says_what_to_do():
    with pytest.raises(ValueError, match="nothing to translate"):
        pretrained.load("bahdanau").translate("   ")


def test_the_longest_accepted_input_translates():
    tr = pretrained.load("luong-general")
    with hang_guard(HANG_SECONDS, f"{MAX_TOKENS} tokens"):
        assert_sane(tr.translate(" ".join(["cat"] * (MAX_TOKENS - 1)) + "."), tr)


@pytest.mark.parametrize("words", [MAX_TOKENS + 1, 1000])
def test_a_long_paragraph_is_refused_with_the_limit_in_the_message(words):
    tr = pretrained.load("luong-general")
    text = " ".join(["word"] * words)
    with hang_guard(HANG_SECONDS, "a long paragraph"), pytest.raises(ValueError) as err:
        tr.translate(text)
    assert str(MAX_TOKENS) in str(err.value) and str(words) in str(err.value)
    with pytest.raises(ValueError, match=str(MAX_TOKENS)):
        tr.translate_batch(["A short one.", text])


@pytest.mark.parametrize("bad", [None, 42, 3.5, b"bytes", ["a list"], {"text": "x"}])
def test_non_string_input_is_a_value_error(bad):
    tr = pretrained.load("bahdanau")
    with pytest.raises(ValueError, match="string"):
        tr.translate(bad)
    with pytest.raises(ValueError, match="string"):
        tr.translate_batch(["Fine.", bad])


@pytest.mark.parametrize("bad", [0, -1, MAX_BEAM + 1, 2.0, 2.5, "3", None, True])
def test_bad_beam_size_is_a_value_error(bad):
    with pytest.raises(ValueError, match="beam_size"):
        pretrained.load("bahdanau").translate("I am here.", beam_size=bad)


def test_lone_surrogates_are_dropped_like_control_characters():
    """A lone surrogate (e.g. from a badly decoded file) is not a character: it never reaches
    the tokens or the French text, which must stay writable as UTF-8 (HTML, files)."""
    tr = pretrained.load("bahdanau")
    t = tr.translate("I like \ud800 cars.")
    assert t.source_tokens == tr.translate("I like cars.").source_tokens == ["I", "like", "cars", "."]
    assert not any("\ud800" <= c <= "\udfff" for c in t.text)
    t.text.encode("utf-8")
    with pytest.raises(ValueError, match="nothing to translate"):
        tr.translate("\udfff\ud800")


# ------------------------------------------------------------------------------------------
# Arguments: every bad one is a readable ValueError naming it, raised before any decoding
# ------------------------------------------------------------------------------------------

def check_message(err, name, bad, allowed):
    message = str(err.value)
    assert message.startswith(name + " must be") and repr(bad) in message and allowed in message, message
    assert 20 < len(message) < 400


@pytest.mark.parametrize("bad", [-1, 0, 2.5, 3.0, None, "3", True, False, [3], 10**9, "many"])
@pytest.mark.parametrize("beam", [1, 20])
def test_bad_top_k_is_a_value_error(no_decoding, bad, beam):
    vocab = len(no_decoding.tgt_vocab)
    with hang_guard(HANG_SECONDS, f"top_k={bad!r}"), pytest.raises(ValueError) as err:
        no_decoding.translate("I bought a red car.", beam_size=beam, top_k=bad)
    check_message(err, "top_k", bad, f"from 1 to {vocab}")


def test_top_k_larger_than_the_target_vocabulary_is_refused(no_decoding):
    vocab = len(no_decoding.tgt_vocab)
    with pytest.raises(ValueError, match=f"top_k must be a whole number from 1 to {vocab} .*got {vocab + 1}"):
        no_decoding.translate("I am here.", top_k=vocab + 1)
    with pytest.raises(ValueError, match="top_k"):
        no_decoding.translate_batch(["I am here."], top_k=-1)


@pytest.mark.parametrize("bad", [None, "x", "1.0", float("nan"), float("inf"), -float("inf"), -0.5,
                                 MAX_LENGTH_PENALTY + 0.5, True, [1.0], 1 + 0j])
@pytest.mark.parametrize("beam", [1, 3])
def test_bad_length_penalty_is_a_value_error(no_decoding, bad, beam):
    with pytest.raises(ValueError) as err:
        no_decoding.translate("I am here.", beam_size=beam, length_penalty=bad)
    check_message(err, "length_penalty", bad, f"from 0 to {MAX_LENGTH_PENALTY:g}")


@pytest.mark.parametrize("name", ["replace_unk", "record"])
@pytest.mark.parametrize("bad", [None, "no", "False", 0, 1, 1.0])
def test_flags_must_be_true_or_false(no_decoding, name, bad):
    call = no_decoding.translate_batch if name == "record" else no_decoding.translate
    text = ["I am here."] if name == "record" else "I am here."
    with pytest.raises(ValueError) as err:
        call(text, **{name: bad})
    check_message(err, name, bad, "True or False")


@pytest.mark.parametrize("bad", [0, -1, 2.5, "10", None, True])
def test_bad_batch_size_is_a_value_error(no_decoding, bad):
    with pytest.raises(ValueError) as err:
        no_decoding.translate_batch(["I am here.", "You are there."], batch_size=bad)
    check_message(err, "batch_size", bad, "at least 1")


@pytest.mark.parametrize("bad", ["I am here.", b"I am here.", None, 42])
def test_translate_batch_wants_a_list_of_texts(no_decoding, bad):
    """A bare string would otherwise be translated letter by letter."""
    with pytest.raises(ValueError, match="list of English strings"):
        no_decoding.translate_batch(bad)


def test_bad_beam_size_is_refused_before_decoding(no_decoding):
    for bad in (0, MAX_BEAM + 1, 2.5, "3", True):
        with pytest.raises(ValueError) as err:
            no_decoding.translate("I am here.", beam_size=bad)
        check_message(err, "beam_size", bad, f"from 1 to {MAX_BEAM}")


def test_arguments_at_the_edges_of_their_ranges_are_accepted():
    tr = pretrained.load("bahdanau")
    vocab = len(tr.tgt_vocab)
    greedy = tr.translate("I am here.", top_k=vocab)           # every word, in order
    assert_sane(greedy, tr)
    assert all(len(s.hypotheses[0].top_k) == vocab for s in greedy.steps)
    one = tr.translate("I am here.", top_k=np.int64(1), beam_size=np.int64(MAX_BEAM))
    assert_sane(one, tr, MAX_BEAM)
    assert all(len(h.top_k) == 1 for s in one.steps for h in s.hypotheses)
    for alpha in (0, 0.0, 1, np.float32(0.5), MAX_LENGTH_PENALTY):
        assert_sane(tr.translate("I am here.", beam_size=3, length_penalty=alpha), tr, 3)
    assert [t.text for t in tr.translate_batch(("Hello!", "I am here."), batch_size=1, record=np.bool_(True))] \
        == [t.text for t in tr.translate_batch(["Hello!", "I am here."])]


@pytest.mark.parametrize("label", ["script tag", "html", "quotes"])
def test_markup_in_the_input_is_split_into_plain_tokens(label):
    """The tokenizer splits markup into single characters and words, and every output token is a
    target-vocabulary word or a copied source token: no tag can come out whole (escaping the
    text for HTML is the display's job)."""
    tr = pretrained.load("bahdanau")
    t = tr.translate(ODD_INPUTS[label])
    assert_sane(t, tr)
    for tok in t.source_tokens + t.target_tokens:
        assert not ("<" in tok and len(tok) > 1) and not (">" in tok and len(tok) > 1), tok
    assert all(tok in tr.tgt_vocab or tok in t.source_tokens for tok in t.target_tokens)


@pytest.mark.parametrize("name", ["luong-general", *NEW])
@pytest.mark.parametrize("beam", [1, 3])
def test_batch_and_single_translations_agree(name, beam):
    """Padding changes nothing: sentences of different lengths decoded together give what each
    gives alone (words, score and attention)."""
    tr = pretrained.load(name)
    texts = ["The cat is sleeping under my chair.", "Hello!", "Can you help me carry this heavy box?"]
    batch = tr.translate_batch(texts, beam_size=beam)
    assert len({len(t.source_tokens) for t in batch}) == len(texts), "the test needs padding"
    for text, t in zip(texts, batch):
        single = tr.translate(text, beam_size=beam)
        assert single.target_tokens == t.target_tokens
        assert single.score == pytest.approx(t.score, abs=1e-4)
        assert (single.attention is None) == (t.attention is None) == (not tr.has_attention)
        if tr.has_attention:
            np.testing.assert_allclose(single.attention, t.attention, atol=1e-5)


INVENTED = ["I like red cars.", "The little girl is reading a book in the garden.", "Hello!",
            "We will go to the beach tomorrow if the weather is nice.", "Yesterday Zorbulak visited his old teacher."]


@pytest.mark.parametrize("name", NEW)
def test_beam_size_1_is_greedy_for_the_new_models(name):
    tr = pretrained.load(name)
    ids = [tr.src_vocab.encode(tokenize(s, "en")) for s in INVENTED]
    src, lengths = pad(ids), torch.tensor([len(x) for x in ids])
    greedy, beam = greedy_search(tr.model, src, lengths), beam_search(tr.model, src, lengths, beam_size=1)
    assert any(len(g.tokens) > 3 for g in greedy)
    for g, b in zip(greedy, beam):
        assert g.tokens == b.tokens and g.score == pytest.approx(b.score, abs=1e-4)
        assert (g.attention is None) == (b.attention is None) == (not tr.has_attention)
        if tr.has_attention:
            torch.testing.assert_close(g.attention, b.attention, atol=1e-5, rtol=0)


@pytest.mark.parametrize("name", NEW)
def test_the_coverage_penalty_with_the_new_models(name):
    """β > 0 needs attention: the Transformer's (the last layer's head mean) re-ranks its beam; a
    model without attention refuses it with a readable error. β = 0 changes nothing."""
    tr = pretrained.load(name)
    plain = tr.translate_batch(INVENTED, beam_size=5)
    assert [t.text for t in tr.translate_batch(INVENTED, beam_size=5, coverage_penalty=0)] == [t.text for t in plain]
    if not tr.has_attention:
        with pytest.raises(ValueError, match="coverage_penalty must be 0 for a model without attention"):
            tr.translate(INVENTED[0], beam_size=5, coverage_penalty=1.0)
        return
    for t in tr.translate_batch(INVENTED, beam_size=5, coverage_penalty=1.0, record=True):
        assert_sane(t, tr, 5)


# ------------------------------------------------------------------------------------------
# <unk> replacement
# ------------------------------------------------------------------------------------------

def test_replace_unknowns_takes_the_most_attended_source_word():
    source = ["Zorglub", "met", "Blixa", "."]
    attention = np.array([[0.7, 0.1, 0.1, 0.1],
                          [0.1, 0.6, 0.2, 0.1],
                          [0.05, 0.05, 0.8, 0.1],
                          [0.0, 0.0, 0.1, 0.9]])
    assert replace_unknowns([UNK, "a", UNK, "."], attention, source) == ["Zorglub", "a", "Blixa", "."]
    assert replace_unknowns(["rien", "."], attention[:2], source) == ["rien", "."]
    assert replace_unknowns([UNK, "x"], None, source) == [UNK, "x"]     # without attention: unchanged


PROPER_NAMES = ["My friend Zorglub lives in Paris.", "Blixa is very tall.", "I met Quarkus yesterday.",
                "Zorglub and Blixa are eating."]


@pytest.mark.parametrize("name", WITH_ATTENTION)
def test_unknown_words_are_replaced_through_attention(name):
    tr = pretrained.load(name)
    replaced = 0
    for text in PROPER_NAMES:
        for beam in ((1, 4) if name in ("bahdanau", "luong-general") else (1,)):
            t = tr.translate(text, beam_size=beam)
            assert_sane(t, tr, beam)
            for i, (raw, final) in enumerate(zip(t.raw_tokens, t.target_tokens)):
                if raw == UNK:
                    assert final == t.source_tokens[int(t.attention[i].argmax())]
                    replaced += 1
                else:
                    assert final == raw
            plain = tr.translate(text, beam_size=beam, replace_unk=False)
            assert plain.target_tokens == t.raw_tokens
    assert replaced > 0, f"{name} produced no <unk> for the invented names, so replacement was not exercised"


@pytest.mark.parametrize("name", [n for n in MODELS if n not in WITH_ATTENTION])
def test_models_without_attention_keep_unk(name):
    tr = pretrained.load(name)
    for beam in (1, 3):
        t = tr.translate(PROPER_NAMES[0], beam_size=beam)
        assert t.attention is None and t.target_tokens == t.raw_tokens
        assert all(h.attention is None for s in t.steps for h in s.hypotheses)


@pytest.mark.parametrize("name", MODELS)
def test_every_model_translates_an_invented_sentence(name):
    tr = pretrained.load(name)
    t = tr.translate("I like the red car.", beam_size=5)
    assert_sane(t, tr, 5)
    assert t.text and t.text[0].isupper() and t.text.rstrip()[-1] in ".!?"
