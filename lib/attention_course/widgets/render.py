"""HTML for the widgets, drawn from the plain data of :mod:`.data`.

The renderer of the live widgets; the book's in-page stepper (``web/stepper.js``) builds the
same elements with the same CSS classes. Every string that comes from a user or a model goes
through :func:`html.escape`; numbers are formatted in :mod:`.data`. ``CSS`` is the one
stylesheet both use (``widgets.css``).
"""
from __future__ import annotations

import html
from importlib import resources

__all__ = ["CSS", "style_tag", "render_step", "render_error", "render_message",
           "render_heatmap", "attention_rgba", "theme", "STATUS_LABEL", "TEXT"]

CSS = (resources.files(__package__) / "widgets.css").read_text(encoding="utf-8")

# The shade of a source word or heatmap cell: this colour with the weight as its opacity.
ATTENTION_RGB = (33, 102, 172)
DARK_ABOVE = 0.55          # above this weight the text turns white
STATUS_LABEL = {"alive": "kept", "finished": "finished", "pruned": "pruned"}
# Every fixed word a step shows; the web stepper receives this dict in its settings, so both agree.
TEXT = {
    "source": "English", "prefix": "French so far", "topk": "Next word", "beams": "Beam",
    "cands": "Extensions", "done": "Translation: ", "empty": "(nothing yet)", "start": "(start)",
    "no_attention": "This model has no attention: every step sees the same summary of the sentence.",
    "beam_head": ["#", "hypothesis", "log-prob"],
    "cands_head": ["from #", "extended hypothesis", "log-prob", ""],
}


def theme() -> dict:
    """What the web stepper and explorer (``web/*.js``) need to draw like :func:`render_step`
    and :func:`render_heatmap`: colour, text colour threshold, labels."""
    return {"rgb": list(ATTENTION_RGB), "dark": DARK_ABOVE, "status": STATUS_LABEL, "text": TEXT}


def style_tag() -> str:
    return f"<style>{CSS}</style>"


def attention_rgba(x: float) -> str:
    r, g, b = ATTENTION_RGB
    return f"rgba({r}, {g}, {b}, {float(x):.3f})"


def _e(tag: str, cls: str | None = None, text: str | None = None, children=(), style: str | None = None) -> str:
    """One element; ``text`` is escaped, ``children`` are already-built HTML strings."""
    attrs = f' class="{html.escape(cls)}"' if cls else ""
    if style:
        attrs += f' style="{html.escape(style)}"'
    body = html.escape(text) if text is not None else "".join(children)
    return f"<{tag}{attrs}>{body}</{tag}>"


def _row(key: str, *children: str) -> str:
    return _e("div", "ac-row", children=[_e("div", "ac-key", key), _e("div", "ac-val", children=children)])


def _source(source: list[str], view: dict) -> list[str]:
    words = []
    for j, (word, s) in enumerate(zip(source, view["src"])):
        cls = "ac-word"
        if view["focus"] is not None and j == view["focus"]:
            cls += " ac-focus"
        if s["x"] > DARK_ABOVE:
            cls += " ac-dark"
        words.append(_e("span", cls, style=f"background-color: {attention_rgba(s['x'])}",
                        children=[_e("span", "ac-tok", word), _e("span", "ac-w", s["a"])]))
    out = [_e("div", "ac-src", children=words)]
    if view["focus"] is None:
        out.append(_e("div", "ac-note", TEXT["no_attention"]))
    return out


def _prefix(view: dict) -> str:
    parts = [_e("span", "ac-tok", w) for w in view["prefix"]]
    if not parts and not view["next"]:
        parts = [_e("span", "ac-empty", TEXT["empty"])]
    if view["next"]:
        parts.append(_e("span", "ac-new", view["next"]))
    return _e("div", "ac-prefix", children=parts)


def _topk(view: dict) -> str:
    rows = [_e("tr", "ac-pick" if t["pick"] else None, children=[
        _e("td", "ac-tok", t["w"]),
        _e("td", "ac-bar", children=[_e("span", "ac-fill", "", style=f"width: {float(t['pct']):.1f}%")]),
        _e("td", "ac-p", t["p"])]) for t in view["topk"]]
    return _e("table", "ac-topk", children=[_e("tbody", children=rows)])


def _hyp(tokens: list[str]) -> str:
    return " ".join(tokens) if tokens else TEXT["start"]


