"""The live translator (attention_course.web: the exported models in ONNX Runtime Web) in
headless Chromium gives what the Python translator gives.

* Tokenizer: ``AttentionCourse.text.tokenize`` equals ``attention_course.data.tokenize`` (and
  detokenize equals detokenize) on our sentences, corpus test-split sources and hostile inputs.
* Translations: for every shipped model and at least 300 sentences (ours plus corpus test-split
  sources, read here and never stored), greedy and beam-5 tokens equal Python's, attention
  weights agree within 1e-4. Python's references are computed with ``translate_batch`` (the same
  search as ``translate``, several sentences at a time) in a thread while the browser works;
  a few sentences are also checked against ``translate`` itself, and the step records (what the
  stepper shows) against ``widgets.data.decode_view``.
* Messages: empty input, 1,000 words, bad beam sizes give Python's messages, before any download.
* The page: user text only ever becomes text, the controls work (next stops playback), weights
  are fetched only when the reader presses Translate or switches model, and no request leaves
  the site. For the Transformer the stepper's "Attention" menu (keyboard-usable, labelled)
  shows the mean of the last layer's heads or one head; the shown weights are the step
  graph's per-head output, which equals ``transformer_heads.head_attention`` within 1e-4. The site is :func:`attention_course.web.write_site` with ``standalone=True``;
  ``test_book_page`` builds a small Jupyter Book with the ``live-translator`` directive.
"""
from __future__ import annotations

import concurrent.futures
import json
import os
import re
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("onnx")   # the export (the page runs ONNX Runtime Web, not this package)

from conftest import REPO_ROOT, build_book  # noqa: E402
from helpers_translator_sentences import HOSTILE, INVENTED, corpus_sources  # noqa: E402
from helpers_site import SitePage, serve, serving, write_standalone_site  # noqa: E402
from helpers_widgets import PAYLOADS  # noqa: E402

from attention_course import pretrained  # noqa: E402
from attention_course.data.text import detokenize, normalize, tokenize  # noqa: E402
from attention_course.export.onnx import exportable_models  # noqa: E402
from attention_course.transformer_heads import head_attention  # noqa: E402
from attention_course.translator import MAX_TOKENS, check_beam, check_text  # noqa: E402
from attention_course.web import attention_heads, live_html  # noqa: E402

pytestmark = pytest.mark.browser

MODELS = exportable_models()
BEAMS = (1, 5)
TOL = 1e-4
BATCH = 48   # sentences per page.evaluate call


# ---------------------------------------------------------------------------------------------
# The site, served locally, and pages that may not leave it
# ---------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    return write_standalone_site(tmp_path_factory.mktemp("live-site"))


@pytest.fixture(scope="module")
def site_url(site):
    yield from serving(site)


class LivePage(SitePage):
    """A page with the live translator, ready once it is mounted."""

    READY = ("() => window.AttentionCourse && AttentionCourse.live && "
             "AttentionCourse.live.instances.length > 0")

    def model_requests(self) -> list[str]:
        return [p for p in self.requests if "/models/" in p]

    def problems(self) -> list[str]:
        return ([f"JS error: {e}" for e in self.errors] + [f"external request: {u}" for u in self.blocked]
                + [f"dialog: {d}" for d in self.dialogs])

    def close(self):
        self.context.close()


@pytest.fixture(scope="module")
def live(_chromium, site_url):
    """One page for the module's evaluate-based tests (models stay loaded between tests)."""
    browser, _ = _chromium
    page = LivePage(browser, site_url)
    yield page
    assert page.problems() == []
    page.close()


@pytest.fixture
def fresh(_chromium, site_url):
    """A new page (cold: nothing loaded) for a test that clicks through the UI."""
    browser, _ = _chromium
    pages = []

    def open_page(url: str = site_url) -> LivePage:
        pages.append(LivePage(browser, url))
        return pages[-1]

    yield open_page
    for p in pages:
        p.close()


