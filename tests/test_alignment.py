"""Alignment error rate, argmax alignments, the synthetic task with gold alignments, and
the tiny alignment models shipped for chapter 6."""
from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import numpy as np
import pytest
import torch
from attention_course.checkpoint import load_model
from attention_course.data import alignment_task as task
from attention_course.evaluation.alignment import (
    ERROR_TYPES,
    aer,
    alignment_counts,
    argmax_alignment,
    bootstrap_interval,
    corpus_aer,
    corpus_error_types,
    diagonal_alignment,
    error_types,
    precision_recall,
    teacher_forced_attention,
)

MODELS_DIR = Path(str(resources.files("attention_course") / "alignment_models"))
NAMES = ("bahdanau", "luong-dot", "luong-general", "luong-concat", "luong-local-p", "transformer")


# --- AER (Och & Ney 2003) ---------------------------------------------------------------------

def test_aer_by_hand():
    S = {(0, 0), (1, 2), (2, 1)}
    assert aer(S, S) == 0.0
    assert aer({(0, 1), (1, 0), (2, 2)}, S) == 1.0
    # two of three right: 1 - (2 + 2) / (3 + 3)
    assert aer({(0, 0), (1, 2), (2, 2)}, S) == pytest.approx(1 / 3)
    # with only sure links the AER is 1 - F1
    A = {(0, 0), (1, 2), (2, 2), (3, 1)}
    p, r = precision_recall(A, S)
    assert p == pytest.approx(2 / 4) and r == pytest.approx(2 / 3)
    assert aer(A, S) == pytest.approx(1 - 2 * p * r / (p + r))


def test_aer_possible_links():
    S = {(0, 0), (1, 2), (2, 3), (3, 2)}
    P = S | {(2, 1)}
    A = {(0, 0), (1, 2), (2, 1), (3, 3)}
    assert alignment_counts(A, S, P) == (2, 3, 4, 4)
    assert aer(A, S, P) == pytest.approx(1 - 5 / 8)
    assert aer(A, S) == pytest.approx(1 - 4 / 8)
    # a possible link predicted never hurts, a sure one missed does
    assert aer(S | {(2, 1)}, S, P) < aer(S - {(0, 0)}, S, P)
    # P is taken to include S even if given without it
    assert aer(A, S, {(2, 1)}) == aer(A, S, P)


def test_corpus_aer_sums_counts():
    S1, S2 = {(0, 0)}, {(0, 0), (1, 1), (2, 2), (3, 3)}
    A1, A2 = {(0, 1)}, {(0, 0), (1, 1), (2, 2), (3, 3)}
    # summed: |A∩S| = 4, |A| = 5, |S| = 5 -> 1 - 8/10; the mean of sentence AERs would be 0.5
    assert corpus_aer([A1, A2], [S1, S2]) == pytest.approx(0.2)
    assert corpus_aer([A1, A2], [S1, S2], [S1, S2]) == pytest.approx(0.2)


@pytest.mark.parametrize("bad", [[(0, -1)], [(0, 1, 2)], [("a", 1)], [(0.5, 1)], [(True, 1)], [3]])
def test_aer_rejects_bad_links(bad):
    with pytest.raises(ValueError, match="pairs"):
        aer(bad, {(0, 0)})


def test_aer_errors_are_clear():
    with pytest.raises(ValueError, match="undefined"):
        aer(set(), set())
    with pytest.raises(ValueError, match="one alignment per sentence"):
        corpus_aer([{(0, 0)}], [{(0, 0)}, {(1, 1)}])


def test_argmax_and_diagonal():
    a = np.array([[0.7, 0.2, 0.1], [0.1, 0.2, 0.7], [0.2, 0.5, 0.3], [0.1, 0.6, 0.3]])
    assert argmax_alignment(a) == {(0, 0), (1, 2), (2, 1), (3, 1)}
    assert argmax_alignment(torch.tensor(a)) == argmax_alignment(a)
    assert diagonal_alignment(3, 3) == {(0, 0), (1, 1), (2, 2)}
    assert diagonal_alignment(5, 3) == {(0, 0), (1, 0), (2, 1), (3, 2), (4, 2)}
    assert diagonal_alignment(1, 4) == {(0, 0)}
    with pytest.raises(ValueError):
        argmax_alignment(np.zeros(3))
    with pytest.raises(ValueError):
        diagonal_alignment(0, 3)


# --- where the wrong links point ---------------------------------------------------------------

