"""Normalisation, tokenisation and detokenisation for English and French.

* :func:`normalize` — NFC, one plain space for every Unicode space, straight quotes,
  no control/format characters and no lone surrogates; accents and case are kept.
* :func:`tokenize` — punctuation becomes separate tokens (``...``, decimals like ``3.5``
  and ``1,000`` and hyphenated words like ``est-ce`` stay whole).  English clitics take
  the apostrophe on the right (``do n't``, ``I 'm``, ``Tom 's``); French elisions keep it on
  the left (``l' homme``, ``qu' il``) except in fixed words such as ``aujourd'hui``.
* :func:`detokenize` — the inverse, with French spacing (``Quoi ?``, ``« Oui »``) for
  ``lang="fr"`` and English spacing (``What?``) for ``lang="en"``.
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

__all__ = ["normalize", "tokenize", "detokenize", "LANGS"]

LANGS = ("en", "fr")

_TRANSLATE = str.maketrans({
    "\u2019": "'", "\u2018": "'", "\u201b": "'", "\u02bc": "'",  # ’ ‘ ‛ ʼ
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"',  # “ ” „ ‟
    "\u2010": "-", "\u2011": "-",                                # hyphen, non-breaking hyphen
})


_REMOVED = ("Cc", "Cf", "Cs")  # control, format, surrogate
_SURROGATE = re.compile("[\ud800-\udfff]")


def normalize(text: str) -> str:
    """Return ``text`` in NFC with Unicode spaces as ``' '`` (collapsed and stripped),
    curly quotes made straight and control (Cc), format (Cf) and surrogate (Cs) code points
    removed.  A high-low surrogate pair (``"\\ud83d\\ude00"``) is first joined into the
    character it encodes; a lone surrogate is not a character and cannot be written as
    UTF-8 (it would break HTML or file output), so it goes like a control character."""
    text = text.translate(_TRANSLATE)
    if not text.isprintable():  # some whitespace, control, format or surrogate character
        if _SURROGATE.search(text):  # join valid pairs; lone ones are dropped below
            text = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "surrogatepass")
        text = "".join(c for c in text if c.isprintable() or c.isspace()
                       or unicodedata.category(c) not in _REMOVED)
    text = " ".join(text.split())  # every Unicode space -> one ' '
    return text if unicodedata.is_normalized("NFC", text) else unicodedata.normalize("NFC", text)


# French words whose apostrophe is not an elision.
_FR_FIXED = r"aujourd'hui|prud'hom\w*|presqu'îles?|quelqu'une?|chefs?-d'œuvres?"
_COMMON = r"""
    (?P<ellipsis>\.{2,}|…)
  | (?P<number>\d+(?:[.,]\d+|:\d\d(?!\d))+)      # 3.5  1,000  12:45
  | (?P<acronym>(?<!\w)(?:[^\W\d_]\.){2,})        # U.S.  p.m.  e.g.
"""
_TOKEN = {
    "en": re.compile(_COMMON + r"""
  | (?P<word>\w+(?:-\w+)*)
  | (?P<clitic>(?<=\w)'\w+)
  | (?P<other>\S)
""", re.VERBOSE),
    "fr": re.compile(_COMMON + rf"""
  | (?P<fixed>(?i:{_FR_FIXED})(?!\w))
  | (?P<elided>\w+(?:-\w+)*'(?=\w))
  | (?P<word>\w+(?:-\w+)*)
  | (?P<other>\S)
""", re.VERBOSE),
}


def tokenize(text: str, lang: str) -> list[str]:
    """Split ``text`` (normalised first) into word and punctuation tokens; case is kept."""
    if lang not in _TOKEN:
        raise ValueError(f"lang must be one of {LANGS}, not {lang!r}")
    tokens = [m.group() for m in _TOKEN[lang].finditer(normalize(text))]
    if lang == "en":  # "don" "'t" -> "do" "n't"; "can" "'t" -> "ca" "n't"
        for i in range(1, len(tokens)):
            prev, tok = tokens[i - 1], tokens[i]
            if tok.lower() == "'t" and len(prev) > 1 and prev[-1] in "nN":
                tokens[i - 1], tokens[i] = prev[:-1], prev[-1] + tok
    return tokens


_NO_SPACE_BEFORE = {".", ",", ")", "]", "}", "...", "…"}
_NO_SPACE_BEFORE_EN = {"!", "?", ";", ":", "%", "‽"}
_NO_SPACE_AFTER = {"(", "[", "{"}
_NO_SPACE_AFTER_EN = {"$", "£", "€", "#"}


def _is_clitic(tok: str) -> bool:
    """English clitics: ``'s``, ``'m``, ``n't`` ... (joined to the previous word)."""
    return (len(tok) > 1 and tok[0] == "'" and tok[1].isalnum()) or tok.lower() == "n't"


def _is_dots(tok: str) -> bool:
    """``..``, ``....``: :func:`tokenize` keeps any run of dots whole, like ``...``."""
    return len(tok) > 1 and not tok.strip(".")


def _is_elided(tok: str) -> bool:
    """French elisions: ``l'``, ``qu'``, ``j'`` ... (joined to the next word)."""
    return len(tok) > 1 and tok[-1] == "'" and tok[-2].isalnum()


def detokenize(tokens: Iterable[str], lang: str = "fr") -> str:
    """Join tokens into text with the spacing rules of ``lang`` ("fr" or "en").

    French: a space before ``! ? ; : »`` and after ``«``; none before ``. , )`` or a run of
    dots (``...``, ``..``) nor after ``(``; elisions join the next word.  English: no space before ``! ? ; : %`` either nor
    after ``$``; clitics (``n't``, ``'s``) and a possessive ``'`` after *s* join the previous
    word.  Straight quotes alternate between opening (joined to the next token) and closing
    (joined to the previous one).
    """
    if lang not in _TOKEN:
        raise ValueError(f"lang must be one of {LANGS}, not {lang!r}")
    en = lang == "en"
    no_before = _NO_SPACE_BEFORE | (_NO_SPACE_BEFORE_EN if en else set())
    no_after = _NO_SPACE_AFTER | (_NO_SPACE_AFTER_EN if en else set())
    out: list[str] = []
    glue_next = True  # no space before the first token
    open_quote = {'"': False, "'": False}
    for tok in tokens:
        if not tok:
            continue
        glue, glue_after = glue_next, False
        if en and tok == "'" and not open_quote[tok] and out and out[-1][-1:] in ("s", "S"):
            glue = True  # plural possessive: "my parents' advice"
        elif tok in open_quote:
            if open_quote[tok]:
                glue = True  # closing quote
            else:
                glue_after = True  # opening quote
            open_quote[tok] = not open_quote[tok]
        elif tok in no_before or _is_dots(tok) or _is_clitic(tok):
            glue = True
        if tok in no_after or _is_elided(tok):
            glue_after = True
        if out and not glue:
            out.append(" ")
        out.append(tok)
        glue_next = glue_after
    return "".join(out)
