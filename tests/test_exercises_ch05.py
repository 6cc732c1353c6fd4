"""The checkers of chapter 5's exercises: a right answer passes, wrong ones raise AssertionError.

The right answers are recomputed here independently (for 5.3 with the package's own beam
rule, for 5.5 with the package's greedy search), not copied from the checkers. The package's
plain-argmax ``replace_unknowns`` is a wrong answer to 5.4, which asks for more care.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
from attention_course.exercises import ch05, check
from attention_course.search.beam import normalised
from attention_course.translator import replace_unknowns


def right_51():
    return {k: normalised(score, len(tokens), ch05.ALPHA_51) for k, (tokens, score) in ch05.HYPOTHESES.items()}


def test_51_right_answer_passes(capsys):
    check("5.1", right_51())
    assert "correct" in capsys.readouterr().out
    check("5.1", {k: round(v, 3) for k, v in right_51().items()})


def test_51_values_by_hand():
    # -2.3 / 3**0.8, -3.9 / 6**0.8, -4.6 / 7**0.8
    expected = {"A": -0.9552, "B": -0.9301, "C": -0.9699}
    assert all(abs(right_51()[k] - v) < 1e-3 for k, v in expected.items())


@pytest.mark.parametrize("answer", [
    {"A": -2.3, "B": -3.9, "C": -4.6},                                    # not normalised
    {k: s / (len(t) - 1) ** 0.8 for k, (t, s) in ch05.HYPOTHESES.items()},   # </s> not counted
    {"A": 0.955, "B": 0.930, "C": 0.970},                                 # sign lost
    {"A": -0.955, "B": -0.930},                                           # missing C
    "B", [-0.955, -0.930, -0.970], {"A": "x", "B": -0.93, "C": -0.97},
])
def test_51_wrong_answers_fail(answer):
    with pytest.raises(AssertionError):
        check("5.1", answer)


def test_52_tie():
    alpha = math.log(3.9 / 2.3) / math.log(2)
    check("5.2", alpha)
    check("5.2", round(alpha, 2))
    # at the tie both normalised scores are equal
    a, b = ch05.HYPOTHESES["A"], ch05.HYPOTHESES["B"]
    assert abs(normalised(a[1], len(a[0]), alpha) - normalised(b[1], len(b[0]), alpha)) < 1e-9
    for wrong in (0.5, 1.0, 0.7, -0.76, "0.76x", True):
        with pytest.raises(AssertionError):
            check("5.2", wrong)


def test_53_beam_rule():
    right = ["alive", "finished", "alive", "pruned", "alive", "pruned"]
    check("5.3", right)
    check("5.3", [s.upper() for s in right])
    for wrong in (["alive", "finished", "alive", "finished", "alive", "pruned"],   # 2nd </s> is outside the K best
                  ["alive", "finished", "alive", "pruned", "alive", "alive"],      # more than K alive
                  ["alive"] * 6, right[:5], "alive", ["alive", "done", "alive", "pruned", "alive", "pruned"]):
        with pytest.raises(AssertionError):
            check("5.3", wrong)


def test_53_agrees_with_the_package_beam(monkeypatch):
    """The same rule as beam_search: rebuild its keep/finished decision for the exercise's candidates."""
    import torch
    words = [w for w, _ in ch05.CANDIDATES_53]
    eos = [w == "</s>" for w in words]
    alive = ~torch.tensor(eos)
    keep = alive & (alive.long().cumsum(-1) <= ch05.BEAM_K)
    status = ["alive" if keep[r] else ("finished" if eos[r] and r < ch05.BEAM_K else "pruned") for r in range(len(words))]
    assert status == ["alive", "finished", "alive", "pruned", "alive", "pruned"]


def _replace_unk(tokens, attention, source):
    """A right answer to 5.4, written here apart from the checker: NumPy over the source columns."""
    if attention is None:
        return list(tokens)
    allowed = np.array([w != "<unk>" and any(ch.isalnum() for ch in w) for w in source])
    out = list(tokens)
    for i, token in enumerate(tokens):
        if token == "<unk>" and allowed.any():
            row = np.where(allowed, np.asarray(attention[i], float)[:len(source)], -np.inf)
            out[i] = source[int(np.argmax(row))]          # argmax: the first of equal weights
    return out


def test_54_right_answer_passes(capsys):
    check("5.4", _replace_unk)
    out = capsys.readouterr().out
    assert "correct" in out and "Où est le chat de Mortimer ?" in out
    assert _replace_unk(ch05.RAW_54, np.array(ch05.ATTENTION_54), ch05.SOURCE_54)[5] == "Mortimer"


def _rightmost_ties(tokens, attention, source):
    out = _replace_unk(tokens, attention, source)
    for i, token in enumerate(tokens):
        if token == "<unk>" and attention is not None:
            ok = [j for j, w in enumerate(source) if w != "<unk>" and any(ch.isalnum() for ch in w)]
            if ok:
                out[i] = source[max(reversed(ok), key=lambda j: attention[i][j])]
    return out


def _all_columns(tokens, attention, source):
    """Looks at every column, padding included."""
    if attention is None:
        return list(tokens)
    out = list(tokens)
    for i, token in enumerate(tokens):
        if token == "<unk>":
            order = np.argsort(-np.asarray(attention[i], float), kind="stable")
            ok = [j for j in order if j >= len(source) or (source[j] != "<unk>" and any(c.isalnum() for c in source[j]))]
            if ok:
                out[i] = source[ok[0]]
    return out


def _first_unk_only(tokens, attention, source):
    out = _replace_unk(tokens, attention, source)
    seen = [i for i, t in enumerate(tokens) if t == "<unk>"]
    for i in seen[1:]:
        out[i] = "<unk>"
    return out