# Six target words from five source words: source words 1 and 2 swap places, source word 3
# becomes two target words (3 and 4).
GOLD = {(0, 0), (1, 2), (2, 1), (3, 3), (4, 3), (5, 4)}
PREDICTED = {
    (0, 0),   # right
    (1, 0),   # gold 2; source 0 is target 0's: previous (in source positions it is 2 away)
    (2, 2),   # gold 1; source 2 is target 1's: previous (in source positions: j + 1)
    (3, 4),   # gold 3; target 2's is 1, target 4's is 3: elsewhere (in source positions: j + 1)
    (4, 4),   # gold 3; target 5's is 4: next
    (5, 1),   # gold 4; target 4's is 3: elsewhere
}


def plain_error_types(predicted, gold):
    """The same classification written independently: gold source words per target word."""
    sources = {}
    for i, j in gold:
        sources.setdefault(i, set()).add(j)
    counts = {"previous": 0, "next": 0, "elsewhere": 0}
    for i, j in predicted:
        if j in sources.get(i, set()):
            continue
        if j in sources.get(i - 1, set()):
            counts["previous"] += 1
        elif j in sources.get(i + 1, set()):
            counts["next"] += 1
        else:
            counts["elsewhere"] += 1
    return counts


def test_error_types_by_hand():
    expected = {"previous": 2, "next": 1, "elsewhere": 2}
    assert plain_error_types(PREDICTED, GOLD) == expected
    assert error_types(PREDICTED, GOLD) == expected
    assert tuple(error_types(PREDICTED, GOLD)) == ERROR_TYPES
    assert error_types(GOLD, GOLD) == {"previous": 0, "next": 0, "elsewhere": 0}
    # a source word that both neighbours have (targets 0 and 2 both come from 0) counts as previous
    assert error_types({(1, 0)}, {(0, 0), (1, 1), (2, 0)}) == {"previous": 1, "next": 0, "elsewhere": 0}
    # a target word without a gold link: its link is wrong, and sorted the same way
    assert error_types({(1, 0), (2, 5)}, {(0, 0)}) == {"previous": 1, "next": 0, "elsewhere": 1}


def test_error_types_catch_an_off_by_one():
    """Attention one step late (row i holding the weights of target word i - 1) makes every
    link point at the previous target word's source, one step early at the next one's; a
    classifier that mixed up the two directions, or looked two words away, fails here."""
    late = {(i + 1, j) for i, j in GOLD if i + 1 < 6} | {(0, 0)}
    early = {(i - 1, j) for i, j in GOLD if i > 0} | {(5, 4)}
    # where consecutive target words share a source word (3 and 4), the shifted link is right
    assert error_types(late, GOLD) == {"previous": 4, "next": 0, "elsewhere": 0}
    assert error_types(early, GOLD) == {"previous": 0, "next": 4, "elsewhere": 0}
    assert error_types(late, GOLD) == plain_error_types(late, GOLD)
    assert error_types(early, GOLD) == plain_error_types(early, GOLD)


def test_error_types_agree_with_plain_python_on_random_alignments():
    rng = np.random.default_rng(7)
    for _ in range(200):
        n_tgt, n_src = rng.integers(1, 9), rng.integers(1, 9)
        gold = {(int(i), int(rng.integers(n_src))) for i in range(n_tgt) if rng.random() < 0.9}
        gold |= {(int(rng.integers(n_tgt)), int(rng.integers(n_src))) for _ in range(rng.integers(0, 3))}
        predicted = argmax_alignment(rng.random((n_tgt, n_src)))
        assert error_types(predicted, gold) == plain_error_types(predicted, gold)


def test_corpus_error_types_sums_sentences():
    other_gold, other_pred = {(0, 1), (1, 0)}, {(0, 0), (1, 0)}      # target 0 looks at target 1's word
    totals = corpus_error_types([PREDICTED, other_pred], [GOLD, other_gold])
    assert totals == {"links": 8, "wrong": 6, "previous": 2, "next": 2, "elsewhere": 2}
    # the wrong links are exactly those the AER counts as wrong
    a_s, _, a, _ = (x + y for x, y in zip(alignment_counts(PREDICTED, GOLD), alignment_counts(other_pred, other_gold)))
    assert totals["wrong"] == a - a_s and totals["links"] == a
    with pytest.raises(ValueError, match="one alignment per sentence"):
        corpus_error_types([PREDICTED], [GOLD, GOLD])
    with pytest.raises(ValueError, match="pairs"):
        error_types([(0, -1)], GOLD)