# ---------------------------------------------------------------------------------------------
# Tokenizer and messages
# ---------------------------------------------------------------------------------------------

def test_tokenizer_matches_python(live):
    inputs = INVENTED + HOSTILE + PAYLOADS + corpus_sources(400)
    got = live.page.evaluate("""(inputs) => inputs.map(s => {
        const T = AttentionCourse.text, toks = T.tokenize(s, "en");
        return [T.normalize(s), toks, T.detokenize(toks, "fr"), T.detokenize(toks, "en")];
    })""", inputs)
    assert len(got) == len(inputs) >= 180
    for text, (norm, toks, fr, en) in zip(inputs, got):
        py = tokenize(text, "en")
        assert toks == py, f"tokenize({text!r})"
        assert norm == normalize(text), f"normalize({text!r})"
        assert (fr, en) == (detokenize(py, "fr"), detokenize(py, "en")), f"detokenize of {text!r}"


def _python_message(fn, *args) -> str | None:
    try:
        fn(*args)
    except ValueError as e:
        return str(e)
    return None


def test_checks_give_pythons_messages(live):
    texts = ["", "   ", "\u200b\u200b", "\x00\x07", "word " * 1000, " ".join(["a"] * (MAX_TOKENS + 1)),
             " ".join(["a"] * MAX_TOKENS), "\U0001F600", "</script>", "<img src=x onerror=alert(1)>"] + HOSTILE
    got = live.page.evaluate("""(texts) => texts.map(t => {
        try { return ["ok", AttentionCourse.translator.checkText(t)]; } catch (e) { return ["error", e.message]; }
    })""", texts)
    for text, (kind, value) in zip(texts, got):
        message = _python_message(check_text, text)
        if message is None:
            assert kind == "ok" and value == check_text(text), repr(text)
        else:
            assert kind == "error" and value == message, repr(text)
    beams = [0, 21, -1, 2.5, 1, 20]
    got = live.page.evaluate("""(beams) => beams.map(b => {
        try { AttentionCourse.translator.checkWhole("beam_size", b, 1, AttentionCourse.translator.MAX_BEAM); return null; }
        catch (e) { return e.message; }
    })""", beams)
    assert got == [_python_message(check_beam, b) for b in beams]


# ---------------------------------------------------------------------------------------------
# Translations: the page against Python, every model
# ---------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def sentences() -> list[str]:
    return INVENTED + corpus_sources(200)