def _in_place(tokens, attention, source):
    right = _replace_unk(tokens, attention, source)
    tokens[:] = right
    return tokens


def _copies_unk(tokens, attention, source):
    if attention is None:
        return list(tokens)
    out = list(tokens)
    for i, token in enumerate(tokens):
        if token == "<unk>":
            ok = [j for j, w in enumerate(source) if any(ch.isalnum() for ch in w)]   # '<unk>' has letters
            if ok:
                out[i] = source[max(ok, key=lambda j: attention[i][j])]
    return out


def _next_row(tokens, attention, source):
    return _replace_unk(tokens, None if attention is None else attention[1:], source)


@pytest.mark.parametrize("wrong, hint", [
    (replace_unknowns, "punctuation"),                       # the package's plain argmax
    (_rightmost_ties, "leftmost"),
    (_all_columns, "padding|raised"),
    (_first_unk_only, "not only the first"),
    (_in_place, "changed its arguments"),
    (_copies_unk, "<unk> themselves"),
    (_next_row, "row i of the attention"),
    (lambda tokens, attention, source: [t for t in tokens if t != "<unk>"], "keeps its"),
    (lambda tokens, attention, source: [source[int(np.argmax(attention[i][:len(source)]))] if t == "<unk>" else t
                                        for i, t in enumerate(tokens)], "raised|punctuation"),   # no None
])
def test_54_wrong_functions_fail(wrong, hint):
    with pytest.raises(AssertionError, match=hint):
        check("5.4", wrong)


def test_54_needs_a_function():
    with pytest.raises(AssertionError, match="function itself"):
        check("5.4", ["Où", "est", "le", "chat", "de", "Mortimer", "?"])


def test_54_cases_cover_the_rules():
    """The made-up cases include every rule: a tie, punctuation or <unk> as the plain argmax,
    padding, no attention, nothing to copy, and outputs with several <unk>s."""
    cases = ch05._cases_54()
    assert sum(t.count("<unk>") > 1 for _, t, _, _ in cases) >= 3
    plain = [(t, np.asarray(a, float), s) for _, t, a, s in cases if a is not None]
    unk_rows = [(a[i], s) for t, a, s in plain for i, w in enumerate(t) if w == "<unk>"]
    assert any(len(row) > len(s) and row[len(s):].max() > row[:len(s)].max() for row, s in unk_rows)
    assert any(_replace_unk(t, a, s) != _rightmost_ties(t, a, s) for t, a, s in plain)
    assert any(_replace_unk(t, a, s) != replace_unknowns(t, a[:, :len(s)], s) for t, a, s in plain)
    assert any(len(t) < len(a) for t, a, _ in plain)                       # a row for </s>
    assert any(a is None for _, _, a, _ in cases)


# --- 5.5: a model that cannot write <unk> ------------------------------------------------------------

@pytest.fixture
def shipped():
    from attention_course import pretrained
    return pretrained.load(ch05.MODEL_55)


def _changed(translator, index=None, value=-float("inf")):
    import copy

    import torch
    other = copy.deepcopy(translator)
    with torch.no_grad():
        other.model.decoder.project.bias[translator.tgt_vocab.unk_index if index is None else index] = value
    return other


def test_55_right_answer_passes(shipped, capsys):
    right = _changed(shipped)
    check("5.5", right)
    check("5.5", right.model)
    out = capsys.readouterr().out
    assert out.count("correct") == 2 and "<unk> forbidden" in out
    assert all(len(line) <= 78 for line in out.splitlines())


def test_55_the_checkers_search_is_the_package_greedy_search(shipped):
    right = _changed(shipped)
    for text in ch05.SENTENCES_55:
        tokens, _ = ch05._greedy_55(shipped.model, shipped.src_vocab, shipped.tgt_vocab, text, forbid=True)
        assert tokens == right.translate(text, replace_unk=False).raw_tokens
        assert "<unk>" not in tokens
    # and the shipped model does write <unk> on these sentences
    assert any("<unk>" in shipped.translate(t, replace_unk=False).raw_tokens for t in ch05.SENTENCES_55)


def test_55_wrong_answers_fail(shipped):
    import copy

    import torch
    _fails55(copy.deepcopy(shipped), "usual probability")
    _fails55(_changed(shipped, value=-5.0), "still possible")
    both = _changed(_changed(shipped), index=shipped.tgt_vocab.eos_index)
    _fails55(both, "other words.*'</s>'")
    sharper = _changed(shipped)                      # <unk> forbidden, and every logit doubled
    sharper.model.decoder.project.bias.data[:] *= 2
    sharper.model.decoder.embedding.weight.data[:] *= 2
    _fails55(sharper, "other words")
    zero_row = copy.deepcopy(shipped)
    with torch.no_grad():
        zero_row.model.decoder.embedding.weight[shipped.tgt_vocab.unk_index] = 0.0
    _fails55(zero_row, "still possible")
    _fails55(shipped, "shipped model, unchanged")
    _fails55([["J'", "ai"]], "changed copy")


def test_55_a_change_of_the_shipped_model_is_caught(shipped):
    import torch
    bias = shipped.model.decoder.project.bias
    unk = shipped.tgt_vocab.unk_index
    kept = float(bias[unk].detach())
    try:
        with torch.no_grad():
            bias[unk] = -float("inf")
        _fails55(shipped, "changed the shipped model itself")
    finally:
        with torch.no_grad():
            bias[unk] = kept


def _fails55(answer, hint):
    with pytest.raises(AssertionError, match=hint):
        check("5.5", answer)


def test_none_is_a_reminder(capsys):
    for key in ("5.1", "5.2", "5.3", "5.4", "5.5"):
        check(key, None)
    assert capsys.readouterr().out.count("not answered yet") == 5
