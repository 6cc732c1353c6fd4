"""The attention explorer in the page (attention_course.web: ``explorer.js`` on the live
translator's runtime) in headless Chromium gives what the Python translator gives.

* Attention: for a few invented sentences and several models, the explorer's attention equals
  ``Translator.translate(s, beam_size=1).attention`` within 1e-4, its tokens are Python's, and
  the heatmaps show Python's words and cell texts (``widgets.data.heatmap_view``).
* Messages: empty input, 1,000 words, emoji, control characters and ``</script>`` give
  Python's messages (or Python's translation), and stay text.
* The page: nothing heavy loads before Translate, then only the two chosen models; no request
  leaves the site; hovering or clicking a French word highlights its row in both panels and
  marks the English word it attends to most; the French words stay in view when a long
  sentence scrolls sideways; the panels sit side by side, or stacked on a narrow page.
* Heads: for the Transformer a side's "attention" menu shows the mean of the last layer's heads
  (Python's attention) or one head, whose cells are ``transformer_heads.head_attention``'s.
* The book: ``test_book_page_explorer`` builds a small Jupyter Book with the
  ``attention-explorer`` directive.

The site is :func:`attention_course.web.write_site` with ``standalone=True`` (its
``explorer.html``). Every sentence here is invented.
"""
from __future__ import annotations

import dataclasses
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("onnx")   # the export (the page runs ONNX Runtime Web, not this package)

from conftest import REPO_ROOT, build_book  # noqa: E402
from helpers_site import SitePage, serve, serving, write_standalone_site  # noqa: E402
from helpers_widgets import PAYLOADS  # noqa: E402

from attention_course import pretrained  # noqa: E402
from attention_course.export.onnx import exportable_models  # noqa: E402
from attention_course.transformer_heads import head_attention  # noqa: E402
from attention_course.translator import check_text  # noqa: E402
from attention_course.web import live_explorer_html  # noqa: E402
from attention_course.widgets.data import heatmap_view  # noqa: E402
from attention_course.widgets.examples import EXAMPLES  # noqa: E402

TOL = 1e-4
SENTENCES = ["I like red cars.", "The little girl is reading a book in the garden.",
             "Yesterday Zorbulak visited his old teacher in Paris.", "Where did you put the newspaper?"]
PAIRS = [("bahdanau", "luong-dot"), ("luong-local-p", "luong-general")]
HOSTILE = ["", "   \t ", "word " * 1000, "\U0001F600", "\x00\x07 \x1b[31m", "</script>",
           "</script><script>alert(1)</script> <img src=x onerror=alert(1)>", PAYLOADS[5], "\u202eevil\u202c <!-- x"]


# ---------------------------------------------------------------------------------------------
# The markup (no browser)
# ---------------------------------------------------------------------------------------------

def _config(html: str) -> dict:
    return json.loads(re.search(r'<script type="application/json" class="ac-live-config">(.*?)</script>',
                                html, flags=re.S).group(1))


def test_markup_settings_and_bad_options():
    html = live_explorer_html(text="</script><b>x</b> & <!--")
    assert html.startswith('<div class="ac-widget ac-live-explorer">') and html.count("<script") == 1
    payload = re.search(r'class="ac-live-config">(.*?)</script>', html, flags=re.S).group(1)
    assert not set("<>&") & set(payload)          # nothing in the settings can end the script
    cfg = _config(html)
    assert (cfg["left"], cfg["right"], cfg["text"]) == ("bahdanau", "luong-dot", "</script><b>x</b> & <!--")
    assert _config(live_explorer_html())["text"] == EXAMPLES[1]
    cfg = _config(live_explorer_html(models=["seq2seq", "luong-concat"]))
    assert (cfg["left"], cfg["right"]) == ("seq2seq", "luong-concat")
    with pytest.raises(ValueError, match="cannot run in the page"):
        live_explorer_html(models=["bahdanau", "no-such-model"])
    with pytest.raises(ValueError, match="right model 'luong-dot' is not among"):
        live_explorer_html(models=["bahdanau", "seq2seq"], right="luong-dot")


def test_script_writes_text_only():
    """explorer.js puts every string into the page with textContent, never as HTML."""
    js = (REPO_ROOT / "lib" / "attention_course" / "web" / "explorer.js").read_text(encoding="utf-8")
    for banned in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "Function(",
                   "createContextualFragment", "DOMParser", "fetch(", "XMLHttpRequest", "import("):
        assert banned not in js, banned
    assert "textContent" in js
    # No second tokenizer or search: the explorer calls the stepper's runtime.
    assert "ns.live.getModel(" in js and "ns.translator.translate(" in js and "ns.translator.checkText(" in js
    assert not re.search(r"\b(tokenize|beamSearch|greedySearch|InferenceSession)\b\s*\(", js)