def test_bootstrap_interval_matches_a_plain_loop():
    counts = np.array([[1, 4], [3, 4], [0, 2], [2, 2], [5, 6]])

    def ratio(c):
        return c[..., 0] / c[..., 1]

    low, high = bootstrap_interval(counts, ratio, resamples=200, seed=3, confidence=0.9)
    idx = np.random.default_rng(3).integers(0, len(counts), size=(200, len(counts)))
    values = []
    for row in idx:
        num = sum(int(counts[k][0]) for k in row)
        den = sum(int(counts[k][1]) for k in row)
        values.append(num / den)
    assert (low, high) == pytest.approx(tuple(np.quantile(values, [0.05, 0.95])))
    assert low <= ratio(counts.sum(0)) <= high


def test_bootstrap_interval_of_paired_and_constant_statistics():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 5, size=(50, 2)) + [0, 5]
    # identical systems on the same resampled sentences: the difference is exactly 0
    same = np.hstack([a, a])
    assert bootstrap_interval(same, lambda c: c[..., 0] / c[..., 1] - c[..., 2] / c[..., 3]) == (0.0, 0.0)
    # a ratio that is the same in every sentence does not vary
    constant = np.array([[1, 2], [2, 4], [3, 6]])
    assert bootstrap_interval(constant, lambda c: c[..., 0] / c[..., 1]) == pytest.approx((0.5, 0.5))
    with pytest.raises(ValueError):
        bootstrap_interval(np.zeros(3), lambda c: c)
    with pytest.raises(ValueError):
        bootstrap_interval(constant, lambda c: c[..., 0], confidence=1.5)


# --- the synthetic task -----------------------------------------------------------------------

def test_translation_rule():
    p = task.translate("ka bavo deki nato hoku lo pira")
    assert p.target == ("KA", "NATO", "BAVO", "DEKI", "HO", "KU", "LO", "PIRA")
    assert p.links == {(0, 0), (1, 3), (2, 1), (3, 2), (4, 4), (5, 4), (6, 5), (7, 6)}
    # expansions inside a moved phrase: "sapi" -> "SA PI", "tobu" -> "TO BU"
    p = task.translate(["mi", "sapi", "tobu", "gari"])
    assert p.target == ("MI", "TO", "BU", "SA", "PI", "GARI")
    assert p.links == {(0, 0), (1, 2), (2, 2), (3, 1), (4, 1), (5, 3)}
    with pytest.raises(ValueError, match="not a word"):
        task.translate("ka car gari")
    with pytest.raises(ValueError, match="empty"):
        task.translate("")


def test_generated_pairs_are_consistent():
    pairs = task.generate(300, seed=5)
    assert pairs == task.generate(300, seed=5)
    assert all(task.split_of(p.source) == "train" for p in pairs)
    test = task.generate(300, seed=5, split="test")
    assert not {p.source for p in pairs} & {p.source for p in test}
    for p in pairs + test:
        # every target word has exactly one gold link, to a source word it translates
        assert sorted(i for i, _ in p.links) == list(range(len(p.target)))
        for i, j in p.links:
            assert p.target[i] in task.translate_word(p.source[j])
        # every source word is translated
        assert {j for _, j in p.links} == set(range(len(p.source)))
        assert 3 <= len(p.source) <= 21


def test_vocabularies_cover_the_language():
    src, tgt = task.vocabularies()
    for p in task.generate(200, seed=3):
        assert task.Vocabulary.unk_index not in src.encode(p.source) + tgt.encode(p.target)


# --- the shipped alignment models -------------------------------------------------------------

def test_results_and_models_are_shipped():
    results = json.loads((MODELS_DIR / "results.json").read_text(encoding="utf-8"))
    assert tuple(results["models"]) == NAMES
    total = sum(f.stat().st_size for f in MODELS_DIR.rglob("*") if f.is_file())
    assert total < 3_000_000


@pytest.mark.parametrize("name", NAMES)
def test_shipped_model_aligns_better_than_the_diagonal(name):
    torch.set_num_threads(1)
    model, _, src_vocab, tgt_vocab = load_model(MODELS_DIR / name)
    assert (src_vocab.itos, tgt_vocab.itos) == tuple(v.itos for v in task.vocabularies())
    pairs = task.generate(100, seed=99, split="test")
    batch = task.to_batch(pairs, src_vocab, tgt_vocab)
    lengths = torch.tensor([len(p.target) for p in pairs])
    attention = teacher_forced_attention(model, batch.src, batch.src_lengths, batch.tgt_in, lengths)
    assert [a.shape for a in attention] == [(len(p.target), len(p.source)) for p in pairs]
    assert all(np.allclose(a.sum(1), 1, atol=1e-4) for a in attention) or name == "luong-local-p"
    gold = [p.links for p in pairs]
    model_aer = corpus_aer([argmax_alignment(a) for a in attention], gold)
    diagonal = corpus_aer([diagonal_alignment(len(p.target), len(p.source)) for p in pairs], gold)
    assert model_aer < diagonal
