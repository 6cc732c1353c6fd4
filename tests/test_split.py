"""The train/dev/test split: pure rule checks, then properties of the real corpus.

The corpus tests read the pinned corpus at run time (CI sets ATTENTION_COURSE_DATA);
they are skipped, with the reason, when it cannot be located without downloading.
"""
import dataclasses
import hashlib
import random
import zipfile

import pytest

from attention_course.data import split as S
from attention_course.data import CorpusError, Example, load_splits, locate_corpus, normalize
from attention_course.data import split_of


def expected_split(english: str) -> str:
    """The documented rule, written out independently."""
    key = normalize(english).lower().encode("utf-8")
    bucket = int(hashlib.sha1(key).hexdigest()[:8], 16) % 1000
    return "test" if bucket < 25 else ("dev" if bucket < 50 else "train")


def test_split_of_follows_the_documented_rule():
    sentences = [f"Invented sentence number {i}." for i in range(3000)]
    got = [split_of(s) for s in sentences]
    assert got == [expected_split(s) for s in sentences]
    assert set(got) == {"train", "dev", "test"}


@pytest.mark.parametrize("sentence, digits, split", [
    ("The lamp is blue.", "b0933ad7", "train"),      # bucket 871
    ("The soup is too salty.", "6870f058", "test"),  # bucket 24
    ("Where is the bakery?", "37276e3e", "test"),    # bucket 6
    ("Invented sentence number 0.", "40512646", "dev"),  # bucket 38
])
def test_split_of_is_pinned(sentence, digits, split):
    """Hard-coded values: changing the rule (and so every split) breaks this test."""
    assert hashlib.sha1(sentence.lower().encode()).hexdigest()[:8] == digits
    assert split_of(sentence) == split


def test_split_of_ignores_case_and_spacing():
    for s in ["Where is my umbrella?", "The purple owl sleeps.", "I'm not hungry."]:
        assert split_of(s) == split_of(s.upper()) == split_of(f"  {s.replace(' ', chr(0xa0))} ")
        assert split_of(s) == split_of(s.replace("'", "\u2019"))


def test_invented_corpus(tmp_path):
    rows = [("Hello there.", "Bonjour."), ("Hello there.", "Salut\u202f!"),
            ("Hello  there.", "Bonjour."), ("The cat sleeps.", "Le chat dort.")]
    rows += [(f"Sentence {i}.", f"Phrase {i}.") for i in range(400)]
    path = tmp_path / "fra-eng.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("fra.txt", "".join(f"{en}\t{fr}\tattribution\n" for en, fr in rows))
    splits = load_splits(path)
    flat = [p for name in S.SPLITS for p in splits[name]]
    assert len(flat) == len(rows) - 1  # "Hello  there." normalises to a duplicate pair
    assert ("Hello there.", "Salut !") in splits[split_of("Hello there.")]
    for name, pairs in splits.items():
        assert all(split_of(en) == name for en, _ in pairs)
    home = split_of("Hello there.")
    examples = S.test_set(home, path)
    assert Example("Hello there.", ("Bonjour.", "Salut !")) in examples
    assert [e.source for e in examples] == sorted(e.source for e in examples)
    with pytest.raises(ValueError):
        S.test_set("validation", path)
    with pytest.raises(dataclasses.FrozenInstanceError):
        examples[0].source = "x"


@pytest.fixture(scope="module")
def real_corpus():
    try:
        return locate_corpus(download=False)
    except CorpusError as exc:
        pytest.skip(f"real corpus not available (set ATTENTION_COURSE_DATA): {exc}")


@pytest.fixture(scope="module")
def real_splits(real_corpus):
    return load_splits(real_corpus)


def test_no_english_sentence_in_two_splits(real_splits):
    keys = {name: {en.lower() for en, _ in pairs} for name, pairs in real_splits.items()}
    assert not keys["train"] & keys["dev"]
    assert not keys["train"] & keys["test"]
    assert not keys["dev"] & keys["test"]
    for name, pairs in real_splits.items():
        assert all(split_of(en) == name for en, _ in pairs)


def test_split_sizes(real_splits):
    sizes = {name: len({en.lower() for en, _ in pairs}) for name, pairs in real_splits.items()}
    total = sum(sizes.values())
    assert total > 90_000
    for name in ("dev", "test"):
        assert 0.02 <= sizes[name] / total <= 0.03, (name, sizes)


def test_pairs_are_normalised_and_unique(real_splits):
    pairs = [p for name in S.SPLITS for p in real_splits[name]]
    assert len(pairs) == len(set(pairs)) > 130_000
    assert all(normalize(en) == en and normalize(fr) == fr for en, fr in pairs[::97])
    assert not any("\u202f" in fr or "\xa0" in fr for _, fr in pairs)


def test_split_does_not_depend_on_the_rest_of_the_corpus(real_splits, tmp_path):
    """A shuffled sample, written as a newer-style 3-column release, splits the same way."""
    home = {p: name for name, pairs in real_splits.items() for p in pairs}
    sample = random.Random(0).sample(sorted(home), 3000)
    path = tmp_path / "fra.txt"  # at run time only, in a temporary folder
    path.write_text("".join(f"{en}\t{fr}\tCC-BY 2.0 (France)\n" for en, fr in sample),
                    encoding="utf-8")
    sub = load_splits(path)
    assert sum(map(len, sub.values())) == len(sample)
    assert all(home[p] == name for name, pairs in sub.items() for p in pairs)


def test_real_test_set_has_multiple_references(real_corpus, real_splits):
    examples = S.test_set(path=real_corpus)
    assert [e.source for e in examples] == sorted({en for en, _ in real_splits["test"]})
    assert sum(len(e.references) for e in examples) == len(real_splits["test"])
    assert sum(len(e.references) > 1 for e in examples) > 100
    assert all(len(set(e.references)) == len(e.references) for e in examples)
    assert S.test_set(path=real_corpus) == examples  # deterministic
    assert len(S.test_set("dev", real_corpus)) > 2000
