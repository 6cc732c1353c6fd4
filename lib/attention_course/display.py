"""Show the package's real code in the book, next to the equation it implements.

The chapters store the output of :func:`show_source` and nbval compares it on every test run,
so the HTML must not depend on how a particular Pygments release renders code (Pygments 2.21
changed its HTML escaping of ``"`` and broke every stored listing). Here Pygments only *lexes*:
its tokens are folded into a handful of classes that every release since 2.0 agrees on,
neighbouring tokens of one class are merged (releases split whitespace and strings
differently), and the HTML, its escaping and its stylesheet are written by this module.
"""
from __future__ import annotations

import inspect

from pygments.lexers import PythonLexer
from pygments.token import Comment, Keyword, Name, Number, String, Token

# Token type -> CSS class; the first entry that contains a token's type wins, anything else is
# plain text. Kept coarse on purpose: finer types (String.Affix, Name.Builtin.Pseudo, ...) are
# where lexer releases disagree.
_CLASSES = (
    (Comment, "c"),
    (String, "s"),
    (Number, "m"),
    (Keyword, "k"),
    (Name.Builtin, "b"),
    (Name.Decorator, "d"),
    (Name.Function, "f"),
    (Name.Class, "f"),
)
_STYLE = (
    ".ac-src{background:#f8f8f8;border-left:3px solid #c0c7d0;padding:.5em .8em;margin:0;"
    "line-height:1.35;font-size:.85em;white-space:pre-wrap;overflow-wrap:anywhere}"
    ".ac-src .c{color:#3d7b7b;font-style:italic}.ac-src .s{color:#ba2121}"
    ".ac-src .m{color:#666}.ac-src .k{color:#008000;font-weight:bold}"
    ".ac-src .b{color:#008000}.ac-src .d{color:#aa22ff}.ac-src .f{color:#0000ff}"
)
_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}


def _css_class(ttype) -> str:
    for parent, name in _CLASSES:
        if ttype in parent:
            return name
    return ""


def _escape(text: str) -> str:
    """Escape for an HTML text node: ``&``, ``<`` and ``>`` only, whatever Pygments does."""
    return "".join(_ESCAPES.get(ch, ch) for ch in text)


def highlight_python(code: str) -> str:
    """``code`` as a self-contained HTML block, identical for every Pygments release.

    Each character gets the class of the token it is in; white space takes the class of the
    characters on both sides when they agree and none otherwise, so it does not matter whether
    a release puts a space inside a token or next to it.
    """
    tokens = list(PythonLexer(stripnl=False, ensurenl=False).get_tokens(code))
    text = "".join(t for _, t in tokens)
    classes = [cls for ttype, t in tokens for cls in [_css_class(ttype)] * len(t)]
    solid = [k for k, ch in enumerate(text) if not ch.isspace()]
    for a, b in zip(solid, solid[1:]):
        fill = classes[a] if classes[a] == classes[b] else ""
        for k in range(a + 1, b):
            classes[k] = fill
    for k in range(len(text)):
        if not solid or k < solid[0] or k > solid[-1]:
            classes[k] = ""
    html, k = [], 0
    while k < len(text):
        j = k
        while j < len(text) and classes[j] == classes[k]:
            j += 1
        piece = _escape(text[k:j])
        html.append(f'<span class="{classes[k]}">{piece}</span>' if classes[k] else piece)
        k = j
    body = "".join(html).rstrip()
    return f"<style>{_STYLE}</style><pre class=\"ac-src\">{body}</pre>"


class Source:
    """A piece of source code that notebooks display as highlighted HTML, plain text elsewhere."""

    def __init__(self, code: str):
        self.code = code

    def __repr__(self) -> str:
        return self.code

    def _repr_html_(self) -> str:
        return highlight_python(self.code)


def show_source(obj, start: str | None = None, end: str | None = None) -> Source:
    """The source of ``obj`` (a function, class or method), highlighted.

    ``start``/``end`` optionally cut it to the lines from the first containing
    ``start`` to the first after it containing ``end`` (both included), so a
    chapter can show one method of a class without copying it.
    """
    lines = inspect.getsource(obj).splitlines()
    if start is not None:
        i = next((k for k, line in enumerate(lines) if start in line), None)
        if i is None:
            raise ValueError(f"{start!r} is not in the source of {obj!r}")
        j = len(lines) - 1 if end is None else next(k for k, line in enumerate(lines) if k >= i and end in line)
        lines = lines[i: j + 1]
    indent = min(len(x) - len(x.lstrip()) for x in lines if x.strip())
    return Source("\n".join(x[indent:] for x in lines))
