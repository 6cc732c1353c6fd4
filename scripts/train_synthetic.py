"""Train the tiny models of chapter 2 on the synthetic copy task (the bottleneck experiment).

    python scripts/train_synthetic.py [--out lib/attention_course/synthetic] [--threads 1]
                                      [--jobs 1] [--only NAME ...]

Models without attention (``context-every-step``, the decoder of the shipped ``seq2seq``)
and with attention (``bahdanau``) are built with the package's ``build_model`` at a few
hidden sizes and trained on CPU to copy random symbol sequences of length 5 to 60
(``attention_course.data.synthetic``), drawn fresh for every batch; every model sees the
same batches. A short length curriculum helps the attention models find the alignment: the
longest training sequence grows from 10 to 60 symbols over the first 300 steps, then stays
at 60.

Every model is trained *to convergence*, so that a model's accuracy measures its capacity and
not the training budget. The criterion (``SETTINGS``):

* every ``eval_every`` (250) steps the loss is measured on a fixed dev set of ``dev_size``
  (512) sequences with lengths uniform in 5..60 (teacher-forced cross-entropy per symbol);
* an evaluation *improves* when it beats the best dev loss so far by more than 1 % of it
  (``min_improvement``) and by more than 0.01 nats (``min_improvement_abs``); evaluations
  during the curriculum do not count;
* after every ``lr_patience`` (4) evaluations in a row without improvement, the learning rate
  is halved (so a plateau is confirmed at a smaller learning rate before training stops);
* a model has **converged** when ``patience`` (8) evaluations in a row (2,000 steps) brought
  no improvement; it **hit the cap** if it reaches ``max_steps`` first. ``stopped`` in
  ``results.json`` records which.

The weights saved are those of the best dev evaluation (early stopping). Along the way the
per-token accuracy by length is measured (greedy decoding, ``snapshot_per_length``
sequences per length) at the steps in ``snapshot_steps``, among them the old fixed budget of
1,200 steps, so the chapter can compare models after equal training with the converged ones.
At the end the best weights are scored on ``eval_per_length`` fresh sequences per length,
with the standard error over sequences.

Everything is seeded: the same command gives the same weights on the same machine and thread
count. Each model is saved as a model directory (``NAME/model.safetensors``, ``config.json``,
``vocab.json``; load it with ``attention_course.data.synthetic.load(NAME)``), and
``results.json`` records the settings, the criterion's outcome, the training and dev losses,
the snapshots, the CPU and wall time and the held-out accuracy per length.
The chapter re-evaluates the models live on fresh sequences; nothing here is typed into it.

Runtime: ``cpu_seconds`` and ``train_seconds`` (wall) per model are in ``results.json``, with
their totals under ``"total"``. The shipped run (``nice -n 5 python scripts/train_synthetic.py
--jobs 2``) took 1,637 s of CPU in all (27 min; 145 to 489 s per model) and 49 min of wall time
on a shared, busy 2-core machine. Both models with attention converged (bahdanau-16 after 4,250
steps, bahdanau-32 after 7,250); the three without attention reached the 12,000-step cap while
their dev loss was still falling. One thread per model is the default because on a busy
machine two threads wait for each other and run many times slower.
"""
from __future__ import annotations

