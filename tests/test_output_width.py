"""Printed outputs fit the online book's column: no stored text line wider than COLUMN_CHARS.

The book's code column holds ``COLUMN_CHARS`` monospace characters (measured in Chromium by
``tests/test_layout.py``). A printed table wider than that wraps in the page and its columns no
longer line up, so every line a chapter prints (streams and plain-text results, not HTML or
images, which have their own checks) must fit. Source code may wrap (the stylesheet wraps it
readably); printed tables and results are formatted to fit where they are printed.
"""
from __future__ import annotations

import nbformat
import pytest

from attention_course.notebook import COLUMN_CHARS
from conftest import BOOK_ROOT


def _printed_lines(cell):
    for output in cell.get("outputs", []):
        if output.output_type == "stream":
            yield from output.text.splitlines()
        elif output.output_type in ("execute_result", "display_data"):
            data = output.get("data", {})
            if "text/plain" in data and not any(k.startswith(("text/html", "image/", "application/"))
                                                for k in data):
                yield from data["text/plain"].splitlines()
        elif output.output_type == "error":
            yield from output.get("traceback", [])


def wide_lines(notebook) -> list[str]:
    """Every printed line (of a cell the book shows) wider than the column, with its cell number."""
    wide = []
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type != "code" or "remove-cell" in cell.metadata.get("tags", []):
            continue
        for line in _printed_lines(cell):
            if len(line) > COLUMN_CHARS:
                wide.append(f"cell {index} ({len(line)} characters): {line[:COLUMN_CHARS]}…")
    return wide


def test_printed_lines_fit_the_column(toc_chapter):
    notebook = nbformat.read(BOOK_ROOT / f"{toc_chapter}.ipynb", as_version=4)
    wide = wide_lines(notebook)
    assert not wide, f"{toc_chapter}: {len(wide)} printed lines wider than {COLUMN_CHARS}:\n" + "\n".join(wide)


def test_the_check_sees_a_wide_line():
    """The check itself: a 79-character printed line is found, a 78-character one is not."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("print(...)", outputs=[
        nbformat.v4.new_output("stream", name="stdout", text="x" * COLUMN_CHARS + "\n" + "y" * (COLUMN_CHARS + 1)),
        nbformat.v4.new_output("execute_result", data={"text/plain": "z" * (COLUMN_CHARS + 5)}, execution_count=1)]),
        nbformat.v4.new_code_cell("hidden", metadata={"tags": ["remove-cell"]}, outputs=[
            nbformat.v4.new_output("stream", name="stdout", text="w" * 200)])]
    assert [line.split(" (")[0] for line in wide_lines(nb)] == ["cell 0", "cell 0"]
