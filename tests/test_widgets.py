"""The widgets without a browser: what each step shows equals ``Translation.steps[n]``, stepping
never calls the model again, bad input becomes a message, and user text stays text.

Runs with ipywidgets 8 and, in .ci/run, with 7.7.1 (Colab's). Every sentence is invented.
"""
from __future__ import annotations

import concurrent.futures
import re

import numpy as np
import pytest
import torch

from attention_course import pretrained
from attention_course.transformer_heads import head_attention, head_count
from attention_course.widgets import EXAMPLES, AttentionExplorer, DecodingStepper, explorer_html

from helpers_widgets import (PAYLOADS, CountingLoader, FakeTranslator, assert_only_our_markup, beam_next,
                             parse, shown_step)

pytestmark = pytest.mark.widgets

SENTENCE = "The little girl is reading a book in the garden."


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


def fmt(x: float) -> str:
    text = f"{x:.2f}"
    return "0.00" if text == "-0.00" else text


def expected(step, beam: bool) -> dict:
    """What step ``step`` (a StepRecord with words) must show."""
    best = step.hypotheses[0]
    return {
        "prefix": list(best.tokens),
        "focus": None if best.attention is None else int(np.argmax(best.attention)),
        "topk": [w for w, _ in best.top_k],
        "next": beam_next(step) if beam else step.chosen[-1],
        "beams": [[str(i + 1), " ".join(h.tokens) or "(start)", fmt(h.score)]
                  for i, h in enumerate(step.hypotheses)] if beam else [],
        "cands": [[str(c.parent + 1), " ".join(c.tokens), fmt(c.score)] for c in step.candidates],
        "statuses": [f"ac-{c.status}" for c in step.candidates],
    }


def check_step(html: str, step, source, beam: bool, n: int, total: int):
    shown = shown_step(html)
    want = expected(step, beam)
    assert shown["label"] == f"Step {n + 1} of {total}"
    assert shown["source"] == list(source)
    assert shown["prefix"] == want["prefix"]
    assert shown["focus"] == want["focus"] and shown["n_focus"] == (0 if want["focus"] is None else 1)
    assert shown["topk"] == want["topk"]
    assert shown["next"] == want["next"]
    assert shown["beams"] == want["beams"]
    assert [c[0][:3] for c in shown["cands"]] == want["cands"]
    assert [c[1] for c in shown["cands"]] == want["statuses"]
    if step.hypotheses[0].attention is not None:
        assert shown["weights"] == [f"{a:.2f}" for a in step.hypotheses[0].attention]
    return shown


@pytest.mark.parametrize("beam_size", [1, 3])
def test_each_step_shows_the_record(beam_size):
    stepper = DecodingStepper(SENTENCE, model="bahdanau", beam_size=beam_size)
    reference = pretrained.load("bahdanau").translate(SENTENCE, beam_size=beam_size)
    steps = stepper.translation.steps
    assert [s.chosen for s in steps] == [s.chosen for s in reference.steps]
    assert stepper.n_steps == len(steps) and stepper.slider.max == len(steps) - 1
    for n in range(len(steps)):
        if n:
            stepper.next()
        assert stepper.step == n
        check_step(stepper.html, steps[n], reference.source_tokens, beam_size > 1, n, len(steps))
        state = stepper.state
        want = expected(steps[n], beam_size > 1)
        assert state["prefix"] == want["prefix"] and state["focus"] == want["focus"]
        assert state["topk"] == want["topk"]
        assert state["beams"] == ([list(h.tokens) for h in steps[n].hypotheses] if beam_size > 1 else [])
    assert shown_step(stepper.html)["done"] == reference.text
    # Backwards, by the slider (what Play and the slider drive) and by go().
    for n in reversed(range(len(steps))):
        stepper.slider.value = n
        assert stepper.state["prefix"] == list(steps[n].hypotheses[0].tokens)
    stepper.go(10_000)
    assert stepper.step == len(steps) - 1
    assert stepper.play.value == stepper.step      # Play goes on from where the slider is
    stepper.go(-3)
    assert stepper.step == 0 and stepper.prev_button.disabled and not stepper.next_button.disabled
    # Step 1 shows, in "French so far", the word this step adds: in a beam as in greedy.
    first = shown_step(stepper.html)
    assert first["next"] == steps[0].hypotheses[0].top_k[0][0] and first["prefix"] == []
    assert "(nothing yet)" not in first["all_text"]


