"""The static decoding stepper in headless Chromium: no kernel, no server-side code.

* Small pages made here with :func:`static_stepper_html` and served from a temporary folder
  (they need no book build): stepping, playing, the menus, the same drawing as the Python
  renderer, and typed text that stays text (no alert, no element made from data).
* The built book's decoding chapter (``chapters/05_decoding``): the stepper embedded there
  steps when clicked (marked ``browser`` only, since it builds the book).

Needs Chromium and the Python package playwright (skipped without them unless CI is set).
"""
from __future__ import annotations

import functools
import http.server
import json
import threading

import numpy as np
import pytest
import torch

from attention_course import pretrained
from attention_course.widgets import EXAMPLES, render_step, static_data
from attention_course.widgets.static import render_static

from conftest import LOCAL_HOSTS, page_source
from helpers_widgets import PAYLOADS, FakeTranslator, beam_next

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>stepper</title></head>
<body><h1>Static stepper</h1>{body}</body></html>
"""
# A notebook front end (JupyterLab, classic, Colab) sets an output's HTML with innerHTML and
# then replaces each <script> by a fresh copy so that it runs; do the same here.
NOTEBOOK_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>as in a notebook</title></head>
<body><div id="output"></div>
<script type="application/json" id="fragment">{fragment}</script>
<script>
  const out = document.getElementById("output");
  out.innerHTML = JSON.parse(document.getElementById("fragment").textContent);
  for (const old of out.querySelectorAll("script")) {{
    const s = document.createElement("script");
    for (const a of old.attributes) s.setAttribute(a.name, a.value);
    s.textContent = old.textContent;
    old.parentNode.replaceChild(s, old);
  }}
</script></body></html>
"""

# What a step shows, read from the page.
READ_STEP = """(root) => {
  const step = root.querySelector('.ac-view .ac-step');
  const words = [...step.querySelectorAll('.ac-src .ac-word')];
  return {
    label: step.querySelector('.ac-steplabel').textContent,
    source: words.map(w => w.querySelector('.ac-tok').textContent),
    focus: words.findIndex(w => w.classList.contains('ac-focus')),
    prefix: [...step.querySelectorAll('.ac-prefix .ac-tok')].map(n => n.textContent),
    next: (step.querySelector('.ac-prefix .ac-new') || {textContent: null}).textContent,
    topk: [...step.querySelectorAll('.ac-topk .ac-tok')].map(n => n.textContent),
    beams: step.querySelectorAll('.ac-beams tr').length,
    done: (step.querySelector('.ac-out') || {textContent: null}).textContent,
    dataStep: root.getAttribute('data-step'),
  };
}"""

# A comparable description of an element tree: tag, classes, style, own text, children.
SIGNATURE = """(node) => {
  const sig = (n) => n.nodeType === 3 ? ['#text', n.textContent] : [
    n.tagName, n.className, n.style.cssText, [...n.childNodes].map(sig)];
  return sig(node);
}"""


@pytest.fixture(scope="module")
def _one_thread():
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


