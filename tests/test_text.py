"""Normalisation, tokenisation and detokenisation (invented sentences only)."""
import random
import unicodedata

import pytest

from attention_course.data import detokenize, normalize, tokenize

EN_SENTENCES = [
    "I don't think Tom's cat likes me.",
    "She can't swim, can she?",
    "We're late; the train left at 12:45!",
    "I'm 3.5 metres tall, aren't I?",
    'He said "goodbye" and left.',
    "It costs $1,000... or more.",
    "My twenty-one cousins won't come (sadly).",
    "They've lost their parents' keys again.",
    "Who's there? It's me: Mary.",
    "Wait… what did you say?",
]
FR_SENTENCES = [
    "L'homme qu'il a vu hier n'était pas là.",
    "Est-ce que j'ai bien compris ?",
    "Aujourd'hui, il fait 3,5 degrés !",
    "« Où vas-tu ? » demanda-t-elle.",
    "Je n'en sais rien ; demande à Marie.",
    "Il y a vingt-et-un élèves (environ).",
    "C'est-à-dire qu'on part à 12:45...",
    "Qu'est-ce qu'elle a dit : oui ou non ?",
    "J'aime l'été, mais pas l'hiver.",
    "Lorsqu'il pleut, nous restons à la maison.",
]


@pytest.mark.parametrize("text, expected", [
    ("don't", ["do", "n't"]),
    ("I'm here.", ["I", "'m", "here", "."]),
    ("Tom's dog can't bark", ["Tom", "'s", "dog", "ca", "n't", "bark"]),
    ("They'll say we'd've", ["They", "'ll", "say", "we", "'d", "'ve"]),
    ("Don't!", ["Do", "n't", "!"]),
])
def test_english_clitics_take_the_apostrophe_on_the_right(text, expected):
    assert tokenize(text, "en") == expected


@pytest.mark.parametrize("text, expected", [
    ("l'homme", ["l'", "homme"]),
    ("qu'il", ["qu'", "il"]),
    ("J'ai", ["J'", "ai"]),
    ("aujourd'hui", ["aujourd'hui"]),
    ("d'aujourd'hui", ["d'", "aujourd'hui"]),
    ("Qu'est-ce que c'est ?", ["Qu'", "est-ce", "que", "c'", "est", "?"]),
    ("l\u2019homme", ["l'", "homme"]),  # curly apostrophe
])
def test_french_elisions_keep_the_apostrophe_on_the_left(text, expected):
    assert tokenize(text, "fr") == expected


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_punctuation_is_split_off(lang):
    text = 'a. b, c! d? e; f: "g" «h» (i) j… k...'
    assert tokenize(text, lang) == [
        "a", ".", "b", ",", "c", "!", "d", "?", "e", ";", "f", ":", '"', "g", '"',
        "«", "h", "»", "(", "i", ")", "j", "…", "k", "..."]


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_numbers_and_hyphenated_words_stay_whole(lang):
    assert tokenize("3.5 and 1,000, twenty-one est-ce 12:45.", lang) == [
        "3.5", "and", "1,000", ",", "twenty-one", "est-ce", "12:45", "."]


def test_case_and_accents_are_kept():
    assert tokenize("Élève ÇA été", "fr") == ["Élève", "ÇA", "été"]
    assert normalize("  Où   ÊTES-vous ?  ") == "Où ÊTES-vous ?"


def test_nfc():
    decomposed = "e\u0301te\u0301"  # "été" with combining accents
    assert len(decomposed) == 5
    assert normalize(decomposed) == "\u00e9t\u00e9"
    assert tokenize("L'" + decomposed, "fr") == ["L'", "\u00e9t\u00e9"]
    assert all(unicodedata.is_normalized("NFC", t) for t in tokenize(decomposed + " !", "fr"))


@pytest.mark.parametrize("space", ["\u202f", "\xa0", "\u2009", "\u3000", "\t", "\n  "])
def test_unicode_spaces(space):
    assert normalize(f"Cours{space}!") == "Cours !"
    assert tokenize(f"Cours{space}!", "fr") == ["Cours", "!"]
    assert tokenize(f"«{space}Oui{space}»", "fr") == ["«", "Oui", "»"]


def test_quotes_and_control_characters():
    assert normalize("\u2018it\u2019s\u2019 \u201cok\u201d") == "'it's' \"ok\""
    assert normalize("a\x00b\u200bc\ufeff d\x07") == "abc d"
    assert normalize("") == ""


