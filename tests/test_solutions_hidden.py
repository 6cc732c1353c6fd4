"""Exercise solutions stay folded until the reader asks, in Jupyter and Colab as in the book.

MyST's ``{dropdown}`` only folds in the built book; Jupyter and Colab print it as plain text
right under the exercise. Solutions are HTML ``<details>`` blocks instead
(``python scripts/solutions_to_details.py`` converts them).
"""
from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

CHAPTERS = sorted((Path(__file__).resolve().parents[1] / "chapters").glob("*.ipynb"))


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_solutions_are_folded_everywhere(path):
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        assert "{dropdown}" not in cell.source, f"{path.name}: a MyST dropdown shows its solution in Jupyter"
        opened = len(re.findall(r"^<details>", cell.source, flags=re.M))
        closed = len(re.findall(r"^</details>", cell.source, flags=re.M))
        assert opened == closed, f"{path.name}: unbalanced <details> in cell {cell.get('id')}"
        # A solution (a code block after a "Solution" label) is inside <details>.
        for m in re.finditer(r"Solution", cell.source):
            before = cell.source[:m.start()]
            assert before.count("<details>") > before.count("</details>"), \
                f"{path.name}: 'Solution' outside <details> in cell {cell.get('id')}"