# ---------------------------------------------------------------------------------------------
# The site, served locally, in pages that may not leave it
# ---------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    return write_standalone_site(tmp_path_factory.mktemp("explorer-site"))


@pytest.fixture(scope="module")
def site_url(site):
    yield from serving(site)


class ExplorerPage(SitePage):
    """A page with the explorer, ready once it is mounted."""

    READY = ("() => window.AttentionCourse && AttentionCourse.explorer && "
             "AttentionCourse.explorer.instances.length > 0")

    def models_fetched(self) -> set[str]:
        return {p.split("/models/")[1].split("/")[0] for p in self.requests if "/models/" in p}

    def translate(self, text: str | None = None, left: str | None = None, right: str | None = None) -> bool:
        """Set the form, press Translate; True once both heatmaps are drawn, False on a message."""
        page = self.page
        if text is not None:
            page.fill(".ac-live-explorer .ac-live-text", text)
        if left is not None:
            page.select_option(".ac-live-explorer .ac-left", left)
        if right is not None:
            page.select_option(".ac-live-explorer .ac-right", right)
        page.evaluate("() => document.querySelector('.ac-live-explorer').removeAttribute('data-ready')")
        page.click(".ac-live-explorer .ac-live-go")
        page.wait_for_function("() => { const r = document.querySelector('.ac-live-explorer');"
                               " return !r.hasAttribute('data-busy') && (r.hasAttribute('data-ready') ||"
                               " !r.querySelector('.ac-live-error').hidden); }", timeout=90_000)
        return page.get_attribute(".ac-live-explorer", "data-ready") is not None

    def panels(self) -> list[dict]:
        """What each panel holds (from the explorer's state) and shows (from the page)."""
        return self.page.evaluate("""() => AttentionCourse.explorer.instances[0].state.panels.map(p => ({
            tokens: p.translation.targetTokens, source: p.translation.sourceTokens,
            attention: p.translation.attention ? p.translation.attention.map(r => Array.from(r)) : null,
            title: p.el.querySelector('.ac-panel-title').textContent,
            heads: [...p.el.querySelectorAll('thead th')].slice(1).map(th => th.textContent),
            rows: [...p.el.querySelectorAll('tbody th')].map(th => th.textContent),
            cells: [...p.el.querySelectorAll('tbody tr')].map(tr => [...tr.querySelectorAll('td')].map(td => td.textContent)),
            selected: [...p.el.querySelectorAll('tbody tr')].map(tr => tr.classList.contains('ac-sel')),
            hasSel: !!p.el.querySelector('table.ac-has-sel'),
            focus: [...p.el.querySelectorAll('thead th.ac-focus')].map(th => th.textContent),
            looks: (p.el.querySelector('.ac-looks') || {}).hidden === false ? p.el.querySelector('.ac-looks').textContent : null,
            note: (p.el.querySelector('.ac-note') || {}).textContent || null,
        }))""")

    def problems(self) -> list[str]:
        return ([f"JS error: {e}" for e in self.errors] + [f"external request: {u}" for u in self.blocked]
                + [f"dialog: {d}" for d in self.dialogs])

    def close(self):
        self.context.close()


@pytest.fixture
def explorer_page(_chromium, site_url):
    browser, _ = _chromium
    pages = []

    def open_page(width: int = 1280, url: str | None = None) -> ExplorerPage:
        pages.append(ExplorerPage(browser, url or site_url + "explorer.html", width))
        return pages[-1]

    yield open_page
    for p in pages:
        p.close()


def _python_message(text: str) -> str | None:
    try:
        check_text(text)
    except ValueError as e:
        return str(e)
    return None


def _same_cells(js: list[list[str]], py: list[list[str]]):
    """Cell texts are equal, or one unit of 0.01 apart (a weight 1e-6 from a rounding edge)."""
    assert len(js) == len(py)
    for a_row, b_row in zip(js, py):
        assert len(a_row) == len(b_row)
        for a, b in zip(a_row, b_row):
            if a != b:
                assert abs(float(a or 0) - float(b or 0)) <= 0.0100001, (a, b)


