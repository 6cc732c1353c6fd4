"""Sphinx extension: the live translator, the shipped models running in the page (issue 13).

A page includes it with the directive (in a notebook, a Markdown cell holding just this)::

    ```{live-translator}
    ```

Options (all optional): ``:model:`` the model selected at first (default ``bahdanau``),
``:models:`` which models the menu offers (comma-separated; default: every shipped model),
``:text:`` the sentence in the box at first, ``:beam:`` 1 for greedy (default) or a beam size,
``:head:`` for a model with attention heads (the Transformer), the attention shown at first:
``mean`` (default: the mean over the last layer's heads) or a head of the last layer, from 1
(the reader switches with the stepper's "Attention" menu, shown for such models)::

    ```{live-translator}
    :model: transformer
    :head: 2
    ```

The directive writes an empty container with its settings (``attention_course.web.live_html``)
and the page gets ``stepper.js`` and its helpers (nothing else on pages without it). When the
HTML build finishes, and only if some page uses the directive, ``attention_course.web.write_site``
writes ``_static/ac-live/``: the scripts and styles, ONNX Runtime Web (copied from the npm package
installed once into ``$ATTENTION_COURSE_WEB_ASSETS``, default ``~/.cache/attention-course-web``,
and hash-checked; no CDN at run time) and every model exported to ONNX (cached between builds in
``$ATTENTION_COURSE_ONNX_CACHE``, default ``~/.cache/attention-course-onnx``).
"""

from __future__ import annotations

from pathlib import Path

from docutils import nodes
from docutils.parsers.rst import directives
from sphinx.errors import ExtensionError
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

logger = logging.getLogger(__name__)
STATIC = "ac-live"   # the folder under _static/


def _pages(env) -> set:
    if not hasattr(env, "ac_live_pages"):
        env.ac_live_pages = set()
    return env.ac_live_pages


class LiveTranslator(SphinxDirective):
    has_content = False
    option_spec = {"model": directives.unchanged, "models": directives.unchanged,
                   "text": directives.unchanged, "beam": directives.positive_int, "head": directives.unchanged}

    def run(self):
        from attention_course.web import DEFAULT_TEXT, live_html

        models = [m.strip() for m in self.options.get("models", "").split(",") if m.strip()] or None
        try:
            html = live_html(models=models, model=self.options.get("model") or None,
                             text=self.options.get("text", DEFAULT_TEXT), beam=self.options.get("beam", 1),
                             head=(self.options.get("head") or "mean").strip())
        except ValueError as e:
            raise self.error(f"live-translator: {e}") from None
        _pages(self.env).add(self.env.docname)
        return [nodes.raw("", html, format="html")]


def _purge(app, env, docname):
    _pages(env).discard(docname)


def _merge(app, env, docnames, other):
    _pages(env).update(_pages(other) & set(docnames))


def _assets(app, pagename, templatename, context, doctree):
    if pagename not in _pages(app.env):
        return
    from attention_course.web import CSS_FILES, JS_FILES

    for name in ("widgets.css",) + CSS_FILES:
        app.add_css_file(f"{STATIC}/{name}")
    for name in JS_FILES:
        app.add_js_file(f"{STATIC}/{name}")


def _write_site(app, exception):
    if exception is not None or app.builder.format != "html" or not _pages(app.env):
        return
    from attention_course.web import WebAssetsError, write_site

    out = Path(app.outdir) / "_static" / STATIC
    try:
        listing = write_site(out, log=lambda msg: logger.info(f"live translator: {msg}"))
    except (WebAssetsError, OSError, ValueError) as e:
        raise ExtensionError(f"live translator: could not write {out}: {e}") from e
    logger.info(f"live translator: {len(listing['models'])} models and ONNX Runtime Web {listing['ort']} in {out}")


def setup(app):
    app.add_directive("live-translator", LiveTranslator)
    app.connect("env-purge-doc", _purge)
    app.connect("env-merge-info", _merge)
    app.connect("html-page-context", _assets)
    app.connect("build-finished", _write_site)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "env_version": 1}
