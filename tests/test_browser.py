"""Every page of the built book, read in headless Chromium as a reader would.

For each page in ``_toc.yml``: no JavaScript error (uncaught exceptions and console errors),
no request to an outside host other than the CDNs (answered from local copies, see
``tests/conftest.py``), every equation typeset by MathJax, every image loaded, at least as many
figures as the notebook has image outputs, and the widgets drawn where the notebook has some.

Needs Chromium (``apt-get install chromium``), the Python package ``playwright`` and npm; the
tests are skipped without them, except when ``CI`` is set. Run only these with
``python -m pytest -m browser``.
"""

from __future__ import annotations

import nbformat
import pytest

pytestmark = pytest.mark.browser

IMAGE_MIMES = {"image/png", "image/jpeg", "image/gif", "image/svg+xml"}
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
# myst-nb's default HTML render priority: the first mime type present is the one shown.
RENDER_PRIORITY = [WIDGET_MIME, "application/javascript", "text/html", "image/svg+xml",
                   "image/png", "image/gif", "image/jpeg", "text/markdown", "text/latex",
                   "text/plain"]
REMOVED = {"remove-output", "remove_output", "remove-cell", "remove_cell"}


def _shown_mimes(nb) -> list[str]:
    """The mime type the book shows for each rich output of a notebook."""
    has_widget_state = bool(nb.metadata.get("widgets", {})
                            .get("application/vnd.jupyter.widget-state+json"))
    shown = []
    for cell in nb.cells:
        if cell.cell_type != "code" or REMOVED & set(cell.get("metadata", {}).get("tags", [])):
            continue
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            for mime in RENDER_PRIORITY:
                if mime == WIDGET_MIME and not has_widget_state:
                    continue
                if mime in data:
                    shown.append(mime)
                    break
    return shown


def test_page_reads_cleanly(toc_page, book_root, browser_page):
    view = browser_page(f"{toc_page}.html")
    page = view.page
    mathjax_started = view.wait_for_mathjax()
    problems = view.problems()

    # Equations: every span/div.math holds MathJax output, and none is a TeX error.
    math = page.evaluate("""() => {
        const nodes = [...document.querySelectorAll('.math')];
        return {
            total: nodes.length,
            raw: nodes.filter(n => !n.querySelector('mjx-container'))
                      .map(n => n.textContent.slice(0, 80)),
            containers: document.querySelectorAll('mjx-container').length,
            errors: [...document.querySelectorAll('mjx-merror')]
                      .map(n => n.getAttribute('data-mjx-error') || n.textContent),
        };
    }""")
    if math["total"]:
        if not mathjax_started:
            problems.append("the page has math but MathJax did not start")
        problems += [f"equation not typeset: {tex}" for tex in math["raw"]]
        problems += [f"TeX error: {err}" for err in math["errors"]]

    # Images: all loaded; at least one figure per image output of the notebook.
    images = page.evaluate("""() => [...document.querySelectorAll('main img')].map(img => ({
        src: img.getAttribute('src') || '', ok: img.complete && img.naturalWidth > 0,
        output: !!img.closest('.cell_output, .output')}))""")
    problems += [f"image did not load: {img['src'][:100]!r}" for img in images if not img["ok"]]
    source = book_root / f"{toc_page}.ipynb"
    if source.is_file():
        shown = _shown_mimes(nbformat.read(source, as_version=4))
        expected = sum(mime in IMAGE_MIMES for mime in shown)
        figures = sum(img["ok"] and bool(img["src"]) and img["output"] for img in images)
        if figures < expected:
            problems.append(f"{expected} image outputs in the notebook, {figures} figures shown")
        if WIDGET_MIME in shown:
            drawn = page.evaluate(
                "() => document.querySelectorAll('.jupyter-widgets, .widget-box, "
                ".widget-inline-hbox, .widget-html').length")
            if not drawn:
                problems.append("the notebook has widget outputs but no widget was drawn")

    assert not problems, f"{toc_page}:\n  " + "\n  ".join(problems)
