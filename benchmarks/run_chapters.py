"""Time every chapter executed top to bottom, as nbval and readers run them.

Each chapter listed in _toc.yml is copied into a temporary folder and executed there with
nbclient (the stored notebooks are never touched), one fresh kernel per chapter, in a fixed
environment. Prints the seconds per chapter, the total and the target: all chapters together
in at most 300 s on the 2-core CI machine.

    python benchmarks/run_chapters.py                  # every chapter in _toc.yml
    python benchmarks/run_chapters.py 03_bahdanau      # only those named
    python benchmarks/run_chapters.py --strict         # exit 1 above the target

Needs ATTENTION_COURSE_DATA (the folder with fra-eng.zip), like the chapters themselves.
Exit status 1 if a chapter fails (or, with --strict, if the total is over the target).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import nbformat
import yaml
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

ROOT = Path(__file__).resolve().parents[1]
TARGET_S = 300.0
CELL_TIMEOUT_S = 300  # as --nbval-cell-timeout in pyproject.toml

# Set for every chapter kernel (the chapters fix their seeds and thread count themselves).
FIXED_ENV = {"PYTHONHASHSEED": "0"}


def toc_chapters(root: Path = ROOT) -> list[str]:
    toc = yaml.safe_load((root / "_toc.yml").read_text(encoding="utf-8"))
    found: list[str] = []

    def walk(node):
        if isinstance(node, dict):
            if isinstance(node.get("file"), str) and node["file"].startswith("chapters/"):
                found.append(node["file"])
            for key in ("parts", "chapters", "sections"):
                for child in node.get(key) or []:
                    walk(child)

    walk(toc)
    return found


def run_chapter(path: Path, workdir: Path) -> tuple[float, str | None]:
    """Execute one chapter in ``workdir``; return (seconds, error or None)."""
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=CELL_TIMEOUT_S, kernel_name="python3",
                            resources={"metadata": {"path": str(workdir)}})
    start = time.perf_counter()
    try:
        client.execute()
        error = None
    except CellExecutionError as exc:
        error = str(exc).strip().splitlines()[-1] if str(exc).strip() else repr(exc)
    except Exception as exc:  # timeouts, dead kernels
        error = f"{type(exc).__name__}: {exc}"
    return time.perf_counter() - start, error


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("chapters", nargs="*", help="chapter names (default: all in _toc.yml)")
    parser.add_argument("--strict", action="store_true", help="exit 1 if over the target")
    parser.add_argument("--root", type=Path, default=ROOT,
                        help="book folder with _toc.yml and chapters/ (default: the repository)")
    args = parser.parse_args(argv)
    root = args.root.resolve()

    chapters = toc_chapters(root)
    if args.chapters:
        chapters = [c for c in chapters if any(Path(c).name.startswith(n.removesuffix(".ipynb"))
                                               for n in args.chapters)]
    if not chapters:
        print("no chapters to run")
        return 1
    if not os.environ.get("ATTENTION_COURSE_DATA"):
        print("note: ATTENTION_COURSE_DATA is not set; chapters that load the corpus may fail")
    os.environ.update(FIXED_ENV)

    results: list[tuple[str, float, str | None]] = []
    with tempfile.TemporaryDirectory(prefix="chapters-") as tmp:
        # The chapters run from a copy of chapters/ (relative paths to ../book etc. still work).
        work = Path(tmp)
        shutil.copytree(root / "chapters", work / "chapters",
                        ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
        if (root / "book").is_dir():
            shutil.copytree(root / "book", work / "book")
        for chapter in chapters:
            path = work / f"{chapter}.ipynb"
            if not path.is_file():
                results.append((chapter, 0.0, "missing"))
                print(f"{Path(chapter).name:<24} missing", flush=True)
                continue
            seconds, error = run_chapter(path, path.parent)
            results.append((chapter, seconds, error))
            status = f"FAILED: {error}" if error else ""
            print(f"{Path(chapter).name:<24} {seconds:7.1f} s  {status}", flush=True)

    total = sum(s for _, s, _ in results)
    failed = [c for c, _, e in results if e]
    verdict = "within" if total <= TARGET_S else "OVER"
    print(f"{'total':<24} {total:7.1f} s  ({verdict} the target of {TARGET_S:.0f} s, "
          f"{len(results)} chapters, {len(failed)} failed)")
    if failed or (args.strict and total > TARGET_S):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