@pytest.mark.parametrize("text, expected", [
    ("I like \ud800 cars.", "I like cars."),     # lone high surrogate
    ("a\udfffb", "ab"),                           # lone low surrogate
    ("\udc00\ud800", ""),                         # low before high: two lone ones
    ("x\ud800\x00y\u200b", "xy"),                 # with control and format characters
    ("\ud83d\ude00 ok", "\U0001f600 ok"),          # a valid pair is the character it encodes
    ("cafe\u0301\ud800!", "caf\u00e9!"),           # still NFC
])
def test_surrogates_go_like_control_characters(text, expected):
    """A lone surrogate is not a character and cannot be written as UTF-8 (HTML, files)."""
    assert normalize(text) == expected
    for lang in ("en", "fr"):
        tokens = tokenize(text, lang)
        assert "".join(tokens) == expected.replace(" ", "")
        detokenize(tokens, lang).encode("utf-8")


@pytest.mark.parametrize("tokens, lang, expected", [
    (["Il", "a", "dit", ":", "«", "l'", "homme", "est", "là", "»", "."], "fr",
     "Il a dit : « l'homme est là »."),
    (["(", "oui", ")", ",", "bien", "sûr", "!", "Et", "toi", "?"], "fr",
     "(oui), bien sûr ! Et toi ?"),
    (["Qu'", "est-ce", "qu'", "il", "fait", "aujourd'hui", ";", "rien", "..."], "fr",
     "Qu'est-ce qu'il fait aujourd'hui ; rien..."),
    (["I", "do", "n't", "know", "Tom", "'s", "dog", "!"], "en", "I don't know Tom's dog!"),
    (["He", "said", '"', "hi", '"', ",", "then", "left", ":", "bye", "?"], "en",
     'He said "hi", then left: bye?'),
    (["It", "costs", "$", "5", "(", "or", "10", "%", ")", "."], "en", "It costs $5 (or 10%)."),
    ([], "fr", ""),
])
def test_detokenize_examples(tokens, lang, expected):
    assert detokenize(tokens, lang) == expected


def test_detokenize_defaults_to_french():
    assert detokenize(["Vraiment", "?"]) == "Vraiment ?"


@pytest.mark.parametrize("lang, sentence",
                         [("en", s) for s in EN_SENTENCES] + [("fr", s) for s in FR_SENTENCES])
def test_round_trip(lang, sentence):
    tokens = tokenize(sentence, lang)
    assert tokenize(detokenize(tokens, lang), lang) == tokens
    # tokenisation only inserts boundaries: it never drops or changes characters
    assert "".join(tokens) == normalize(sentence).replace(" ", "")


def test_round_trip_restores_typical_typography():
    for sentence in FR_SENTENCES:
        assert detokenize(tokenize(sentence, "fr"), "fr") == sentence
    for sentence in EN_SENTENCES:
        assert detokenize(tokenize(sentence, "en"), "en") == sentence


NASTY = [
    "", " ", "\x00\x01\x02", "😀🎉 ok 👍🏽", "👨\u200d👩\u200d👧", "<p class=\"x\">Salut&nbsp;!</p>",
    "'''", "\"\"\"", "l'", "'s", "n't", "...", "\ud800", "日本語のテキスト。", "עברית, العربية!",
    "a\tb\r\nc", "\u202e reversed", "---", "1.2.3,4,5", "..,;;!!??«»()",
]


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_never_raises_on_odd_input(lang):
    rng = random.Random(0)
    alphabet = "aé' .,!?«»()-\u202f\x00\u200b😀<>/&\"…日0123456789\ud83d\ude00"
    fuzz = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40))) for _ in range(300)]
    for text in NASTY + fuzz:
        tokens = tokenize(text, lang)
        assert all(tok and not any(c.isspace() for c in tok) for tok in tokens)
        assert "".join(tokens) == normalize(text).replace(" ", "")
        assert isinstance(detokenize(tokens, lang), str)
        normalize(text).encode("utf-8")  # nothing that UTF-8 cannot hold (lone surrogates)


def test_unknown_language():
    with pytest.raises(ValueError):
        tokenize("hello", "de")
    with pytest.raises(ValueError):
        detokenize(["hello"], "de")
