"""Exercises of chapters/08_failures.ipynb (failures and coverage): coverage by hand, GNMT's rescoring, and a
search that refuses to repeat itself.

The data of each exercise is defined here once; the chapter prints it from here. The checkers
recompute the right answers with plain Python loops, not with the package's own functions.
"""
from __future__ import annotations

import math

import torch

from . import exercise
from .answers import as_float

# 8.1: an invented output that leaves two words out ("small" and "quickly"); rows: output words.
SOURCE_81 = ["The", "cat", "ate", "the", "small", "fish", "quickly", "."]
TARGET_81 = ["Le", "chat", "a", "mangé", "le", "poisson", "."]
ATTENTION_81 = [
    [0.80, 0.10, 0.02, 0.03, 0.01, 0.02, 0.01, 0.01],
    [0.05, 0.85, 0.03, 0.02, 0.01, 0.02, 0.01, 0.01],
    [0.02, 0.10, 0.70, 0.05, 0.02, 0.05, 0.04, 0.02],
    [0.01, 0.04, 0.85, 0.03, 0.01, 0.03, 0.02, 0.01],
    [0.02, 0.02, 0.05, 0.15, 0.07, 0.64, 0.04, 0.01],
    [0.01, 0.02, 0.03, 0.12, 0.05, 0.72, 0.03, 0.02],
    [0.01, 0.01, 0.02, 0.10, 0.01, 0.05, 0.00, 0.80],
]
THRESHOLD_81 = 0.2

# 8.2: three finished hypotheses for "I lost my keys .": tokens (</s> counted in |y|), log p, and
# the attention of their output words (rows; the step that chose </s> is left out).
SOURCE_82 = ["I", "lost", "my", "keys", "."]
_J, _AI, _PERDU = [0.90, 0.05, 0.02, 0.02, 0.01], [0.30, 0.60, 0.05, 0.03, 0.02], [0.05, 0.85, 0.05, 0.03, 0.02]
_MES, _CLES = [0.02, 0.05, 0.85, 0.06, 0.02], [0.01, 0.03, 0.06, 0.88, 0.02]
HYPOTHESES_82 = {
    "A": (["J'", "ai", "perdu", ".", "</s>"], -1.2, [_J, _AI, _PERDU, [0.02, 0.03, 0.05, 0.10, 0.80]]),
    "B": (["J'", "ai", "perdu", "mes", "clés", ".", "</s>"], -2.0,
          [_J, _AI, _PERDU, _MES, _CLES, [0.02, 0.03, 0.02, 0.03, 0.90]]),
    "C": (["J'", "ai", "perdu", "mes", "clés", "clés", ".", "</s>"], -3.1,
          [_J, _AI, _PERDU, _MES, _CLES, [0.01, 0.02, 0.04, 0.90, 0.03], [0.02, 0.03, 0.02, 0.03, 0.90]]),
}
ALPHA_82, BETA_82 = 1.0, 0.5

# 8.3: a sentence on which luong-general's greedy output repeats a phrase.
SENTENCE_83 = "The nurse checked the patient's temperature twice and wrote both numbers in the notebook."
MODEL_83 = "luong-general"


# --- 8.1 -----------------------------------------------------------------------------------------

def _coverage(rows) -> list[float]:
    return [sum(row[j] for row in rows) for j in range(len(rows[0]))]


def _words(answer, source) -> set[str]:
    """The answer as source words: a list of words, or of positions."""
    if isinstance(answer, str) or not hasattr(answer, "__iter__"):
        raise AssertionError("Give the uncovered words as a list, e.g. ['cat', 'fish'].")
    out = set()
    for a in answer:
        if isinstance(a, str):
            out.add(a)
        elif isinstance(a, int) and not isinstance(a, bool) and 0 <= a < len(source):
            out.add(source[a])
        else:
            raise AssertionError("List source words (strings) or their positions (whole numbers from 0).")
    return out