@pytest.fixture(scope="module")
def references(sentences):
    """Python's translations for every model and beam size, computed in a background thread."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)

    def work(name):
        translator = pretrained.load(name)
        return {b: [(t.target_tokens, t.attention) for t in translator.translate_batch(sentences, beam_size=b)]
                for b in BEAMS}

    futures = {name: pool.submit(work, name) for name in MODELS}
    yield futures
    pool.shutdown(wait=True, cancel_futures=True)
    torch.set_num_threads(threads)


TRANSLATE_JS = """async ([names, texts, beams]) => {
    const out = {};
    for (const name of names) {
      const model = await AttentionCourse.live.getModel(name), rows = [];
      for (const text of texts) {
        const row = [];
        for (const b of beams) {
          const t = await AttentionCourse.translator.translate(model, text, {beamSize: b, record: false});
          row.push([t.targetTokens, t.attention]);
        }
        rows.push(row);
      }
      out[name] = rows;
    }
    return out;
}"""


@pytest.fixture(scope="module")
def browser_results(_chromium, site_url, sentences, references):
    """Every model's translations of ``sentences`` (greedy and beam 5) in the page. Two pages
    work at once (each a renderer process, so both cores help), models shared between them."""
    browser, _ = _chromium
    pages = [LivePage(browser, site_url) for _ in range(2)]
    start = time.perf_counter()
    try:
        for i, live in enumerate(pages):   # start both, then wait for both
            live.page.evaluate("(args) => { window.__acJob = (" + TRANSLATE_JS + ")(args); }",
                               [MODELS[i::2], sentences, list(BEAMS)])
        results = {}
        for live in pages:
            results.update(live.page.evaluate("() => window.__acJob"))
        elapsed = time.perf_counter() - start
        for live in pages:
            assert live.problems() == []
    finally:
        for live in pages:
            live.close()
    print(f"\nbrowser: {len(MODELS)} models x {len(sentences)} sentences x beams {BEAMS} "
          f"in {elapsed:.1f} s (load average {os.getloadavg()[0]:.1f})")
    return results


def _attention_gap(js, py) -> float:
    if py is None:
        assert js is None
        return 0.0
    js = np.asarray(js, dtype=np.float64)
    assert js.shape == py.shape, (js.shape, py.shape)
    return float(np.abs(js - py).max()) if py.size else 0.0


@pytest.mark.parametrize("name", MODELS)
def test_translations_match_python(name, sentences, references, browser_results):
    if len(sentences) < 300:
        from helpers_models import corpus_or_skip
        corpus_or_skip()
    got = browser_results[name]
    expected = references[name].result()
    mismatches, worst = [], 0.0
    for i, text in enumerate(sentences):
        for j, b in enumerate(BEAMS):
            tokens, attention = got[i][j]
            py_tokens, py_attention = expected[b][i]
            if tokens != py_tokens:
                mismatches.append((b, text, " ".join(tokens), " ".join(py_tokens)))
            else:
                worst = max(worst, _attention_gap(attention, py_attention))
    print(f"{name}: {len(sentences)} sentences x beams {BEAMS}: tokens equal, attention within {worst:.1e}")
    assert not mismatches, f"{len(mismatches)} translations differ, e.g. {mismatches[:3]}"
    assert worst <= TOL


def test_a_few_against_translate_itself_with_step_records(live):
    """``translate`` (one sentence, with its step record) and the stepper's view of each step."""
    from attention_course.widgets.data import decode_view
    texts = ["Tom doesn't like the zorblax, but his sister loves it.", "Go!", "Where did you put the newspaper?"]
    for name in [n for n in ("bahdanau", "luong-local-p", "seq2seq", "transformer") if n in MODELS]:
        translator = pretrained.load(name)
        views = live.page.evaluate("""async ([name, texts]) => {
            const model = await AttentionCourse.live.getModel(name), out = [];
            for (const text of texts) for (const b of [1, 3]) {
              const t = await AttentionCourse.translator.translate(model, text, {beamSize: b});
              out.push(AttentionCourse.translator.decodeView(t, name, b, text));
            }
            return out;
        }""", [name, texts])
        k = 0
        for text in texts:
            for b in (1, 3):
                py = decode_view(translator.translate(text, beam_size=b), name, b, text)
                js = views[k]
                k += 1
                assert js["output"] == py["output"] and js["source"] == py["source"], (name, text, b)
                assert len(js["steps"]) == len(py["steps"])
                for sj, sp in zip(js["steps"], py["steps"]):
                    for key in ("label", "focus", "prefix", "next", "done"):
                        assert sj[key] == sp[key], (name, text, b, key)
                    assert [s["x"] for s in sj["src"]] == pytest.approx([s["x"] for s in sp["src"]], abs=2e-3)
                    _same_numbers([s["a"] for s in sj["src"]], [s["a"] for s in sp["src"]], 0.01)
                    # top-k words: ties of zero probability (only </s> allowed) may list other words
                    real = [t for t in sp["topk"] if float(t["p"]) > 0]
                    assert [t["w"] for t in sj["topk"][: len(real)]] == [t["w"] for t in real]
                    _same_numbers([t["p"] for t in sj["topk"]], [t["p"] for t in sp["topk"]], 0.001)
                    assert [c["tokens"] for c in sj["beams"]] == [c["tokens"] for c in sp["beams"]]
                    _same_numbers([c["score"] for c in sj["beams"]], [c["score"] for c in sp["beams"]], 0.01)
                    assert [(c["from"], c["new"], c["status"]) for c in sj["cands"]] == \
                        [(c["from"], c["new"], c["status"]) for c in sp["cands"]]


