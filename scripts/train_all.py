"""Train every shipped variant: ``python scripts/train_all.py [--parallel N] [--deadline S]``.

Each variant runs ``python -m attention_course.train CONFIG --keep-epochs`` into
``runs/NAME`` (one process each, N at a time). With ``--deadline`` the runs still
going after that many seconds are stopped; because the learning-rate schedule
depends only on the epoch, the export after epoch K equals a K-epoch run, and
``scripts/ship.py --epoch K`` ships the same epoch for every model.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

CONFIGS = Path(__file__).resolve().parents[1] / "lib" / "attention_course" / "configs"


def completed_epochs(run: Path) -> int:
    done = [int(p.name.split("-")[1]) for p in run.glob("epoch-*") if (p / "train_log.json").exists()]
    return max(done, default=0)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("names", nargs="*", help="variants (default: every config)")
    p.add_argument("--parallel", type=int, default=1)
    p.add_argument("--deadline", type=float, help="stop runs still going after this many seconds")
    p.add_argument("--out", default="runs")
    p.add_argument("--configs", default=str(CONFIGS), help="folder of config files")
    p.add_argument("--device")
    p.add_argument("--resume", action="store_true")
    args = p.parse_args()
    configs = Path(args.configs)
    names = args.names or sorted(c.stem for c in configs.glob("*.json"))
    env = dict(os.environ, OMP_NUM_THREADS="1") if args.parallel > 1 else dict(os.environ)
    start, pending, running = time.time(), list(names), {}
    Path(args.out).mkdir(exist_ok=True)
    while pending or running:
        while pending and len(running) < args.parallel:
            name = pending.pop(0)
            cmd = [sys.executable, "-m", "attention_course.train", str(configs / f"{name}.json"),
                   "--out", f"{args.out}/{name}", "--keep-epochs", "--no-progress"]
            cmd += ["--device", args.device] if args.device else []
            cmd += ["--resume"] if args.resume else []
            log = open(f"{args.out}/{name}.log", "a")
            running[name] = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
        for name, proc in list(running.items()):
            if proc.poll() is not None:
                print(f"{name}: exit {proc.returncode} after {time.time() - start:.0f} s", flush=True)
                del running[name]
        if args.deadline and time.time() - start > args.deadline:
            for name, proc in running.items():
                proc.terminate()
                print(f"{name}: stopped at the deadline", flush=True)
            for proc in running.values():
                proc.wait()
            running, pending = {}, []
        time.sleep(1)
    for name in names:
        print(f"{name}: {completed_epochs(Path(args.out) / name)} epochs completed", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