def _check_panel(shown: dict, name: str, text: str):
    t = pretrained.load(name).translate(text, beam_size=1)
    assert shown["title"] == name
    assert shown["tokens"] == t.target_tokens and shown["source"] == t.source_tokens, (name, text)
    if t.attention is None:
        assert shown["attention"] is None and shown["note"] == "This model has no attention."
        return 0.0
    got = np.asarray(shown["attention"], dtype=np.float64)
    assert got.shape == t.attention.shape
    gap = float(np.abs(got - t.attention).max())
    assert gap <= TOL, (name, text, gap)
    view = heatmap_view(t, name)
    assert shown["heads"] == view["source"] and shown["rows"] == [r["w"] for r in view["rows"]]
    _same_cells(shown["cells"], [[c["a"] for c in r["cells"]] for r in view["rows"]])
    return gap


# ---------------------------------------------------------------------------------------------
# The page
# ---------------------------------------------------------------------------------------------

pytestmark_browser = pytest.mark.browser


@pytestmark_browser
def test_attention_equals_python_and_models_load_on_first_use(explorer_page):
    ex = explorer_page()
    page = ex.page
    page.wait_for_load_state("networkidle")
    assert ex.models_fetched() == set() and not any("/ort/" in p for p in ex.requests)
    assert page.input_value(".ac-live-explorer .ac-live-text") == EXAMPLES[1]
    assert (page.input_value(".ac-left"), page.input_value(".ac-right")) == ("bahdanau", "luong-dot")
    assert page.is_hidden(".ac-explorer-view")
    worst = 0.0
    for left, right in PAIRS:
        for text in SENTENCES:
            assert ex.translate(text, left, right), page.inner_text(".ac-live-error")
            shown = ex.panels()
            worst = max(worst, _check_panel(shown[0], left, text), _check_panel(shown[1], right, text))
        assert ex.models_fetched() <= {m for pair in PAIRS for m in pair}
    assert ex.models_fetched() == {m for pair in PAIRS for m in pair}
    # A model without attention says so; changing a model after a translation translates again.
    page.select_option(".ac-live-explorer .ac-right", "seq2seq")
    page.wait_for_function("() => AttentionCourse.explorer.instances[0].state.panels[1].view.title === 'seq2seq'"
                           " && !document.querySelector('.ac-live-explorer').hasAttribute('data-busy')")
    _check_panel(ex.panels()[1], "seq2seq", SENTENCES[-1])
    print(f"\nexplorer: {len(PAIRS) * 2} models x {len(SENTENCES)} sentences, attention within {worst:.1e}")
    assert ex.problems() == []


@pytestmark_browser
def test_hostile_inputs_give_pythons_messages(explorer_page):
    ex = explorer_page()
    page = ex.page
    count = ("() => [document.querySelector('.ac-live-explorer').querySelectorAll('script, img, b, iframe, style')"
             ".length, document.querySelectorAll('img, b, iframe, script:not([src$=\"ort.wasm.min.js\"])').length]")
    before = page.evaluate(count)
    for text in HOSTILE:
        message = _python_message(text)
        drawn = ex.translate(text)
        if message is not None:
            assert not drawn and page.inner_text(".ac-live-explorer .ac-live-error") == message, repr(text)
            assert page.is_hidden(".ac-explorer-view")
        else:
            assert drawn, (text, page.inner_text(".ac-live-explorer .ac-live-error"))
            shown = ex.panels()
            assert shown[0]["heads"] == pretrained.load("bahdanau").translate(text).source_tokens
            assert page.is_hidden(".ac-live-explorer .ac-live-error")
        assert page.evaluate(count) == before, repr(text)
    assert ex.models_fetched() <= {"bahdanau", "luong-dot"}
    assert ex.dialogs == [] and ex.problems() == []


def _row_of(tokens: list[str], word: str, near: int) -> int:
    hits = [i for i, w in enumerate(tokens) if w == word]
    return min(hits, key=lambda i: abs(i - near)) if hits else -1


def _looks(t, i: int) -> str:
    view = heatmap_view(t, "")
    row = view["rows"][i]
    return f"«{row['w']}» looks at: " + ", ".join(f"{view['source'][j]} {row['cells'][j]['a']}" for j in row["top"])


