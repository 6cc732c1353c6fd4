"""Edge cases of the tokenizer as a table: input -> the tokens it is designed to give.

Each row pins one rule of ``attention_course.data.text`` (named in its comment), so that
changing any single rule (a character map, a regex alternative, its order, a lookaround,
a fixed French word, the ``n't`` fix-up, a detokenizer spacing set) fails at least one row.
The shipped models' vocabularies were built with these rules: a row that has to change
means the models see different tokens (check the whole corpus before changing a rule).
"""
import pytest

from attention_course.data import detokenize, normalize, tokenize

EN, FR = "en", "fr"

# (text, lang, expected tokens)
TOKENIZE = [
    # ---- empty input: no token at all, never an empty token ----
    ("", EN, []),
    ("", FR, []),
    ("   ", EN, []),
    (" \t\n\u00a0\u202f\u3000", FR, []),                 # every Unicode space
    ("\x00\x07\u200b\ufeff", EN, []),                    # control (Cc) and format (Cf) only
    ("\ud800 \udc00", FR, []),                           # lone surrogates (Cs) only
    ("  a \t\n b  ", EN, ["a", "b"]),                    # spaces collapse: no empty token between
    ("a\x00b\u200bc", EN, ["abc"]),                      # removed characters do not split a word
    ("\ud83d\ude00!", EN, ["\U0001f600", "!"]),          # a surrogate pair is the character it encodes
    # ---- English clitics: the apostrophe goes right, "n't" takes the n ----
    ("don't", EN, ["do", "n't"]),
    ("DON'T", EN, ["DO", "N'T"]),                        # upper-case N and T
    ("Don'T", EN, ["Do", "n'T"]),                        # "'T" is matched case-insensitively
    ("I'M", EN, ["I", "'M"]),
    ("CAN'T", EN, ["CA", "N'T"]),
    ("won't", EN, ["wo", "n't"]),
    ("n't", EN, ["n", "'t"]),                            # no word left before n't: no empty token
    ("an't", EN, ["a", "n't"]),                          # (archaic) a one-letter word is enough
    ("that't", EN, ["that", "'t"]),                      # 't without an n stays a plain clitic
    ("we'd've", EN, ["we", "'d", "'ve"]),
    ("mother-in-law's", EN, ["mother-in-law", "'s"]),
    ("'tis", EN, ["'", "tis"]),                          # a clitic needs a word on its left
    ("'hello'", EN, ["'", "hello", "'"]),
    ("PARENTS'", EN, ["PARENTS", "'"]),                  # trailing apostrophe: a token of its own
    ("my parents' car", EN, ["my", "parents", "'", "car"]),
    ("It\u2019s", EN, ["It", "'s"]),                     # curly apostrophe
    ("quelqu'un", EN, ["quelqu", "'un"]),                # French fixed words are French only
    ("l'homme", EN, ["l", "'homme"]),
    # ---- French elisions: the apostrophe stays left ----
    ("l'homme", FR, ["l'", "homme"]),
    ("L'HOMME", FR, ["L'", "HOMME"]),
    ("Qu'est-ce", FR, ["Qu'", "est-ce"]),
    ("c'est-à-dire", FR, ["c'", "est-à-dire"]),
    ("va-t'en", FR, ["va-t'", "en"]),                    # a hyphenated word can be elided
    ("Tom's", FR, ["Tom'", "s"]),                        # no clitic rule in French
    ("don't", FR, ["don'", "t"]),                        # nor the n't fix-up
    ("Je l'", FR, ["Je", "l", "'"]),                     # l' at the end: nothing to elide into
    ("Il n' y est pas.", FR, ["Il", "n", "'", "y", "est", "pas", "."]),  # nor before a space
    ("C'est 'Spot'.", FR, ["C'", "est", "'", "Spot", "'", "."]),  # a closing quote is no elision
    ("l\u2019\u00e9t\u00e9", FR, ["l'", "\u00e9t\u00e9"]),  # curly apostrophe, accented word
    # ---- French words whose apostrophe is not an elision ----
    ("aujourd'hui", FR, ["aujourd'hui"]),
    ("d'aujourd'hui", FR, ["d'", "aujourd'hui"]),
    ("AUJOURD'HUI", FR, ["AUJOURD'HUI"]),                # any case
    ("aujourd'huis", FR, ["aujourd'", "huis"]),          # only as a whole word
    ("quelqu'un", FR, ["quelqu'un"]),
    ("Quelqu'une", FR, ["Quelqu'une"]),
    ("prud'hommes", FR, ["prud'hommes"]),
    ("presqu'île", FR, ["presqu'île"]),
    ("presqu'îles", FR, ["presqu'îles"]),
    ("chef-d'œuvre", FR, ["chef-d'œuvre"]),
    ("chefs-d'œuvre", FR, ["chefs-d'œuvre"]),
    ("chefs-d'œuvres", FR, ["chefs-d'œuvres"]),          # a common misspelling, kept whole too
    ("quelqu\u2019un", FR, ["quelqu'un"]),                # curly apostrophe
    # ---- apostrophe-like characters made straight ----
    ("l\u2018homme", FR, ["l'", "homme"]),               # ‘
    ("l\u201bhomme", FR, ["l'", "homme"]),               # ‛
    ("l\u02bchomme", FR, ["l'", "homme"]),               # ʼ (modifier letter: a \w without the map)
    # ---- curly double quotes made straight ----
    ("\u201cHi\u201d", EN, ['"', "Hi", '"']),
    ("\u201eHallo\u201f", EN, ['"', "Hallo", '"']),
    ("\u2018Hi\u2019", EN, ["'", "Hi", "'"]),
    # ---- hyphens ----
    ("twenty-one", EN, ["twenty-one"]),
    ("est-ce", FR, ["est-ce"]),
    ("porte\u2011monnaie", FR, ["porte-monnaie"]),        # U+2011 non-breaking hyphen
    ("peut\u2010être", FR, ["peut-être"]),               # U+2010 hyphen
    ("1990\u20132000", EN, ["1990", "\u2013", "2000"]),  # an en dash is no hyphen
    ("-ce", FR, ["-", "ce"]),                            # a hyphen joins two words only
    ("well-", EN, ["well", "-"]),
    ("a--b", EN, ["a", "-", "-", "b"]),
    # ---- numbers ----
    ("3.5", EN, ["3.5"]),
    ("3,5", FR, ["3,5"]),
    ("1,000,000", EN, ["1,000,000"]),
    ("1,000.50", EN, ["1,000.50"]),
    ("12:45", FR, ["12:45"]),
    ("12:45:30", EN, ["12:45:30"]),
    ("12:345", EN, ["12", ":", "345"]),                  # minutes are two digits
    ("1:2", EN, ["1", ":", "2"]),
    ("3.", EN, ["3", "."]),
    (".5", EN, [".", "5"]),
    ("It is 3.5.", EN, ["It", "is", "3.5", "."]),
    ("-3.5%", EN, ["-", "3.5", "%"]),
    ("3,5 %", FR, ["3,5", "%"]),
    ("20th", EN, ["20th"]),
    # ---- dots: ellipses, acronyms ----
    ("..", EN, [".."]),
    ("Wait..", FR, ["Wait", ".."]),
    ("Wait...", EN, ["Wait", "..."]),
    ("Wait....", EN, ["Wait", "...."]),
    ("a...b", FR, ["a", "...", "b"]),
    ("Wait\u2026", FR, ["Wait", "\u2026"]),
    ("U.S.", EN, ["U.S."]),
    ("U.S.A..", EN, ["U.S.A.", "."]),
    ("e.g. this", EN, ["e.g.", "this"]),
    ("I.", EN, ["I", "."]),                              # one letter and a dot is no acronym
    ("A.B", EN, ["A", ".", "B"]),
    ("p.2.", EN, ["p", ".", "2", "."]),                  # acronyms are letters only
    ("10.30a.m.", EN, ["10.30", "a", ".", "m", "."]),    # an acronym starts a word
    # ---- brackets and other punctuation ----
    ("[a]", EN, ["[", "a", "]"]),
    ("]a[", FR, ["]", "a", "["]),
    ("(oui)", FR, ["(", "oui", ")"]),
    ("{x}", EN, ["{", "x", "}"]),
    # ---- French punctuation spacing: with or without the space, the same tokens ----
    ("Quoi ?", FR, ["Quoi", "?"]),
    ("Quoi?", FR, ["Quoi", "?"]),
    ("Quoi\u202f?", FR, ["Quoi", "?"]),                   # narrow no-break space
    ("Non !", FR, ["Non", "!"]),
    ("Note : ceci", FR, ["Note", ":", "ceci"]),
    ("Oui ; non", FR, ["Oui", ";", "non"]),
    ("« Oui »", FR, ["«", "Oui", "»"]),
    ("«Oui»", FR, ["«", "Oui", "»"]),
    ("\u00ab\u00a0Oui\u00a0\u00bb", FR, ["«", "Oui", "»"]),
    ("Vraiment ?!", FR, ["Vraiment", "?", "!"]),
    # ---- case, accents, NFC ----
    ("Élève ÇA", FR, ["Élève", "ÇA"]),
    ("e\u0301te\u0301", FR, ["\u00e9t\u00e9"]),            # decomposed accents are composed
]

