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
    aer,
    alignment_counts,
    argmax_alignment,
    corpus_aer,
    diagonal_alignment,
    precision_recall,
    teacher_forced_attention,
)

MODELS_DIR = Path(str(resources.files("attention_course") / "alignment_models"))
NAMES = ("bahdanau", "luong-dot", "luong-general", "luong-concat", "luong-local-p")


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