@pytest.mark.parametrize("model", pretrained.available())
def test_every_model_steps(model):
    stepper = DecodingStepper("I like red cars.", model=model, beam_size=1)
    translator = pretrained.load(model)
    for beam in (1, 2):
        if beam == 2:
            stepper.search_buttons.value = "beam search"
            stepper.beam_slider.value = 2
        assert stepper.error is None, stepper.error
        assert stepper.beam_size == beam
        t = stepper.translation
        assert t.text == translator.translate("I like red cars.", beam_size=beam).text
        stepper.go(stepper.n_steps - 1)
        shown = check_step(stepper.html, t.steps[-1], t.source_tokens, beam > 1, len(t.steps) - 1, len(t.steps))
        assert shown["done"] == t.text
        assert (shown["focus"] is None) == (not translator.has_attention)
        if not translator.has_attention:
            assert "no attention" in shown["all_text"]


def test_model_menu_lists_every_shipped_model():
    stepper = DecodingStepper("I like red cars.")
    assert list(stepper.model_menu.options) == pretrained.available()
    for name in pretrained.available():
        stepper.model_menu.value = name
        assert stepper.error is None and stepper.decode["model"] == name


@pytest.mark.parametrize("model", pretrained.available())
def test_every_model_in_the_explorer_and_the_static_heatmap(model):
    """Each shipped model's attention as the explorer's panel and as plots.plot_attention draw it,
    or for a model without attention the message that says so."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from attention_course import plots

    explorer = AttentionExplorer("I like red cars.", models=(model, "bahdanau"))
    assert explorer.error is None and list(explorer.model_menus[0].options) == pretrained.available()
    t = explorer.translations[0]
    panel = assert_only_our_markup(explorer.html).find_all("ac-panel")[0]
    assert panel.find("ac-panel-title").text == model
    ax = plots.plot_attention(t, title=model)
    try:
        if t.attention is None:
            assert "This model has no attention." in panel.text and panel.find("ac-heat") is None
            assert list(explorer.word_menus[0].options) == [("(none)", -1)]
            assert not ax.get_images() and "no attention" in ax.texts[0].get_text()
            return
        rows = panel.find(tag="tbody").find_all(tag="tr")
        assert [r.find(tag="th").text for r in rows] == t.target_tokens
        assert [th.text for th in panel.find(tag="thead").find_all(tag="th")][1:] == t.source_tokens
        assert [[td.text for td in r.find_all(tag="td")] for r in rows] == \
            [[cell_text(a) for a in row] for row in t.attention]
        np.testing.assert_array_equal(ax.get_images()[0].get_array(), t.attention)
        assert [x.get_text() for x in ax.get_xticklabels()] == t.source_tokens
        assert [y.get_text() for y in ax.get_yticklabels()] == t.target_tokens
    finally:
        plt.close("all")


def test_stepping_does_not_call_the_model_again():
    loader = CountingLoader(pretrained.load)
    stepper = DecodingStepper(SENTENCE, model="luong-dot", loader=loader, models=["luong-dot", "bahdanau"])
    assert len(loader.calls) == 1
    for _ in range(stepper.n_steps + 2):
        stepper.next()
    for _ in range(3):
        stepper.previous()
    stepper.slider.value = 1
    stepper.play.value = 2          # Play drives the slider through jslink in the browser
    stepper.slider.value = 2
    stepper.go(0)
    stepper.prev_button.click()
    stepper.next_button.click()
    assert len(loader.calls) == 1
    stepper.search_buttons.value = "beam search"     # a new input: one new decode
    assert len(loader.calls) == 2 and loader.calls[-1] == ("luong-dot", SENTENCE, 3)
    for _ in range(4):
        stepper.next()
    assert len(loader.calls) == 2
    stepper.search_buttons.value = "greedy"          # seen before: from the cache
    stepper.translate_button.click()
    assert len(loader.calls) == 2
    stepper.model_menu.value = "bahdanau"
    assert len(loader.calls) == 3


@pytest.mark.parametrize("text, message", [
    ("", "nothing to translate"),
    ("   \t ", "nothing to translate"),
    (" ".join(["word"] * 1000), "1000 words"),
    ("<b>" * 60, "at most 100"),
])
def test_bad_input_is_a_message_not_a_traceback(text, message):
    stepper = DecodingStepper("I like red cars.", model="bahdanau")
    stepper.go(3)
    stepper.text_box.value = text
    assert stepper.decode is None and message in stepper.error
    root = assert_only_our_markup(stepper.html)
    errors = root.find_all("ac-error")
    assert len(errors) == 1 and message in errors[0].text
    assert "Traceback" not in stepper.html and "File \"" not in stepper.html
    assert stepper.state == {"error": stepper.error}
    assert stepper.prev_button.disabled and stepper.next_button.disabled
    stepper.next()                                   # stepping with nothing decoded is harmless
    stepper.text_box.value = "I like red cars."      # and it recovers
    assert stepper.error is None and stepper.n_steps > 1


def test_unexpected_errors_are_shown_escaped():
    class Broken:
        def translate(self, *a, **k):
            raise RuntimeError("<script>alert(1)</script> failed")

    stepper = DecodingStepper("I like red cars.", model="m", models=["m"], loader=lambda name: Broken())
    root = assert_only_our_markup(stepper.html)
    assert "<script>alert(1)</script> failed" in root.find("ac-error").text
    assert "&lt;script&gt;" in stepper.html


@pytest.mark.parametrize("payload", PAYLOADS)
@pytest.mark.parametrize("beam_size", [1, 3])
def test_typed_text_is_only_ever_text_in_the_live_stepper(payload, beam_size):
    """The fake model echoes the typed text and the payloads as words, top-k words and beams."""
    fake = FakeTranslator()
    stepper = DecodingStepper(payload, model="fake", models=["fake"], loader=lambda name: fake,
                              beam_size=beam_size)
    assert stepper.error is None
    steps = stepper.translation.steps
    for n in range(len(steps)):
        stepper.go(n)
        shown = check_step(stepper.html, steps[n], PAYLOADS + [payload], beam_size > 1, n, len(steps))
        assert shown["source"][-1] == payload                     # verbatim, as text
    assert "<img" not in stepper.html and "<script" not in stepper.html.replace("&lt;script", "")
    assert fake.calls == 1


@pytest.mark.parametrize("payload", PAYLOADS)
def test_typed_text_is_only_ever_text_in_the_explorer(payload):
    fake = FakeTranslator()
    explorer = AttentionExplorer(payload, models=("a", "b"), choices=["a", "b"], loader=lambda name: fake)
    for i in range(len(PAYLOADS)):
        explorer.select(0, i)
        explorer.select(1, len(PAYLOADS) - 1 - i)
        root = assert_only_our_markup(explorer.html)
        heads = [th.text for th in root.find_all("ac-heat")[0].find(tag="thead").find_all(tag="th")]
        assert heads[1:] == PAYLOADS + [payload]
        rows = root.find_all("ac-heat")[0].find(tag="tbody").find_all(tag="tr")
        assert [r.find(tag="th").text for r in rows] == PAYLOADS
        assert [("ac-sel" in r.classes) for r in rows] == [k == i for k in range(len(rows))]
    assert "<img" not in explorer.html


def test_explorer_shows_two_models_and_selects_a_word():
    explorer = AttentionExplorer(SENTENCE, models=("bahdanau", "luong-dot"))
    t_left, t_right = explorer.translations
    root = assert_only_our_markup(explorer.html)
    panels = root.find_all("ac-panel")
    assert [p.find("ac-panel-title").text for p in panels] == ["bahdanau", "luong-dot"]
    for panel, t in zip(panels, (t_left, t_right)):
        heat = panel.find("ac-heat")
        assert [th.text for th in heat.find(tag="thead").find_all(tag="th")][1:] == t.source_tokens
        rows = heat.find(tag="tbody").find_all(tag="tr")
        assert [r.find(tag="th").text for r in rows] == t.target_tokens
        cells = [[td.text for td in r.find_all(tag="td")] for r in rows]
        assert len(cells[0]) == len(t.source_tokens)
    assert explorer.selected == [None, None]
    assert not any("ac-has-sel" in h.classes for h in parse(explorer.html)[0].find_all("ac-heat"))
    explorer.select(0, 2)
    root = assert_only_our_markup(explorer.html)
    left = root.find_all("ac-heat")[0]
    assert left.classes >= {"ac-has-sel"}
    rows = left.find(tag="tbody").find_all(tag="tr")
    assert "ac-sel" in rows[2].classes
    focus = int(np.argmax(t_left.attention[2]))
    focus_heads = [th.text for th in left.find(tag="thead").find_all("ac-focus")]
    assert focus_heads == [t_left.source_tokens[focus]]
    looks = root.find("ac-looks").text
    assert looks.startswith(f"«{t_left.target_tokens[2]}» looks at: {t_left.source_tokens[focus]} ")
    # Hovering a French word highlights its row: CSS, so it also works in a static page.
    assert "tbody:hover tr:not(:hover)" in explorer.html
    # A model without attention says so; an empty sentence is a message.
    explorer.model_menus[1].value = "seq2seq"
    assert "This model has no attention." in parse(explorer.html)[0].find_all("ac-panel")[1].text
    assert list(explorer.word_menus[1].options) == [("(none)", -1)]
    explorer.text_box.value = ""
    assert "nothing to translate" in parse(explorer.html)[0].find("ac-error").text


def test_widgets_use_only_api_that_ipywidgets_7_has():
    """The widgets are core ipywidgets that exist in 7.7.1 and 8 (this file runs under both)."""
    import ipywidgets

    stepper = DecodingStepper("I like red cars.", model="bahdanau")
    kinds = {type(w).__name__ for w in _walk(stepper)}
    assert kinds <= {"DecodingStepper", "VBox", "HBox", "Text", "Dropdown", "ToggleButtons", "IntSlider",
                     "Button", "Play", "HTML"}
    assert ipywidgets.__version__.split(".")[0] in {"7", "8"}


def _walk(w):
    yield w
    for c in getattr(w, "children", ()):
        yield from _walk(c)


# ---- as a Jupyter user meets them (issue 13) ----------------------------------------------------

def mimebundle(widget) -> dict:
    """What the notebook stores for a displayed widget: ``_repr_mimebundle_`` (ipywidgets 8)
    or what ``_ipython_display_`` sends (7.7.1)."""
    if callable(getattr(widget, "_repr_mimebundle_", None)):
        return widget._repr_mimebundle_()
    import ipywidgets.widgets.widget as module
    sent = []
    old = module.display
    module.display = lambda data, raw=False: sent.append(data)
    try:
        widget._ipython_display_()
    finally:
        module.display = old
    return sent[0]


def _explorer(text=SENTENCE):
    return AttentionExplorer(text, models=("bahdanau", "luong-dot"))


@pytest.mark.parametrize("make, kind, what, whole", [
    (lambda: DecodingStepper("I like red cars.", model="bahdanau", beam_size=3), "DecodingStepper",
     "bahdanau, beam 3", True),
    (lambda: DecodingStepper(EXAMPLES[3], model="luong-dot"), "DecodingStepper", "luong-dot, greedy", False),
    (lambda: _explorer("I like red cars."), "AttentionExplorer", "bahdanau vs luong-dot", True),
    (lambda: _explorer(EXAMPLES[3]), "AttentionExplorer", "bahdanau vs luong-dot", False),
])
def test_text_form_says_to_run_the_cell(make, kind, what, whole):
    """Without widget state (a notebook before it runs) the cell shows text/plain: it must say
    what the widget is and to run the cell, within ipywidgets' 110 characters and the column."""
    widget = make()
    bundle = mimebundle(widget)
    text = bundle["text/plain"]
    assert text == repr(widget) and len(text) <= 110 and not text.endswith("…")
    first, second = text.split("\n")
    assert first == f"{kind}: run the cell to use it."
    assert second.endswith(f"” · {what}") and len(second) <= 78
    sentence = widget.text_box.value
    if whole:
        assert second == f"“{sentence}” · {what}"
    else:   # a long sentence is cut, with an ellipsis
        assert second.startswith("“" + sentence[:20]) and f"…” · {what}" in second
    assert "children=" not in text
    # ... and the live widget is still what Jupyter shows.
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == widget.model_id


