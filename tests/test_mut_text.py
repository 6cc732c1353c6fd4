"""Detokenizing tokens that tokenize() never makes (another tokenizer's output, hand-written token
lists): an apostrophe glues only where it belongs to a word. A token that starts with an apostrophe
is a clitic (joined to the previous word) only when a letter or digit follows it ('s, 'm, 've), and
one that ends with an apostrophe is an elision (joined to the next word) only when a letter or digit
precedes it (l', qu'); anything else, like the Penn Treebank's closing quote '', is spaced like a
word. Adds to tests/test_tokenizer_table.py, whose rows all come from the tokenizer's own rules."""
import pytest

from attention_course.data import detokenize, tokenize

FOREIGN = [
    (["x", "''", "y"], "en", "x '' y"),          # Penn Treebank closing quote: no clitic, no elision
    (["x", "''", "y"], "fr", "x '' y"),
    (["a", "'-", "b"], "en", "a '- b"),          # apostrophe + punctuation: not a clitic
    (["a", "'.", "b"], "en", "a '. b"),
    (["a", "-'", "b"], "fr", "a -' b"),          # punctuation + apostrophe: not an elision
    (["a", ".'", "b"], "fr", "a .' b"),
    (["a", "'s", "b"], "en", "a's b"),           # the real ones, for contrast
    (["qu'", "il"], "fr", "qu'il"),
]


@pytest.mark.parametrize("tokens, lang, expected", FOREIGN, ids=[f"{lang}:{' '.join(t)}" for t, lang, _ in FOREIGN])
def test_tokens_the_tokenizer_never_makes(tokens, lang, expected):
    assert detokenize(tokens, lang) == expected


@pytest.mark.parametrize("tokens, lang", [(t, lang) for t, lang, _ in FOREIGN[:6]])
def test_the_tokenizer_indeed_never_makes_them(tokens, lang):
    """tokenize() splits such a token into an apostrophe and a punctuation mark."""
    text = " ".join(tokens)
    assert all(tok not in tokenize(text, lang) for tok in tokens if "'" in tok)
