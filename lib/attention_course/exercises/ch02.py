"""Checks for the exercises of chapter 2 (the fixed-vector bottleneck)."""
from __future__ import annotations

import math
import textwrap

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


# Exercise 2.2: per-token accuracy by length, from a real model's predictions.
# The predictions are decoded live by the smallest shipped model without attention, so any
# trend with length in the answer is measured, not built into the data. The seed is the first
# from 20 on whose nine copies hold every kind of mistake the check must tell apart (a wrong
# symbol, missing symbols, extra symbols) next to exact copies; it says nothing about the trend.
PREDICTION_MODEL = "seq2seq-16"
PREDICTION_LENGTHS = (5, 10, 15)
PREDICTIONS_PER_LENGTH = 3
PREDICTION_SEED = 20


def exercise_predictions(model: str = PREDICTION_MODEL, seed: int = PREDICTION_SEED
                         ) -> list[tuple[list[str], list[str]]]:
    """(target, prediction) pairs: ``PREDICTIONS_PER_LENGTH`` fresh random sequences of each
    length in ``PREDICTION_LENGTHS`` (seed ``seed * 1000 + length``, as in
    ``synthetic.evaluate``), copied by the shipped synthetic model ``model`` with greedy
    decoding. Its mistakes are its own: wrong, dropped and extra symbols."""
    import torch

    from ..data import synthetic
    from ..search import greedy_search

    net = synthetic.load(model)
    vocab = synthetic.vocabulary()
    pairs = [p for n in PREDICTION_LENGTHS
             for p in synthetic.sample([n] * PREDICTIONS_PER_LENGTH, "copy", seed * 1000 + n)]
    batch = synthetic.to_batch(pairs, vocab)
    with torch.no_grad():
        results = greedy_search(net, batch.src, batch.src_lengths)
    return [(list(p.target), list(vocab.decode(r.tokens))) for p, r in zip(pairs, results)]


def _accuracy_by_length(pairs) -> dict[int, float]:
    right: dict[int, int] = {}
    total: dict[int, int] = {}
    for target, pred in pairs:
        n = len(target)
        right[n] = right.get(n, 0) + sum(1 for i, t in enumerate(target) if i < len(pred) and pred[i] == t)
        total[n] = total.get(n, 0) + n
    return {n: right[n] / total[n] for n in sorted(total)}


def _trend(accuracy: dict[int, float]) -> str:
    """What the numbers show, in words: only the trend they actually have (wrapped to fit a
    78-character line after the check's "Exercise 2.2: correct. ")."""
    values = [accuracy[n] for n in sorted(accuracy)]
    shown = ", ".join(f"{accuracy[n]:.0%} at length {n}" for n in sorted(accuracy))
    if all(a > b for a, b in zip(values, values[1:])):
        trend = "falls from each length to the next"
    elif all(a < b for a, b in zip(values, values[1:])):
        trend = "rises from each length to the next"
    else:
        trend = "does not change steadily with length"
    text = (f"Symbols that {PREDICTION_MODEL} got right: {shown}. On these "
            f"{PREDICTIONS_PER_LENGTH} sequences per length its accuracy {trend} (too few "
            "sequences to measure more than that).")
    prefix = "Exercise 2.2: correct. "
    return textwrap.fill(prefix + text, width=78, break_on_hyphens=False)[len(prefix):]


@exercise("2.2")
def check_accuracy_by_length(answer) -> str:
    expected = _accuracy_by_length(exercise_predictions())
    if not isinstance(answer, dict):
        raise AssertionError("Give a dict {length: per-token accuracy}, e.g. {5: 0.9, 10: ..., 15: ...}.")
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
                                 "the target's length: a missing position counts as wrong, extra symbols after "
                                 "the target's end are ignored; add up the right positions of all sequences of "
                                 "that length and divide by their total length.")
    return _trend(expected)


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
