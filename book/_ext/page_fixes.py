"""Sphinx extension: small fixes to the pages Jupyter Book 1.x writes.

Enabled in _config.yml (sphinx.local_extensions). tests/test_browser.py fails on the errors
these fixes remove, so a fix that stops working shows up there.

1. Each inline <script> is written once. Sphinx 7 (the version Jupyter Book 1.x requires) writes
   an inline script registered after the builder started twice, and the second copy of
   sphinx-thebe's ``const THEBE_JS_URL`` is a SyntaxError on every page. Fixed in Sphinx 8.2
   (sphinx-doc/sphinx#13402).
2. On pages with widgets, a script between require.js and the widget manager:
   - tells require.js where the modules bundled in the widget manager come from, so that the
     fonts their CSS names load from the CDN folder beside it (by default require.js resolves
     them against the page, and they 404);
   - gives MathJax 3 the one MathJax 2 call (``MathJax.Hub.Queue(["Typeset", ...])``) that
     ipywidgets 8's controls make to typeset a widget's description; without it every labelled
     widget throws "Cannot read properties of undefined (reading 'Queue')".
"""

from __future__ import annotations

import json

from sphinx.builders.html._assets import _JavaScript

WIDGET_MANAGER = "/dist/embed-amd.js"  # the html-manager bundle in nb_ipywidgets_js

WIDGET_FIXES_JS = """
requirejs.config({paths: {
  "@jupyter-widgets/base": %(dist)s + "/base",
  "@jupyter-widgets/controls": %(dist)s + "/controls",
  "@jupyter-widgets/html-manager": %(dist)s + "/html-manager",
  "@jupyter-widgets/html-manager/dist": %(dist)s
}});
document.addEventListener("DOMContentLoaded", function () {
  var mj = window.MathJax;
  if (!mj || mj.Hub || !mj.startup || !mj.startup.promise) return;  // not MathJax 3
  mj.Hub = {Queue: function () {
    var nodes = Array.prototype.slice.call(arguments)
      .filter(function (c) { return Array.isArray(c) && c[0] === "Typeset" && c[2]; })
      .map(function (c) { return c[2]; });
    if (nodes.length) {
      mj.startup.promise = mj.startup.promise.then(function () {
        return mj.typesetPromise(nodes);
      });
    }
  }};
});
"""


def _key(script) -> tuple:
    if isinstance(script, str):
        return (script, ())
    attributes = tuple(sorted((k, str(v)) for k, v in getattr(script, "attributes", {}).items()))
    return (getattr(script, "filename", None) or "", attributes)


def _fix_scripts(app, pagename, templatename, context, doctree):
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, unique = set(), []
    for script in scripts:
        key = _key(script)
        if key not in seen:
            seen.add(key)
            unique.append(script)
    names = [getattr(s, "filename", None) or "" for s in unique]
    manager = next((i for i, n in enumerate(names) if n.endswith(WIDGET_MANAGER)), None)
    if manager is not None:
        dist = names[manager][: -len("/embed-amd.js")]
        unique.insert(manager, _JavaScript(
            "", body=WIDGET_FIXES_JS % {"dist": json.dumps(dist)},
            priority=getattr(unique[manager], "priority", 500)))
    context["script_files"] = unique


def setup(app):
    app.connect("html-page-context", _fix_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
