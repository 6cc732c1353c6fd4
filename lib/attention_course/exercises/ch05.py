"""Exercises of chapter 5 (decoding): length normalisation, the beam rule, <unk> replacement.

The data of each exercise is defined here once; the chapter prints it from here, so the
question and its checker can never disagree.
"""
from __future__ import annotations

import math

from . import exercise
from .answers import as_float as _as_float

# 5.1 and 5.2: three finished hypotheses: (tokens including </s>, total log-probability).
HYPOTHESES = {
    "A": (["Non", ".", "</s>"], -2.3),
    "B": (["Je", "ne", "pars", "pas", ".", "</s>"], -3.9),
    "C": (["Je", "ne", "pars", "pas", "maintenant", ".", "</s>"], -4.6),
}
ALPHA_51 = 0.8

# 5.3: beam size K and the 2K best extensions of one step, best first: (word, total log-probability).
BEAM_K = 3
CANDIDATES_53 = [("chat", -0.9), ("</s>", -1.1), ("chien", -1.4), ("</s>", -1.6), ("oiseau", -2.0), ("poisson", -2.2)]

# 5.4: a raw output, its source, and the attention rows (target x source).
SOURCE_54 = ["Where", "is", "Mortimer", "'s", "cat", "?"]
RAW_54 = ["Où", "est", "le", "chat", "de", "<unk>", "?"]
ATTENTION_54 = [
    [0.86, 0.08, 0.02, 0.01, 0.02, 0.01],
    [0.10, 0.81, 0.03, 0.02, 0.03, 0.01],
    [0.02, 0.09, 0.11, 0.13, 0.62, 0.03],
    [0.01, 0.02, 0.05, 0.04, 0.86, 0.02],
    [0.02, 0.03, 0.30, 0.52, 0.11, 0.02],
    [0.01, 0.02, 0.71, 0.17, 0.06, 0.03],
    [0.02, 0.03, 0.04, 0.02, 0.05, 0.84],
]


def _normalised(alpha: float, drop_eos: bool = False) -> dict[str, float]:
    return {k: s / ((len(toks) - drop_eos) ** alpha) for k, (toks, s) in HYPOTHESES.items()}


@exercise("5.1")
def check_normalised(answer) -> str:
    if not isinstance(answer, dict) or set(answer) != set(HYPOTHESES):
        raise AssertionError("Give a dict with one normalised score per hypothesis: {'A': ..., 'B': ..., 'C': ...}.")
    got = {k: _as_float(v, f"The score of {k}") for k, v in answer.items()}
    right = _normalised(ALPHA_51)
    if all(abs(got[k] - right[k]) < 0.005 for k in right):
        winner = max(right, key=right.get)
        return f"With α = {ALPHA_51}, {winner} wins ({right[winner]:.3f})."
    without_eos = _normalised(ALPHA_51, drop_eos=True)
    if all(abs(got[k] - without_eos[k]) < 0.005 for k in right):
        raise AssertionError("Close: the length |y| counts </s> too (it is a word the model chose), "
                             "so 'Non . </s>' has length 3.")
    if any(got[k] > 0 for k in got):
        raise AssertionError("A log-probability divided by a positive length stays negative.")
    bad = [k for k in right if abs(got[k] - right[k]) >= 0.005]
    raise AssertionError(f"Not quite for {', '.join(bad)}: divide each total log-probability by |y|^α "
                         f"with α = {ALPHA_51} and |y| the number of tokens including </s>.")


@exercise("5.2")
def check_tie(answer) -> str:
    got = _as_float(answer, "α")
    (ta, sa), (tb, sb) = HYPOTHESES["A"], HYPOTHESES["B"]
    # sa / la^α = sb / lb^α  ⇔  (lb / la)^α = sb / sa
    right = math.log(sb / sa) / math.log(len(tb) / len(ta))
    if abs(got - right) < 0.01:
        return (f"α* = log(3.9 / 2.3) / log(6 / 3) ≈ {right:.3f}: below it the short A wins, above it B does.")
    if not 0 < got < 2:
        raise AssertionError("The tie lies between 0 (A wins: it is more probable) and 1 (B wins).")
    raise AssertionError("Set the two normalised scores equal, -2.3 / 3^α = -3.9 / 6^α, and solve for α "
                         "(take logarithms: α · log 2 = log(3.9 / 2.3)).")


def _beam_statuses(candidates, k: int) -> list[str]:
    out, alive = [], 0
    for rank, (word, _) in enumerate(candidates, start=1):
        if word == "</s>":
            out.append("finished" if rank <= k else "pruned")
        elif alive < k:
            alive += 1
            out.append("alive")
        else:
            out.append("pruned")
    return out


@exercise("5.3")
def check_beam_rule(answer) -> str:
    right = _beam_statuses(CANDIDATES_53, BEAM_K)
    if not isinstance(answer, (list, tuple)) or len(answer) != len(CANDIDATES_53):
        raise AssertionError(f"Give a list of {len(CANDIDATES_53)} statuses, one per candidate, in order.")
    got = [str(a).strip().lower() for a in answer]
    if not set(got) <= {"alive", "finished", "pruned"}:
        raise AssertionError("Each status is 'alive', 'finished' or 'pruned'.")
    if got == right:
        return ("The second </s> ranks 4th, outside the K best, so that ending is pruned; 'poisson' is pruned "
                "because K = 3 candidates are alive already.")
    wrong = [i + 1 for i, (g, r) in enumerate(zip(got, right)) if g != r]
    hint = ("A </s> counts as finished only if it ranks among the K best of all 2K candidates."
            if any(CANDIDATES_53[i - 1][0] == "</s>" for i in wrong) else
            "Candidates that do not end in </s> stay alive in order until K are alive; the rest are pruned.")
    raise AssertionError(f"Candidate(s) {wrong} have the wrong status. {hint}")


def _replaced() -> list[str]:
    return [SOURCE_54[max(range(len(row)), key=row.__getitem__)] if tok == "<unk>" else tok
            for tok, row in zip(RAW_54, ATTENTION_54)]


@exercise("5.4")
def check_unk(answer) -> str:
    if not isinstance(answer, (list, tuple)) or not all(isinstance(t, str) for t in answer):
        raise AssertionError("Give the output as a list of tokens (strings).")
    right = _replaced()
    if list(answer) == right:
        return "The <unk> attended most to 'Mortimer', so the name is copied."
    if len(answer) != len(right):
        raise AssertionError(f"The output keeps its {len(right)} tokens; only the <unk> changes.")
    if "<unk>" in answer:
        raise AssertionError("Replace the <unk> by a source word.")
    raise AssertionError("Look at the attention row of the <unk> (row 5, counting from 0) and take the source "
                         "word in the column where that row is largest; the other tokens stay as they are.")
