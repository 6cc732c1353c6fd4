"""The edges of the split rule: sentences whose hash bucket is exactly 0, 24, 25, 49, 50 and 999
(test < 25 <= dev < 50 <= train), pinned with their SHA-1 digits, and the corners of loading
(a "~" path, test_set not being collected by pytest). Invented sentences only."""
import hashlib
import zipfile

import pytest

from attention_course.data import load_splits, split_of
from attention_course.data.split import test_set

# (sentence, first 8 hex digits of SHA-1 of its lower-cased UTF-8, bucket = int(digits, 16) % 1000, split)
EDGES = [
    ("The parrot counted 514 pebbles.", "f9cb3460", 0, "test"),
    ("The parrot counted 3483 pebbles.", "fb742d70", 24, "test"),
    ("The parrot counted 399 pebbles.", "726c9a59", 25, "dev"),
    ("The parrot counted 940 pebbles.", "d11e39e9", 49, "dev"),
    ("The parrot counted 3496 pebbles.", "cc4a3022", 50, "train"),
    ("The parrot counted 425 pebbles.", "2045eac7", 999, "train"),
]


@pytest.mark.parametrize("sentence, digits, bucket, split", EDGES, ids=[f"bucket-{e[2]}" for e in EDGES])
def test_bucket_edges(sentence, digits, bucket, split):
    assert hashlib.sha1(sentence.lower().encode("utf-8")).hexdigest()[:8] == digits
    assert int(digits, 16) % 1000 == bucket
    assert split_of(sentence) == split


@pytest.mark.parametrize("sentence, digits, bucket, split", EDGES[1:3], ids=["bucket-24", "bucket-25"])
def test_the_rule_reads_the_normalised_lower_cased_sentence(sentence, digits, bucket, split):
    """Case, curly apostrophes, odd spaces and control characters never move a sentence."""
    variants = [sentence.upper(), f"\u00a0 {sentence}\t", sentence.replace(" ", "\u2009"),
                sentence.replace("e", "e\u200b")]
    assert {split_of(v) for v in variants} == {split}


def test_load_splits_expands_a_home_path(tmp_path, monkeypatch):
    rows = [(s, f"Phrase {bucket}.") for s, _, bucket, _ in EDGES]
    with zipfile.ZipFile(tmp_path / "fra-eng.zip", "w") as zf:
        zf.writestr("fra.txt", "".join(f"{en}\t{fr}\tattribution\n" for en, fr in rows))
    monkeypatch.setenv("HOME", str(tmp_path))
    splits = load_splits("~/fra-eng.zip")
    assert {name: [en for en, _ in pairs] for name, pairs in splits.items()} == {
        "test": [EDGES[0][0], EDGES[1][0]], "dev": [EDGES[2][0], EDGES[3][0]], "train": [EDGES[4][0], EDGES[5][0]]}
    examples = test_set("dev", "~/fra-eng.zip")
    assert [(e.source, e.references) for e in examples] == [(EDGES[2][0], ("Phrase 25.",)),
                                                           (EDGES[3][0], ("Phrase 49.",))]


def test_test_set_is_not_a_pytest_test():
    """``test_set`` is imported into this module by name: pytest would collect it (and fail on its
    argument) unless the package marks it with ``__test__ = False``."""
    assert test_set.__test__ is False
