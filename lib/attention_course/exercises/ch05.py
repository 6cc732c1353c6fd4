"""Exercises of chapter 5 (decoding): length normalisation, the beam rule, <unk> replacement.

The data of each exercise is defined here once; the chapter prints it from here, so the
question and its checker can never disagree.
"""
from __future__ import annotations

import math
import unicodedata

import numpy as np
import torch

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

# 5.4: an example to try a replacement function on (the checker also makes up cases of its own):
# a raw output, its source, and the attention rows (target x source).
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
UNK = "<unk>"

# 5.5: sentences of our own with words the model does not know, and the model to change.
MODEL_55 = "bahdanau"
SENTENCES_55 = [
    "I gave the book to Thaddeus.",
    "Mortimer lives in Glasgow with his dog.",
    "The zeppelin flew over the old harbour.",
    "Ask Philomena where the scissors are.",
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


# --- 5.4 -----------------------------------------------------------------------------------------

def _copyable(token: str) -> bool:
    """A source token worth copying: it has a letter or a digit, and it is not <unk> itself."""
    return token != UNK and any(unicodedata.category(ch)[0] in "LN" for ch in token)


def _replace_54(tokens, attention, source, skip: bool = True, leftmost: bool = True,
                columns: str = "source", shift: int = 0) -> list[str]:
    """The rule of 5.4 with plain loops; the other settings give the typical slips."""
    if attention is None:
        return list(tokens)
    out = []
    for i, token in enumerate(tokens):
        if token != UNK:
            out.append(token)
            continue
        row = [float(w) for w in attention[min(max(i + shift, 0), len(attention) - 1)]]
        width = len(source) if columns == "source" else len(row)
        best = None
        for j in range(width):
            if j < len(source) and skip and not _copyable(source[j]):
                continue
            if best is None or row[j] > row[best] or (not leftmost and row[j] == row[best]):
                best = j
        out.append(UNK if best is None else source[best] if best < len(source) else "<pad>")
    return out


def _cases_54() -> list[tuple[str, list[str], np.ndarray | None, list[str]]]:
    """(what the case tests, raw output, attention, source)."""
    a = np.array
    cases = [
        ("the example above", RAW_54, a(ATTENTION_54), SOURCE_54),
        ("two <unk>s", ["<unk>", "a", "vu", "<unk>", "."],
         a([[.7, .1, .1, .05, .05], [.1, .6, .2, .05, .05], [.1, .7, .1, .05, .05],
            [.05, .1, .2, .6, .05], [.02, .02, .02, .04, .9]]), ["Ulrike", "saw", "the", "Matterhorn", "."]),
        ("a tie between two source words", ["Il", "parle", "<unk>"],
         a([[.8, .1, .05, .05], [.1, .8, .05, .05], [.1, .1, .4, .4]]), ["He", "speaks", "Basque", "Catalan"]),
        ("punctuation as the most attended word", ["Bonjour", ",", "<unk>", "!"],
         a([[.8, .1, .05, .05], [.1, .7, .1, .1], [.05, .15, .3, .5], [.05, .05, .1, .8]]),
         ["Hello", ",", "Ingeborg", "!"]),
        ("a source word that is <unk> itself", ["J'", "ai", "rencontré", "<unk>", "à", "Oslo", "."],
         a([[.9, .02, .02, .02, .02, .02], [.6, .3, .04, .02, .02, .02], [.05, .8, .05, .04, .03, .03],
            [.02, .1, .55, .03, .25, .05], [.02, .04, .04, .8, .05, .05], [.01, .02, .02, .05, .85, .05],
            [.01, .01, .01, .02, .05, .9]]), ["I", "met", "<unk>", "in", "Oslo", "."]),
        ("nothing to copy", ["<unk>", "?"], a([[.5, .5], [.3, .7]]), ["?", "!"]),
        ("padding columns and the row of </s>", ["Merci", ",", "<unk>", "."],
         a([[.7, .1, .1, .1, 0, .9, .9], [.1, .6, .2, .1, 0, .9, .9], [.1, .1, .6, .2, .0, .9, .9],
            [.05, .05, .1, .8, 0, .9, .9], [.1, .1, .1, .7, 0, .9, .9]]), ["Thanks", ",", "Rosalind", "."]),
        ("a model without attention", ["<unk>", "est", "là", "."], None, ["Bertrand", "is", "here", "."]),
        ("no <unk> at all", ["Oui", "."], a([[.9, .1], [.2, .8]]), ["Yes", "."]),
    ]
    rng = np.random.default_rng(54)
    pool = ["Anselm", "Zoé", "Kyoto", "river", "3", "1984", "'s", ",", ".", "?", "-", "<unk>", "old", "the"]
    for k in range(24):
        n_src, n_tgt = int(rng.integers(2, 8)), int(rng.integers(1, 8))
        source = [str(w) for w in rng.choice(pool, size=n_src)]
        tokens = [UNK if rng.random() < 0.4 else str(rng.choice(["le", "de", "un", ",", "."])) for _ in range(n_tgt)]
        rows = np.round(rng.dirichlet(np.ones(n_src), size=n_tgt + 1), 1)   # rounding makes ties
        padding = int(rng.integers(0, 3))
        rows = np.concatenate([rows, np.round(rng.random((n_tgt + 1, padding)), 1)], 1)
        cases.append((f"made-up case {k + 1}", tokens, rows, source))
    return cases


def _show_case(tokens, attention, source) -> str:
    rows = "" if attention is None else "; ".join(
        f"row {i}: {np.round(np.asarray(attention[i], float), 2).tolist()}" for i, t in enumerate(tokens) if t == UNK)
    return f"raw {tokens}, source {source}" + (f", attention of the <unk> {rows}" if rows else ", attention None")


@exercise("5.4")
def check_unk(fn) -> str:
    if not callable(fn):
        raise AssertionError("answer should be your function itself (answer = replace_unk), not its result.")
    for what, tokens, attention, source in _cases_54():
        given = (list(tokens), None if attention is None else attention.copy(), list(source))
        try:
            got = fn(*given)
        except Exception as exc:  # noqa: BLE001 - report the reader's error as a hint
            raise AssertionError(f"Case '{what}': your function raised {type(exc).__name__}: {exc}\n"
                                 f"{_show_case(tokens, attention, source)}") from exc
        if given[0] != list(tokens) or given[2] != list(source) or (
                attention is not None and not np.array_equal(given[1], attention)):
            raise AssertionError("Your function changed its arguments; return a new list and leave the "
                                 "raw output, the attention and the source as they were.")
        if not isinstance(got, (list, tuple)) or not all(isinstance(t, str) for t in got):
            raise AssertionError(f"Case '{what}': return the output as a list of tokens (strings), "
                                 f"got {type(got).__name__}.")
        got, right = list(got), _replace_54(tokens, attention, source)
        if got == right:
            continue
        shown = _show_case(tokens, attention, source)
        if len(got) != len(right):
            hint = f"the output keeps its {len(right)} tokens; only each <unk> changes"
        elif attention is not None and got == _replace_54(tokens, attention, source, columns="all"):
            hint = ("a column from len(source) on is padding (a batch pads its sources), and the last row "
                    "belongs to </s>: look only at the first len(source) columns")
        elif attention is not None and got == _replace_54(tokens, attention, source, skip=False):
            hint = ("the most attended source word here cannot be copied: skip punctuation (a token with "
                    "no letter or digit) and source tokens that are <unk> themselves, and take the best "
                    "of the rest")
        elif attention is not None and got == _replace_54(tokens, attention, source, leftmost=False):
            hint = "on a tie take the leftmost source word (the first largest weight, as argmax does)"
        elif attention is not None and any(got == _replace_54(tokens, attention, source, shift=s)
                                           for s in (-1, 1)):
            hint = "row i of the attention belongs to output word i (both counted from 0)"
        elif any(t == UNK for t in right) and UNK not in got:
            hint = "when no source word can be copied, keep the <unk>"
        elif UNK in got and all(g == r or g == UNK for g, r in zip(got, right)):
            hint = "replace every <unk> that has a word to copy" + (
                ", not only the first" if sum(t == UNK for t in tokens) > 1 else "")
        else:
            hint = ("each <unk> becomes the copyable source word with the largest weight in its own row; "
                    "every other token stays as it is")
        raise AssertionError(f"Case '{what}': {hint}.\n{shown}\nyour output: {got}")
    example = _replace_54(RAW_54, ATTENTION_54, SOURCE_54)
    return (f"Your function agrees on {len(_cases_54())} cases: several <unk>s, ties, punctuation, "
            f"a source word unknown itself, nothing to copy, padding and no attention.\n"
            f"The example: {' '.join(example)}")


# --- 5.5 -----------------------------------------------------------------------------------------

# Sentences the check decodes besides SENTENCES_55 (words the model does not know, of our own).
_HIDDEN_55 = ["Bartholomew found a kaleidoscope in the attic.", "We flew from Reykjavik to Ouagadougou.",
              "The marmalade is on the table."]


def _fresh(name: str):
    """The shipped model loaded anew (pretrained.load's cached copy may have been changed)."""
    from .. import pretrained
    return pretrained.load.__wrapped__(name)


@torch.no_grad()
def _greedy_55(model, src_vocab, tgt_vocab, text: str, forbid: bool):
    """Greedy decoding with a plain loop; ``forbid``: the <unk> log-probability set to -inf at
    every step. Returns the tokens and each step's log-probabilities."""
    from ..data.text import tokenize
    from ..search.record import max_lengths

    ids = src_vocab.encode(tokenize(text, "en"))
    src, lengths = torch.tensor([ids]), torch.tensor([len(ids)])
    memory = model.encode(src, lengths)
    state = model.decoder.initial_state(memory)
    prev, out, steps = torch.tensor([tgt_vocab.bos_index]), [], []
    for t in range(int(max_lengths(lengths)[0])):
        logits, state, _ = model.decoder.step(prev, state, memory, t)
        log_probs = logits[0].double().log_softmax(-1)
        if forbid:
            log_probs[tgt_vocab.unk_index] = -math.inf
            log_probs = log_probs - torch.logsumexp(log_probs, -1)
        steps.append(log_probs)
        word = int(log_probs.argmax())
        if word == tgt_vocab.eos_index:
            break
        out.append(tgt_vocab.itos[word])
        prev = torch.tensor([word])
    return out, steps


@torch.no_grad()
def _step_log_probs(model, src_vocab, tgt_vocab, text: str, tokens: list[str]) -> list:
    """The log-probabilities of every step of a model reading ``tokens`` (teacher forcing, step by step)."""
    from ..data.text import tokenize

    ids = src_vocab.encode(tokenize(text, "en"))
    memory = model.encode(torch.tensor([ids]), torch.tensor([len(ids)]))
    state = model.decoder.initial_state(memory)
    prev, out = torch.tensor([tgt_vocab.bos_index]), []
    for t, word in enumerate([*tokens, None]):
        logits, state, _ = model.decoder.step(prev, state, memory, t)
        out.append(logits[0].double().log_softmax(-1))
        if word is not None:
            prev = torch.tensor([tgt_vocab.stoi[word]])
    return out


@exercise("5.5")
def check_no_unk(answer) -> str:
    from .. import pretrained
    from ..data.text import detokenize

    model = getattr(answer, "model", answer)
    if not isinstance(model, torch.nn.Module) or not hasattr(model, "decoder"):
        raise AssertionError("answer should be your changed copy of the translator (or of its model), "
                             f"got {type(answer).__name__}.")
    shipped, fresh = pretrained.load(MODEL_55), _fresh(MODEL_55)
    if any(not torch.equal(a, b) for a, b in zip(shipped.model.state_dict().values(),
                                                  fresh.model.state_dict().values())):
        raise AssertionError("You changed the shipped model itself: pretrained.load returns the same object "
                             "every time, so the chapter's other cells would use the changed model too. Run "
                             "pretrained.load.cache_clear(), load it again, and change a copy "
                             "(copy.deepcopy(translator)).")
    if model is shipped.model:
        raise AssertionError("That is the shipped model, unchanged: change a copy of it.")
    src_vocab, tgt_vocab = fresh.src_vocab, fresh.tgt_vocab
    unk = tgt_vocab.unk_index
    for text in [*SENTENCES_55, *_HIDDEN_55]:
        right, right_steps = _greedy_55(fresh.model, src_vocab, tgt_vocab, text, forbid=True)
        try:
            mine_steps = _step_log_probs(model.eval(), src_vocab, tgt_vocab, text, right)
        except Exception as exc:  # noqa: BLE001 - report the reader's error as a hint
            raise AssertionError(f"Decoding with your model raised {type(exc).__name__}: {exc}") from exc
        for t, (mine, ref) in enumerate(zip(mine_steps, right_steps)):
            if mine[unk] > -1e4:
                plain = _step_log_probs(fresh.model, src_vocab, tgt_vocab, text, right)[t]
                if abs(float(mine[unk] - plain[unk])) < 1e-4:
                    raise AssertionError(f"Your model still gives <unk> its usual probability "
                                         f"({math.exp(float(mine[unk])):.2g} at step {t} of '{text}'): "
                                         "change the logit of <unk> in the output layer.")
                raise AssertionError(f"<unk> is still possible: its log-probability is {float(mine[unk]):.1f} "
                                     f"at step {t} of '{text}'. Make its logit -inf (probability exactly 0).")
            keep = torch.ones_like(ref, dtype=torch.bool)
            keep[unk] = False
            gap = (mine[keep] - ref[keep]).abs()
            if not bool(torch.isfinite(gap).all()) or float(gap.max()) > 1e-4:
                worst = int(torch.nan_to_num(gap, nan=math.inf, posinf=math.inf).argmax())
                word = tgt_vocab.itos[int(keep.nonzero()[worst])]
                raise AssertionError(f"Your change also moved the probability of other words (most of all "
                                     f"'{word}', at step {t} of '{text}'): change only <unk>'s own logit, "
                                     "the bias of <unk> in decoder.project.")
    lines = []
    for text in SENTENCES_55:
        copied = shipped.translate(text).text
        forbidden = detokenize(_greedy_55(fresh.model, src_vocab, tgt_vocab, text, forbid=True)[0], "fr")
        lines.append(f"{text}\n  <unk> copied:    {copied}\n  <unk> forbidden: {forbidden}")
    return "Greedy search with the two repairs:\n" + "\n".join(lines)
