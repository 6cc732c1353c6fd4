"""Paired bootstrap over test sentences (attention_course.evaluation.significance), checked against
plain sacrebleu.corpus_bleu / corpus_chrf calls on small invented examples with a variable
number of references per sentence."""
from __future__ import annotations

import random
from collections import Counter

import numpy as np
import pytest
import sacrebleu

from attention_course.evaluation.significance import (PairedResult, paired_bootstrap, paired_precision_decay,
                                                      percentile_interval, precision_decay,
                                                      resample_indices, resampled_sums, score_from_statistics,
                                                      sentence_statistics)

WORDS = ("le chat noir dort sur la table du salon pendant que un petit chien mange une pomme verte "
         "dans jardin ma grande soeur lit livre rouge avec son ami il pleut beaucoup ce matin").split()


def invented_test_set(n: int = 40, seed: int = 7):
    """n invented sentences, each with 1 to 3 references, and a hypothesis per sentence that is its
    first reference with some words replaced or dropped."""
    rng = random.Random(seed)
    refs, hyps = [], []
    for _ in range(n):
        base = [rng.choice(WORDS) for _ in range(rng.randint(4, 12))]
        sentence_refs = [" ".join(base) + " ."]
        for _ in range(rng.randint(0, 2)):   # variable number of references (nrefs:var)
            alt = [w if rng.random() < 0.8 else rng.choice(WORDS) for w in base]
            sentence_refs.append(" ".join(alt) + " .")
        refs.append(sentence_refs)
        hyp = [rng.choice(WORDS) if rng.random() < 0.3 else w for w in base if rng.random() > 0.1]
        hyps.append(" ".join(hyp or base[:1]) + " .")
    return hyps, refs


def streams(refs):
    """Reference streams written out by hand (None where a sentence has fewer references)."""
    width = max(len(r) for r in refs)
    return [[r[k] if k < len(r) else None for r in refs] for k in range(width)]


def plain(metric: str, hyps, refs) -> float:
    fn = sacrebleu.corpus_bleu if metric == "bleu" else sacrebleu.corpus_chrf
    return fn(list(hyps), streams(refs)).score


def system_b(hyps, changed=(3, 11, 25), seed: int = 3):
    """System A with a few sentences replaced by other invented ones."""
    rng = random.Random(seed)
    out = list(hyps)
    for i in changed:
        out[i] = " ".join(rng.choice(WORDS) for _ in range(6)) + " ."
    return out


HYPS, REFS = invented_test_set()
HYPS_B = system_b(HYPS)


def test_the_invented_example_has_a_variable_number_of_references():
    assert len({len(r) for r in REFS}) == 3
    assert sacrebleu.BLEU().corpus_score(HYPS, streams(REFS)) and "nrefs:var" in str(
        sacrebleu.BLEU(references=streams(REFS)).get_signature())


@pytest.mark.parametrize("metric", ["bleu", "chrf"])
def test_full_sample_delta_equals_plain_sacrebleu_scores(metric):
    r = paired_bootstrap(HYPS, HYPS_B, REFS, metric=metric, n=100)
    a, b = plain(metric, HYPS, REFS), plain(metric, HYPS_B, REFS)
    assert a != b
    assert abs(r.score_a - a) < 1e-9 and abs(r.score_b - b) < 1e-9
    assert abs(r.delta - (a - b)) < 1e-9


@pytest.mark.parametrize("metric", ["bleu", "chrf"])
def test_each_resampled_difference_equals_sacrebleu_on_the_resampled_sentences(metric):
    n, seed = 20, 12345
    r = paired_bootstrap(HYPS, HYPS_B, REFS, metric=metric, n=n, seed=seed)
    # the draw of sacrebleu.significance._paired_bs_test, written out independently
    draws = np.random.default_rng(seed).choice(len(HYPS), size=(n, len(HYPS)), replace=True)
    for k in range(n):
        idx = list(draws[k])
        refs = [REFS[i] for i in idx]
        expected = plain(metric, [HYPS[i] for i in idx], refs) - plain(metric, [HYPS_B[i] for i in idx], refs)
        assert abs(r.samples[k] - expected) < 1e-9, k


def test_statistics_use_every_reference_of_a_sentence():
    refs = [["un deux trois quatre cinq ."], ["six sept huit neuf dix .", "onze douze treize quatorze ."]]
    hyps = ["un deux trois quatre cinq .", "onze douze treize quatorze ."]   # matches the 2nd reference
    stats = sentence_statistics(hyps, refs, "bleu")
    assert stats.shape == (2, 10)
    r = paired_bootstrap(hyps, hyps, refs, n=10)
    assert r.score_a == pytest.approx(100.0)


def test_interval_contains_delta_and_holds_95_percent_of_the_resamples():
    r = paired_bootstrap(HYPS, HYPS_B, REFS, metric="bleu", n=1000)
    assert r.low <= r.delta <= r.high and r.low < r.high
    assert np.mean(r.samples < r.low) <= 0.025 and np.mean(r.samples > r.high) <= 0.025
    assert np.sum(r.samples <= r.low) >= 25 and np.sum(r.samples >= r.high) >= 25   # 25 = 1000 / 40
    assert (r.low, r.high) == percentile_interval(r.samples)


