"""Exercises of chapter 6 (alignment): links from attention, the AER by hand, and the gold
source word hidden from a trained model's attention.

The data of each exercise is defined here once; the chapter prints it from here.
"""
from __future__ import annotations

import numpy as np

from . import exercise

# 6.1: an attention matrix to try the reader's function on (rows: target words, columns: source
# words); the check draws its own.
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
def check_links_above(fn) -> str:
    """``fn(weights, tau)``: the links (i, j) with α_ij ≥ τ, and the argmax link of every row
    that has no weight ≥ τ. Applied to matrices drawn here, against a plain loop."""
    if not callable(fn):
        raise AssertionError("answer should be your function itself (answer = links_above), not its result.")
    for weights, tau in _cases_61():
        try:
            got = _links(fn(weights.copy(), tau), "the links")
        except AssertionError:
            raise
        except Exception as exc:  # noqa: BLE001 - report the reader's error as a hint
            raise AssertionError(f"your function raised {type(exc).__name__}: {exc}") from exc
        right = _plain_links_above(weights, tau)
        if got == right:
            continue
        rows = weights.tolist()
        shape = f"on a {weights.shape[0]} x {weights.shape[1]} matrix with τ = {tau}"
        if got == {(j, i) for i, j in right}:
            raise AssertionError("The pairs are reversed: write (i, j) with i the target position (the row).")
        if got == {(i, j) for i, row in enumerate(rows) for j, w in enumerate(row) if w >= tau}:
            raise AssertionError(f"{shape} a row has no weight ≥ τ and got no link: every target word "
                                 "keeps at least its argmax link.")
        if got == {(i, max(range(len(row)), key=row.__getitem__)) for i, row in enumerate(rows)}:
            raise AssertionError(f"{shape} you gave one link per row (the argmax): link every source "
                                 "word whose weight reaches τ.")
        if got == _plain_links_above(weights, tau, strict=True):
            raise AssertionError(f"{shape} a weight exactly equal to τ must give a link (α_ij ≥ τ, not >).")
        raise AssertionError(f"{shape} expected {sorted(right)}, got {sorted(got)}. Rows are target "
                             "words i, columns source words j.")
    table = _plain_links_above(np.array(ATTENTION_61), 0.3)
    shown = ", ".join(f"{TARGET_61[i]}→{SOURCE_61[j]}" for i, j in sorted(table))
    several = [TARGET_61[i] for i in range(len(TARGET_61)) if sum(a == i for a, _ in table) > 1]
    return (f"On the table above with τ = 0.3: {shown}. " + " and ".join(f"'{w}'" for w in several)
            + " get more than one link, where the argmax kept one.")


def _plain_links_above(weights, tau: float, strict: bool = False) -> set[tuple[int, int]]:
    links = set()
    for i, row in enumerate(weights.tolist()):
        above = [j for j, w in enumerate(row) if (w > tau if strict else w >= tau)]
        if not above:
            best = 0
            for j, w in enumerate(row):
                if w > row[best]:
                    best = j
            above = [best]
        links.update((i, j) for j in above)
    return links


def _cases_61() -> list[tuple[np.ndarray, float]]:
    """Attention matrices (rows sum to about 1, two decimals), each with a row that has no weight
    ≥ τ, a row with a weight exactly τ besides a larger one, and no ties for a row's maximum."""
    rng = np.random.default_rng(61)
    cases = []
    for (n_tgt, n_src), tau in [((3, 4), 0.3), ((5, 5), 0.25), ((7, 6), 0.4), ((2, 3), 0.35),
                                ((6, 9), 0.2), ((4, 3), 0.45)]:
        while True:
            w = np.round(rng.dirichlet(np.full(n_src, 0.6), size=n_tgt), 2)
            i = int(rng.integers(n_tgt))
            top = int(w[i].argmax())
            j = (top + 1 + int(rng.integers(n_src - 1))) % n_src      # a column other than the top
            w[i, top] = round(w[i, top] - (tau - w[i, j]), 2)         # the row still sums to 1
            w[i, j] = tau
            tops = np.sort(w, 1)[:, -2:]
            if (w[i, top] > tau and (w >= 0).all() and (tops[:, 0] < tops[:, 1]).all()
                    and (w < tau).all(1).any()):
                break
        cases.append((w, tau))
    return cases


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


# --- 6.3: the gold word hidden from the attention ---------------------------------------------

MODEL_63 = "luong-general"     # the tiny model of the synthetic language with the lowest AER


def pairs_63():
    """The 200 test pairs of the synthetic language that exercise 6.3 scores on (seed 63)."""
    from ..data import alignment_task as task
    return task.generate(200, seed=63, split="test")