# (tokens, lang, expected text)
DETOKENIZE = [
    ([], FR, ""),
    (["", ""], EN, ""),
    (["a", "", "b"], FR, "a b"),                        # empty tokens are skipped
    (["", "."], FR, "."),
    (["?"], FR, "?"),                                   # no space before the first token
    # no space before, in both languages
    (["Oui", "."], FR, "Oui."),
    (["Oui", ",", "non"], FR, "Oui, non"),
    (["(", "oui", ")"], FR, "(oui)"),
    (["[", "oui", "]"], FR, "[oui]"),
    (["{", "x", "}"], EN, "{x}"),
    (["Wait", "..."], EN, "Wait..."),
    (["Wait", ".."], EN, "Wait.."),
    (["Wait", "...."], FR, "Wait...."),
    (["Wait", "\u2026"], FR, "Wait\u2026"),
    # French: a space before ! ? ; : and around « »
    (["Quoi", "?"], FR, "Quoi ?"),
    (["Non", "!"], FR, "Non !"),
    (["Note", ":", "ceci"], FR, "Note : ceci"),
    (["Oui", ";", "non"], FR, "Oui ; non"),
    (["«", "Oui", "»"], FR, "« Oui »"),
    (["3,5", "%"], FR, "3,5 %"),
    (["5", "€"], FR, "5 €"),
    (["$", "5"], FR, "$ 5"),
    # English: none before ! ? ; : % ‽ nor after $ £ € #
    (["What", "?"], EN, "What?"),
    (["No", "!"], EN, "No!"),
    (["Note", ":", "this"], EN, "Note: this"),
    (["Yes", ";", "no"], EN, "Yes; no"),
    (["10", "%"], EN, "10%"),
    (["What", "\u203d"], EN, "What\u203d"),
    (["$", "5"], EN, "$5"),
    (["£", "5"], EN, "£5"),
    (["€", "5"], EN, "€5"),
    (["#", "1"], EN, "#1"),
    # English clitics join the previous word
    (["I", "'m", "here"], EN, "I'm here"),
    (["I", "'M"], EN, "I'M"),
    (["do", "n't"], EN, "don't"),
    (["DO", "N'T"], EN, "DON'T"),
    (["Tom", "'s"], EN, "Tom's"),
    # a lone apostrophe: possessive after s in English, else a quote that opens then closes
    (["PARENTS", "'"], EN, "PARENTS'"),
    (["my", "parents", "'", "car"], EN, "my parents' car"),
    (["Tom", "'", "hi", "'"], EN, "Tom 'hi'"),
    (["'", "cats", "'", "and", "'", "dogs", "'"], EN, "'cats' and 'dogs'"),  # closing, not possessive
    (["parents", "'", "car", "'"], FR, "parents 'car'"),  # no possessive in French
    (["Je", "l", "'"], FR, "Je l '"),                   # (so a final l' comes back spaced)
    (["He", "said", '"', "hi", '"', "and", '"', "bye", '"'], EN, 'He said "hi" and "bye"'),
    # French elisions join the next word
    (["l'", "homme"], FR, "l'homme"),
    (["Qu'", "est-ce", "qu'", "il", "dit", "?"], FR, "Qu'est-ce qu'il dit ?"),
    (["d'", "aujourd'hui"], FR, "d'aujourd'hui"),
    (["l'", "."], FR, "l'."),
]


@pytest.mark.parametrize("text, lang, expected", TOKENIZE,
                         ids=[f"{lang}:{text!a}" for text, lang, _ in TOKENIZE])
def test_tokenize(text, lang, expected):
    tokens = tokenize(text, lang)
    assert tokens == expected
    assert all(tok and not any(c.isspace() for c in tok) for tok in tokens)
    # tokenisation only inserts boundaries: nothing but spaces and removed characters is lost
    assert "".join(tokens) == normalize(text).replace(" ", "")
    # and detokenising gives text that tokenises the same way
    assert tokenize(detokenize(tokens, lang), lang) == tokens


@pytest.mark.parametrize("tokens, lang, expected", DETOKENIZE,
                         ids=[f"{lang}:{' '.join(tokens)!a}" for tokens, lang, _ in DETOKENIZE])
def test_detokenize(tokens, lang, expected):
    assert detokenize(tokens, lang) == expected


def test_the_table_has_no_duplicate_rows():
    assert len({(t, lang) for t, lang, _ in TOKENIZE}) == len(TOKENIZE)
    assert len({(tuple(t), lang) for t, lang, _ in DETOKENIZE}) == len(DETOKENIZE)
