"""BLEU reads an ``<unk>`` left in the output as one wrong word (evaluation.bleu.one_word_unk), in
every place the package computes BLEU: corpus_bleu, the paired bootstrap's sentence statistics and
BLEU from its parts. sacreBLEU's 13a tokenizer alone would split it into three tokens."""
from __future__ import annotations

import numpy as np
import pytest
import sacrebleu

from attention_course.evaluation.bleu import UNK_WORD, corpus_bleu, corpus_chrf, one_word_unk, reference_streams
from attention_course.evaluation.bleu_parts import corpus_bleu_parts
from attention_course.evaluation.significance import paired_bootstrap, score_from_statistics, sentence_statistics

# sentences of our own
HYPS = ["Il a acheté une <unk> rouge.", "Elle lit un livre.", "<unk> est parti à <unk>.", "Nous avons faim."]
REFS = [["Il a acheté une voiture rouge."], ["Elle lit un livre.", "Elle est en train de lire un livre."],
        ["Tom est parti à Boston."], ["Nous avons faim.", "On a faim."]]
WRITTEN = [h.replace("<unk>", UNK_WORD) for h in HYPS]


def sacre(hyps):
    return sacrebleu.metrics.BLEU().corpus_score(hyps, reference_streams(REFS))


def test_an_unk_is_one_word_for_bleu():
    assert one_word_unk("à <unk>.") == f"à {UNK_WORD}."
    ours, raw = corpus_bleu(HYPS, REFS), sacre(HYPS)
    assert ours.score == pytest.approx(sacre(WRITTEN).score, abs=1e-12)
    assert ours.sys_len == raw.sys_len - 2 * 3            # three <unk>, each two tokens fewer than "<", "unk", ">"
    assert ours.score > raw.score
    assert UNK_WORD not in " ".join(r for refs in REFS for r in refs)


def test_text_without_unk_scores_as_sacrebleu():
    clean = [h for h in HYPS if "<unk>" not in h]
    refs = [r for h, r in zip(HYPS, REFS) if "<unk>" not in h]
    assert corpus_bleu(clean, refs).score == sacrebleu.metrics.BLEU().corpus_score(clean, reference_streams(refs)).score


def test_bootstrap_statistics_and_parts_follow_the_same_rule():
    stats = sentence_statistics(HYPS, REFS, "bleu")
    assert score_from_statistics(stats.sum(0), "bleu") == pytest.approx(corpus_bleu(HYPS, REFS).score, abs=1e-9)
    assert corpus_bleu_parts(HYPS, REFS).score == pytest.approx(corpus_bleu(HYPS, REFS).score, abs=1e-9)
    r = paired_bootstrap(HYPS, WRITTEN, REFS, n=50)
    assert r.delta == 0 and np.all(r.samples == 0)


def test_chrf_reads_the_characters_as_written():
    raw = sacrebleu.metrics.CHRF().corpus_score(HYPS, reference_streams(REFS)).score
    assert corpus_chrf(HYPS, REFS).score == raw
    stats = sentence_statistics(HYPS, REFS, "chrf")
    assert score_from_statistics(stats.sum(0), "chrf") == pytest.approx(raw, abs=1e-9)