def _beams(view: dict) -> str:
    h = TEXT["beam_head"]
    head = _e("tr", children=[_e("th", None, h[0]), _e("th", None, h[1]), _e("th", "ac-score", h[2])])
    rows = [_e("tr", children=[_e("td", None, str(b["i"])), _e("td", "ac-hyp", _hyp(b["tokens"])),
                               _e("td", "ac-score", b["score"])]) for b in view["beams"]]
    return _e("table", "ac-beams", children=[_e("tbody", children=[head, *rows])])


def _cands(view: dict) -> str:
    h = TEXT["cands_head"]
    head = _e("tr", children=[_e("th", None, h[0]), _e("th", None, h[1]), _e("th", "ac-score", h[2]),
                              _e("th", None, h[3])])
    rows = [_e("tr", f"ac-{c['status']}", children=[
        _e("td", None, str(c["from"])),
        _e("td", "ac-hyp", _hyp(view["beams"][c["from"] - 1]["tokens"] + [c["new"]])),
        _e("td", "ac-score", c["score"]), _e("td", "ac-status", STATUS_LABEL.get(c["status"], c["status"]))])
        for c in view["cands"]]
    return _e("table", "ac-cands", children=[_e("tbody", children=[head, *rows])])


def render_step(decode: dict, n: int, view: dict | None = None) -> str:
    """The HTML of step ``n`` of a decode (a dict from :func:`.data.decode_view`); ``view``
    replaces that step's view (e.g. one showing a single attention head, :func:`.data.with_weights`)."""
    view = decode["steps"][n] if view is None else view
    meta = f"{decode['model']} · {decode['search']}"
    if view.get("weights"):       # which weights the source row shows (a Transformer's head mean or one head)
        meta += f" · {view['weights']}"
    parts = [
        _e("div", "ac-head", children=[_e("span", "ac-steplabel", view["label"]), _e("span", "ac-meta", meta)]),
        _row(TEXT["source"], *_source(decode["source"], view)),
        _row(TEXT["prefix"], _prefix(view)),
        _row(TEXT["topk"], _topk(view)),
    ]
    if view["beams"]:
        parts.append(_row(TEXT["beams"], _beams(view)))
    if view["cands"]:
        parts.append(_row(TEXT["cands"], _cands(view)))
    if view["done"] is not None:
        parts.append(_e("div", "ac-done", children=[_e("span", "ac-key", TEXT["done"]),
                                                    _e("span", "ac-out", view["done"])]))
    return _e("div", "ac-step", children=parts)


def render_error(message: str) -> str:
    return _e("div", "ac-error", str(message))


def render_message(message: str) -> str:
    return _e("div", "ac-note", str(message))


def render_heatmap(heat: dict, selected: int | None = None) -> str:
    """An attention matrix as an HTML table (a dict from :func:`.data.heatmap_view`).

    Hovering a French word (a row) dims the other rows (CSS only, so it works without a
    kernel); ``selected`` does the same for one row and lists its largest weights.
    """
    title = _e("div", "ac-panel-title", heat["title"])
    if heat["rows"] is None:
        return _e("div", "ac-panel", children=[title, _e("div", "ac-note", "This model has no attention.")])
    if selected is not None and not 0 <= selected < len(heat["rows"]):
        selected = None
    focus = heat["rows"][selected]["focus"] if selected is not None else None
    head = _e("thead", children=[_e("tr", children=[_e("th", None, "")] + [
        _e("th", "ac-focus" if j == focus else None, w) for j, w in enumerate(heat["source"])])])
    body = []
    for i, row in enumerate(heat["rows"]):
        cells = [_e("th", None, row["w"])]
        for c in row["cells"]:
            cells.append(_e("td", "ac-cell ac-dark" if c["x"] > DARK_ABOVE else "ac-cell", c["a"],
                            style=f"background-color: {attention_rgba(c['x'])}"))
        body.append(_e("tr", "ac-sel" if i == selected else None, children=cells))
    cls = "ac-heat ac-has-sel" if selected is not None else "ac-heat"
    parts = [title, _e("table", cls, children=[head, _e("tbody", children=body)])]
    if selected is not None:
        row = heat["rows"][selected]
        looks = ", ".join(f"{heat['source'][j]} {heat['rows'][selected]['cells'][j]['a']}" for j in row["top"])
        parts.append(_e("div", "ac-looks", f"«{row['w']}» looks at: {looks}"))
    return _e("div", "ac-panel", children=parts)