def _same_numbers(js: list[str], py: list[str], unit: float):
    """Numbers printed to a fixed precision: equal, or one unit apart (a value 1e-6 from a rounding edge)."""
    assert len(js) == len(py)
    for a, b in zip(js, py):
        assert a == b or (a and b and abs(float(a) - float(b)) <= unit * 1.0001), (a, b)


# ---------------------------------------------------------------------------------------------
# The page itself
# ---------------------------------------------------------------------------------------------

def _wait_ready(page, run: int | None = None, timeout_ms: int = 60_000):
    page.wait_for_function("() => { const r = document.querySelector('.ac-live');"
                           " return r.hasAttribute('data-ready') && !r.hasAttribute('data-busy'); }",
                           timeout=timeout_ms)


def test_nothing_heavy_loads_before_translate_and_models_load_when_chosen(fresh):
    live = fresh()
    live.page.wait_for_load_state("networkidle")
    assert live.model_requests() == [] and not any("/ort/" in p for p in live.requests)
    root = live.page.locator(".ac-live")
    # a text Python refuses: the same message, and still nothing downloaded
    live.page.fill(".ac-live-text", "   ")
    live.page.click(".ac-live-go")
    assert live.page.inner_text(".ac-live-error") == _python_message(check_text, "   ")
    live.page.fill(".ac-live-text", "word " * 1000)
    live.page.click(".ac-live-go")
    assert live.page.inner_text(".ac-live-error") == _python_message(check_text, "word " * 1000)
    assert live.model_requests() == []
    # Translate: ONNX Runtime and the selected model only
    live.page.fill(".ac-live-text", "I like red cars.")
    live.page.select_option(".ac-live-model", "luong-dot")
    assert live.model_requests() == []   # choosing before the first translation fetches nothing
    live.page.click(".ac-live-go")
    _wait_ready(live.page)
    assert live.page.is_hidden(".ac-live-error")
    assert {p.split("/models/")[1].split("/")[0] for p in live.model_requests()} == {"luong-dot"}
    assert live.page.inner_text(".ac-live-out") == pretrained.load("luong-dot").translate("I like red cars.").text
    # switching model fetches that model, and translates again
    live.page.select_option(".ac-live-model", "seq2seq")
    live.page.wait_for_function("() => document.querySelector('.ac-meta') && "
                                "document.querySelector('.ac-meta').textContent.startsWith('seq2seq')")
    _wait_ready(live.page)
    assert {p.split("/models/")[1].split("/")[0] for p in live.model_requests()} == {"luong-dot", "seq2seq"}
    assert root.get_attribute("data-step") == "0"
    assert live.problems() == []