import argparse
import copy
import json
import multiprocessing
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
from attention_course.search import greedy_search  # noqa: E402

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
SETTINGS = dict(task=TASK, min_len=synthetic.MIN_LEN, max_len=synthetic.MAX_LEN, batch_size=32,
                lr=0.006, clip=1.0, seed=1234, chunk=10, log_every=250,
                warmup_max_len=10, warmup_steps=300,
                # the convergence criterion
                dev_size=512, dev_seed=77, eval_every=250, min_improvement=0.01, min_improvement_abs=0.01,
                lr_patience=4, lr_factor=0.5, patience=8, max_steps=12_000,
                # accuracy along the way (equal-step comparisons) and at the end
                snapshot_steps=[1200, 2400, 4800, 9600], snapshot_per_length=50,
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


def dev_batches(vocab):
    """The fixed dev set: ``dev_size`` sequences, lengths uniform in ``min_len..max_len``."""
    s = SETTINGS
    pairs = synthetic.sample(synthetic.sample_lengths(s["dev_size"], s["dev_seed"], s["min_len"], s["max_len"]),
                             s["task"], s["dev_seed"])
    ids = [(vocab.encode(p.source), vocab.encode(p.target)) for p in pairs]
    return bucket_batches(ids, 64)


def dev_loss(model, batches) -> float:
    """Teacher-forced cross-entropy per target symbol (``</s>`` included) on the dev set."""
    model.eval()
    total, tokens = 0.0, 0
    with torch.no_grad():
        for b in batches:
            total += float(model.loss(b.src, b.src_lengths, b.tgt_in, b.tgt_out, reduction="sum"))
            tokens += b.n_tokens
    model.train()
    return total / tokens


def is_improvement(loss: float, best: float) -> bool:
    """The convergence criterion's test: better than ``best`` by more than 1 % and 0.01 nats."""
    s = SETTINGS
    if best == float("inf"):
        return loss < best
    return loss < best - max(s["min_improvement"] * best, s["min_improvement_abs"])


def accuracy_by_length(model, per_length: int, vocab) -> dict[str, dict[str, float]]:
    """Greedy decoding of ``per_length`` fresh sequences per length (seed ``eval_seed``):
    exact-sequence and per-token accuracy, and the per-token accuracy's standard error over
    sequences."""
    s = SETTINGS
    model.eval()
    out = {}
    with torch.no_grad():
        for n in s["eval_lengths"]:
            pairs = synthetic.sample([n] * per_length, s["task"], s["eval_seed"] * 1000 + n)
            batch = synthetic.to_batch(pairs, vocab)
            predictions = [vocab.decode(r.tokens) for r in greedy_search(model, batch.src, batch.src_lengths)]
            token = torch.tensor([synthetic.score([p], [q.target])[1] for p, q in zip(predictions, pairs)],
                                 dtype=torch.float64)
            exact, mean = synthetic.score(predictions, [q.target for q in pairs])
            out[str(n)] = {"exact": round(exact, 4), "token": round(mean, 4),
                           "token_se": round(float(token.std(unbiased=True)) / per_length ** 0.5, 4)}
    model.train()
    return out


def train_one(name: str, settings: dict, out: Path) -> dict:
    s = SETTINGS
    torch.manual_seed(s["seed"])
    vocab = synthetic.vocabulary()
    cfg = ModelConfig(**settings)
    model = build_model(cfg, len(vocab), len(vocab))
    optimizer = torch.optim.Adam(model.parameters(), lr=s["lr"])
    dev = dev_batches(vocab)
    t0, c0 = time.perf_counter(), time.process_time()
    train_log, dev_log, snapshots = [], [], {}
    step, chunk, total, tokens, lr = 0, 0, 0.0, 0, s["lr"]
    best, best_step, best_state, stale, stopped = float("inf"), 0, None, 0, None
    model.train()
    while stopped is None:
        for batch in training_batches(chunk, step, vocab):
            loss = model.loss(batch.src, batch.src_lengths, batch.tgt_in, batch.tgt_out)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), s["clip"])
            optimizer.step()
            step += 1
            total, tokens = total + float(loss.detach()) * batch.n_tokens, tokens + batch.n_tokens
            if step % s["log_every"] == 0:
                train_log.append({"step": step, "loss": round(total / tokens, 4)})
                total, tokens = 0.0, 0
            if step in s["snapshot_steps"]:
                snapshots[str(step)] = accuracy_by_length(model, s["snapshot_per_length"], vocab)
            if step % s["eval_every"] == 0:
                d = dev_loss(model, dev)
                dev_log.append({"step": step, "loss": round(d, 4), "lr": lr})
                if step > s["warmup_steps"]:        # the curriculum's evaluations do not count
                    if is_improvement(d, best):
                        best, best_step, stale = d, step, 0
                        best_state = copy.deepcopy(model.state_dict())
                    else:
                        stale += 1
                        if stale >= s["patience"]:
                            stopped = "converged"
                        elif stale % s["lr_patience"] == 0:
                            lr *= s["lr_factor"]
                            for group in optimizer.param_groups:
                                group["lr"] = lr
                print(f"{name} step {step}: dev loss {d:.3f} (best {best:.3f} at {best_step}, lr {lr:g}, "
                      f"{time.process_time() - c0:.0f} s CPU, {time.perf_counter() - t0:.0f} s)",
                      file=sys.stderr, flush=True)
            if stopped is None and step >= s["max_steps"]:
                stopped = "cap"
            if stopped:
                break
        chunk += 1
    cpu, seconds = time.process_time() - c0, time.perf_counter() - t0
    model.load_state_dict(best_state)
    accuracy = accuracy_by_length(model, s["eval_per_length"], vocab)
    save_model(out / name, model, cfg, vocab, vocab, name,
               extra={"task": "attention_course.data.synthetic", "settings": s, "package_version": __version__})
    print(f"{name}: {stopped} after {step} steps, best dev loss {best:.3f} at step {best_step}; "
          f"{cpu:.0f} s CPU, {seconds:.0f} s wall; per-token accuracy by length "
          + ", ".join(f"{n}: {a['token']:.2f}" for n, a in accuracy.items()), file=sys.stderr, flush=True)
    return {"model": cfg.to_dict(), "parameters": sum(p.numel() for p in model.parameters()),
            "summary_units": 2 * cfg.hidden_size, "stopped": stopped, "steps": step, "best_step": best_step,
            "best_dev_loss": round(best, 4), "final_lr": lr, "losses": train_log, "dev_losses": dev_log,
            "snapshots": snapshots, "cpu_seconds": round(cpu, 1), "train_seconds": round(seconds, 1),
            "accuracy": accuracy}


