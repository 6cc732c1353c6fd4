"""Write the Colab setup cell at the top of every chapter.

The repository address lives in one place, ``repository.url`` (and ``repository.branch``) in
``_config.yml``. This script derives the first cell of every ``chapters/*.ipynb`` from it: in
Colab the cell installs the course package, with its trained weights, from the repository;
anywhere else it does nothing and prints nothing.

Usage, from the repository root::

    python book/colab_setup.py            # (re)write the first cell of every chapter
    python book/colab_setup.py --check    # exit 1 if a chapter's first cell is out of date

A chapter whose first cell was missing gets one inserted, which shifts its execution counts:
re-execute that chapter afterwards (``jupyter-execute --inplace chapters/NN_name.ipynb``).
``tests/test_book_config.py`` imports this file to check that every chapter starts with
exactly :func:`setup_cell_source`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat
import yaml

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "_config.yml"
PACKAGE = "attention-course"  # the distribution name in pyproject.toml
CELL_ID = "colab-setup"
# How a setup cell is recognised when it is rewritten (also in older versions of the cell).
MARKER = '"google.colab" in sys.modules'


def repository(config_path: Path = CONFIG) -> tuple[str, str]:
    """Return ``(url, branch)`` from the ``repository`` section of ``_config.yml``."""
    config = yaml.safe_load(Path(config_path).read_text(encoding="utf-8"))
    repo = config.get("repository") or {}
    url = str(repo.get("url", "")).rstrip("/")
    if not url.startswith("https://github.com/"):
        raise ValueError(f"{config_path}: repository.url must be a GitHub address, got {url!r}")
    return url, str(repo.get("branch") or "main")


def setup_cell_source(config_path: Path = CONFIG) -> str:
    """The source of the first code cell of every chapter.

    In Colab it installs the package from the repository and stops the notebook with pip's own
    message if that fails (``%pip`` would only print it, and the next cell would then fail with
    a confusing ``ModuleNotFoundError``).
    """
    url, branch = repository(config_path)
    return (
        "import sys\n"
        f"if {MARKER}:  # only in Colab: install the course package with its trained weights\n"
        "    import subprocess\n"
        '    print("Installing the course package and its trained weights from GitHub...")\n'
        f'    pip = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "{PACKAGE} @ git+{url}@{branch}"],\n'
        "                         capture_output=True, text=True)\n"
        "    if pip.returncode != 0:\n"
        '        raise RuntimeError("Installing the course package failed; pip said:\\n" + pip.stderr[-3000:])\n'
        "    from google.colab import output\n"
        "    output.enable_custom_widget_manager()"
    )


# The online book does not show the setup cell (it does nothing outside Colab), and folds the
# chapter's import cell behind a toggle (a reader does not need to read it first).
HIDE_TAG = "remove-cell"
FOLD_TAG = "hide-input"


def fold_imports(nb) -> bool:
    """Tag the chapter's import cell (the first code cell after the setup cell) to be folded.

    Returns True if the notebook changed.
    """
    code = [c for c in nb.cells if c.get("cell_type") == "code" and not is_setup_cell(c)]
    if not code or not code[0].source.lstrip().startswith(("import ", "from ")):
        return False
    tags = code[0].setdefault("metadata", {}).setdefault("tags", [])
    if FOLD_TAG in tags:
        return False
    tags.append(FOLD_TAG)
    return True


def is_setup_cell(cell) -> bool:
    return cell.get("cell_type") == "code" and MARKER in "".join(cell.get("source", ""))


def update_notebook(path: Path, source: str, write: bool = True) -> str:
    """Make ``source`` the first cell of the notebook at ``path``.

    Returns ``"ok"`` (already up to date), ``"rewritten"`` (the old setup cell got the new
    source) or ``"inserted"`` (a new first cell; the notebook must be re-executed).
    """
    nb = nbformat.read(path, as_version=4)
    first = nb.cells[0] if nb.cells else None
    if first is not None and is_setup_cell(first):
        tags = first.setdefault("metadata", {}).setdefault("tags", [])
        folded = fold_imports(nb)
        if first.source == source and HIDE_TAG in tags and not folded:
            return "ok"
        if HIDE_TAG not in tags:
            tags.append(HIDE_TAG)
        first.source = source
        first.outputs = []  # outside Colab the cell prints nothing
        status = "rewritten"
    else:
        cell = nbformat.v4.new_code_cell(source, metadata={"tags": [HIDE_TAG]})
        if not any(c.get("id") == CELL_ID for c in nb.cells):
            cell.id = CELL_ID
        nb.cells.insert(0, cell)
        fold_imports(nb)
        status = "inserted"
    if write:
        nbformat.write(nb, path)
    return status


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path,
                        help="notebooks to update (default: chapters/*.ipynb)")
    parser.add_argument("--check", action="store_true",
                        help="change nothing; exit 1 if any first cell is out of date")
    parser.add_argument("--config", type=Path, default=CONFIG, help="path to _config.yml")
    args = parser.parse_args(argv)

    source = setup_cell_source(args.config)
    notebooks = args.notebooks or sorted((args.config.parent / "chapters").glob("*.ipynb"))
    stale = 0
    for path in notebooks:
        status = update_notebook(path, source, write=not args.check)
        if status != "ok":
            stale += 1
            if args.check:
                print(f"{path}: first cell is not the Colab setup cell")
            elif status == "inserted":
                print(f"{path}: setup cell inserted; re-execute the notebook")
            else:
                print(f"{path}: setup cell rewritten")
    if not args.check:
        print(f"{len(notebooks)} notebook(s), {stale} updated")
    return 1 if (args.check and stale) else 0


if __name__ == "__main__":
    sys.exit(main())