def _em(width: str) -> float:
    assert width.endswith("em"), width
    return float(width[:-2])


def test_stepper_controls_are_never_cut_and_fit_one_row():
    """At 1024 px a notebook column is about 880 px: the buttons keep their labels (fixed widths
    that do not shrink) and the model/search/beam/Translate row fits in 740 px (13 px font; a
    label takes at most 0.55 em a character)."""
    stepper = DecodingStepper("I like red cars.")
    buttons = [stepper.translate_button, stepper.prev_button, stepper.play_button, stepper.next_button]
    assert [b.description for b in buttons[1:]] == ["◀ previous", "▶ play", "next ▶"]
    for b in buttons:
        assert b.layout.flex == "0 0 auto", b.description
        assert _em(b.layout.width) >= 0.55 * len(b.description) + 2, b.description   # text + padding
    assert stepper.translate_button in stepper.children[1].children
    row = stepper.children[1]
    assert row.layout.flex_flow == "row wrap"
    for w in row.children:
        assert w.layout.flex == "0 0 auto"
    toggle = _em(stepper.search_buttons.style.button_width)
    assert toggle >= 0.55 * max(len(o) for o in stepper.search_buttons.options) + 2
    widths = (_em(stepper.model_menu.layout.width) + 2 * toggle + _em(stepper.beam_slider.layout.width)
              + _em(stepper.translate_button.layout.width))
    assert widths * 13 + 4 * 12 <= 740   # measured in Chromium: tests/test_widgets_layout.py
    for w in (stepper.model_menu, stepper.beam_slider, stepper.slider, stepper.text_box):
        assert _em(w.style.description_width) >= 0.55 * len(w.description) + 0.8, w.description
    # The step slider takes the rest of its row, but keeps some length.
    assert stepper.slider.layout.flex == "1 1 auto" and _em(stepper.slider.layout.min_width) >= 8


