"""The book's configuration, and the conventions every chapter notebook follows.

Conventions checked for every ``chapters/*`` page listed in ``_toc.yml``:

1. The chapter exists (a chapter listed in the toc but missing fails, it is never skipped).
2. Its first cell is exactly the Colab setup cell that ``book/colab_setup.py`` generates from
   ``repository`` in ``_config.yml`` (so the repository address lives in one place). After
   changing the address, run ``python book/colab_setup.py``.
3. An early code cell (one of the first three after the setup cell) fixes the random seeds and
   the torch thread count. The convention is::

       from attention_course.notebook import setup_notebook
       setup_notebook()            # seeds Python, NumPy and torch; fixes torch's thread count

   (``attention_course.notebook.setup(...)`` is accepted too), or, spelled out, both
   ``torch.manual_seed(...)`` and ``torch.set_num_threads(...)``.
4. It was executed top to bottom and saved: the code cells that hold code have execution
   counts 1, 2, 3, ... in order, no output is an error, and every code cell that does more than
   import, assign, define, run a line magic or configure the session (the setup call above,
   seeds, thread count, print options: ``CONFIG_CALLS``) has at least one output.
5. Its kernelspec is ``python3``.
"""

from __future__ import annotations

import ast
import importlib.util
import io
import re
from contextlib import redirect_stdout
from pathlib import Path

import nbformat
import pytest
import yaml
from IPython.core.inputtransformer2 import TransformerManager

REPO_URL = "https://github.com/attention-course/attention-step-by-step"
EARLY_CODE_CELLS = 3  # code cells after the Colab setup cell in which the seeds must be set


