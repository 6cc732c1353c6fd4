"""A synthetic sequence task that shows the fixed-vector bottleneck (chapter 2).

The "source sentence" is a random string of symbols and its "translation" is the same
string copied or reversed::

    copy:     d k a s   →  d k a s
    reverse:  d k a s   →  s a k d

Nothing about the task is hard except *remembering* the whole input: every output
symbol depends on exactly one input symbol, and the symbols are drawn independently
and uniformly, so the input cannot be compressed. A model that must squeeze the
source into one fixed vector therefore degrades as the sequences get longer, while a
model with attention can look up the symbol it needs at each step.

The task is seeded throughout (:func:`sample` takes a seed), so a chapter can draw
fresh test sequences and get the same ones on every machine. :func:`evaluate` decodes
them greedily with a model of the package and scores the output per length.
"""
from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from .batching import Batch, make_batch
from .vocabulary import SPECIALS, Vocabulary

__all__ = ["SYMBOLS", "TASKS", "MIN_LEN", "MAX_LEN", "Pair", "vocabulary", "target", "sample",
           "sample_lengths", "to_batch", "score", "evaluate", "artifacts_dir", "results", "load"]

SYMBOLS: tuple[str, ...] = tuple("abcdefghijklmnopqrst")   # 20 symbols
TASKS = ("copy", "reverse")
MIN_LEN, MAX_LEN = 5, 60


@dataclass(frozen=True)
class Pair:
    source: tuple[str, ...]
    target: tuple[str, ...]


def vocabulary() -> Vocabulary:
    """The one vocabulary of the task (source and target): the 4 specials, then the symbols."""
    return Vocabulary([*SPECIALS, *SYMBOLS])


def target(source: Sequence[str], task: str) -> tuple[str, ...]:
    """The output the task asks for: ``source`` itself (copy) or backwards (reverse)."""
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}")
    return tuple(source) if task == "copy" else tuple(reversed(source))


def _check_length(n) -> int:
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"a sequence length must be a positive whole number, got {n!r}")
    return n


def sample(lengths: Sequence[int], task: str, seed: int) -> list[Pair]:
    """One random pair per entry of ``lengths`` (symbols i.i.d. uniform), reproducible from ``seed``."""
    rng = random.Random(seed)
    pairs = []
    for n in lengths:
        src = tuple(rng.choice(SYMBOLS) for _ in range(_check_length(n)))
        pairs.append(Pair(src, target(src, task)))
    return pairs


def sample_lengths(n: int, seed: int, low: int = MIN_LEN, high: int = MAX_LEN) -> list[int]:
    """``n`` lengths drawn uniformly from ``low..high`` (both included)."""
    _check_length(low), _check_length(high)
    if low > high:
        raise ValueError(f"low ({low}) must not exceed high ({high})")
    rng = random.Random(seed)
    return [rng.randint(low, high) for _ in range(n)]


def to_batch(pairs: Sequence[Pair], vocab: Vocabulary | None = None) -> Batch:
    """A padded batch (``tgt_in`` starts with ``<s>``, ``tgt_out`` ends with ``</s>``)."""
    vocab = vocab or vocabulary()
    return make_batch([vocab.encode(p.source) for p in pairs], [vocab.encode(p.target) for p in pairs])


def score(predictions: Sequence[Sequence[str]], targets: Sequence[Sequence[str]]) -> tuple[float, float]:
    """(exact-sequence accuracy, per-token accuracy).

    Per-token accuracy compares position by position over the *target's* length: a
    missing symbol counts as wrong, extra symbols after the target's end are ignored
    (the exact-sequence accuracy catches them).
    """
    if len(predictions) != len(targets):
        raise ValueError(f"{len(predictions)} predictions but {len(targets)} targets")
    if not targets:
        raise ValueError("nothing to score")
    exact = sum(list(p) == list(t) for p, t in zip(predictions, targets))
    right = sum(a == b for p, t in zip(predictions, targets) for a, b in zip(p, t))
    total = sum(len(t) for t in targets)
    return exact / len(targets), right / total


def evaluate(model, task: str, lengths: Sequence[int], per_length: int, seed: int,
             vocab: Vocabulary | None = None) -> dict[int, dict[str, float]]:
    """Greedy-decode ``per_length`` fresh sequences of each length; score each length.

    Returns ``{length: {"exact": accuracy, "token": accuracy, "token_se": standard error}}``:
    ``token_se`` is the standard error of the per-token accuracy over the sequences of that
    length (0 for a single sequence). The sequences of length ``n`` are drawn with seed
    ``seed * 1000 + n``, so adding a length changes no other. All sequences are decoded in
    one batch (each stops at its own length limit).
    """
    import torch

    from ..search import greedy_search

    if isinstance(per_length, bool) or not isinstance(per_length, int) or per_length < 1:
        raise ValueError(f"per_length must be a positive whole number, got {per_length!r}")
    vocab = vocab or vocabulary()
    groups = {n: sample([n] * per_length, task, seed * 1000 + _check_length(n)) for n in lengths}
    pairs = [p for group in groups.values() for p in group]
    batch = to_batch(pairs, vocab)
    model.eval()
    with torch.no_grad():
        results = greedy_search(model, batch.src, batch.src_lengths)
    predictions = [vocab.decode(r.tokens) for r in results]
    out, start = {}, 0
    for n, group in groups.items():
        preds, targets = predictions[start: start + len(group)], [p.target for p in group]
        exact, token = score(preds, targets)
        each = [score([p], [t])[1] for p, t in zip(preds, targets)]
        se = (sum((a - token) ** 2 for a in each) / (len(each) - 1) / len(each)) ** 0.5 if len(each) > 1 else 0.0
        out[n] = {"exact": exact, "token": token, "token_se": se}
        start += len(group)
    return out


# --- the tiny trained models that ship with the package (scripts/train_synthetic.py) ---

def artifacts_dir() -> Path:
    return Path(str(resources.files("attention_course") / "synthetic"))


def results() -> dict:
    """What ``scripts/train_synthetic.py`` recorded: settings, models, training losses, accuracy."""
    from ..checkpoint import read_json
    return read_json(artifacts_dir() / "results.json", "the synthetic-task results")


def load(name: str):
    """A shipped synthetic-task model (in eval mode), e.g. ``load("bahdanau-64")``."""
    from ..checkpoint import load_model
    names = list(results()["models"])
    if name not in names:
        raise ValueError(f"unknown synthetic model {name!r}; choose one of: {', '.join(names)}")
    model, _, _, _ = load_model(artifacts_dir() / name)
    return model
