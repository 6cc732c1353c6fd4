"""The benchmark scripts still run (a few steps, synthetic batches). No timing is checked here:
benchmarks print measured ratios, tests never hold wall-clock thresholds."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_train_speed_runs_and_both_models_compute_the_same_loss():
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "train_speed.py"), "--synthetic",
                          "--warmup", "1", "--steps", "2", "--block", "1", "--threads", "1"],
                         capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-2000:]
    lines = out.stdout.strip().splitlines()
    diff = re.search(r"loss package ([\d.]+), reference ([\d.]+)", out.stdout)
    assert diff and abs(float(diff[1]) - float(diff[2])) <= 1e-4          # the same network, the same loss
    assert "package's vocabulary projection while training" in out.stdout
    assert re.fullmatch(r"ratio: \d+\.\d\d", lines[-1]), lines[-1]