@pytestmark_browser
def test_a_french_word_highlights_its_row_in_both_panels(explorer_page):
    ex = explorer_page()
    page = ex.page
    text = EXAMPLES[1]
    assert ex.translate(text)
    t = [pretrained.load(m).translate(text, beam_size=1) for m in ("bahdanau", "luong-dot")]
    shared = [i for i, w in enumerate(t[0].target_tokens) if w in t[1].target_tokens]
    assert len(shared) >= 3, "the two translations share French words"
    for i in (shared[1], shared[-1]):
        word = t[0].target_tokens[i]
        j = _row_of(t[1].target_tokens, word, i)
        page.hover(f".ac-explorer-view .ac-panel:nth-child(1) tbody tr:nth-child({i + 1}) .ac-fw")
        left, right = ex.panels()
        assert left["selected"] == [k == i for k in range(len(t[0].target_tokens))] and left["hasSel"]
        assert right["selected"] == [k == j for k in range(len(t[1].target_tokens))] and right["hasSel"]
        assert left["focus"] == [t[0].source_tokens[int(np.argmax(t[0].attention[i]))]]
        assert right["focus"] == [t[1].source_tokens[int(np.argmax(t[1].attention[j]))]]
        assert left["looks"] == _looks(t[0], i) and right["looks"] == _looks(t[1], j)
    # Leaving the word clears a hover; a click keeps the selection, a second click clears it.
    page.mouse.move(0, 0)
    assert not any(p["hasSel"] for p in ex.panels()) and all(p["looks"] is None for p in ex.panels())
    i = shared[1]
    j = _row_of(t[1].target_tokens, t[0].target_tokens[i], i)
    page.click(f".ac-explorer-view .ac-panel:nth-child(2) tbody tr:nth-child({j + 1}) .ac-fw")
    page.mouse.move(0, 0)
    left, right = ex.panels()
    assert right["selected"][j] and left["selected"][_row_of(t[0].target_tokens, t[1].target_tokens[j], j)]
    assert page.get_attribute(f".ac-explorer-view .ac-panel:nth-child(2) tbody tr:nth-child({j + 1}) .ac-fw",
                              "aria-pressed") == "true"
    # A French word the other translation lacks says so there.
    only_left = [k for k, w in enumerate(t[0].target_tokens) if w not in t[1].target_tokens]
    if only_left:
        page.hover(f".ac-explorer-view .ac-panel:nth-child(1) tbody tr:nth-child({only_left[0] + 1}) .ac-fw")
        assert ex.panels()[1]["looks"] == f"«{t[0].target_tokens[only_left[0]]}» is not in this translation."
        assert not ex.panels()[1]["hasSel"]
        page.mouse.move(0, 0)
    # Another model in one panel keeps the selection.
    page.select_option(".ac-live-explorer .ac-left", "luong-general")
    page.wait_for_function("() => AttentionCourse.explorer.instances[0].state.panels[0].view.title === "
                           "'luong-general' && !document.querySelector('.ac-live-explorer').hasAttribute('data-busy')")
    assert ex.panels()[1]["selected"][j]
    page.click(f".ac-explorer-view .ac-panel:nth-child(2) tbody tr:nth-child({j + 1}) .ac-fw")
    assert not any(p["hasSel"] for p in ex.panels())
    assert ex.problems() == []


@pytestmark_browser
def test_a_transformer_panel_shows_the_mean_or_one_head(explorer_page):
    """The left side's attention menu appears for the Transformer (the right's stays hidden for
    bahdanau); the mean is Python's attention, each head (chosen with the keyboard) is
    ``head_attention``'s last layer for the words the model chose, redrawn without translating."""
    if "transformer" not in exportable_models():
        pytest.skip("no Transformer is shipped")
    ex = explorer_page()
    page = ex.page
    assert page.is_hidden(".ac-left-head") and page.is_hidden(".ac-right-head")
    text = SENTENCES[1]
    assert ex.translate(text, left="transformer", right="bahdanau")
    assert page.is_visible(".ac-left-head") and page.is_hidden(".ac-right-head")
    assert page.evaluate("() => document.querySelector('.ac-left-head').labels[0].textContent") == "Left attention"
    translator = pretrained.load("transformer")
    t = translator.translate(text, beam_size=1)
    heads = head_attention(translator, t.source_tokens, t.raw_tokens)[-1, :, :-1]   # heads x target x source
    H = heads.shape[0]
    assert page.input_value(".ac-left-head") == "mean"
    _check_panel(ex.panels()[0], "transformer", text)
    fetched = len(ex.requests)
    page.focus(".ac-left-head")
    for h in range(H):
        page.keyboard.press("ArrowDown")
        assert page.input_value(".ac-left-head") == str(h + 1)
        shown = ex.panels()[0]
        assert shown["title"] == "transformer" and shown["rows"] == t.target_tokens
        view = heatmap_view(dataclasses.replace(t, attention=heads[h]), "transformer")
        _same_cells(shown["cells"], [[c["a"] for c in r["cells"]] for r in view["rows"]])
        # the English word a French word attends to most, in this head
        page.hover(".ac-explorer-view .ac-panel:nth-child(1) tbody tr:nth-child(2) .ac-fw")
        assert ex.panels()[0]["focus"] == [t.source_tokens[int(np.argmax(heads[h][1]))]]
        page.focus(".ac-left-head")
    assert len(ex.requests) == fetched   # no new download, no new translation
    page.select_option(".ac-live-explorer .ac-left", "luong-dot")
    page.wait_for_function("() => AttentionCourse.explorer.instances[0].state.panels[0].view.title === 'luong-dot'"
                           " && !document.querySelector('.ac-live-explorer').hasAttribute('data-busy')")
    assert page.is_hidden(".ac-left-head")
    _check_panel(ex.panels()[0], "luong-dot", text)
    assert ex.problems() == []


