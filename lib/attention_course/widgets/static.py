"""The decoding stepper without a kernel: precomputed decodes embedded in the page.

>>> from attention_course.widgets import static_stepper
>>> static_stepper()          # in a notebook cell: steps and plays in the built book too

The output is one self-contained ``<div>``: the shared stylesheet, the first step drawn by
Python (what a reader without JavaScript sees), the decodes as JSON in a
``<script type="application/json">`` block (``<``, ``>`` and ``&`` written as ``\\u003c``,
``\\u003e``, ``\\u0026`` so that no string can close the tag) and ``static.js`` inline (no
require.js, no CDN). The JavaScript draws every step with ``textContent`` only.
"""
from __future__ import annotations

import hashlib
import json
from importlib import resources

from .data import decode_view, search_label
from .examples import EXAMPLES
from .render import render_step, style_tag, theme

__all__ = ["static_stepper", "static_stepper_html", "static_data", "render_static", "safe_json",
           "STATIC_JS"]

STATIC_JS = (resources.files(__package__) / "static.js").read_text(encoding="utf-8")
DEFAULT_MODELS = ("bahdanau", "luong-dot", "seq2seq")
DEFAULT_BEAMS = (1, 3)
MAX_DECODES = 120   # examples x models x beam sizes: keeps a page's data small


def safe_json(data) -> str:
    """JSON that is safe inside ``<script>``: ASCII only, with ``<``, ``>``, ``&`` escaped."""
    text = json.dumps(data, ensure_ascii=True, separators=(",", ":"), allow_nan=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _check_list(values, what: str) -> list:
    if isinstance(values, (str, int)):
        values = [values]
    values = list(values)
    if not values:
        raise ValueError(f"static_stepper needs at least one {what}")
    return values


def static_data(examples=None, models=DEFAULT_MODELS, beam_sizes=DEFAULT_BEAMS, top_k: int = 5,
                loader=None, interval_ms: int = 900) -> dict:
    """Decode every example with every model and beam size: the data the page embeds."""
    if loader is None:
        from .. import pretrained
        loader = pretrained.load
    examples = [str(e) for e in _check_list(EXAMPLES if examples is None else examples, "example sentence")]
    models = [str(m) for m in _check_list(models, "model")]
    beam_sizes = _check_list(beam_sizes, "beam size")
    if len(examples) * len(models) * len(beam_sizes) > MAX_DECODES:
        raise ValueError(f"{len(examples)} examples x {len(models)} models x {len(beam_sizes)} beam sizes is "
                         f"more than {MAX_DECODES} decodes to embed in a page; choose fewer")
    translators = {m: loader(m) for m in models}
    decodes = [[[decode_view(translators[m].translate(text, beam_size=b, top_k=top_k), m, b, text)
                 for b in beam_sizes] for m in models] for text in examples]
    return {"examples": examples, "models": models, "searches": [search_label(b) for b in beam_sizes],
            "decodes": decodes, "interval": int(interval_ms), "theme": theme()}


def render_static(data: dict) -> str:
    """The page fragment for ``data`` (from :func:`static_data`)."""
    payload = safe_json(data)
    uid = "ac-stepper-" + hashlib.sha1(payload.encode("ascii")).hexdigest()[:12]
    js = STATIC_JS
    if "<script" in js.lower() or "</script" in js.lower() or "<!--" in js:
        raise RuntimeError("static.js must not contain '<script', '</script' or '<!--'")
    first = render_step(data["decodes"][0][0][0], 0)
    return (
        f'<div class="ac-widget ac-static" id="{uid}">'
        f"{style_tag()}"
        '<div class="ac-controls-slot"></div>'
        f'<div class="ac-view">{first}</div>'
        f'<script type="application/json" class="ac-data">{payload}</script>'
        f"<script>{js}</script>"
        "</div>"
    )


def static_stepper_html(examples=None, models=DEFAULT_MODELS, beam_sizes=DEFAULT_BEAMS, top_k: int = 5,
                        loader=None, interval_ms: int = 900) -> str:
    return render_static(static_data(examples, models, beam_sizes, top_k, loader, interval_ms))


def static_stepper(examples=None, models=DEFAULT_MODELS, beam_sizes=DEFAULT_BEAMS, top_k: int = 5,
                   loader=None, interval_ms: int = 900):
    """An ``IPython.display.HTML`` stepper for ``examples`` (default: the course's invented
    sentences) x ``models`` x ``beam_sizes`` (1 = greedy), chosen from menus on the page."""
    from IPython.display import HTML

    return HTML(static_stepper_html(examples, models, beam_sizes, top_k, loader, interval_ms))
