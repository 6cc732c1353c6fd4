"""Train the tiny models of chapter 2 on the synthetic copy task (the bottleneck experiment).

    python scripts/train_synthetic.py [--out lib/attention_course/synthetic] [--threads 1]

Models without attention (``context-every-step``, the decoder of the shipped ``seq2seq``)
and with attention (``bahdanau``) are built with the package's ``build_model`` at a few
hidden sizes and trained on CPU to copy random symbol sequences of length 5 to 60
(``attention_course.data.synthetic``), drawn fresh for every batch; every model sees the
same batches. A short length curriculum helps the attention models find the alignment: the
longest training sequence grows from 10 to 60 symbols over the first 300 of the 1,200 steps,
then stays at 60; the learning rate follows a cosine decay. Everything is seeded: the same
command gives the same weights on the same machine and thread count. Each model is saved as a model
directory (``NAME/model.safetensors``, ``config.json``, ``vocab.json``; load it with
``attention_course.data.synthetic.load(NAME)``), and ``results.json`` records the
settings, the training losses, the wall time and the held-out accuracy per length.
The chapter re-evaluates the models live on fresh sequences; nothing here is typed into it.

Runtime: ``train_seconds`` per model is in ``results.json``. The shipped run took 315 s in
all (23 to 106 s per model) on a shared 2-core machine with one torch thread, and takes up to
about twice that when the machine is busier. One thread is the default because on a busy
machine two threads wait for each other and run many times slower.
"""
from __future__ import annotations

import argparse
import math
import random
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "lib"))

from attention_course import __version__  # noqa: E402
from attention_course.checkpoint import atomic_write_json, save_model  # noqa: E402
from attention_course.data import synthetic  # noqa: E402
from attention_course.data.batching import bucket_batches  # noqa: E402
from attention_course.models.seq2seq import ModelConfig, build_model  # noqa: E402

TASK = "copy"


def tiny(decoder: str, hidden: int) -> dict:
    """Encoder GRUs of ``hidden`` units per direction; decoder GRU and attention of ``2 * hidden``
    (the width of the summary vector c = [→h_T ; ←h_1] the no-attention decoder reads)."""
    return dict(decoder=decoder, emb_size=16, hidden_size=hidden, decoder_size=2 * hidden,
                attention_size=2 * hidden, dropout=0.0)


MODELS = {   # name -> model settings
    "seq2seq-16": tiny("context-every-step", 16),
    "seq2seq-32": tiny("context-every-step", 32),
    "seq2seq-64": tiny("context-every-step", 64),
    "bahdanau-16": tiny("bahdanau", 16),
    "bahdanau-32": tiny("bahdanau", 32),
}
SETTINGS = dict(task=TASK, min_len=synthetic.MIN_LEN, max_len=synthetic.MAX_LEN, steps=1200, batch_size=32,
                lr=0.006, clip=1.0, seed=1234, chunk=10, log_every=50,
                warmup_max_len=10, warmup_steps=300,
                eval_lengths=[5, 10, 15, 20, 30, 40, 50, 60], eval_per_length=100, eval_seed=99)


def longest(step: int) -> int:
    """The longest training sequence at ``step``: it grows from ``warmup_max_len`` to ``max_len``
    over the first ``warmup_steps`` steps (a length curriculum), then stays at ``max_len``."""
    s = SETTINGS
    grown = s["warmup_max_len"] + (s["max_len"] - s["warmup_max_len"]) * step // s["warmup_steps"]
    return min(s["max_len"], grown)


def training_batches(chunk: int, step: int, vocab):
    """Fresh random pairs, the same for every model: chunk ``k`` holds ``SETTINGS['chunk']`` batches,
    with lengths uniform in ``min_len..longest(step)``, bucketed by length."""
    s = SETTINGS
    n = s["batch_size"] * s["chunk"]
    seed = s["seed"] * 10_000 + chunk
    pairs = synthetic.sample(synthetic.sample_lengths(n, seed, s["min_len"], longest(step)), s["task"], seed)
    ids = [(vocab.encode(p.source), vocab.encode(p.target)) for p in pairs]
    return bucket_batches(ids, s["batch_size"], random.Random(seed))


def train_one(name: str, settings: dict, out: Path) -> dict:
    s = SETTINGS
    torch.manual_seed(s["seed"])
    vocab = synthetic.vocabulary()
    cfg = ModelConfig(**settings)
    model = build_model(cfg, len(vocab), len(vocab))
    optimizer = torch.optim.Adam(model.parameters(), lr=s["lr"])
    t0, losses, step, chunk = time.perf_counter(), [], 0, 0
    total, tokens = 0.0, 0
    model.train()
    while step < s["steps"]:
        for batch in training_batches(chunk, step, vocab):
            for group in optimizer.param_groups:      # cosine decay from lr to 0
                group["lr"] = s["lr"] * 0.5 * (1 + math.cos(math.pi * step / s["steps"]))
            loss = model.loss(batch.src, batch.src_lengths, batch.tgt_in, batch.tgt_out)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), s["clip"])
            optimizer.step()
            step += 1
            total, tokens = total + float(loss.detach()) * batch.n_tokens, tokens + batch.n_tokens
            if step % s["log_every"] == 0:
                losses.append({"step": step, "loss": round(total / tokens, 4)})
                print(f"{name} step {step}: loss {total / tokens:.3f} ({time.perf_counter() - t0:.0f} s)",
                      file=sys.stderr, flush=True)
                total, tokens = 0.0, 0
            if step >= s["steps"]:
                break
        chunk += 1
    seconds = time.perf_counter() - t0
    model.eval()
    accuracy = synthetic.evaluate(model, s["task"], s["eval_lengths"], s["eval_per_length"], s["eval_seed"], vocab)
    save_model(out / name, model, cfg, vocab, vocab, name,
               extra={"task": "attention_course.data.synthetic", "settings": s, "package_version": __version__})
    print(f"{name}: {seconds:.0f} s, per-token accuracy by length "
          + ", ".join(f"{n}: {a['token']:.2f}" for n, a in accuracy.items()), file=sys.stderr, flush=True)
    return {"model": cfg.to_dict(), "parameters": sum(p.numel() for p in model.parameters()),
            "summary_units": 2 * cfg.hidden_size, "losses": losses, "train_seconds": round(seconds, 1),
            "accuracy": {str(n): {k: round(v, 4) for k, v in a.items()} for n, a in accuracy.items()}}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default=str(ROOT / "lib" / "attention_course" / "synthetic"))
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--only", nargs="*", choices=sorted(MODELS), help="train only these models")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    results_path = out / "results.json"
    results = {}
    if args.only and results_path.is_file():
        import json
        results = json.loads(results_path.read_text(encoding="utf-8"))
    results.update({"task": "attention_course.data.synthetic", "settings": SETTINGS,
                    "torch_threads": args.threads, "package_version": __version__})
    models = results.setdefault("models", {})
    t0 = time.perf_counter()
    for name in args.only or MODELS:
        models[name] = train_one(name, MODELS[name], out)
        results["models"] = {n: models[n] for n in MODELS if n in models}   # keep this order
        atomic_write_json(results_path, results)
    print(f"saved {len(args.only or MODELS)} models and {results_path} in {time.perf_counter() - t0:.0f} s",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
