"""The code of a folded solution in a chapter, to run it against its exercise's check."""
from __future__ import annotations

import re
import textwrap

import nbformat


def solution_code(chapter, marker: str) -> str:
    """The code of the ``<details>`` solution of ``chapter`` (a path) that contains ``marker``:
    its fenced ```python block, or else its indented code lines (prose lines dropped)."""
    nb = nbformat.read(chapter, as_version=4)
    solution = next(c.source for c in nb.cells if c.cell_type == "markdown"
                    and marker in c.source and "Solution" in c.source)
    body = solution.split("</summary>", 1)[1].split("</details>", 1)[0]
    fenced = re.search(r"```python\n(.*?)```", body, re.S)
    if fenced:
        return fenced.group(1)
    code = "\n".join(line for line in body.splitlines() if line.startswith("    ") or not line.strip())
    return textwrap.dedent(code.strip("\n"))
