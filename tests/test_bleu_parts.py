"""BLEU and chrF from their parts (evaluation/bleu_parts.py) equal sacreBLEU's.

On the test split for every shipped model (greedy translations, decoded here; the corpus is read
at run time), on hand-made cases whose parts are known, and on random corpora with uneven
reference lists, empty hypotheses and n-gram orders without a match.
"""
from __future__ import annotations

import math
import random

import pytest
import torch

from attention_course import pretrained
from attention_course.data.split import test_set
from attention_course.evaluation.bleu import corpus_bleu, corpus_chrf
from attention_course.evaluation.bleu_parts import (
    BleuParts, brevity_penalty, clipped_matches, closest_reference_length, corpus_bleu_parts,
    corpus_chrf_parts, tokenize_13a)

TOLERANCE = 0.01   # BLEU / chrF points


def test_clipping_counts_each_ngram_at_most_as_often_as_one_reference_has_it():
    # Papineni et al.'s example: "the the the the the the the" against two references.
    hyp = "the the the the the the the".split()
    refs = ["the cat is on the mat".split(), "there is a cat on the mat".split()]
    assert clipped_matches(hyp, refs, 1) == (2, 7)     # 2/7, not 7/7
    assert clipped_matches(hyp, refs, 2) == (0, 6)
    # the clip takes the reference with most copies, not the sum over references
    assert clipped_matches("a a a".split(), ["a b".split(), "a a c".split()], 1) == (2, 3)


def test_closest_reference_length_and_brevity_penalty():
    assert closest_reference_length(10, [7, 12, 13]) == 12
    assert closest_reference_length(10, [8, 12]) == 8          # a tie goes to the shorter one
    assert brevity_penalty(10, 10) == 1.0 and brevity_penalty(12, 10) == 1.0
    assert brevity_penalty(5, 10) == pytest.approx(math.exp(-1))
    assert brevity_penalty(0, 10) == 0.0


def test_score_is_bp_times_geometric_mean_of_precisions():
    parts = BleuParts(matches=(8, 6, 4, 2), totals=(10, 9, 8, 7), hypothesis_length=10, reference_length=11)
    p = [80.0, 600 / 9, 50.0, 200 / 7]
    assert parts.precisions == pytest.approx(p)
    assert parts.score == pytest.approx(math.exp(1 - 11 / 10) * math.prod(p) ** 0.25)
    # an order without any match is smoothed ("exp"): 1/2, then 1/4 ... of a match
    assert BleuParts((3, 1, 0, 0), (4, 3, 2, 1), 4, 4).precisions == pytest.approx((75.0, 100 / 3, 25.0, 25.0))
    assert BleuParts((0, 0, 0, 0), (4, 3, 2, 1), 4, 4).score == 0.0


def test_tokenisation_is_13a():
    assert tokenize_13a("Il m'a dit : « non ! »") == ["Il", "m'a", "dit", ":", "«", "non", "!", "»"]
    assert tokenize_13a("C'est 3,5 km.") == ["C'est", "3,5", "km", "."]


def _random_corpus(rng: random.Random, n: int):
    words = "le la les un une chat chien noir rouge voiture maison a est il elle . , ?".split()
    def sentence(k):
        return " ".join(rng.choice(words) for _ in range(k))
    hyps = [sentence(rng.randint(0, 12)) for _ in range(n)]
    refs = [[sentence(rng.randint(1, 12)) for _ in range(rng.randint(1, 3))] for _ in range(n)]
    return hyps, refs


@pytest.mark.parametrize("seed", range(25))
def test_equal_to_sacrebleu_on_random_corpora(seed):
    rng = random.Random(seed)
    hyps, refs = _random_corpus(rng, rng.choice([1, 2, 5, 40]))
    assert corpus_bleu_parts(hyps, refs).score == pytest.approx(corpus_bleu(hyps, refs).score, abs=1e-9)
    assert corpus_chrf_parts(hyps, refs) == pytest.approx(corpus_chrf(hyps, refs).score, abs=1e-9)


def test_equal_to_sacrebleu_statistics():
    hyps, refs = _random_corpus(random.Random(7), 60)
    ours, theirs = corpus_bleu_parts(hyps, refs), corpus_bleu(hyps, refs)
    assert list(ours.matches) == list(theirs.counts) and list(ours.totals) == list(theirs.totals)
    assert (ours.hypothesis_length, ours.reference_length) == (theirs.sys_len, theirs.ref_len)
    assert ours.brevity_penalty == pytest.approx(theirs.bp)


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="2 hypotheses but 1"):
        corpus_bleu_parts(["a", "b"], [["a"]])
    with pytest.raises(ValueError, match="at least one reference"):
        corpus_bleu_parts(["a"], [[]])
    with pytest.raises(ValueError, match="at least one reference"):
        corpus_chrf_parts(["a"], [[]])


@pytest.fixture(scope="module")
def test_split():
    return test_set("test")


@pytest.mark.parametrize("name", pretrained.NAMES)
def test_equal_to_sacrebleu_on_the_test_split(name, test_split):
    torch.set_num_threads(1)
    translator = pretrained.load(name)
    sources = [e.source for e in test_split]
    references = [list(e.references) for e in test_split]
    hypotheses = [t.text for t in translator.translate_batch(sources, beam_size=1, batch_size=600)]
    assert corpus_bleu_parts(hypotheses, references).score == pytest.approx(
        corpus_bleu(hypotheses, references).score, abs=TOLERANCE)
    assert corpus_chrf_parts(hypotheses, references) == pytest.approx(
        corpus_chrf(hypotheses, references).score, abs=TOLERANCE)
    # and the greedy outputs are the ones the model card scored
    assert corpus_bleu(hypotheses, references).score == pytest.approx(
        pretrained.metrics(name)["bleu_greedy"], abs=0.05)
