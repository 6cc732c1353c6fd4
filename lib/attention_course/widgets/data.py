"""A decode as plain data: what each step of a widget shows, computed once per input.

:func:`decode_view` turns a :class:`~attention_course.translator.Translation` (with its
``steps``) into a JSON-able dict, from which :mod:`.render` draws each step of the live
widgets. All numbers are formatted here. The book's in-page stepper computes the same dict in
JavaScript (``decodeView`` in ``web/translator.js``, a port of this module, checked against it
by ``tests/test_browser_translator.py``: the same words, numbers within one unit of their
last digit).

A step view (``decode["steps"][n]``, for ``Translation.steps[n]``)::

    label   "Step 3 of 14"
    src     [{"a": "0.55" (weight as text, "" without attention),
              "x": 0.55 (weight as a number, for the shading)}, ...], one per ``decode["source"]`` word
    focus   index of the source word with the highest weight (None without attention)
    prefix  the French words decoded before this step (the best hypothesis in a beam)
    next    the word this step adds to ``prefix``: greedy's pick, or in a beam search the best
            extension of the best hypothesis that the beam keeps (None if it keeps none)
    topk    [{"w": word, "p": "0.933", "pct": 93.3, "pick": picked or kept}, ...]
    beams   [{"i": 1, "tokens": ["J'", "aime"], "score": "-0.07"}, ...]  (beam search only)
    cands   [{"from": 1, "new": "aime", "score": "-0.16", "status": "alive"}, ...]
            (the hypothesis ``beams[from - 1]`` extended by the word ``new``;
             status: "alive" kept in the beam, "finished" ended with </s>, "pruned" dropped)
    done    the final translation on the last step, else None

A Transformer has several attention heads per layer; the step views hold what the search
recorded, the mean of the last layer's heads. :func:`with_weights` gives a step view that shows
other weights over the source (one head's, from :mod:`attention_course.transformer_heads`),
with a label saying which (``weights``).
"""
from __future__ import annotations

import math

__all__ = ["decode_view", "heatmap_view", "search_label", "step_state", "with_weights"]


def search_label(beam_size: int) -> str:
    return "greedy" if beam_size == 1 else f"beam {beam_size}"


def _argmax(weights) -> int:
    return max(range(len(weights)), key=lambda j: weights[j])


def _num(x: float, digits: int) -> str:
    if not math.isfinite(x):
        return "-inf" if x < 0 else "nan"
    text = f"{x:.{digits}f}"
    return "0." + "0" * digits if text == "-0." + "0" * digits else text


def _source_cells(attn, source: list[str]) -> tuple[list[dict], int | None]:
    """A step's ``src`` cells and ``focus`` for the weights ``attn`` (None: no attention)."""
    if attn is None:
        return [{"a": "", "x": 0.0} for _ in source], None
    attn = [float(a) for a in attn]
    return [{"a": _num(a, 2), "x": round(min(max(a, 0.0), 1.0), 3)} for a in attn], _argmax(attn)


def _step_view(step, n: int, total: int, source: list[str], beam_size: int, final: str) -> dict:
    best = step.hypotheses[0]
    src, focus = _source_cells(best.attention, source)
    if beam_size == 1:
        nxt = step.chosen[-1] if step.chosen else None
        picked = {nxt}
    else:
        kept = [c for c in step.candidates if c.parent == 0 and c.status != "pruned"]
        picked = {c.tokens[-1] for c in kept}
        nxt = max(kept, key=lambda c: c.score).tokens[-1] if kept else None
    topk = [{"w": w, "p": _num(p, 3), "pct": round(100 * min(max(p, 0.0), 1.0), 1), "pick": w in picked}
            for w, p in best.top_k]
    beams, cands = [], []
    if beam_size > 1:
        beams = [{"i": i + 1, "tokens": list(h.tokens), "score": _num(h.score, 2)}
                 for i, h in enumerate(step.hypotheses)]
        cands = [{"from": c.parent + 1, "new": c.tokens[-1], "score": _num(c.score, 2),
                  "status": c.status} for c in step.candidates]
    return {"label": f"Step {n + 1} of {total}", "src": src, "focus": focus, "prefix": list(best.tokens),
            "next": nxt, "topk": topk, "beams": beams, "cands": cands,
            "done": final if n == total - 1 else None}


def decode_view(translation, model: str, beam_size: int, text: str | None = None) -> dict:
    """Everything a stepper shows for one decode, step by step (see the module docstring)."""
    steps = translation.steps
    if not steps:
        raise ValueError("this translation has no step record: translate with Translator.translate(...)")
    source = list(translation.source_tokens)
    return {
        "input": text if text is not None else " ".join(source),
        "model": model,
        "search": search_label(beam_size),
        "source": source,
        "output": translation.text,
        "steps": [_step_view(s, n, len(steps), source, beam_size, translation.text)
                  for n, s in enumerate(steps)],
    }


def with_weights(view: dict, weights, source: list[str], label: str) -> dict:
    """Step view ``view`` showing ``weights`` over the source instead (e.g. one attention head's);
    ``label`` says which (``weights``, shown after the model and the search)."""
    if len(weights) != len(source):
        raise ValueError(f"{len(weights)} weights for {len(source)} source words")
    src, focus = _source_cells(weights, source)
    return {**view, "src": src, "focus": focus, "weights": label}


def step_state(view: dict) -> dict:
    """The essentials of a step view, in the form of ``Translation.steps[n]`` (for tests)."""
    return {
        "prefix": list(view["prefix"]),
        "focus": view["focus"],
        "topk": [t["w"] for t in view["topk"]],
        "beams": [list(b["tokens"]) for b in view["beams"]],
    }


def heatmap_view(translation, title: str, attention=None) -> dict:
    """A translation's attention matrix for :func:`.render.render_heatmap`; ``attention`` (one
    row per French word) shows other weights instead, e.g. one Transformer head's.

    ``rows`` (one per French word) is None for a model without attention; each row has its
    ``cells`` (weight as text, empty below 0.005, and as a number), the ``focus`` column
    (highest weight) and the ``top`` three columns.
    """
    source = list(translation.source_tokens)
    attn = translation.attention if attention is None else attention
    rows = None
    if attn is not None:
        rows = []
        for word, weights in zip(translation.target_tokens, attn):
            weights = [float(a) for a in weights]
            order = sorted(range(len(weights)), key=lambda j: -weights[j])
            rows.append({"w": word,
                         "cells": [{"a": _num(a, 2)[1:] if 0.005 <= a < 0.995 else ("1" if a >= 0.995 else ""),
                                    "x": round(min(max(a, 0.0), 1.0), 3)} for a in weights],
                         "focus": order[0], "top": order[:3]})
    return {"title": title, "source": source, "rows": rows}
