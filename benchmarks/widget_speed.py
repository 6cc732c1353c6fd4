"""How fast the decoding stepper answers: a step redraw, and a new decode.

    python benchmarks/widget_speed.py [--model bahdanau] [--threads 1] [--repeats 7]

Prints the median (and the slowest) of several runs of:

* a step redraw: ``DecodingStepper.go(n)`` over every step of a beam-5 decode (rendering the
  step's HTML from the recorded decode and setting the view; no model call). Budget 50 ms.
* a decode: what the stepper does for a new input, ``Translator.translate(text, beam_size=5)``
  with its step record plus the step data and the first step's HTML, for a 10-word sentence
  (cache cleared each time). Budget 150 ms.

Wall-clock and CPU time are both shown: on a shared, busy machine the wall time also counts
waiting for a core. Exits with status 1 if a median is over its budget in CPU time too.
The sentence is invented.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import torch

SENTENCE = "My sister bought a new blue bicycle for her son."   # 10 words
STEP_BUDGET_MS, DECODE_BUDGET_MS = 50.0, 150.0


def timed(fn, repeats: int, cpu: list | None = None) -> list[float]:
    """Wall-clock milliseconds of each call; the process's CPU milliseconds go to ``cpu``."""
    times = []
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        times.append(1000 * (time.perf_counter() - start))
        if cpu is not None:
            cpu.append(1000 * (time.process_time() - start_cpu))
    return times


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="bahdanau")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    from attention_course import pretrained
    from attention_course.widgets import DecodingStepper

    assert len(SENTENCE.split()) == 10
    start = time.perf_counter()
    stepper = DecodingStepper(SENTENCE, model=args.model, beam_size=5)
    print(f"model {args.model}, torch threads {args.threads}; first load and decode "
          f"{time.perf_counter() - start:.1f} s (not timed below)")

    def decode():
        stepper._cache.clear()
        stepper.run()

    decode()  # warm-up
    decode_cpu: list[float] = []
    decode_ms = timed(decode, args.repeats, decode_cpu)
    n = stepper.n_steps

    def sweep():
        for k in range(n):
            stepper.go(k)
        stepper.go(0)

    sweep()  # warm-up
    per_step, step_cpu = [], []
    for _ in range(args.repeats):
        for k in list(range(1, n)) + [0]:
            per_step.extend(timed(lambda k=k: stepper.go(k), 1, step_cpu))

    step_med, decode_med = statistics.median(per_step), statistics.median(decode_ms)
    translator = pretrained.load(args.model)
    raw_ms = timed(lambda: translator.translate(SENTENCE, beam_size=5), args.repeats)
    step_cpu_med, decode_cpu_med = statistics.median(step_cpu), statistics.median(decode_cpu)
    print(f"step redraw:   median {step_med:6.2f} ms wall ({step_cpu_med:6.2f} ms CPU), slowest "
          f"{max(per_step):6.2f} ms ({len(per_step)} redraws of {n} steps; budget {STEP_BUDGET_MS:.0f} ms)")
    print(f"beam-5 decode: median {decode_med:6.1f} ms wall ({decode_cpu_med:6.1f} ms CPU), slowest "
          f"{max(decode_ms):6.1f} ms (10-word sentence, {args.repeats} runs; budget {DECODE_BUDGET_MS:.0f} ms)")
    print(f"  of which Translator.translate(): median {statistics.median(raw_ms):6.1f} ms wall")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"load average {load:.1f} on {os.cpu_count()} CPUs")
    if step_med <= STEP_BUDGET_MS and decode_med <= DECODE_BUDGET_MS:
        print("within budget")
        return 0
    if step_cpu_med <= STEP_BUDGET_MS and decode_cpu_med <= DECODE_BUDGET_MS:
        print("within budget in CPU time, over it in wall time: the machine is busy; rerun when idle")
        return 0
    print("OVER BUDGET")
    return 1


if __name__ == "__main__":
    sys.exit(main())
