"""Checks for the exercises of chapter 2 (the fixed-vector bottleneck)."""
from __future__ import annotations

import math
import random

from . import exercise

# Exercise 2.1: invented English sentences; the reader predicts each one's length bucket.
BUCKET_SENTENCES = (
    "Hello!",
    "I forgot my umbrella at the office.",
    "The old man who lives next door grows tomatoes in his tiny garden.",
    "If it rains tomorrow, we will stay at home, play cards and cook a big dinner for everyone.",
    "Can you help me?",
)
BUCKETS = ("1-5", "6-10", "11-15", "16+")


def _bucket(sentence: str) -> str:
    """Independent of the package: words are the whitespace-separated pieces of the source."""
    n = len(sentence.split())
    return "1-5" if n <= 5 else "6-10" if n <= 10 else "11-15" if n <= 15 else "16+"


@exercise("2.1")
def check_buckets(answer) -> str:
    expected = [_bucket(s) for s in BUCKET_SENTENCES]
    if not isinstance(answer, (list, tuple)) or len(answer) != len(BUCKET_SENTENCES):
        raise AssertionError(f"Give a list of {len(BUCKET_SENTENCES)} bucket labels, one per sentence, "
                             f"each one of {BUCKETS}.")
    answer = list(answer)
    unknown = [a for a in answer if a not in BUCKETS]
    if unknown:
        raise AssertionError(f"{unknown[0]!r} is not a bucket label; use one of {BUCKETS}.")
    wrong = [i for i, (a, e) in enumerate(zip(answer, expected)) if a != e]
    if wrong:
        i = wrong[0]
        raise AssertionError(f"{len(wrong)} label(s) are wrong, the first for sentence {i + 1} "
                             f"({BUCKET_SENTENCES[i]!r}). The length is the number of whitespace-separated "
                             "words of the English source: punctuation stuck to a word does not count separately.")
    return "Most Tatoeba sentences fall in the first two buckets."


# Exercise 2.2: per-token accuracy by length, from given targets and predictions.

def exercise_predictions(seed: int = 5) -> list[tuple[list[str], list[str]]]:
    """(target, prediction) pairs of lengths 4, 8 and 12, three of each: predictions made
    by corrupting the targets the way a model without attention fails (a substituted
    symbol, a dropped symbol, a truncated end)."""
    rng = random.Random(seed)
    symbols = "abcdefghij"
    out = []
    for n in (4, 8, 12):
        for k in range(3):
            target = [rng.choice(symbols) for _ in range(n)]
            pred = list(target)
            errors = (n // 4) * k
            for _ in range(errors):
                kind = rng.choice(("substitute", "drop", "truncate"))
                if not pred:
                    break
                if kind == "substitute":
                    i = rng.randrange(len(pred))
                    pred[i] = rng.choice([s for s in symbols if s != pred[i]])
                elif kind == "drop":
                    del pred[rng.randrange(len(pred))]
                else:
                    pred = pred[:-1]
            out.append((target, pred))
    return out


def _accuracy_by_length(pairs) -> dict[int, float]:
    right: dict[int, int] = {}
    total: dict[int, int] = {}
    for target, pred in pairs:
        n = len(target)
        right[n] = right.get(n, 0) + sum(1 for i, t in enumerate(target) if i < len(pred) and pred[i] == t)
        total[n] = total.get(n, 0) + n
    return {n: right[n] / total[n] for n in sorted(total)}


@exercise("2.2")
def check_accuracy_by_length(answer) -> str:
    expected = _accuracy_by_length(exercise_predictions())
    if not isinstance(answer, dict):
        raise AssertionError("Give a dict {length: per-token accuracy}, e.g. {4: 0.9, 8: ..., 12: ...}.")
    keys = sorted(answer, key=str)
    if set(answer) != set(expected):
        raise AssertionError(f"The keys should be the target lengths {sorted(expected)}, got {keys}.")
    for n, acc in expected.items():
        got = answer[n]
        if isinstance(got, bool) or not isinstance(got, (int, float)) or not math.isfinite(got):
            raise AssertionError(f"The accuracy for length {n} should be a number, got {got!r}.")
        if abs(got - acc) > 1e-6:
            if 1 < got <= 100 and abs(got / 100 - acc) < 1e-6:
                raise AssertionError("Give accuracies as fractions between 0 and 1, not percentages.")
            raise AssertionError(f"The accuracy for length {n} is not right. Compare position by position over "
                                 "the target's length: a missing position counts as wrong; add up the right "
                                 "positions of all sequences of that length and divide by their total length.")
    return "Accuracy falls as the sequences get longer, as in the experiment."


# Exercise 2.3: the information in a random sequence.
SYMBOL_COUNT, SEQUENCE_LENGTH = 20, 60


@exercise("2.3")
def check_bits(answer) -> str:
    expected = SEQUENCE_LENGTH * math.log2(SYMBOL_COUNT)
    if isinstance(answer, bool) or not isinstance(answer, (int, float)) or not math.isfinite(answer):
        raise AssertionError("Give the number of bits as a number.")
    if abs(answer - SEQUENCE_LENGTH * math.log(SYMBOL_COUNT)) < 0.5:
        raise AssertionError("That is in nats (natural logarithm); bits need the base-2 logarithm.")
    if abs(answer - math.log2(SYMBOL_COUNT)) < 0.05:
        raise AssertionError("That is the information in one symbol; the sequence has "
                             f"{SEQUENCE_LENGTH} independent symbols.")
    if abs(answer - expected) > 0.5:
        raise AssertionError(f"Not quite: each of the {SEQUENCE_LENGTH} independent, uniformly drawn symbols "
                             f"carries log2({SYMBOL_COUNT}) bits.")
    return f"{expected:.1f} bits, and a model must get every one of them through the summary vector."