def test_controls_step_play_and_stop(fresh):
    live = fresh()
    page = live.page
    page.fill(".ac-live-text", "Tom doesn't like the zorblax, but his sister loves it.")
    page.select_option(".ac-live-search", "beam")
    page.fill(".ac-live-beam", "4")
    page.dispatch_event(".ac-live-beam", "change")
    page.click(".ac-live-go")
    _wait_ready(page)
    py = pretrained.load("bahdanau").translate("Tom doesn't like the zorblax, but his sister loves it.", beam_size=4)
    root = page.locator(".ac-live")
    n = len(py.steps)
    assert page.inner_text(".ac-pos") == f"1 / {n}"
    assert page.is_disabled(".ac-prev") and page.is_enabled(".ac-next")
    assert page.locator(".ac-beams tr").count() == 1 + 1   # step 1: the start hypothesis only
    page.click(".ac-next")
    assert root.get_attribute("data-step") == "1"
    assert page.locator(".ac-beams tr").count() == 1 + 4
    assert page.locator(".ac-cands tr").count() > 4
    assert page.locator(".ac-topk tr").count() == 5
    page.click(".ac-prev")
    assert root.get_attribute("data-step") == "0"
    page.fill(".ac-slider", str(n - 1))
    assert root.get_attribute("data-step") == str(n - 1)
    assert page.inner_text(".ac-step .ac-out") == py.text
    # play from the end restarts; next stops playback
    page.click(".ac-play")
    assert page.inner_text(".ac-play").endswith("stop")
    page.wait_for_function("() => Number(document.querySelector('.ac-live').getAttribute('data-step')) >= 1",
                           timeout=10_000)
    page.click(".ac-next")
    assert page.inner_text(".ac-play").endswith("play")
    step = root.get_attribute("data-step")
    page.wait_for_timeout(2_000)
    assert root.get_attribute("data-step") == step
    # every control has a name a screen reader reads out
    names = page.evaluate("""() => Array.from(document.querySelectorAll(
        '.ac-live button, .ac-live select, .ac-live input, .ac-live textarea')).map(c =>
        c.getAttribute('aria-label') || (c.labels && c.labels.length ? c.labels[0].textContent : ''))""")
    assert names and all(n.strip() for n in names), names
    assert page.get_attribute(".ac-live-status", "aria-live") == "polite"
    assert page.get_attribute(".ac-live-error", "role") == "alert"
    assert live.problems() == []


@pytest.mark.parametrize("text", ["</script><script>alert(1)</script> <img src=x onerror=alert(1)> &lt;b&gt; \"'&",
                                  "\U0001F600 <b>bold</b> \u202eevil\u202c <!-- x"])
def test_reader_text_stays_text(fresh, text):
    live = fresh()
    page = live.page
    count = ("() => [document.querySelector('.ac-live').querySelectorAll('script, img, b, iframe, style').length,"
             " document.querySelectorAll('img, b, iframe, script:not([src$=\"ort.wasm.min.js\"])').length]")
    before = page.evaluate(count)
    page.fill(".ac-live-text", text)
    page.click(".ac-live-go")
    _wait_ready(page)
    py = pretrained.load("bahdanau").translate(text)
    assert page.inner_text(".ac-live-out") == py.text
    words = page.locator(".ac-src .ac-tok").all_inner_texts()
    assert words == py.source_tokens
    page.fill(".ac-slider", str(len(py.steps) - 1))
    assert page.evaluate(count) == before
    assert live.dialogs == [] and live.problems() == []


def test_head_setting_of_the_markup():
    """live_html's ``head``: "mean" or a head of the first model's last layer, checked."""
    def config(html):
        return json.loads(re.search(r'class="ac-live-config">(.*?)</script>', html, flags=re.S).group(1))

    cfg = config(live_html())
    assert cfg["head"] == "mean"
    assert {m["name"]: m["heads"] for m in cfg["models"]} == {n: attention_heads(n) for n in MODELS}
    if "transformer" not in MODELS:
        pytest.skip("no Transformer is shipped")
    n = pretrained.load("transformer").model.decoder.layers[-1].cross_attention.heads
    assert attention_heads("transformer") == n and attention_heads("bahdanau") == 0
    assert config(live_html(model="transformer", head=n))["head"] == n
    assert config(live_html(model="transformer", head=str(n)))["head"] == n
    for bad in (0, n + 1, "first", 1.5, True):
        with pytest.raises(ValueError, match=f"from 1 to {n}"):
            live_html(model="transformer", head=bad)
    with pytest.raises(ValueError, match="has no attention heads"):
        live_html(model="bahdanau", head=1)


def _shown_weights(page) -> list[str]:
    return page.locator(".ac-src .ac-w").all_inner_texts()