class FakeLoop:
    """Stands in for the kernel's event loop: collects the calls DecodingStepper schedules."""

    def __init__(self):
        self.calls = []

    def __call__(self, delay, fn):
        entry = [delay, fn]
        self.calls.append(entry)
        return lambda: self.calls.remove(entry) if entry in self.calls else None

    def run_one(self):
        delay, fn = self.calls.pop(0)
        fn()
        return delay


@pytest.fixture(params=["browser timer", "kernel timer"])
def timer(request, monkeypatch):
    """Both ways of keeping time: ipywidgets 8's Play in the browser, and the kernel's loop
    (what ipywidgets 7.7.1 needs; forced here under ipywidgets 8 too, so both paths run)."""
    from attention_course.widgets import stepper as module
    loop = FakeLoop()
    monkeypatch.setattr(module, "call_later", loop)
    kernel = request.param == "kernel timer"
    if not kernel and module.KERNEL_TIMER:
        pytest.skip("ipywidgets 7's Play does not start when the kernel sets _playing")
    monkeypatch.setattr(module, "KERNEL_TIMER", kernel)
    return loop if kernel else None


def test_play_is_a_labelled_button_and_next_stops_it(timer):
    stepper = DecodingStepper(SENTENCE, model="bahdanau", beam_size=3, interval_ms=700)
    play = stepper.play
    assert play.layout.display == "none"             # the Play widget only keeps time
    assert stepper.play_button.description == "▶ play" and not stepper.play_button.disabled
    stepper.go(stepper.n_steps - 1)
    stepper.play_button.click()                      # from the end: starts again from step 1
    assert stepper.playing and stepper.step == 0
    assert stepper.play_button.description == "❚❚ stop" and stepper.play_button.tooltip == "stop playing"
    if timer is None:                                # the browser plays: Play -> slider (jslink)
        assert play.playing
        play.value = 2
        stepper.slider.value = 2
    else:                                            # the kernel plays, one step per interval
        assert [timer.run_one() for _ in range(2)] == [0.7, 0.7]
    assert stepper.playing and stepper.step == 2
    stepper.next_button.click()                      # next stops playback, as in the page
    assert not stepper.playing and stepper.step == 3 and stepper.play_button.description == "▶ play"
    assert timer is None or timer.calls == []
    for stop in (lambda: stepper.prev_button.click(), lambda: stepper.play_button.click(),
                 lambda: setattr(stepper.text_box, "value", "I like red cars.")):
        stepper.play_button.click()
        assert stepper.playing
        stop()
        assert not stepper.playing and stepper.play_button.description == "▶ play"
        assert timer is None or timer.calls == []
    # Playback ends at the last step by itself: the label follows.
    stepper.play_button.click()
    if timer is None:
        play.playing = False                         # what the front end sends at the end
    else:
        while timer.calls:
            timer.run_one()
        assert stepper.step == stepper.n_steps - 1
    assert not stepper.playing and stepper.play_button.description == "▶ play"
    stepper.text_box.value = ""                      # nothing to play
    assert stepper.play_button.disabled


