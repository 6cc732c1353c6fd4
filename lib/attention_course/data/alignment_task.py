"""A synthetic translation task whose word alignment is known exactly.

Real corpora do not say which source word each target word translates, so attention
weights cannot be scored against them without hand-made gold alignments. Here the
"translation" is a rule, and the rule records its alignment:

* Source sentences are drawn from a tiny grammar over invented words::

      sentence = clause [ "ta" clause ]
      clause   = NP VERB [ NP ] [ ADVERB ]
      NP       = DETERMINER ADJECTIVE{0,2} NOUN

* Each word is translated by a fixed dictionary: a word becomes itself in capitals
  (``nato`` → ``NATO``), except a few that become two words, one per syllable
  (``tobu`` → ``TO BU``: a one-to-two expansion).
* Word order changes locally, as between English and French adjectives: the
  adjectives before a noun move after it, keeping their order
  (``ka bavo deki nato`` → ``KA NATO BAVO DEKI``).

Every target word comes from exactly one source word, so the gold alignment is a set
of *sure* links ``(i, j)``: target position ``i`` translates source position ``j``
(0-based, the row and column of an attention matrix ``α_ij``).

Which split a sentence belongs to is decided by a hash of its source words (like the
corpus split), so a test sentence is never a training sentence.
"""
from __future__ import annotations

import hashlib
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .batching import Batch, make_batch
from .vocabulary import SPECIALS, Vocabulary

__all__ = ["LEXICON", "EXPANSIONS", "AlignedPair", "category", "translate_word", "translate", "split_of",
           "sample_source", "generate", "vocabularies", "encode", "to_batch"]

# The source words of each category (invented, so no knowledge of a real language helps).
LEXICON: dict[str, tuple[str, ...]] = {
    "determiner": ("ka", "lo", "mi"),
    "adjective": ("bavo", "deki", "fumo", "gani", "hiro", "jelu", "sapi", "lobi"),
    "noun": ("nato", "pira", "rusi", "sefa", "tobu", "vika", "wanu", "yemo", "zito", "buna", "demi", "foka"),
    "verb": ("gari", "hoku", "jamo", "kesi", "lupa", "mevo", "rodu", "sile"),
    "adverb": ("neba", "poli", "wiru"),
    "conjunction": ("ta",),
}
# Words translated by two target words (one per syllable): the one-to-two expansions.
EXPANSIONS: dict[str, tuple[str, str]] = {
    "tobu": ("TO", "BU"), "yemo": ("YE", "MO"), "hoku": ("HO", "KU"), "sapi": ("SA", "PI"),
}
_CATEGORY = {w: c for c, words in LEXICON.items() for w in words}
TEST_SHARE = 10   # one sentence in 10 (by hash) belongs to the test split


@dataclass(frozen=True)
class AlignedPair:
    """A source sentence, its translation and the gold alignment between them."""

    source: tuple[str, ...]
    target: tuple[str, ...]
    links: frozenset[tuple[int, int]]   # (target position i, source position j), 0-based


def category(word: str) -> str:
    """The grammatical category of a source word ("noun", "verb", ...)."""
    try:
        return _CATEGORY[word]
    except KeyError:
        raise ValueError(f"{word!r} is not a word of the synthetic language; its words are: "
                         f"{', '.join(sorted(_CATEGORY))}") from None


def translate_word(word: str) -> tuple[str, ...]:
    """The dictionary: one or two target words for one source word."""
    category(word)
    return EXPANSIONS.get(word, (word.upper(),))


def translate(source: Sequence[str] | str) -> AlignedPair:
    """Translate a source sentence (a list of words or a space-separated string) by the rule,
    recording which source word every target word comes from."""
    words = tuple(source.split() if isinstance(source, str) else source)
    if not words:
        raise ValueError("the sentence is empty")
    for w in words:
        category(w)
    order: list[int] = []            # source positions in target order
    j = 0
    while j < len(words):
        k = j
        while k < len(words) and category(words[k]) == "adjective":
            k += 1
        if k > j and k < len(words) and category(words[k]) == "noun":
            order += [k, *range(j, k)]   # the noun first, then its adjectives in their order
            j = k + 1
        elif k > j:
            order += list(range(j, k))   # adjectives without a following noun keep their place
            j = k
        else:
            order.append(j)
            j += 1
    target, links = [], set()
    for j in order:
        for t in translate_word(words[j]):
            links.add((len(target), j))
            target.append(t)
    return AlignedPair(words, tuple(target), frozenset(links))


def split_of(source: Sequence[str]) -> str:
    """"train" or "test", decided by a hash of the source words alone."""
    digest = hashlib.sha1(" ".join(source).encode("utf-8")).hexdigest()
    return "test" if int(digest[:8], 16) % TEST_SHARE == 0 else "train"


def _noun_phrase(rng: random.Random) -> list[str]:
    n_adj = rng.choices((0, 1, 2), weights=(0.35, 0.45, 0.2))[0]
    return ([rng.choice(LEXICON["determiner"])] + rng.sample(LEXICON["adjective"], n_adj)
            + [rng.choice(LEXICON["noun"])])


def _clause(rng: random.Random) -> list[str]:
    words = _noun_phrase(rng) + [rng.choice(LEXICON["verb"])]
    if rng.random() < 0.7:
        words += _noun_phrase(rng)
    if rng.random() < 0.3:
        words.append(rng.choice(LEXICON["adverb"]))
    return words


def sample_source(rng: random.Random) -> list[str]:
    """One random source sentence from the grammar (3 to 21 words)."""
    words = _clause(rng)
    if rng.random() < 0.35:
        words += ["ta"] + _clause(rng)
    return words


def generate(n: int, seed: int, split: str = "train") -> list[AlignedPair]:
    """``n`` random sentence pairs of ``split`` ("train" or "test"), reproducible from ``seed``."""
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', not {split!r}")
    rng = random.Random(seed)
    out: list[AlignedPair] = []
    while len(out) < n:
        source = sample_source(rng)
        if split_of(source) == split:
            out.append(translate(source))
    return out


def vocabularies() -> tuple[Vocabulary, Vocabulary]:
    """Source and target vocabularies of the whole language (no unknown words)."""
    src = [w for words in LEXICON.values() for w in words]
    tgt = list(dict.fromkeys(t for w in src for t in translate_word(w)))
    return Vocabulary(list(SPECIALS) + src), Vocabulary(list(SPECIALS) + tgt)


def encode(pairs: Iterable[AlignedPair], src_vocab: Vocabulary, tgt_vocab: Vocabulary
           ) -> list[tuple[list[int], list[int]]]:
    return [(src_vocab.encode(p.source), tgt_vocab.encode(p.target)) for p in pairs]


def to_batch(pairs: Sequence[AlignedPair], src_vocab: Vocabulary, tgt_vocab: Vocabulary) -> Batch:
    """One padded batch (``tgt_in`` starts with ``<s>``, ``tgt_out`` ends with ``</s>``)."""
    ids = encode(pairs, src_vocab, tgt_vocab)
    return make_batch([s for s, _ in ids], [t for _, t in ids])
