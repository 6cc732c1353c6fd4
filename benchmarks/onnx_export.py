"""The exported models (attention_course.export.onnx) against the shipped PyTorch models on the
whole test split: greedy BLEU with the ONNX graphs run by onnxruntime in Python, and the size of
what the browser downloads.

    python benchmarks/onnx_export.py [NAMES] [--out DIR] [--limit N]

For every model (default: all shipped ones) it exports the graphs (or reuses the export cache,
``$ATTENTION_COURSE_ONNX_CACHE``), decodes every test-split source greedily both ways (PyTorch:
``Translator.translate_batch``; ONNX: ``export.onnx.greedy_text``, one sentence at a time, as the
page does) and prints both BLEU scores, their difference (budget 0.05), how many outputs differ,
and the bytes on the wire (graphs and float16 weights; budget 8 MB). Exits with status 1 if a
model is over either budget. Needs the corpus (``ATTENTION_COURSE_DATA``).
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import torch

BLEU_BUDGET, BYTES_BUDGET = 0.05, 8 * 1024 * 1024


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*")
    parser.add_argument("--out", type=Path, help="where to export (default: a temporary folder)")
    parser.add_argument("--limit", type=int, default=0, help="only the first N test sentences (0: all)")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    from attention_course import pretrained
    from attention_course.data.split import test_set
    from attention_course.evaluation.bleu import corpus_bleu
    from attention_course.export import onnx as export

    names = args.names or pretrained.available()
    out = args.out or Path(tempfile.mkdtemp(prefix="ac-onnx-"))
    folders = export.export_models(out, names, cache_dir=export.default_cache_dir(), log=print)
    examples = test_set("test")
    if args.limit:
        examples = examples[: args.limit]
    sources, refs = [e.source for e in examples], [list(e.references) for e in examples]
    print(f"{len(sources)} test sentences; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    ok = True
    for name in names:
        translator, onnx = pretrained.load(name), export.OnnxTranslator(folders[name])
        start = time.perf_counter()
        py = [t.text for t in translator.translate_batch(sources, beam_size=1)]
        t_py = time.perf_counter() - start
        start = time.perf_counter()
        ox = [export.greedy_text(translator, onnx, s) for s in sources]
        t_ox = time.perf_counter() - start
        b_py, b_ox = corpus_bleu(py, refs).score, corpus_bleu(ox, refs).score
        size = sum((folders[name] / f).stat().st_size for f in export.MODEL_FILES)
        differ = sum(a != b for a, b in zip(py, ox))
        good = abs(b_py - b_ox) <= BLEU_BUDGET and size <= BYTES_BUDGET
        ok &= good
        print(f"{name:22s} BLEU greedy PyTorch {b_py:6.2f}  ONNX {b_ox:6.2f}  diff {b_ox - b_py:+.2f}  "
              f"outputs differing {differ}/{len(sources)}  wire {size / 2**20:.2f} MiB  "
              f"(decode {t_py:.0f} s / {t_ox:.0f} s)  {'ok' if good else 'OVER'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
