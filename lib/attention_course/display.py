"""Show the package's real code in the book, next to the equation it implements."""
from __future__ import annotations

import inspect

from IPython.display import Code


def show_source(obj, start: str | None = None, end: str | None = None) -> Code:
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
    return Code("\n".join(x[indent:] for x in lines), language="python")
