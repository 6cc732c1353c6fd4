"""The online book's widgets (``attention_course.web``), outside the in-page translator's own
tests (``tests/test_browser_translator.py``, ``tests/test_browser_explorer.py``):

* the settings the markup embeds for ``stepper.js`` and ``explorer.js`` are JSON in which no
  string (a chapter's sentence, say) can end the ``<script>`` element and become markup
  (:func:`attention_course.web.safe_json`);
* the built book's decoding chapter (``chapters/05_decoding``) runs the live translator and
  shows no ipywidgets control that does nothing without a kernel (marked ``browser``: it reads
  the built book in headless Chromium; skipped without Chromium unless CI is set).
"""
from __future__ import annotations

import json
import re

import pytest

from attention_course.web import live_html, safe_json

from conftest import page_source


def test_safe_json_escapes_what_could_close_a_script():
    text = safe_json({"a": "</script><!-- & -->", "b": ["<", ">", "&", "\u2028"]})
    assert not set("<>&") & set(text) and "\u2028" not in text
    assert json.loads(text) == {"a": "</script><!-- & -->", "b": ["<", ">", "&", "\u2028"]}


def test_the_live_translators_settings_cannot_end_their_script():
    hostile = "</script><script>alert(1)</script> & <!-- \u2028"
    html = live_html(text=hostile)
    assert html.count("<script") == 1
    payload = re.search(r'class="ac-live-config">(.*?)</script>', html, flags=re.S).group(1)
    assert not set("<>&") & set(payload) and "\u2028" not in payload
    assert json.loads(payload)["text"] == hostile


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


# Every page of the book: where a chapter has an interactive widget, it is the in-page one.
IN_PAGE = {"chapters/04_luong": ".ac-live-explorer", "chapters/05_decoding": ".ac-live"}
DEAD_CONTROLS = ".widget-text, .widget-button, .widget-dropdown, .widget-slider, .widget-play, .widget-toggle-buttons"


@pytest.mark.browser
def test_no_page_shows_a_widget_control_that_needs_a_kernel(toc_page, browser_page):
    """The ipywidgets cells are hidden from the online book (``remove-cell``); their in-page
    counterparts (the live translator in 05, the attention explorer in 04) stand in their place."""
    view = browser_page(f"{toc_page}.html")
    dead = view.page.locator(f"article {DEAD_CONTROLS}").count()
    assert dead == 0, f"{toc_page} shows {dead} ipywidgets control(s) that do nothing without a kernel"
    if toc_page in IN_PAGE:
        assert view.page.locator(IN_PAGE[toc_page]).count() == 1, f"{toc_page} lost its in-page widget"