def _fresh_model_63():
    from importlib import resources

    from ..checkpoint import load_model
    model, _, src_vocab, tgt_vocab = load_model(resources.files("attention_course") / "alignment_models" / MODEL_63)
    return model.eval(), src_vocab, tgt_vocab


def _forced_accuracy_63(hide: str | None = "score", shift: int = 0, eos: bool = True,
                        padding: bool = False) -> float:
    """Teacher-forced token accuracy of a fresh tiny model on :func:`pairs_63` when, at step i,
    the source word of target word i + ``shift``'s gold link is hidden: "score" gives it the
    score -inf (weight 0), "annotation" zeroes its annotation instead, None hides nothing.
    The step that predicts </s> has no gold link and hides nothing. Plain loops count the hits."""
    import torch

    from ..data import alignment_task as task
    model, src_vocab, tgt_vocab = _fresh_model_63()
    attention = model.decoder.attention
    pairs = pairs_63()
    gold = [dict(p.links) for p in pairs]                      # target position -> source position

    def hidden(step):
        return [(b, g[step + shift]) for b, g in enumerate(gold) if step + shift in g]

    def by_score(query, keys, annotations, mask, step=0, **_):
        scores = attention.scores(query, keys).masked_fill(~mask[:, None, :], float("-inf"))
        for b, j in hidden(step):
            scores[b, :, j] = float("-inf")
        alpha = torch.softmax(scores, -1)
        return alpha @ annotations, alpha

    def by_annotation(query, keys, annotations, mask, step=0, **_):
        annotations = annotations.clone()
        for b, j in hidden(step):
            annotations[b, j] = 0
        alpha = torch.softmax(attention.scores(query, attention.precompute(annotations))
                              .masked_fill(~mask[:, None, :], float("-inf")), -1)
        return alpha @ annotations, alpha

    if hide == "score":
        attention.forward = by_score
    elif hide == "annotation":
        attention.forward = by_annotation
    batch = task.to_batch(pairs, src_vocab, tgt_vocab)
    with torch.no_grad():
        logits, _ = model(batch.src, batch.src_lengths, batch.tgt_in)
    predicted = logits.argmax(-1).tolist()
    hits = total = 0
    for b, pair in enumerate(pairs):
        n = batch.tgt_out.size(1) if padding else len(pair.target) + (1 if eos else 0)   # words, </s>
        for i in range(n):
            hits += predicted[b][i] == int(batch.tgt_out[b, i])
            total += 1
    return hits / total


@exercise("6.3")
def check_gold_word_hidden(answer) -> str:
    from .answers import as_float
    got = as_float(answer, "The accuracy")
    if not 0 <= got <= 1:
        raise AssertionError("The accuracy is a share between 0 and 1 (hits / target tokens).")
    right = _forced_accuracy_63()
    if abs(got - right) < 5e-4:
        full, previous = _forced_accuracy_63(None), _forced_accuracy_63(shift=-1)
        return (f"Token accuracy {full:.3f} as the model is, {right:.3f} when it may not look at the word "
                f"it translates, and {previous:.3f} when the word hidden at step i is the previous target "
                "word's instead: the decoder needs the annotation of the very word it translates; its "
                "neighbours' annotations do not stand in for it.")
    wrong = [
        (_forced_accuracy_63(None), "That is the accuracy of the unchanged model: hide the gold source "
                                    "word from the attention at every step before you measure."),
        (_forced_accuracy_63(shift=-1), "At step i you hid the source word of target word i − 1: "
                                        "tgt_out[i] is target word i, hide the word of its own gold link."),
        (_forced_accuracy_63(shift=1), "At step i you hid the source word of target word i + 1: "
                                       "tgt_out[i] is target word i, hide the word of its own gold link."),
        (_forced_accuracy_63("annotation"), "You zeroed the word's annotation: its weight still takes a "
                                            "share of the softmax. Hide it from the attention (weight 0)."),
        (_forced_accuracy_63(eos=False), "Count </s> too: every position of tgt_out that is not padding "
                                         "is a target token."),
        (_forced_accuracy_63(padding=True), "Leave the padding positions of tgt_out out of the count."),
    ]
    for value, hint in wrong:
        if abs(got - value) < 5e-4:
            raise AssertionError(hint)
    raise AssertionError("Load a fresh model; at step i let the attention give weight 0 to the source "
                         "word of target word i's gold link (nothing at the </s> step), feed tgt_in, and "
                         "count the positions of tgt_out (</s> included, padding not) where the most "
                         "probable word is right.")
