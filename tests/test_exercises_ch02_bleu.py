"""Chapter 2's clipping exercise: the right function passes, the usual slips are each rejected."""
from collections import Counter

import pytest

from attention_course.evaluation.bleu_parts import clipped_matches
from attention_course.exercises import ch02_bleu, check


def _grams(words, n):
    return Counter(tuple(words[i:i + n]) for i in range(len(words) - n + 1))


def no_clipping(hyp, refs, n):
    grams = _grams(hyp, n)
    return sum(c for g, c in grams.items() if any(g in _grams(r, n) for r in refs)), max(0, len(hyp) - n + 1)


def clip_to_the_sum(hyp, refs, n):
    total = Counter()
    for r in refs:
        total += _grams(r, n)
    return sum(min(c, total[g]) for g, c in _grams(hyp, n).items()), max(0, len(hyp) - n + 1)


def first_reference_only(hyp, refs, n):
    return clipped_matches(hyp, refs[:1], n)


def total_off_by_one(hyp, refs, n):
    return clipped_matches(hyp, refs, n)[0], max(0, len(hyp) - n)


def negative_total(hyp, refs, n):
    return clipped_matches(hyp, refs, n)[0], len(hyp) - n + 1


def as_list(hyp, refs, n):
    return list(clipped_matches(hyp, refs, n))


def crashes_on_empty(hyp, refs, n):
    if not hyp:
        raise IndexError("list index out of range")
    return clipped_matches(hyp, refs, n)


def test_right_answer_passes(capsys):
    check(ch02_bleu.KEY, clipped_matches)
    assert "correct" in capsys.readouterr().out


@pytest.mark.parametrize("wrong", [no_clipping, clip_to_the_sum, first_reference_only, total_off_by_one,
                                   negative_total, as_list, crashes_on_empty, clipped_matches(["a"], [["a"]], 1)])
def test_wrong_answers_are_rejected(wrong):
    with pytest.raises(AssertionError):
        check(ch02_bleu.KEY, wrong)


def test_cases_hold_every_trap():
    """Each wrong function is caught by some case (so no trap depends on the random part alone)."""
    fixed = ch02_bleu.cases()[:5]
    for wrong in (no_clipping, clip_to_the_sum, first_reference_only, total_off_by_one):
        assert any(wrong(h, r, n) != clipped_matches(h, r, n) for h, r, n in fixed), wrong.__name__
