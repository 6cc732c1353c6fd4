"""Turn MyST ``{dropdown}`` solutions into HTML ``<details>`` blocks in every chapter.

A MyST dropdown is folded only in the built book: Jupyter and Colab do not know the directive
and show the solution as plain text right under the exercise. ``<details>`` is folded
everywhere (Jupyter, Colab, GitHub and the book).

    python scripts/solutions_to_details.py            # rewrite chapters/*.ipynb
    python scripts/solutions_to_details.py --check    # exit 1 if a dropdown is left
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
# ````{dropdown} Title\n body \n````  (any fence of 3+ backticks or colons)
DROPDOWN = re.compile(r"^(?P<fence>`{3,}|:{3,})\{dropdown\}[ \t]*(?P<title>[^\n]*)\n(?P<body>.*?)\n(?P=fence)[ \t]*$",
                      flags=re.S | re.M)


def to_details(text: str) -> str:
    def repl(m: re.Match) -> str:
        body = "\n".join(line for line in m["body"].splitlines() if not line.startswith(":")
                         or not re.match(r":\w+:", line))   # drop directive options (:open: ...)
        title = m["title"].strip() or "Solution"
        return f"<details>\n<summary>{title}</summary>\n\n{body.strip(chr(10)).rstrip()}\n\n</details>"  # keeps an indented code block
    return DROPDOWN.sub(repl, text)


def main(argv: list[str]) -> int:
    check = "--check" in argv
    left = 0
    for path in sorted((ROOT / "chapters").glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        changed = False
        for cell in nb.cells:
            if cell.cell_type == "markdown" and "{dropdown}" in cell.source:
                new = to_details(cell.source)
                left += "{dropdown}" in new or check
                changed |= new != cell.source
                cell.source = new
        if changed and not check:
            nbformat.write(nb, path)
            print(f"{path.name}: solutions folded with <details>")
    return 1 if check and left else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
