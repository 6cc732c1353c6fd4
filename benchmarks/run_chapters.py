"""Time every chapter executed top to bottom, as nbval and readers run them.

Each chapter listed in _toc.yml is copied into a temporary folder and executed there with
nbclient (the stored notebooks are never touched), one fresh kernel per chapter, in a fixed
environment. Prints the seconds per chapter, the total and the target (all chapters together
in at most 300 s on the 2-core CI machine), then the slowest cells: a reader waits for each
one, so every cell should finish in 15 s, or show a progress bar and finish in 45 s.

    python benchmarks/run_chapters.py                  # every chapter in _toc.yml
    python benchmarks/run_chapters.py 03_bahdanau      # only those named
    python benchmarks/run_chapters.py --strict         # exit 1 above a target
    python benchmarks/run_chapters.py --inplace        # store the executed chapters (outputs
                                                       # that nbval compares) back in chapters/

Needs ATTENTION_COURSE_DATA (the folder with fra-eng.zip), like the chapters themselves.
Exit status 1 if a chapter fails (or, with --strict, if the total is over the target).
"""

from __future__ import annotations

import argparse
import json
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
CELL_TARGET_S = 15.0       # a cell without a progress bar
CELL_BAR_TARGET_S = 45.0   # a cell that shows a progress bar
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


def _seconds(cell) -> float:
    """Wall time of one executed cell, from the timing nbclient records in its metadata."""
    from datetime import datetime
    timing = cell.get("metadata", {}).get("execution", {})
    try:
        start = datetime.fromisoformat(timing["iopub.execute_input"].replace("Z", "+00:00"))
        end = datetime.fromisoformat(timing["shell.execute_reply"].replace("Z", "+00:00"))
    except (KeyError, ValueError):
        return 0.0
    return (end - start).total_seconds()


def _has_progress_bar(cell) -> bool:
    """A cell shows a progress bar if tqdm (text or widget) wrote one."""
    for out in cell.get("outputs", []):
        text = "".join(out.get("text", "")) + json.dumps(out.get("data", {}))
        if "it/s]" in text or "s/it]" in text or "FloatProgress" in text or "%|" in text:
            return True
    return False


def run_chapter(path: Path, workdir: Path, store: Path | None = None
                ) -> tuple[float, str | None, list[tuple[float, int, bool]]]:
    """Execute one chapter in ``workdir``.

    Returns (seconds, error or None, [(cell seconds, cell number, shows a progress bar)]).
    With ``store``, a chapter that ran without error is written there (timing metadata removed).
    """
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
    seconds = time.perf_counter() - start
    code = [c for c in nb.cells if c.cell_type == "code"]
    cells = [(_seconds(c), k, _has_progress_bar(c)) for k, c in enumerate(code, 1)]
    if store is not None and error is None:
        for cell in code:
            cell.metadata.pop("execution", None)
        nbformat.write(nb, store)
    return seconds, error, cells


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("chapters", nargs="*", help="chapter names (default: all in _toc.yml)")
    parser.add_argument("--strict", action="store_true", help="exit 1 if over a target")
    parser.add_argument("--inplace", action="store_true",
                        help="write each chapter that ran without error back to chapters/")
    parser.add_argument("--slowest", type=int, default=10, help="how many slowest cells to list")
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
    slow: list[tuple[float, str, int, bool]] = []
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
            store = root / f"{chapter}.ipynb" if args.inplace else None
            seconds, error, cells = run_chapter(path, path.parent, store)
            results.append((chapter, seconds, error))
            slow += [(t, Path(chapter).name, k, bar) for t, k, bar in cells]
            status = f"FAILED: {error}" if error else ""
            print(f"{Path(chapter).name:<24} {seconds:7.1f} s  {status}", flush=True)

    total = sum(s for _, s, _ in results)
    failed = [c for c, _, e in results if e]
    verdict = "within" if total <= TARGET_S else "OVER"
    print(f"{'total':<24} {total:7.1f} s  ({verdict} the target of {TARGET_S:.0f} s, "
          f"{len(results)} chapters, {len(failed)} failed)")
    slow.sort(reverse=True)
    over = [x for x in slow if x[0] > (CELL_BAR_TARGET_S if x[3] else CELL_TARGET_S)]
    print(f"slowest cells (target: {CELL_TARGET_S:.0f} s, or {CELL_BAR_TARGET_S:.0f} s with a "
          f"progress bar; {len(over)} over):")
    for t, name, k, bar in slow[:args.slowest]:
        print(f"  {name:<24} code cell {k:>3} {t:7.1f} s{'  (progress bar)' if bar else ''}")
    if failed or (args.strict and (total > TARGET_S or over)):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