def _load_colab_setup():
    path = Path(__file__).resolve().parents[1] / "book" / "colab_setup.py"
    spec = importlib.util.spec_from_file_location("colab_setup", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def colab_setup():
    return _load_colab_setup()


@pytest.fixture(scope="module")
def config(book_root):
    return yaml.safe_load((book_root / "_config.yml").read_text(encoding="utf-8"))


def _read_chapter(book_root: Path, chapter: str):
    path = book_root / f"{chapter}.ipynb"
    if not path.is_file():
        pytest.fail(f"{chapter}.ipynb is listed in _toc.yml but does not exist", pytrace=False)
    return nbformat.read(path, as_version=4)


def _code_cells(nb):
    return [c for c in nb.cells if c.cell_type == "code"]


def _python(source: str) -> ast.Module | None:
    """Parse a cell as IPython would run it (magics become get_ipython() calls)."""
    try:
        return ast.parse(TransformerManager().transform_cell(source))
    except SyntaxError:
        return None


def _dotted(node) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    if isinstance(node, ast.Call):
        return _dotted(node.func) + "()"
    return "?"


def _calls(tree: ast.AST) -> set[str]:
    return {_dotted(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}


def _imports_notebook_module(tree: ast.AST) -> bool:
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "attention_course.notebook":
            return True
        if isinstance(node, ast.ImportFrom) and node.module == "attention_course" and \
                any(a.name == "notebook" for a in node.names):
            return True
        if isinstance(node, ast.Import) and \
                any(a.name == "attention_course.notebook" for a in node.names):
            return True
    return False


def _is_setup_call(name: str) -> bool:
    return name.split(".")[-1] == "setup_notebook" or name.endswith("notebook.setup")


# Calls that configure the session and print nothing: a cell of only these needs no output.
CONFIG_CALLS = {
    "torch.manual_seed", "torch.set_num_threads", "torch.use_deterministic_algorithms",
    "random.seed", "np.random.seed", "numpy.random.seed", "torch.set_printoptions",
    "np.set_printoptions", "numpy.set_printoptions", "warnings.filterwarnings",
    "warnings.simplefilter", "plt.rcParams.update", "plt.style.use",
}


SILENT = (ast.Import, ast.ImportFrom, ast.Assign, ast.AnnAssign, ast.AugAssign,
          ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Pass, ast.Delete,
          ast.Assert, ast.Global, ast.Nonlocal)


def _needs_output(source: str) -> bool:
    """True unless the cell only imports, assigns, defines, runs a magic or configures."""
    tree = _python(source)
    if tree is None:
        return True
    for stmt in tree.body:
        if isinstance(stmt, SILENT):
            continue
        if isinstance(stmt, ast.Expr):
            value = stmt.value
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                continue  # a bare string, used as a comment
            if isinstance(value, ast.Call):
                name = _dotted(value.func)
                if name.startswith("get_ipython()") or _is_setup_call(name) \
                        or name in CONFIG_CALLS:
                    continue
        return True
    return False


# ---------------------------------------------------------------------------------------------
# Configuration
# ---------------------------------------------------------------------------------------------

def test_config(config, book_root):
    assert config["title"] == "Attention, step by step"
    assert str(config["execute"]["execute_notebooks"]) == "off"
    repo = config["repository"]
    assert repo["url"] == REPO_URL and repo["branch"] == "main" and repo["path_to_book"] == ""
    assert config["launch_buttons"]["colab_url"] == "https://colab.research.google.com"
    assert config["html"]["use_repository_button"] is True
    for bib in config["bibtex_bibfiles"]:
        assert (book_root / bib).is_file(), bib
    toc = yaml.safe_load((book_root / "_toc.yml").read_text(encoding="utf-8"))
    assert toc["root"] == "book/intro"


def test_toc_page_exists(toc_page, book_root):
    sources = [book_root / f"{toc_page}{suffix}" for suffix in (".ipynb", ".md")]
    assert any(path.is_file() for path in sources), \
        f"{toc_page} is listed in _toc.yml but neither .ipynb nor .md exists"


def test_repository_address_in_one_place(book_root):
    """Only _config.yml and the generated first cells name the repository."""
    for path in sorted((book_root / "book").glob("*.md")):
        assert REPO_URL not in path.read_text(encoding="utf-8"), path
    for path in sorted((book_root / "chapters").glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells[1:]:
            assert REPO_URL not in cell.source, f"{path.name}: repository URL outside cell 1"


def test_setup_cell_is_silent_outside_colab(colab_setup, book_root):
    source = colab_setup.setup_cell_source(book_root / "_config.yml")
    assert f"git+{REPO_URL}@main" in source
    out = io.StringIO()
    with redirect_stdout(out):
        exec(compile(TransformerManager().transform_cell(source), "<setup>", "exec"), {})
    assert out.getvalue() == ""


# ---------------------------------------------------------------------------------------------
# Chapters
# ---------------------------------------------------------------------------------------------

def test_chapter_first_cell_is_colab_setup(toc_chapter, book_root, colab_setup):
    nb = _read_chapter(book_root, toc_chapter)
    expected = colab_setup.setup_cell_source(book_root / "_config.yml")
    first = nb.cells[0] if nb.cells else None
    assert first is not None and first.cell_type == "code" and first.source == expected, (
        f"{toc_chapter}: the first cell must be the generated Colab setup cell; "
        "run `python book/colab_setup.py` and re-execute the chapter")
    assert not first.get("outputs"), f"{toc_chapter}: the setup cell printed something"


def test_chapter_fixes_seeds_and_threads_early(toc_chapter, book_root):
    nb = _read_chapter(book_root, toc_chapter)
    early = _code_cells(nb)[1:1 + EARLY_CODE_CELLS]
    trees = [t for t in (_python(c.source) for c in early) if t is not None]
    calls = set().union(*(_calls(t) for t in trees)) if trees else set()
    convention = any(_is_setup_call(c) for c in calls) and \
        any(_imports_notebook_module(t) for t in trees)
    spelled_out = {"torch.manual_seed", "torch.set_num_threads"} <= calls
    assert convention or spelled_out, (
        f"{toc_chapter}: none of the first {EARLY_CODE_CELLS} code cells after the setup cell "
        "calls setup_notebook() from attention_course.notebook (or both torch.manual_seed and "
        "torch.set_num_threads)")


def test_chapter_executed_in_order(toc_chapter, book_root):
    nb = _read_chapter(book_root, toc_chapter)
    cells = [c for c in _code_cells(nb) if c.source.strip()]
    counts = [c.get("execution_count") for c in cells]
    assert counts == list(range(1, len(cells) + 1)), (
        f"{toc_chapter}: execution counts {counts} are not 1..{len(cells)}; "
        "restart the kernel and run all cells, then save")
    for i, cell in enumerate(cells, start=1):
        errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
        assert not errors, f"{toc_chapter}: code cell [{i}] raised {errors[0].get('ename')}"


def test_chapter_cells_have_outputs(toc_chapter, book_root):
    nb = _read_chapter(book_root, toc_chapter)
    silent = [i for i, c in enumerate(_code_cells(nb)[1:], start=2)
              if c.source.strip() and _needs_output(c.source) and not c.get("outputs")]
    assert not silent, (
        f"{toc_chapter}: code cells {silent} (counting code cells from 1) compute something "
        "but have no stored output; show a result, or execute and save the notebook")


def test_chapter_kernelspec(toc_chapter, book_root):
    nb = _read_chapter(book_root, toc_chapter)
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3", toc_chapter


# ---------------------------------------------------------------------------------------------
# The built book
# ---------------------------------------------------------------------------------------------

def test_book_builds_without_warnings(built_book, toc_page):
    """``built_book`` runs ``jupyter-book build -W -n --keep-going``; every page is there."""
    assert (built_book / f"{toc_page}.html").is_file()


def test_chapter_has_colab_button(built_book, toc_chapter, config):
    html = (built_book / f"{toc_chapter}.html").read_text(encoding="utf-8")
    org_repo = config["repository"]["url"].removeprefix("https://github.com/")
    branch = config["repository"]["branch"]
    expected = (f"https://colab.research.google.com/github/{org_repo}/blob/{branch}/"
                f"{toc_chapter}.ipynb")
    assert expected in html, f"{toc_chapter}: no Colab launch link {expected}"
    assert re.search(r"use_repository_button|github\.com/" + re.escape(org_repo), html)