@pytestmark_browser
def test_layout_side_by_side_or_stacked_and_labels_stay_in_view(explorer_page):
    for width, side_by_side in ((1280, True), (520, False)):
        ex = explorer_page(width)
        page = ex.page
        assert ex.translate(EXAMPLES[3])
        boxes = page.evaluate("() => [...document.querySelectorAll('.ac-explorer-view .ac-panel')].map(p => {"
                              " const r = p.getBoundingClientRect(); return [r.left, r.top, r.bottom]; })")
        if side_by_side:
            assert boxes[0][1] == boxes[1][1] and boxes[1][0] > boxes[0][0]
        else:
            assert boxes[1][1] >= boxes[0][2] and abs(boxes[1][0] - boxes[0][0]) < 1
        # Scroll the first panel sideways: its row labels stay at the panel's left edge, in view.
        result = page.evaluate("""() => {
            const panel = document.querySelector('.ac-explorer-view .ac-panel');
            const th = panel.querySelector('tbody th'), left = panel.getBoundingClientRect().left;
            const wide = panel.scrollWidth > panel.clientWidth;
            panel.scrollLeft = 300;
            return [wide, panel.scrollLeft, th.getBoundingClientRect().left - left];
        }""")
        wide, scrolled, offset = result
        if not side_by_side:
            assert wide and scrolled > 0, "a long sentence scrolls in a narrow panel"
        assert abs(offset) <= 1, f"row labels moved {offset} px when the panel scrolled {scrolled} px"
        assert ex.problems() == []


# ---------------------------------------------------------------------------------------------
# The book: the directive
# ---------------------------------------------------------------------------------------------

@pytestmark_browser
def test_book_page_explorer(_chromium, tmp_path):
    """A small Jupyter Book with the repository's _config.yml and book/_ext: the directive's
    page gets the explorer and the live translator's scripts, the build writes _static/ac-live,
    and the page shows Python's attention without leaving the site."""
    src = tmp_path / "src"
    (src / "book").mkdir(parents=True)
    (src / "chapters").mkdir()
    shutil.copy2(REPO_ROOT / "_config.yml", src / "_config.yml")
    shutil.copytree(REPO_ROOT / "book" / "_ext", src / "book" / "_ext",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy2(REPO_ROOT / "book" / "references.bib", src / "book" / "references.bib")
    (src / "_toc.yml").write_text("format: jb-book\nroot: book/intro\nchapters:\n  - file: chapters/explore\n")
    (src / "book" / "intro.md").write_text("# A small book\n\nThe next page has the attention explorer.\n")
    (src / "chapters" / "explore.md").write_text(
        "# Explore\n\n```{attention-explorer}\n:left: luong-dot\n:right: luong-local-p\n"
        ":text: The cat sleeps.\n```\n")
    html = build_book(src, tmp_path / "build")
    assert (html / "_static" / "ac-live" / "explorer.js").is_file()
    page_html = (html / "chapters" / "explore.html").read_text(encoding="utf-8")
    assert page_html.count('class="ac-widget ac-live-explorer"') == 1
    assert re.search(r'<script src="\.\./_static/ac-live/stepper\.js', page_html)
    assert re.search(r'<script src="\.\./_static/ac-live/explorer\.js', page_html)
    assert "ac-live" not in (html / "book" / "intro.html").read_text(encoding="utf-8")
    server, url = serve(html)
    try:
        browser, _ = _chromium
        ex = ExplorerPage(browser, url + "chapters/explore.html")
        page = ex.page
        assert page.input_value(".ac-live-explorer .ac-live-text") == "The cat sleeps."
        assert ex.translate()
        shown = ex.panels()
        _check_panel(shown[0], "luong-dot", "The cat sleeps.")
        _check_panel(shown[1], "luong-local-p", "The cat sleeps.")
        assert ex.models_fetched() == {"luong-dot", "luong-local-p"}
        assert ex.problems() == []
        ex.close()
    finally:
        server.shutdown()
        server.server_close()