def test_kernel_timer_plays_on_a_running_event_loop(monkeypatch):
    """The kernel's loop is an asyncio loop (ipykernel 6): playback advances on it by itself."""
    import asyncio

    from attention_course.widgets import stepper as module
    monkeypatch.setattr(module, "KERNEL_TIMER", True)

    async def main():
        stepper = DecodingStepper(SENTENCE, model="bahdanau", interval_ms=30)
        stepper.play_button.click()
        for _ in range(200):
            await asyncio.sleep(0.01)
            if stepper.step >= 3:
                break
        reached = stepper.step
        stepper.next_button.click()
        stopped_at = stepper.step
        await asyncio.sleep(0.15)
        return reached, stopped_at, stepper.step, stepper.playing

    reached, stopped_at, later, playing = _in_a_fresh_thread(lambda: asyncio.run(main()))
    assert reached >= 3 and stopped_at == reached + 1 and later == stopped_at and not playing


def test_kernel_timer_outside_a_loop_does_nothing():
    """Without a running event loop (a script), playing schedules nothing and raises nothing."""
    from attention_course.widgets.stepper import call_later
    assert _in_a_fresh_thread(lambda: call_later(0.1, lambda: None)) is None


def _in_a_fresh_thread(fn):
    """``fn()`` in a new thread, where no event loop runs: in this one the browser tests'
    Playwright session (sync API, session-scoped) keeps a loop running once it has started."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(fn).result()


def test_explorer_labels_and_layout():
    explorer = _explorer()
    for w in [explorer.text_box, *explorer.model_menus, *explorer.word_menus]:
        assert _em(w.style.description_width) >= 0.55 * len(w.description) + 0.8, w.description
    assert explorer.word_menus[0].description == "French word"
    for menu in explorer.model_menus + explorer.word_menus:
        assert menu.layout.flex == "0 0 auto"
    # A long sentence scrolls inside its panel; the French words (row labels) stay in view.
    css = re.sub(r"\s+", " ", explorer.html)
    sticky = re.search(r"\.ac-heat tbody th \{([^}]*)\}", css)
    assert sticky and "position: sticky" in sticky.group(1) and "left: 0" in sticky.group(1)
    assert "background" in sticky.group(1)
    assert re.search(r"\.ac-panel \{[^}]*overflow-x: auto", css)


def test_explorer_keeps_each_panels_selection_when_a_model_changes():
    loader = CountingLoader(pretrained.load)
    explorer = AttentionExplorer(SENTENCE, models=("bahdanau", "luong-dot"), loader=loader,
                                 choices=pretrained.available())
    assert len(loader.calls) == 2
    explorer.select(0, 2)
    explorer.select(1, 4)
    explorer.model_menus[1].value = "luong-general"
    assert len(loader.calls) == 3 and loader.calls[-1][0] == "luong-general"   # only that panel
    assert explorer.selected == [2, 4]
    left, right = parse(explorer.html)[0].find_all("ac-heat")
    assert "ac-sel" in left.find(tag="tbody").find_all(tag="tr")[2].classes
    assert "ac-sel" in right.find(tag="tbody").find_all(tag="tr")[4].classes
    assert explorer.html == explorer_html(*explorer.translations, titles=["bahdanau", "luong-general"],
                                          selected=[2, 4])
    explorer.model_menus[0].value = "seq2seq"        # no attention: nothing to select there
    assert explorer.selected == [None, 4]
    explorer.model_menus[0].value = "bahdanau"
    assert explorer.selected == [None, 4]
    explorer.select(0, 1)
    explorer.text_box.value = "I like red cars."     # a new sentence: new words, no selection
    assert explorer.selected == [None, None]


# ---- a Transformer's attention heads (issue 15) -------------------------------------------------

needs_transformer = pytest.mark.skipif("transformer" not in pretrained.available(),
                                       reason="the transformer checkpoint is not shipped")


def meta(html: str) -> str:
    """A step's line of model, search and (for a Transformer) which weights it shows."""
    return parse(html)[0].find("ac-meta").text


