"""Exercises of chapter 6 (alignment): links from attention, and the AER by hand.

The data of each exercise is defined here once; the chapter prints it from here.
"""
from __future__ import annotations

from . import exercise

# 6.1: an attention matrix (rows: target words, columns: source words).
SOURCE_61 = ["I", "like", "red", "cars"]
TARGET_61 = ["J'", "aime", "les", "voitures", "rouges"]
ATTENTION_61 = [
    [0.81, 0.12, 0.03, 0.04],
    [0.09, 0.77, 0.06, 0.08],
    [0.05, 0.31, 0.19, 0.45],
    [0.02, 0.04, 0.28, 0.66],
    [0.03, 0.05, 0.57, 0.35],
]

# 6.2: gold alignment with sure and possible links, and a predicted alignment; links are (i, j).
SOURCE_62 = ["I", "do", "not", "know"]
TARGET_62 = ["Je", "ne", "sais", "pas"]
SURE_62 = {(0, 0), (1, 2), (2, 3), (3, 2)}
POSSIBLE_62 = SURE_62 | {(2, 1)}         # "sais" carries the tense that "do" marks
PREDICTED_62 = {(0, 0), (1, 2), (2, 1), (3, 3)}


def _links(answer, what: str) -> set[tuple[int, int]]:
    try:
        links = {(int(i), int(j)) for i, j in answer}
    except (TypeError, ValueError):
        raise AssertionError(f"Give {what} as a set of pairs (i, j): target position i, source position j.") from None
    return links


@exercise("6.1")
def check_argmax_links(answer) -> str:
    links = _links(answer, "the alignment")
    right = {(i, max(range(len(row)), key=row.__getitem__)) for i, row in enumerate(ATTENTION_61)}
    if links == right:
        return ("One link per French word: 'rouges' goes back to 'red' and 'voitures' to 'cars' (the swap), "
                "and the article 'les' to 'cars', the word it agrees with.")
    if links == {(j, i) for i, j in right}:
        raise AssertionError("The pairs are reversed: write (i, j) with i the target position (the row).")
    if len(links) != len(TARGET_61):
        raise AssertionError("Argmax attention gives exactly one link per target word (one per row).")
    raise AssertionError("For each row i take the column j with the largest weight (rows are target words).")


def _aer(a, s, p) -> float:
    return 1 - (len(a & s) + len(a & p)) / (len(a) + len(s))


@exercise("6.2")
def check_aer(answer) -> str:
    if isinstance(answer, bool):
        raise AssertionError("The AER is a number between 0 and 1.")
    try:
        got = float(answer)
    except (TypeError, ValueError):
        raise AssertionError("The AER is a number between 0 and 1.") from None
    right = _aer(PREDICTED_62, SURE_62, POSSIBLE_62)
    if abs(got - right) < 0.001:
        return f"|A∩S| = 2, |A∩P| = 3, |A| = |S| = 4: AER = 1 − 5/8 = {right:.3f}."
    if abs(got - _aer(PREDICTED_62, SURE_62, SURE_62)) < 0.001:
        raise AssertionError("That is the AER with P = S: count the predicted link (2, 1) in |A∩P|, "
                             "since it is a possible link.")
    if abs(got - (1 - right)) < 0.001:
        raise AssertionError("That is 1 − AER: the AER is an error rate (0 is perfect).")
    raise AssertionError("Count |A∩S| (predicted links that are sure), |A∩P| (predicted links that are sure "
                         "or possible), |A| and |S|, then AER = 1 − (|A∩S| + |A∩P|) / (|A| + |S|).")