def test_stepper_shows_the_transformers_heads(fresh):
    """The "Attention" menu: hidden for a recurrent model; for the Transformer, the mean of the
    last layer's heads at first, then each head (chosen with the keyboard). At every step the
    words show the step graph's weights for the best hypothesis, and those equal Python's
    (``head_attention`` for that hypothesis' prefix) within 1e-4; the mean is Translation.attention."""
    if "transformer" not in MODELS:
        pytest.skip("no Transformer is shipped")
    text = "The little girl is reading a book in the garden."
    live = fresh()
    page = live.page
    assert page.is_hidden(".ac-live-head")                     # bahdanau first: no heads
    page.fill(".ac-live-text", text)
    page.select_option(".ac-live-model", "transformer")
    assert page.is_visible(".ac-live-head")
    H = attention_heads("transformer")
    label = page.evaluate("() => document.querySelector('.ac-live-head').labels[0].textContent")
    assert label == "Attention"
    assert page.locator(".ac-live-head option").all_inner_texts() == (
        [f"mean of the {H} heads (last layer)"] + [f"head {h} of {H} (last layer)" for h in range(1, H + 1)])
    page.select_option(".ac-live-search", "beam")
    page.fill(".ac-live-beam", "3")
    page.dispatch_event(".ac-live-beam", "change")
    page.click(".ac-live-go")
    _wait_ready(page)
    translator = pretrained.load("transformer")
    py = translator.translate(text, beam_size=3)
    assert page.inner_text(".ac-live-out") == py.text
    root = page.locator(".ac-live")
    assert root.get_attribute("data-head") == "mean"
    steps = page.evaluate("() => AttentionCourse.live.instances[0].state.translation.steps.map(s => "
                          "s.hypotheses.map(h => [h.tokens, h.attention, h.heads]))")
    assert len(steps) == len(py.steps)
    worst, checked = 0.0, 0
    for n, hypotheses in enumerate(steps):   # every hypothesis of the beam, not only the best
        assert [h[0] for h in hypotheses] == [h.tokens for h in py.steps[n].hypotheses]
        for (prefix, mean, heads), hyp in zip(hypotheses, py.steps[n].hypotheses):
            expected = head_attention(translator, py.source_tokens, prefix)[-1, :, -1]     # heads x S
            assert np.asarray(heads).shape == expected.shape == (H, len(py.source_tokens))
            worst = max(worst, float(np.abs(np.asarray(heads) - expected).max()),
                        float(np.abs(np.asarray(mean) - hyp.attention).max()))
            checked += 1
    assert worst <= TOL, worst
    assert checked > len(steps)
    record = [hypotheses[0] for hypotheses in steps]   # what the stepper shows: the best hypothesis
    num = "(xs) => xs.map(x => AttentionCourse.translator.num(x, 2))"
    page.focus(".ac-live-head")
    for head in ["mean"] + [str(h) for h in range(1, H + 1)]:
        if head != "mean":
            page.keyboard.press("ArrowDown")                  # the next option, from the keyboard
        assert page.input_value(".ac-live-head") == head and root.get_attribute("data-head") == head
        for n in (0, len(record) // 2, len(record) - 1):
            page.fill(".ac-slider", str(n))
            prefix, mean, heads = record[n]
            weights = mean if head == "mean" else heads[int(head) - 1]
            assert _shown_weights(page) == page.evaluate(num, weights), (head, n)
            shown = "mean of the" if head == "mean" else f"head {head} of {H}"
            assert shown in page.inner_text(".ac-meta")
            focus = page.locator(".ac-src .ac-word").evaluate_all(
                "(ws) => ws.findIndex(w => w.classList.contains('ac-focus'))")
            assert focus == int(np.argmax(weights))
        page.focus(".ac-live-head")
    # back to a recurrent model: the menu goes, the weights are its one attention
    page.select_option(".ac-live-model", "bahdanau")
    page.wait_for_function("() => document.querySelector('.ac-meta').textContent.startsWith('bahdanau')")
    _wait_ready(page)
    assert page.is_hidden(".ac-live-head") and root.get_attribute("data-head") == ""
    assert live.problems() == []


# ---------------------------------------------------------------------------------------------
# The book: the directive, the build step, the page
# ---------------------------------------------------------------------------------------------

def test_book_page(_chromium, tmp_path):
    """A small Jupyter Book with the repository's _config.yml and book/_ext: the directive's
    page gets the stepper, the build writes _static/ac-live (models, ONNX Runtime Web), other
    pages stay without it, and the page translates as Python does without leaving the site.
    A second page's stepper starts on the Transformer's second head (``:head: 2``)."""
    src = tmp_path / "src"
    (src / "book").mkdir(parents=True)
    (src / "chapters").mkdir()
    shutil.copy2(REPO_ROOT / "_config.yml", src / "_config.yml")
    shutil.copytree(REPO_ROOT / "book" / "_ext", src / "book" / "_ext",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy2(REPO_ROOT / "book" / "references.bib", src / "book" / "references.bib")
    (src / "_toc.yml").write_text("format: jb-book\nroot: book/intro\nchapters:\n  - file: chapters/live\n"
                                  + ("  - file: chapters/heads\n" if "transformer" in MODELS else ""))
    (src / "book" / "intro.md").write_text("# A small book\n\nThe next page has the live translator.\n")
    (src / "chapters" / "live.md").write_text(
        "# Live\n\n```{live-translator}\n:model: luong-local-p\n:beam: 3\n:text: The cat sleeps.\n```\n")
    (src / "chapters" / "heads.md").write_text(
        "# Heads\n\n```{live-translator}\n:model: transformer\n:head: 2\n:text: The cat sleeps.\n```\n")
    html = build_book(src, tmp_path / "build")
    static = html / "_static" / "ac-live"
    listing = json.loads((static / "models.json").read_text())
    assert [m["name"] for m in listing["models"]] == MODELS
    assert all(m["bytes"] <= 8 * 1024 * 1024 for m in listing["models"])
    assert sorted(p.name for p in (static / "ort").iterdir()) == sorted(
        ["NOTICE.txt", "ort.wasm.min.js", "ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm"])
    page_html = (html / "chapters" / "live.html").read_text(encoding="utf-8")
    assert page_html.count('class="ac-widget ac-live"') == 1
    assert re.search(r'<script src="\.\./_static/ac-live/stepper\.js', page_html)
    assert "ac-live" not in (html / "book" / "intro.html").read_text(encoding="utf-8")
    assert not re.search(r"https?://[^\"']*(jsdelivr|unpkg|cdnjs)[^\"']*(ort|onnx)", page_html)

    server, url = serve(html)
    try:
        browser, _ = _chromium
        live = LivePage(browser, url + "chapters/live.html")
        page = live.page
        assert page.input_value(".ac-live-text") == "The cat sleeps."
        assert page.input_value(".ac-live-model") == "luong-local-p"
        page.click(".ac-live-go")
        _wait_ready(page)
        py = pretrained.load("luong-local-p").translate("The cat sleeps.", beam_size=3)
        assert page.inner_text(".ac-live-out") == py.text
        assert page.inner_text(".ac-pos") == f"1 / {len(py.steps)}"
        assert live.problems() == []
        live.close()
        if "transformer" in MODELS:
            live = LivePage(browser, url + "chapters/heads.html")
            page = live.page
            assert page.input_value(".ac-live-model") == "transformer" and page.input_value(".ac-live-head") == "2"
            page.click(".ac-live-go")
            _wait_ready(page)
            translator = pretrained.load("transformer")
            py = translator.translate("The cat sleeps.")
            assert page.inner_text(".ac-live-out") == py.text
            assert page.get_attribute(".ac-live", "data-head") == "2" and "head 2 of" in page.inner_text(".ac-meta")
            weights = head_attention(translator, py.source_tokens, [])[-1, 1, -1]   # step 1: after <s> alone
            shown = [float(a) for a in page.locator(".ac-src .ac-w").all_inner_texts()]
            assert np.abs(np.asarray(shown) - weights).max() <= 0.0050001
            assert live.problems() == []
            live.close()
    finally:
        server.shutdown()
        server.server_close()
