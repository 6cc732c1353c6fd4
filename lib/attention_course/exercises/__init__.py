"""Exercises with check cells that can really fail, and solutions to reveal.

In a chapter the reader writes an answer, then runs ``check("1.2", answer)``:
``None`` (not attempted yet) prints a reminder, a right answer prints a
confirmation, a wrong one raises an ``AssertionError`` that says what is wrong.
Each chapter's checks live in ``exercises/chNN.py`` and register themselves here.
"""
from __future__ import annotations

import textwrap
from collections.abc import Callable

from ..notebook import COLUMN_CHARS as WIDTH

_CHECKS: dict[str, Callable] = {}


def exercise(key: str):
    """Register a checker ``fn(answer) -> str | None`` (raise AssertionError when wrong)."""
    def register(fn: Callable) -> Callable:
        _CHECKS[key] = fn
        return fn
    return register


def check(key: str, answer) -> None:
    if key not in _CHECKS:
        _load_all()
    if key not in _CHECKS:
        raise KeyError(f"no exercise {key!r}")
    if answer is None:
        print(f"Exercise {key}: not answered yet. Replace None with your answer, run again.")
        return
    message = _CHECKS[key](answer)
    text = f"Exercise {key}: correct." + (f" {message}" if message else "")
    # wrapped to the book's code column, keeping the checker's own line breaks
    print("\n".join(textwrap.fill(line, WIDTH) if len(line) > WIDTH else line
                    for line in text.split("\n")))


def _load_all() -> None:
    import importlib
    import pkgutil
    for mod in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{mod.name}")


__all__ = ["check", "exercise"]