@exercise("8.1")
def check_uncovered(answer) -> str:
    got = _words(answer, SOURCE_81)
    words = [(w, c) for w, c in zip(SOURCE_81, _coverage(ATTENTION_81)) if any(ch.isalnum() for ch in w)]
    right = {w for w, c in words if c < THRESHOLD_81}
    if got == right:
        return ("Coverage (column sums):\n  " + ", ".join(f"{w} {c:.2f}" for w, c in words)
                + ".\nNeither 'petit' nor 'rapidement' is in the output.")
    if got & set(TARGET_81) - set(SOURCE_81):
        raise AssertionError("Coverage belongs to source words: sum each column (a source word) over the rows.")
    by_max = {w for w, row in zip(SOURCE_81, zip(*ATTENTION_81)) if max(row) < THRESHOLD_81 and w in dict(words)}
    if got == by_max:
        raise AssertionError(f"'the' is never the largest weight of a row, but it receives {dict(words)['the']:.2f} "
                             "in all: coverage adds a column up, it does not take its maximum.")
    if got == {w for w, _ in words} - right:
        raise AssertionError("Those are the covered words: uncovered means a coverage *below* the threshold.")
    raise AssertionError(f"Add up each source word's column over all output rows and list the words whose "
                         f"sum is below {THRESHOLD_81} (leave out the full stop).")


# --- 8.2 -----------------------------------------------------------------------------------------

def _gnmt(key: str, alpha: float = ALPHA_82, beta: float = BETA_82, cap: bool = True,
          normalise: bool = True) -> float:
    tokens, log_p, rows = HYPOTHESES_82[key]
    penalty = 0.0
    for c in _coverage(rows):
        penalty += math.log(min(c, 1.0) if cap else c)
    return (log_p / len(tokens) ** alpha if normalise else log_p) + beta * penalty


@exercise("8.2")
def check_rescoring(answer) -> str:
    if not isinstance(answer, dict) or set(answer) != set(HYPOTHESES_82):
        raise AssertionError("Give a dict with one score per hypothesis: {'A': ..., 'B': ..., 'C': ...}.")
    got = {k: as_float(v, f"The score of {k}") for k, v in answer.items()}

    def close(scores):
        return all(abs(got[k] - scores[k]) < 0.005 for k in scores)

    right = {k: _gnmt(k) for k in HYPOTHESES_82}
    if close(right):
        plain = {k: _gnmt(k, beta=0.0) for k in HYPOTHESES_82}
        return (f"{max(right, key=right.get)} wins; without the penalty (β = 0) {max(plain, key=plain.get)} would: "
                "the short A leaves 'my' and 'keys' uncovered.")
    if close({k: _gnmt(k, cap=False) for k in HYPOTHESES_82}):
        raise AssertionError("Cap each coverage at 1 (min(c_j, 1)) before the log: otherwise attending to "
                             "'keys' twice, as C does, would be rewarded.")
    if close({k: _gnmt(k, normalise=False) for k in HYPOTHESES_82}):
        raise AssertionError("Divide log p by |y|^α first (α = 1, |y| counts </s>), then add the penalty.")
    if close({k: _gnmt(k, beta=1.0) for k in HYPOTHESES_82}):
        raise AssertionError(f"Multiply the sum of the logs by β = {BETA_82}.")
    raise AssertionError("For each hypothesis: coverage c_j = column sums of its rows; "
                         "penalty = β Σ_j log min(c_j, 1) with the natural log; score = log p / |y|^α + penalty.")


# --- 8.3 -----------------------------------------------------------------------------------------

def _plain_blocked(prefix: list[int], vocab_size: int) -> set[int]:
    """The words w that would repeat a bigram of the prefix: (prefix[-1], w) occurs in it already."""
    if not prefix:
        return set()
    return {prefix[i + 1] for i in range(len(prefix) - 1) if prefix[i] == prefix[-1] and prefix[i + 1] < vocab_size}


_CASES_83 = [[], [2, 5, 7, 5], [3], [3, 5], [3, 5, 3], [4, 4], [1, 2, 1, 2, 1], [6, 1, 6, 2, 6], [9, 8, 7]]