def cell_text(a: float) -> str:
    """A heatmap cell's text: two decimals without the 0, "1" from 0.995, empty below 0.005."""
    return "1" if a >= 0.995 else (f"{a:.2f}"[1:] if a >= 0.005 else "")


@needs_transformer
@pytest.mark.parametrize("beam_size", [1, 3])
def test_the_stepper_shows_the_head_mean_or_one_head_of_a_transformer(beam_size):
    """The heads menu switches a step's weights over the source between the mean of the last
    layer's heads (what the search recorded, the default) and one head: exactly
    ``head_attention``'s weights for the prefix of the hypothesis shown (the best beam's, which
    need not be a prefix of the final output). Only the weights change, and nothing is decoded again."""
    loader = CountingLoader(pretrained.load)
    stepper = DecodingStepper(SENTENCE, model="transformer", beam_size=beam_size, loader=loader,
                              models=["transformer", "bahdanau"])
    tr = pretrained.load("transformer")
    heads = head_count(tr)
    assert heads > 1 and stepper.heads == heads
    assert list(stepper.heads_menu.options) == [(f"mean of {heads}", -1)] + [(f"head {h + 1}", h) for h in range(heads)]
    assert stepper.heads_menu.layout.display != "none" and stepper.head is None
    t = stepper.translation
    assert t.text == tr.translate(SENTENCE, beam_size=beam_size).text
    search = "greedy" if beam_size == 1 else f"beam {beam_size}"
    for n, step in enumerate(t.steps):
        stepper.go(n)
        best = step.hypotheses[0]
        every = head_attention(tr, t.source_tokens, best.tokens)[-1, :, -1]       # heads x source words
        np.testing.assert_allclose(every.mean(0), best.attention, atol=1e-5)    # the mean is what was recorded
        stepper.show_head(None)
        assert stepper.weights == [float(a) for a in best.attention]
        shown = check_step(stepper.html, step, t.source_tokens, beam_size > 1, n, len(t.steps))
        assert meta(stepper.html) == f"transformer · {search} · mean of the {heads} heads (last layer)"
        assert stepper.state["head"] is None
        for h in range(heads):
            stepper.heads_menu.value = h                                         # as a reader picks it
            assert stepper.head == h and stepper.state["head"] == h
            np.testing.assert_array_equal(stepper.weights, every[h])
            shown = shown_step(stepper.html)
            assert shown["weights"] == [fmt(a) for a in every[h]]
            assert shown["focus"] == int(np.argmax(every[h])) == stepper.state["focus"] and shown["n_focus"] == 1
            want = expected(step, beam_size > 1)
            assert (shown["prefix"], shown["next"], shown["topk"], shown["beams"]) == \
                (want["prefix"], want["next"], want["topk"], want["beams"])
            assert meta(stepper.html) == f"transformer · {search} · head {h + 1} of {heads} (last layer)"
    assert len(loader.calls) == 1


