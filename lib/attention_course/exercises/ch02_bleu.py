"""Checks for chapter 2's BLEU exercise: modified n-gram precision with clipping, by hand.

The reader writes ``clipped(hypothesis, references, n) -> (matches, total)`` for word lists.
The check runs it on cases it makes itself (repeated words, n-grams that several references
hold a different number of times, hypotheses shorter than n) and compares with its own counting,
written independently of ``evaluation.bleu_parts`` (list scans, no Counter arithmetic).
"""
from __future__ import annotations

import random

from . import exercise

KEY = "2.5"
WORDS = ("le", "la", "chat", "chien", "noir", "le", "voit", "mange", ".")


def _count(words, gram) -> int:
    n = len(gram)
    return sum(1 for i in range(len(words) - n + 1) if tuple(words[i:i + n]) == gram)


def _expected(hypothesis, references, n) -> tuple[int, int]:
    grams = [tuple(hypothesis[i:i + n]) for i in range(len(hypothesis) - n + 1)]
    matches = 0
    for gram in set(grams):
        in_hypothesis = _count(hypothesis, gram)
        in_references = max(_count(r, gram) for r in references)
        matches += min(in_hypothesis, in_references)
    return matches, len(grams)


def cases(seed: int = 2024) -> list[tuple[list[str], list[list[str]], int]]:
    """Hand-made traps first, then random short sentences from a tiny vocabulary."""
    fixed = [
        ("the the the the the the the".split(), ["the cat is on the mat".split(),
                                                 "there is a cat on the mat".split()], 1),
        ("a a a".split(), ["a b".split(), "a a c".split()], 1),          # the most, not the sum
        ("a a a".split(), ["a a c".split(), "a b".split()], 1),          # whichever reference has it
        ("le chat le chat".split(), ["le chat noir".split(), "le chat et le chat".split()], 2),
        ("bonjour".split(), ["bonjour".split()], 2),                     # no bigram at all
    ]
    rng = random.Random(seed)
    for _ in range(40):
        hyp = [rng.choice(WORDS) for _ in range(rng.randint(0, 9))]
        refs = [[rng.choice(WORDS) for _ in range(rng.randint(1, 9))] for _ in range(rng.randint(1, 3))]
        fixed.append((hyp, refs, rng.randint(1, 4)))
    return fixed


@exercise(KEY)
def check_clipped(answer) -> str:
    if not callable(answer):
        raise AssertionError("Give the function itself: answer = clipped (no parentheses).")
    for hypothesis, references, n in cases():
        right = _expected(hypothesis, references, n)
        try:
            got = answer(list(hypothesis), [list(r) for r in references], n)
        except Exception as exc:   # the reader's code failed: say on which input
            raise AssertionError(f"clipped({hypothesis}, {references}, {n}) raised "
                                 f"{type(exc).__name__}: {exc}") from None
        if not (isinstance(got, tuple) and len(got) == 2):
            raise AssertionError("Return a pair (matches, total) of integers.")
        if tuple(got) == right:
            continue
        where = f"for hypothesis {' '.join(hypothesis)!r}, n = {n}, references {[' '.join(r) for r in references]}"
        if got[1] != right[1]:
            raise AssertionError(f"total should be {right[1]}, the number of n-grams in the hypothesis "
                                 f"(a word list of length L has L - n + 1, and never fewer than 0), {where}")
        unclipped = len(_grams_in_some_reference(hypothesis, references, n))
        if got[0] == unclipped and unclipped != right[0]:
            raise AssertionError(f"matches {got[0]} counts every n-gram found in a reference, {where}: "
                                 "clip each n-gram's count to the most times one reference holds it")
        raise AssertionError(f"matches should be {right[0]}, not {got[0]}, {where}: each distinct n-gram "
                             "counts min(its count in the hypothesis, its largest count in one reference)")
    return "Clipping is what stops 'the the the ...' from scoring a perfect precision."


def _grams_in_some_reference(hypothesis, references, n):
    return [i for i in range(len(hypothesis) - n + 1)
            if any(_count(r, tuple(hypothesis[i:i + n])) for r in references)]