def test_identical_systems_give_a_zero_interval():
    for metric in ("bleu", "chrf"):
        r = paired_bootstrap(HYPS, list(HYPS), REFS, metric=metric, n=200)
        assert (r.delta, r.low, r.high) == (0.0, 0.0, 0.0)
        assert r.p_value == 1.0
        assert r.format() == "+0.0 [+0.0, +0.0]"


def test_same_seed_same_result_other_seed_other_resamples():
    r1 = paired_bootstrap(HYPS, HYPS_B, REFS, n=200, seed=12345)
    r2 = paired_bootstrap(HYPS, HYPS_B, REFS, n=200, seed=12345)
    r3 = paired_bootstrap(HYPS, HYPS_B, REFS, n=200, seed=1)
    assert r1 == r2 and np.array_equal(r1.samples, r2.samples)
    assert not np.array_equal(r1.samples, r3.samples)
    assert r1.delta == r3.delta


def test_resampling_is_paired():
    """B differs from A in 3 of 40 sentences: scored on the same resampled sentences, most of
    the variation cancels, so the paired interval is much narrower than the interval of the
    difference of two independently resampled scores."""
    n = 300
    r = paired_bootstrap(HYPS, HYPS_B, REFS, metric="bleu", n=n, seed=12345)
    # unpaired: A and B each on their own resampled sentences (statistics checked against plain
    # sacreBLEU by the test above)
    sums_a = resampled_sums(sentence_statistics(HYPS, REFS), resample_indices(len(HYPS), n, 1))
    sums_b = resampled_sums(sentence_statistics(HYPS_B, REFS), resample_indices(len(HYPS), n, 2))
    unpaired = [score_from_statistics(a) - score_from_statistics(b) for a, b in zip(sums_a, sums_b)]
    lo, hi = percentile_interval(np.array(unpaired))
    assert (r.high - r.low) < 0.5 * (hi - lo), (r.high - r.low, hi - lo)


def test_a_clearly_better_system_has_a_small_p_value():
    perfect = [r[0] for r in REFS]
    r = paired_bootstrap(perfect, HYPS, REFS, n=1000)
    assert r.low > 0 and r.p_value == pytest.approx(1 / 1001)
    assert isinstance(r, PairedResult) and r.as_dict()["ci95"] == [round(r.low, 2), round(r.high, 2)]


def test_bad_inputs_are_value_errors():
    with pytest.raises(ValueError, match="system A has 40"):
        paired_bootstrap(HYPS, HYPS[:-1], REFS)
    with pytest.raises(ValueError, match="reference lists"):
        paired_bootstrap(HYPS, HYPS, REFS[:-1])
    with pytest.raises(ValueError, match="metric"):
        paired_bootstrap(HYPS, HYPS, REFS, metric="ter")
    with pytest.raises(ValueError, match="non-empty list"):
        paired_bootstrap(["a ."], ["a ."], ["a ."])


# --- p4/p1: how far the n-gram precision falls from 1-grams to 4-grams --------------------------------

def plain_decay(hyps, refs) -> float:
    """p_4 / p_1 (%) counted by hand: each n-gram of a hypothesis matches at most as often as the one
    reference holding it most often (the invented sentences are already space-separated words)."""
    def grams(words, n):
        return Counter(tuple(words[i:i + n]) for i in range(len(words) - n + 1))

    def precision(n):
        matches = total = 0
        for h, rs in zip(hyps, refs):
            hg = grams(h.split(), n)
            best = Counter()
            for r in rs:
                best |= grams(r.split(), n)     # | keeps the larger count of each n-gram
            matches += sum(min(c, best[g]) for g, c in hg.items())
            total += sum(hg.values())
        return matches / total
    return 100 * precision(4) / precision(1)


def test_precision_decay_equals_the_hand_count_and_each_resample_is_paired():
    n, seed = 20, 12345
    r = paired_precision_decay(HYPS, HYPS_B, REFS, n=n, seed=seed)
    assert r.metric == "p4/p1"
    assert r.score_a == pytest.approx(plain_decay(HYPS, REFS), abs=1e-9)
    assert r.score_b == pytest.approx(plain_decay(HYPS_B, REFS), abs=1e-9)
    assert r.score_a != r.score_b
    draws = np.random.default_rng(seed).choice(len(HYPS), size=(n, len(HYPS)), replace=True)
    for k in range(n):
        idx = list(draws[k])
        refs = [REFS[i] for i in idx]
        expected = plain_decay([HYPS[i] for i in idx], refs) - plain_decay([HYPS_B[i] for i in idx], refs)
        assert r.samples[k] == pytest.approx(expected, abs=1e-9), k
    assert r.low <= r.delta <= r.high


def test_precision_decay_of_identical_systems_is_zero_and_of_a_worse_one_positive():
    same = paired_precision_decay(HYPS, HYPS, REFS, n=200)
    assert same.delta == 0 and same.low == same.high == 0 and same.p_value == 1
    # B: every hypothesis with its word order shuffled keeps its 1-grams and loses most 4-grams
    rng = random.Random(5)
    shuffled = []
    for h in HYPS:
        words = h.split()
        rng.shuffle(words)
        shuffled.append(" ".join(words))
    worse = paired_precision_decay(HYPS, shuffled, REFS, n=200)
    assert worse.low > 0 and worse.p_value < 0.01


def test_precision_decay_refuses_statistics_of_other_orders():
    with pytest.raises(ValueError, match="10 columns"):
        precision_decay(np.ones(8))