@torch.no_grad()
def greedy_with(translator, text: str, adjust) -> list[str]:
    """Greedy decoding of ``text`` in which ``adjust(log_probs, prefix)`` may change each step's
    log-probabilities over the vocabulary (``prefix``: the word ids chosen so far)."""
    from ..data.text import tokenize
    from ..data.vocabulary import Vocabulary
    from ..search.record import max_lengths

    model = translator.model.eval()
    ids = translator.src_vocab.encode(tokenize(text, "en"))
    src, lengths = torch.tensor([ids]), torch.tensor([len(ids)])
    memory = model.encode(src, lengths)
    state = model.decoder.initial_state(memory)
    prefix, prev = [], torch.tensor([Vocabulary.bos_index])
    for t in range(int(max_lengths(lengths)[0])):
        logits, state, _ = model.decoder.step(prev, state, memory, t)
        log_probs = adjust(logits[0].log_softmax(-1).clone(), list(prefix))
        word = int(torch.as_tensor(log_probs).argmax())
        if word == Vocabulary.eos_index:
            break
        prefix.append(word)
        prev = torch.tensor([word])
    return [translator.tgt_vocab.itos[i] for i in prefix]


def _bigrams(tokens) -> list[tuple]:
    return list(zip(tokens, tokens[1:]))


@exercise("8.3")
def check_no_repeat_bigram(fn) -> str:
    if not callable(fn):
        raise AssertionError("answer should be your function itself (answer = no_repeat_bigram), not its result.")
    V = 10
    base = torch.linspace(-5.0, -0.5, V)
    for prefix in _CASES_83:
        try:
            got = fn(base.clone(), list(prefix))
        except Exception as exc:  # noqa: BLE001 - report the reader's error as a hint
            raise AssertionError(f"your function raised {type(exc).__name__}: {exc} (prefix {prefix})") from exc
        got = torch.as_tensor(got, dtype=base.dtype)
        if got.shape != base.shape:
            raise AssertionError(f"return log-probabilities of the same shape ({V},), got {tuple(got.shape)}")
        blocked = {i for i in range(V) if got[i] == -math.inf}
        right = _plain_blocked(prefix, V)
        if blocked != right:
            if len(set(prefix)) > 1 and blocked == set(prefix):
                raise AssertionError(f"prefix {prefix}: you blocked every word already used; block only the words "
                                     f"that would repeat a *pair* (prefix[-1], w) already in the prefix")
            if len(set(prefix)) > 1 and blocked == {prefix[-1]}:
                raise AssertionError(f"prefix {prefix}: that blocks an immediate repeat of the last word; block "
                                     f"instead each w such that (prefix[-1], w) is already a pair of the prefix")
            raise AssertionError(f"prefix {prefix}: blocked {sorted(blocked)}, expected {sorted(right)} "
                                 f"(the words that follow an earlier occurrence of the last word {prefix[-1:]})")
        keep = [i for i in range(V) if i not in right]
        if not torch.equal(got[keep], base[keep]):
            raise AssertionError(f"prefix {prefix}: leave the other log-probabilities unchanged")
    from .. import pretrained
    tr = pretrained.load(MODEL_83)
    plain = greedy_with(tr, SENTENCE_83, lambda lp, prefix: lp)
    mine = greedy_with(tr, SENTENCE_83, fn)
    repeated = [b for b in set(_bigrams(mine)) if _bigrams(mine).count(b) > 1]
    if repeated:
        raise AssertionError(f"the decode with your function still repeats {repeated}")
    from ..data.text import detokenize
    return f"Greedy {MODEL_83}\n  without it: {detokenize(plain, 'fr')}\n  with it:    {detokenize(mine, 'fr')}"


__all__ = ["SOURCE_81", "TARGET_81", "ATTENTION_81", "THRESHOLD_81", "SOURCE_82", "HYPOTHESES_82", "ALPHA_82",
           "BETA_82", "SENTENCE_83", "MODEL_83", "greedy_with", "check_uncovered", "check_rescoring",
           "check_no_repeat_bigram"]
