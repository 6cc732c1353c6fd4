"""The measurements of chapter 4 (attention_course.evaluation.attention_experiments).

``next_step_attention`` is checked against the teacher-forced decoder, which reads the whole
French prefix by construction: the weights of the step that reads a candidate word must be
those of ``model(src, lengths, [<s>, *prefix, candidate])`` at that step. A version that read
the candidate *instead of* the last prefix word (``<s> J' ai une`` for ``J' ai acheté + une``)
fails this test for every Luong model.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from attention_course import pretrained
from attention_course.data.text import tokenize
from attention_course.evaluation.attention_experiments import (
    ENTROPY_SENTENCES, entropy_sample,
    SentenceEntropies, largest_change, mean_with_interval, next_step_attention, paired_difference, row_entropies,
    sentence_entropies)

SOURCE = "I bought a red car."
PREFIX = ["J'", "ai", "acheté"]
CANDIDATES = ["une", "la", "cette"]


def _teacher_forced(translator, prefix, word, what="attention"):
    """The attention (or the most probable next word) of every step when the decoder reads
    <s>, the prefix and ``word``."""
    tokens = tokenize(SOURCE, "en")
    vocab = translator.tgt_vocab
    src = torch.tensor([translator.src_vocab.encode(tokens)])
    tgt_in = torch.tensor([[vocab.bos_index] + [vocab.stoi[w] for w in [*prefix, word]]])
    with torch.no_grad():
        logits, attention = translator.model(src, torch.tensor([len(tokens)]), tgt_in)
    if what == "attention":
        return attention[0].numpy()
    return [vocab.itos[int(i)] for i in logits[0].argmax(-1)]


@pytest.mark.parametrize("name", ["bahdanau", "luong-dot", "luong-general", "luong-concat",
                                  "luong-general-nofeed", "luong-local-p"])
def test_next_step_attention_reads_the_whole_prefix_then_the_candidate(name):
    translator = pretrained.load(name)
    rows = next_step_attention(translator, SOURCE, PREFIX, CANDIDATES)
    assert list(rows) == CANDIDATES
    for word, step in rows.items():
        forced = _teacher_forced(translator, PREFIX, word)
        assert step.attention.shape == (len(tokenize(SOURCE, "en")),)
        np.testing.assert_allclose(step.attention, forced[len(PREFIX) + 1], atol=1e-5)
        assert step.next_word == _teacher_forced(translator, PREFIX, word, "next word")[len(PREFIX) + 1]


def test_the_old_mistake_is_detected():
    """Reading the candidate in place of the last prefix word gives other weights (the
    experiment's step would then follow "J' ai une", not "J' ai acheté une")."""
    translator = pretrained.load("luong-dot")
    rows = next_step_attention(translator, SOURCE, PREFIX, CANDIDATES)
    for word, step in rows.items():
        wrong = _teacher_forced(translator, PREFIX[:-1], word)[len(PREFIX)]
        assert np.abs(step.attention - wrong).max() > 0.05


def test_bahdanau_cannot_react_to_the_previous_word_luong_can():
    bahdanau = next_step_attention(pretrained.load("bahdanau"), SOURCE, PREFIX + ["une"], ["voiture", "rouge"])
    assert largest_change(bahdanau)[0] == 0.0
    luong = next_step_attention(pretrained.load("luong-dot"), SOURCE, PREFIX + ["une"], ["voiture", "rouge"])
    assert largest_change(luong)[0] > 0


def test_next_step_attention_rejects_unknown_words():
    with pytest.raises(ValueError, match="not in the target vocabulary"):
        next_step_attention(pretrained.load("luong-dot"), SOURCE, PREFIX, ["xqzw"])
    with pytest.raises(ValueError, match="no attention"):
        next_step_attention(pretrained.load("seq2seq"), SOURCE, PREFIX, CANDIDATES)


def test_largest_change_finds_the_position():
    rows = {"a": np.array([0.6, 0.3, 0.1]), "b": np.array([0.5, 0.05, 0.45]), "c": np.array([0.6, 0.2, 0.2])}
    change, k = largest_change(rows)
    assert k == 2 and change == pytest.approx(0.35)


def test_row_entropies():
    a = np.array([[0.25, 0.25, 0.25, 0.25], [1.0, 0.0, 0.0, 0.0], [0.3, 0.3, 0.0, 0.0]])  # the last: a local-p row
    np.testing.assert_allclose(row_entropies(a), [math.log(4), 0.0, math.log(2)])


class _T:
    def __init__(self, attention):
        self.attention = np.asarray(attention)


def test_sentence_entropies_pool_the_words_of_all_sentences():
    s = sentence_entropies([_T([[0.5, 0.5]]), _T([[1.0, 0.0], [1.0, 0.0], [1.0, 0.0]])])
    np.testing.assert_allclose(s.total, [math.log(2), 0.0])
    np.testing.assert_allclose(s.rows, [1, 3])
    assert s.mean == pytest.approx(math.log(2) / 4)      # per output word, not per sentence


def test_mean_with_interval():
    rng = np.random.default_rng(1)
    rows = rng.integers(3, 12, 400).astype(float)
    s = SentenceEntropies(rows * rng.uniform(0.5, 1.5, 400), rows)
    est = mean_with_interval(s)
    assert est.low < est.value < est.high
    assert est.high - est.low < 0.1
    assert mean_with_interval(s) == est                   # seeded
    constant = SentenceEntropies(rows * 0.7, rows)
    c = mean_with_interval(constant)
    assert c.low == pytest.approx(0.7) and c.high == pytest.approx(0.7)


def test_paired_difference():
    rng = np.random.default_rng(2)
    rows = rng.integers(3, 12, 300).astype(float)
    a = SentenceEntropies(rows * rng.uniform(0.5, 1.5, 300), rows)
    same = paired_difference(a, a)
    assert (same.value, same.low, same.high) == (0.0, 0.0, 0.0)
    shifted = SentenceEntropies(a.total + 0.2 * rows, rows)     # every word 0.2 nats higher
    d = paired_difference(shifted, a)
    assert d.value == pytest.approx(0.2) and d.low == pytest.approx(0.2) and d.high == pytest.approx(0.2)
    assert "+0.20 [+0.20, +0.20]" == d.format(sign=True)
    with pytest.raises(ValueError, match="same ones"):
        paired_difference(a, SentenceEntropies(a.total[:10], a.rows[:10]))


def test_entropy_sample_draws_the_same_positions_from_examples_and_their_sources():
    examples = [(f"source {i}", f"target {i}") for i in range(1000)]
    sources = [s for s, _ in examples]
    drawn = entropy_sample(examples)
    assert len(drawn) == ENTROPY_SENTENCES == 300 and len(set(drawn)) == 300   # without replacement
    assert [s for s, _ in drawn] == entropy_sample(sources)          # the chapter's sample = the seed runs'
    assert drawn != entropy_sample(examples, seed=1)
    assert sorted(entropy_sample(sources[:5])) == sources[:5]         # fewer than 300: all of them
