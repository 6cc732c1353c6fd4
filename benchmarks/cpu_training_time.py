"""Project how long each shipped config takes to retrain on this CPU.

    python benchmarks/cpu_training_time.py [NAMES] [--batches 40] [--threads 2]

For every config it times ``--batches`` training steps on batches drawn evenly from a
real epoch (same length mix as the full epoch) with the training CLI's own step
(``attention_course.train.training_step``, the config's projection precision), then projects
    epochs × (tokens per epoch / measured tokens per second)
and prints it next to the 60-minute budget. Dev-BLEU decoding after each epoch is timed
once and added. The machine's load (``os.getloadavg``) is printed: other work on the two
cores makes the projection pessimistic.
"""
from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import torch

from attention_course.models import build_model
from attention_course.train import (RunConfig, dev_bleu, epoch_batches, make_optimizer, prepare_data,
                                    projection_dtype, training_step)

CONFIGS = Path(__file__).resolve().parents[1] / "lib" / "attention_course" / "configs"


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("names", nargs="*")
    p.add_argument("--batches", type=int, default=40)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    names = args.names or sorted(c.stem for c in CONFIGS.glob("*.json"))
    data = None
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores, torch threads {args.threads}")
    for name in names:
        cfg = RunConfig.load(CONFIGS / f"{name}.json")
        if data is None:
            data = prepare_data(cfg)
        src_vocab, tgt_vocab, encoded, dev = data
        torch.manual_seed(cfg.train.seed)
        model = build_model(cfg.model, len(src_vocab), len(tgt_vocab))
        opt = make_optimizer(model, cfg.train.lr)
        dtype = projection_dtype(cfg.train.projection, "cpu")
        batches = epoch_batches(encoded, cfg.train, 0)
        epoch_tokens = sum(b.n_tokens for b in batches)
        sample = sorted(batches, key=lambda b: b.tgt_out.size(1))[:: max(1, len(batches) // args.batches)][: args.batches]
        model.train()
        t0, tokens = time.perf_counter(), 0
        for b in sample:
            training_step(model, opt, b, cfg.train.clip, dtype)      # what the training CLI runs
            tokens += b.n_tokens
        tok_s = tokens / (time.perf_counter() - t0)
        t1 = time.perf_counter()
        dev_bleu(model, src_vocab, tgt_vocab, dev[:200], "cpu")
        dev_s = (time.perf_counter() - t1) * len(dev) / 200
        total_min = cfg.train.epochs * (epoch_tokens / tok_s + dev_s) / 60
        print(f"{name:22s} {tok_s:7.0f} tok/s (projection {str(dtype or torch.float32)[6:]})  epoch {epoch_tokens / tok_s / 60:5.1f} min + dev {dev_s / 60:4.1f} min"
              f"  → {cfg.train.epochs} epochs ≈ {total_min:5.1f} min (budget 60)")


if __name__ == "__main__":
    main()
