"""The live widgets' layout, measured in headless Chromium (issue 13: "at 1024 px the buttons
are cut to '◀ previ…' and 'nex…' and Translate wraps to its own row").

The widgets are embedded with their state (``ipywidgets.embed``, the same html-manager and
controls CSS as the built book, answered locally by the conftest's CDN stand-ins) in a column
880 px wide (JupyterLab's notebook column in a 1024 px window) and 720 px wide: no button or
label is cut (its text fits its box), Translate stays on the row of the model menu, and the
explorer's "French word" label shows whole; with a Transformer, so is the "heads" menu's label
(issue 15). Needs Chromium and playwright, like the other browser tests.
"""
from __future__ import annotations

import mimetypes
from urllib.parse import urlsplit

import pytest

from attention_course import pretrained
from attention_course.widgets import AttentionExplorer, DecodingStepper

from conftest import LOCAL_HOSTS, local_asset

pytestmark = [pytest.mark.browser, pytest.mark.widgets]

# Every control with a text, and whether that text fits (ipywidgets 8 cuts it with an ellipsis).
MEASURE = """() => {
  const out = [];
  document.querySelectorAll('.widget-dropdown select').forEach(s => { s.textContent.trim(); });
  for (const el of document.querySelectorAll('.widget-button, .widget-toggle-button, .widget-label,'
                                             + ' .jupyter-button, label')) {
    const r = el.getBoundingClientRect();
    if (!r.width || !el.textContent.trim()) continue;
    out.push({text: el.textContent.trim(), fits: el.scrollWidth <= el.clientWidth + 1,
              top: Math.round(r.top), right: Math.round(r.right), need: el.scrollWidth, has: el.clientWidth});
  }
  return out;
}"""


def _page(_chromium, tmp_path, widget, width: int):
    from ipywidgets.embed import embed_minimal_html

    browser, modules = _chromium
    path = tmp_path / f"widget-{width}.html"
    embed_minimal_html(str(path), views=[widget], title="layout", requirejs=False)
    html = path.read_text(encoding="utf-8").replace(
        "<body>", f'<body style="margin: 0; width: {width}px; font-size: 13px">')
    context = browser.new_context(viewport={"width": 1024, "height": 900})
    blocked = []

    def route(r):
        url = r.request.url
        if urlsplit(url).hostname in LOCAL_HOSTS or url.startswith("file:"):
            return r.continue_()
        local = local_asset(modules, url)
        if local is None:
            blocked.append(url)
            return r.abort()
        ctype = "application/javascript" if local.suffix == ".js" else (
            mimetypes.guess_type(local.name)[0] or "application/octet-stream")
        return r.fulfill(path=str(local), content_type=ctype, headers={"Access-Control-Allow-Origin": "*"})

    context.route("**/*", route)
    page = context.new_page()
    page.route("http://layout.test/", lambda r: r.fulfill(body=html, content_type="text/html"))
    page.goto("http://layout.test/")
    page.wait_for_selector(".widget-dropdown", timeout=60_000)
    page.wait_for_timeout(300)
    return context, page, blocked


# The Transformer's stepper and explorer show a heads menu (the others hide it).
MODELS = ["bahdanau"] + [m for m in ("transformer",) if m in pretrained.available()]


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("width", [880, 720])
def test_stepper_buttons_are_whole_and_translate_stays_on_its_row(_chromium, tmp_path, width, model):
    stepper = DecodingStepper("I like red cars.", model=model)
    context, page, _ = _page(_chromium, tmp_path, stepper, width)
    try:
        shown = {c["text"]: c for c in page.evaluate(MEASURE)}
        assert ("heads" in shown) == (stepper.heads is not None)
        for text in ("◀ previous", "▶ play", "next ▶", "Translate", "greedy", "beam search", "Model",
                     "beam size", "English") + (("heads",) if stepper.heads else ()):
            assert text in shown, (text, sorted(shown))
            assert shown[text]["fits"], (f"{text!r} is cut at {width} px: {shown[text]['need']} px of text "
                                         f"in {shown[text]['has']} px")
            assert shown[text]["right"] <= width
        assert shown["Translate"]["top"] - shown["greedy"]["top"] in range(-12, 13), "Translate wrapped"
        assert shown["◀ previous"]["top"] == shown["next ▶"]["top"] == shown["▶ play"]["top"]
    finally:
        context.close()


@pytest.mark.parametrize("right", [m.replace("bahdanau", "luong-dot") for m in MODELS])
def test_explorer_labels_are_whole(_chromium, tmp_path, right):
    explorer = AttentionExplorer("I like red cars.", models=("bahdanau", right))
    context, page, _ = _page(_chromium, tmp_path, explorer, 880)
    try:
        measured = page.evaluate(MEASURE)
        shown = {c["text"]: c for c in measured}
        for text in ("French word", "left model", "right model", "English"):
            assert text in shown and shown[text]["fits"], f"{text!r} is cut"
        heads = [c for c in measured if c["text"] == "heads"]
        assert all(c["fits"] for c in heads)
        visible = page.evaluate("""() => [...document.querySelectorAll('.widget-dropdown')]
            .filter(d => d.textContent.trim().startsWith('heads') && d.getBoundingClientRect().width
                         && getComputedStyle(d).visibility === 'visible').length""")
        assert visible == (explorer.heads[1] is not None)      # the left panel's menu keeps its place, hidden
    finally:
        context.close()
