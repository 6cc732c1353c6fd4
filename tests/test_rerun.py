"""Running the chapters is repeatable: the full nbval suite passes in a fresh process here,
and `python -m pytest` runs it again afterwards (chapters/ is collected after tests/), so
every test run executes every chapter twice in a row. The chapters fix their own seeds and
thread counts (setup_notebook), so the caller's environment does not matter: this run
deliberately sets other thread counts and a different hash seed."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_chapter_passes_nbval_in_a_fresh_process_with_another_environment():
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONHASHSEED="12345")
    run = subprocess.run([sys.executable, "-m", "pytest", "chapters", "-q", "-p", "no:cacheprovider"],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=1200)
    tail = "\n".join(run.stdout.splitlines()[-30:])
    assert run.returncode == 0, f"nbval failed in a fresh process:\n{tail}\n{run.stderr[-2000:]}"
    assert " passed" in tail and "failed" not in tail