@needs_transformer
def test_models_without_heads_hide_the_heads_menu():
    stepper = DecodingStepper("I like red cars.", model="transformer")
    stepper.show_head(1)
    others = [m for m in pretrained.available() if m != "transformer"]
    assert {"bahdanau", "seq2seq"} <= set(others)
    for model in others:
        stepper.model_menu.value = model
        assert stepper.error is None, stepper.error
        assert stepper.heads is None and stepper.head is None and stepper.state["head"] is None
        assert stepper.heads_menu.layout.display == "none"
        assert meta(stepper.html) == f"{model} · greedy"
        with pytest.raises(ValueError, match="no heads"):
            stepper.show_head(0)
        attention = stepper.translation.steps[0].hypotheses[0].attention
        assert stepper.weights == (None if attention is None else [float(a) for a in attention])
    stepper.model_menu.value = "transformer"
    assert stepper.heads_menu.layout.display != "none" and stepper.head is None     # back to the mean
    with pytest.raises(ValueError, match=f"from 0 to {stepper.heads - 1}"):
        stepper.show_head(stepper.heads)


@needs_transformer
def test_the_explorer_shows_the_head_mean_or_one_head_of_a_transformer():
    explorer = AttentionExplorer(SENTENCE, models=("bahdanau", "transformer"))
    tr = pretrained.load("transformer")
    heads = head_count(tr)
    left, t = explorer.translations
    assert explorer.heads == [None, heads] and explorer.shown_heads == [None, None]
    assert [m.layout.visibility for m in explorer.head_menus] == ["hidden", "visible"]
    assert explorer.head_row.layout.display != "none"
    every = head_attention(tr, t.source_tokens, t.raw_tokens)[-1]             # heads x (words + </s>) x source
    np.testing.assert_allclose(every.mean(0)[: len(t.target_tokens)], t.attention, atol=1e-5)

    def panels():
        root = assert_only_our_markup(explorer.html)
        return [(p.find("ac-panel-title").text,
                 [[td.text for td in r.find_all(tag="td")] for r in p.find(tag="tbody").find_all(tag="tr")])
                for p in root.find_all("ac-panel")]

    bahdanau_panel = (["bahdanau"], [[cell_text(a) for a in row] for row in left.attention])
    (title0, cells0), (title1, cells1) = panels()
    assert ([title0], cells0) == bahdanau_panel
    assert title1 == "transformer" and cells1 == [[cell_text(a) for a in row] for row in t.attention]
    explorer.select(1, 2)
    for h in range(heads):
        explorer.head_menus[1].value = h
        assert explorer.shown_heads == [None, h] and explorer.selected == [None, 2]
        np.testing.assert_array_equal(explorer.attention[1], every[h, : len(t.target_tokens)])
        (title0, cells0), (title1, cells1) = panels()
        assert ([title0], cells0) == bahdanau_panel
        assert title1 == f"transformer · head {h + 1} of {heads}"
        assert cells1 == [[cell_text(a) for a in row] for row in every[h, : len(t.target_tokens)]]
        focus = int(np.argmax(every[h, 2]))
        looks = parse(explorer.html)[0].find("ac-looks").text
        assert looks.startswith(f"«{t.target_tokens[2]}» looks at: {t.source_tokens[focus]} ")
    explorer.show_head(1, None)
    assert panels()[1][0] == "transformer"
    explorer.model_menus[1].value = "luong-dot"                   # no heads: the row goes away
    assert explorer.heads == [None, None] and explorer.head_row.layout.display == "none"
    with pytest.raises(ValueError, match="no heads"):
        explorer.show_head(1, 0)