def _train(job: tuple[str, str]) -> tuple[str, dict]:
    name, out = job
    return name, train_one(name, MODELS[name], Path(out))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default=str(ROOT / "lib" / "attention_course" / "synthetic"))
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--only", nargs="*", choices=sorted(MODELS), help="train only these models")
    p.add_argument("--jobs", type=int, default=1,
                   help="models trained at the same time, in separate processes (each one its own --threads)")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    results_path = out / "results.json"
    results = {}
    if args.only and results_path.is_file():
        results = json.loads(results_path.read_text(encoding="utf-8"))
        if results.get("settings") != SETTINGS:
            raise SystemExit(f"{results_path} was made with other settings; train all models again")
    results.update({"task": "attention_course.data.synthetic", "settings": SETTINGS,
                    "torch_threads": args.threads, "package_version": __version__})
    models = results.setdefault("models", {})
    t0 = time.perf_counter()
    names = sorted(args.only or MODELS, key=lambda n: -MODELS[n]["hidden_size"])   # the longest first
    with multiprocessing.get_context("spawn").Pool(max(1, args.jobs), initializer=torch.set_num_threads,
                                                   initargs=(args.threads,)) as pool:
        for name, result in pool.imap_unordered(_train, [(n, str(out)) for n in names]):
            models[name] = result
            results["models"] = {n: models[n] for n in MODELS if n in models}   # keep this order
            done = results["models"].values()
            results["total"] = {"cpu_seconds": round(sum(m["cpu_seconds"] for m in done), 1),
                                "train_seconds": round(sum(m["train_seconds"] for m in done), 1)}
            atomic_write_json(results_path, results)
    print(f"saved {len(names)} models and {results_path} in {time.perf_counter() - t0:.0f} s",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