@pytest.fixture(scope="module")
def site(tmp_path_factory, _one_thread):
    """A folder of small pages, served on 127.0.0.1; yields (base URL, {page: data})."""
    root = tmp_path_factory.mktemp("stepper-site")
    fake = FakeTranslator()
    datasets = {
        "real.html": static_data(EXAMPLES[:3], models=("bahdanau", "seq2seq"), beam_sizes=(1, 3),
                                 interval_ms=100),
        "payloads.html": static_data(PAYLOADS, models=("fake",), beam_sizes=(1, 2), loader=lambda n: fake),
    }
    for name, data in datasets.items():
        (root / name).write_text(PAGE.format(body=render_static(data)), encoding="utf-8")
    fragment = json.dumps(render_static(datasets["real.html"])).replace("<", "\\u003c")
    (root / "notebook.html").write_text(NOTEBOOK_PAGE.format(fragment=fragment), encoding="utf-8")
    handler = functools.partial(_Quiet, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/", datasets
    server.shutdown()
    server.server_close()


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002
        pass


@pytest.fixture
def open_page(_chromium, site):
    """Factory: open one of the site's pages; returns (page, problems list, dialogs list)."""
    browser, _ = _chromium
    base, _ = site
    contexts = []

    def open_(name: str):
        context = browser.new_context(viewport={"width": 1100, "height": 900})
        contexts.append(context)
        problems, dialogs = [], []

        def route(r):
            from urllib.parse import urlsplit
            if (urlsplit(r.request.url).hostname or "") in LOCAL_HOSTS:
                return r.continue_()
            problems.append(f"external request: {r.request.url}")
            return r.abort()

        context.route("**/*", route)
        page = context.new_page()
        page.on("pageerror", lambda exc: problems.append(f"JS error: {exc}"))
        page.on("console", lambda m: problems.append(f"console.{m.type}: {m.text}") if m.type == "error" else None)
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.goto(base + name, wait_until="load")
        page.wait_for_selector(".ac-static[data-ac-mounted]")
        return page, problems, dialogs

    yield open_
    for c in contexts:
        c.close()


def _read(page, index: int = 0) -> dict:
    return page.locator(".ac-static").nth(index).evaluate(READ_STEP)


def _set_slider(page, n: int) -> None:
    page.locator(".ac-slider").evaluate(
        "(s, n) => { s.value = String(n); s.dispatchEvent(new Event('input', {bubbles: true})); }", n)




@pytest.mark.widgets
@pytest.mark.browser
def test_static_stepper_steps_through_every_decode(open_page, site):
    page, problems, _ = open_page("real.html")
    data = site[1]["real.html"]
    for i, text in enumerate(data["examples"]):
        for j, model in enumerate(data["models"]):
            for k, search in enumerate(data["searches"]):
                page.select_option(".ac-ex", str(i))
                page.select_option(".ac-model", str(j))
                page.select_option(".ac-search", str(k))
                beam = 1 if search == "greedy" else int(search.split()[1])
                t = pretrained.load(model).translate(text, beam_size=beam)
                assert page.locator(".ac-prev").is_disabled()
                for n, step in enumerate(t.steps):
                    if n:
                        page.click(".ac-next")
                    shown = _read(page)
                    best = step.hypotheses[0]
                    assert shown["label"] == f"Step {n + 1} of {len(t.steps)}"
                    assert shown["dataStep"] == str(n)
                    assert shown["source"] == t.source_tokens
                    assert shown["prefix"] == list(best.tokens)
                    assert shown["focus"] == (-1 if best.attention is None else int(np.argmax(best.attention)))
                    assert shown["topk"] == [w for w, _ in best.top_k]
                    assert shown["next"] == (step.chosen[-1] if beam == 1 else beam_next(step))
                    assert shown["beams"] == (0 if beam == 1 else 1 + len(step.hypotheses))
                assert shown["done"] == t.text
                assert page.locator(".ac-next").is_disabled()
                assert page.locator(".ac-pos").text_content() == f"{len(t.steps)} / {len(t.steps)}"
    assert problems == []


@pytest.mark.widgets
@pytest.mark.browser
def test_prefix_and_highlight_change_when_clicking(open_page):
    page, problems, _ = open_page("real.html")
    page.select_option(".ac-ex", "1")            # the little girl reading in the garden
    before = _read(page)
    page.click(".ac-next")
    page.click(".ac-next")
    after = _read(page)
    assert after["prefix"] != before["prefix"] and len(after["prefix"]) == 2
    assert after["focus"] != before["focus"]
    page.click(".ac-prev")
    assert _read(page)["dataStep"] == "1"
    _set_slider(page, 5)
    assert _read(page)["dataStep"] == "5" and len(_read(page)["prefix"]) == 5
    assert problems == []


@pytest.mark.widgets
@pytest.mark.browser
def test_play_runs_to_the_end_and_stops(open_page):
    page, problems, _ = open_page("real.html")
    page.click(".ac-play")
    assert "pause" in page.locator(".ac-play").text_content()
    last = page.locator(".ac-slider").get_attribute("max")
    page.wait_for_function(f"() => document.querySelector('.ac-static').getAttribute('data-step') === '{last}'",
                           timeout=10_000)
    page.wait_for_function("() => document.querySelector('.ac-play').textContent.includes('play')")
    assert _read(page)["done"]
    page.click(".ac-play")                       # at the end: plays again from the start
    page.wait_for_function("() => document.querySelector('.ac-static').getAttribute('data-step') === '1'",
                           timeout=5_000)
    page.click(".ac-play")                       # pause
    assert "play" in page.locator(".ac-play").text_content()
    assert problems == []


@pytest.mark.widgets
@pytest.mark.browser
def test_javascript_draws_exactly_what_python_draws(open_page, site):
    page, problems, _ = open_page("real.html")
    data = site[1]["real.html"]
    for i, j, k in [(0, 0, 0), (1, 0, 1), (2, 1, 1)]:      # greedy, beam, beam without attention
        page.select_option(".ac-ex", str(i))
        page.select_option(".ac-model", str(j))
        page.select_option(".ac-search", str(k))
        decode = data["decodes"][i][j][k]
        for n in range(len(decode["steps"])):
            _set_slider(page, n)
            js_sig = page.locator(".ac-view > .ac-step").evaluate(SIGNATURE)
            py_sig = page.evaluate(
                f"(html) => {{ const t = document.createElement('template'); t.innerHTML = html;"
                f" return ({SIGNATURE})(t.content.firstChild); }}", render_step(decode, n))
            assert js_sig == py_sig, (i, j, k, n)
    assert problems == []


@pytest.mark.widgets
@pytest.mark.browser
def test_typed_text_stays_text_in_the_static_page(open_page, site):
    page, problems, dialogs = open_page("payloads.html")
    data = site[1]["payloads.html"]
    assert page.locator(".ac-ex option").all_text_contents() == PAYLOADS
    for i, payload in enumerate(PAYLOADS):
        page.select_option(".ac-ex", str(i))
        for k in range(len(data["searches"])):
            page.select_option(".ac-search", str(k))
            steps = data["decodes"][i][0][k]["steps"]
            for n in range(len(steps)):
                if n:
                    page.click(".ac-next")
                shown = _read(page)
                assert shown["source"] == PAYLOADS + [payload]
                assert shown["prefix"] == steps[n]["prefix"]
                assert shown["topk"] == [t["w"] for t in steps[n]["topk"]]
    counts = page.evaluate("""() => ({
        scripts: document.querySelectorAll('script').length,
        bad: document.querySelectorAll('img, b, iframe, object, embed, [onerror], [onload]').length,
        styles: document.querySelectorAll('style').length,
    })""")
    assert counts == {"scripts": 2, "bad": 0, "styles": 1}
    page.wait_for_timeout(200)
    assert dialogs == [] and problems == []


@pytest.mark.widgets
@pytest.mark.browser
def test_mounts_when_a_notebook_inserts_the_output(open_page):
    page, problems, _ = open_page("notebook.html")
    before = _read(page)
    page.click(".ac-next")
    assert _read(page)["prefix"] != before["prefix"]
    assert page.locator(".ac-controls").count() == 2      # mounted once
    assert problems == []


# ---- the built book ---------------------------------------------------------------------------

CHAPTER = "chapters/05_decoding"


@pytest.mark.browser
def test_the_built_decoding_chapter_runs_the_live_translator_and_no_dead_widget(request):
    """In the online book, chapter 05's stepper is the live translator (the models in the page);
    the ipywidgets stepper, whose controls need a kernel, is not shown there."""
    if page_source(CHAPTER) is None:
        pytest.skip(f"{CHAPTER}.ipynb does not exist yet")
    browser_page = request.getfixturevalue("browser_page")
    view = browser_page(f"{CHAPTER}.html")
    page = view.page
    assert page.locator(".ac-live").count() == 1, f"{CHAPTER} has no live translator"
    assert page.locator(".widget-text, .jupyter-widgets.widget-button").count() == 0, \
        f"{CHAPTER} shows an ipywidgets control that does nothing without a kernel"
    assert view.errors == [], view.errors
