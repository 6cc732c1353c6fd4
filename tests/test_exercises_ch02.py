"""The checks of chapter 2's exercises accept the right answers and reject wrong ones."""
import math

import pytest

from attention_course.data import synthetic
from attention_course.evaluation import length_bucket
from attention_course.exercises import ch02, check


def test_2_1_buckets_agree_with_the_package():
    answer = [length_bucket(len(s.split())) for s in ch02.BUCKET_SENTENCES]
    check("2.1", answer)
    assert len(set(answer)) == 4          # the sentences cover every bucket


@pytest.mark.parametrize("wrong", [["1-5"] * 5, ["1-5", "6-10", "11-15", "11-15", "1-5"],
                                   ["1-5", "6-10", "11-15", "16+"], ["1-5", "6-10", "11-15", "16-", "1-5"],
                                   "1-5 6-10 11-15 16+ 1-5", 3])
def test_2_1_rejects_wrong_answers(wrong):
    with pytest.raises(AssertionError):
        check("2.1", wrong)


def right_accuracy():
    by_length = {}
    for target, pred in ch02.exercise_predictions():
        by_length.setdefault(len(target), ([], []))
        by_length[len(target)][0].append(pred)
        by_length[len(target)][1].append(target)
    return {n: synthetic.score(preds, targets)[1] for n, (preds, targets) in by_length.items()}


def test_2_2_matches_the_package_score():
    answer = right_accuracy()
    check("2.2", answer)
    values = [answer[n] for n in sorted(answer)]
    assert values == sorted(values, reverse=True) and values[0] < 1   # falls with length, has errors


def test_2_2_rejects_wrong_answers():
    right = right_accuracy()
    exact = {}
    for target, pred in ch02.exercise_predictions():
        exact.setdefault(len(target), []).append(pred == target)
    exact = {n: sum(v) / len(v) for n, v in exact.items()}
    # comparing over the prediction's length instead of the target's
    by_pred = {}
    for target, pred in ch02.exercise_predictions():
        r, t = by_pred.get(len(target), (0, 0))
        by_pred[len(target)] = (r + sum(a == b for a, b in zip(pred, target)), t + max(len(pred), 1))
    by_pred = {n: r / t for n, (r, t) in by_pred.items()}
    assert by_pred != right
    for wrong in [exact, by_pred, {n: 100 * v for n, v in right.items()}, {4: right[4], 8: right[8]},
                  {str(n): v for n, v in right.items()}, list(right.values()), {n: None for n in right}]:
        with pytest.raises(AssertionError):
            check("2.2", wrong)


def test_2_3_bits():
    check("2.3", 60 * math.log2(20))
    check("2.3", 259.3)
    for wrong in [60 * math.log(20), math.log2(20), 60 * 20, 60, "259.3", float("nan")]:
        with pytest.raises(AssertionError):
            check("2.3", wrong)
