"""Sphinx extension: the attention explorer, two shipped models' attention in the page (issue 13).

A page includes it with the directive (in a notebook, a Markdown cell holding just this)::

    ```{attention-explorer}
    :left: bahdanau
    :right: luong-dot
    :text: The little girl is reading a book in the garden.
    ```

Options (all optional): ``:left:`` and ``:right:`` the two models shown at first (default
``bahdanau`` and ``luong-dot``), ``:models:`` which models the menus offer (comma-separated;
default: every model that runs in the page), ``:text:`` the sentence in the box at first.

The explorer is the in-page counterpart of ``AttentionExplorer`` (attention_course.widgets),
built on the live translator's runtime: the directive writes an empty container with its
settings (``attention_course.web.live_explorer_html``) and marks the page as one of the live
translator's pages, so the page gets the same scripts (``explorer.js`` after ``stepper.js``,
whose model loading it reuses) and the build writes the same ``_static/ac-live/`` folder
(ONNX Runtime Web and the exported models: see ``live_translator.py``).
"""

from __future__ import annotations

from docutils import nodes
from docutils.parsers.rst import directives
from sphinx.util.docutils import SphinxDirective

import live_translator


class AttentionExplorerDirective(SphinxDirective):
    has_content = False
    option_spec = {"left": directives.unchanged, "right": directives.unchanged,
                   "models": directives.unchanged, "text": directives.unchanged}

    def run(self):
        from attention_course.web import live_explorer_html

        models = [m.strip() for m in self.options.get("models", "").split(",") if m.strip()] or None
        try:
            html = live_explorer_html(models=models, left=self.options.get("left") or None,
                                      right=self.options.get("right") or None, text=self.options.get("text"))
        except ValueError as e:
            raise self.error(f"attention-explorer: {e}") from None
        live_translator._pages(self.env).add(self.env.docname)
        return [nodes.raw("", html, format="html")]


def setup(app):
    app.setup_extension("live_translator")   # its page list, scripts and _static/ac-live
    app.add_directive("attention-explorer", AttentionExplorerDirective)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "env_version": 1}
