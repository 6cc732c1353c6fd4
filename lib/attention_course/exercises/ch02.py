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


# ----------------------------------------------------------------------------------------------
# 2.4 Ablation: which half of the summary remembers which end of the sequence?
# ----------------------------------------------------------------------------------------------

HALVES_MODEL = "seq2seq-64"
HALVES_LENGTH, HALVES_COUNT, HALVES_SEED = 20, 200, 24
HALVES_TOL = 0.011            # per position: two of the 200 sequences (an argmax tie may flip)


def halves_batch():
    """``HALVES_COUNT`` fresh random sequences of length ``HALVES_LENGTH`` (copy task), one batch."""
    from ..data import synthetic

    return synthetic.to_batch(synthetic.sample([HALVES_LENGTH] * HALVES_COUNT, "copy", HALVES_SEED))


def _halves_accuracy(model, batch, half, how: str = "mean", where: str = "both", free: bool = False):
    """Per-position accuracy (positions 1..n, ``</s>`` left out) of ``model`` on ``batch`` with one
    half of the summary ablated, computed step by step through ``decoder.initial_state`` and
    ``decoder.step`` (not the decoder's ``forward``, which a reader's answer would use).

    ``half``: None, "forward" (the first half of c, →h_Tx) or "backward" (the second, ←h_1);
    ``how``: "mean" replaces the half by its average over the batch's sequences (the exercise),
    "zero" by zeros, "units" by each sequence's average over the half's units (a slip);
    ``where``: the ablated c reaches "both" the first state and every step, only the "initial"
    state, or only the "steps"; ``free``: feed the model's own guesses (greedy) instead of the
    reference.
    """
    import torch
    from dataclasses import replace

    from ..models.layers import Memory

    with torch.no_grad():
        memory = model.encode(batch.src, batch.src_lengths)
        c = memory.enc.final.clone()
        size = c.size(-1) // 2
        part = {"forward": slice(0, size), "backward": slice(size, None)}.get(half)
        if part is not None:
            if how == "mean":
                c[:, part] = c[:, part].mean(0)
            elif how == "zero":
                c[:, part] = 0
            else:
                c[:, part] = c[:, part].mean(1, keepdim=True)
        ablated = Memory(replace(memory.enc, final=c), memory.keys)
        state = model.decoder.initial_state(memory if where == "steps" else ablated)
        read = memory if where == "initial" else ablated
        prev, right = batch.tgt_in[:, 0], []
        for t in range(batch.tgt_out.size(1) - 1):
            logits, state, _ = model.decoder.step(prev, state, read, t)
            guess = logits.argmax(-1)
            right.append((guess == batch.tgt_out[:, t]).double().mean())
            prev = guess if free else batch.tgt_in[:, t + 1]
    return torch.stack(right).numpy()


def _span(acc, lo, hi) -> float:
    return float(acc[lo - 1:hi].mean())


@exercise("2.4")
def check_summary_halves(answer) -> str:
    import numpy as np

    from ..data import synthetic
    from .answers import as_array, as_function, run_on_copy

    as_function(answer, "position_accuracy")
    reference = synthetic.load(HALVES_MODEL)
    batch = halves_batch()
    n = HALVES_LENGTH
    measured = {}
    for half in (None, "forward", "backward"):
        got = as_array(run_on_copy(answer, reference, batch, half), "The accuracies").squeeze()
        if got.shape == (n + 1,):
            raise AssertionError(f"Give {n} accuracies, one per symbol: leave out the last position "
                                 "of tgt_out, where the model predicts the end marker </s>.")
        if got.shape != (n,):
            raise AssertionError(f"Give one accuracy per target position, {n} numbers, got shape "
                                 f"{got.shape}.")
        expected = _halves_accuracy(reference, batch, half)
        measured[half] = expected
        if np.abs(got - expected).max() <= HALVES_TOL:
            continue
        label = "half=None" if half is None else f"half={half!r}"
        other = {"forward": "backward", "backward": "forward"}.get(half)
        slips = [
            (1 - expected, "That is the error rate; give the share of right predictions."),
            (_halves_accuracy(reference, batch, half, free=True),
             "Those are the accuracies of free-running (greedy) decoding. Use teacher forcing: "
             "the decoder reads the reference (batch.tgt_in) at every step."),
        ]
        not_the_mean = ("Replace every unit of the half by its average over the batch's sequences, "
                        "c[:, part].mean(0): not by zeros (a state the decoder never saw in training) "
                        "nor by each sequence's average over its units.")
        if half is not None:
            slips += [
                (_halves_accuracy(reference, batch, None),
                 "Nothing changed: that is the intact model. Replace the half in memory.enc.final, "
                 "the summary the decoder reads (a model without attention ignores the annotations)."),
                (_halves_accuracy(reference, batch, half, how="zero"), not_the_mean),
                (_halves_accuracy(reference, batch, half, how="units"), not_the_mean),
                (_halves_accuracy(reference, batch, other),
                 f"You replaced the {other} half. memory.enc.final is [→h_Tx ; ←h_1]: the forward "
                 "state is the first half, the backward state the second."),
                (_halves_accuracy(reference, batch, half, where="initial"),
                 "Only the first state saw the ablation, but seq2seq reads the summary at every "
                 "step too: change the half in memory.enc.final itself."),
                (_halves_accuracy(reference, batch, half, where="steps"),
                 "Every step read the ablated summary, but the first state came from the full one: "
                 "change memory.enc.final itself, before initial_state reads it."),
            ]
        for value, hint in slips:
            if np.abs(got - value).max() <= HALVES_TOL:
                raise AssertionError(f"{label}: {hint}")
        raise AssertionError(f"{label}: the accuracies are not right (expected within {HALVES_TOL} "
                             "at every position). Teacher-force the model on batch.tgt_in, take the "
                             "most probable symbol at each position and compare it with tgt_out.")
    q = n // 4
    first, last = (1, q), (n - q + 1, n)
    lines = [f"{HALVES_MODEL}, teacher forcing, mean accuracy at positions",
             f"{'':24s}{f'{first[0]}-{first[1]}':>7s}{f'{last[0]}-{last[1]}':>8s}"]
    for half, acc in measured.items():
        label = "full summary" if half is None else f"{half} half averaged"
        lines.append(f"  {label:22s}{_span(acc, *first):>7.2f}{_span(acc, *last):>8.2f}")
    return "\n".join(lines)
