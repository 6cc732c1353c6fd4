"""Time loading each shipped model (weights checked, model built, float16 cast to float32).

    python benchmarks/load_speed.py [NAMES] [--repeat 3] [--threads 1]

Each load goes through ``checkpoint.load_model`` (what ``pretrained.load`` calls, without
its cache), so every run reads, verifies and builds the model anew. The target is well
under one second per model; the machine's load average is printed because other work on
the cores slows every number down. No threshold is asserted here or in the tests.
"""
from __future__ import annotations

import argparse
import os
import time

import torch

from attention_course import pretrained
from attention_course.checkpoint import load_model


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("names", nargs="*")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    names = args.names or pretrained.available()
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores, torch threads {args.threads}")
    print(f"{'model':<22} {'size MB':>8} {'best s':>8} {'mean s':>8}   first translation")
    for name in names:
        d = pretrained.checkpoint_dir(name)
        size = sum(f.stat().st_size for f in d.iterdir() if f.is_file()) / 1e6
        times = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            load_model(d)
            times.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        pretrained.load.cache_clear()
        tr = pretrained.load(name)
        text = tr.translate("I like the red car.").text
        first = time.perf_counter() - t0
        print(f"{name:<22} {size:>8.1f} {min(times):>8.3f} {sum(times) / len(times):>8.3f}   "
              f"{first:.3f} s (load + translate: {text})")


if __name__ == "__main__":
    main()
