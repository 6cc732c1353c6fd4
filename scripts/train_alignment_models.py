"""Train the tiny models of chapter 6 on the synthetic task with known alignments.

    python scripts/train_alignment_models.py [--out lib/attention_course/alignment_models]

One small model per attention type (Bahdanau; Luong dot, general, concat, local-p; and a
Transformer of the same size class, whose alignment is its last layer's cross-attention
averaged over the heads, as the big one's), built with the package's ``build_model``, is trained on CPU on sentences of
``attention_course.data.alignment_task``, seeded: a rerun gives the same training log
(loss, accuracy and AER to four decimals) and weights equal up to floating-point rounding
(about 1e-4; CPU math libraries may sum in another order). It takes about 4 to 6 minutes on
one thread of a busy 2-core machine (the Transformer's 20 epochs about 2 of them). Each model is saved as a model
directory (``NAME/model.safetensors``, ``config.json``, ``vocab.json``: load it with
``attention_course.checkpoint.load_model``), and ``results.json`` records the settings,
the training loss and the held-out accuracy and AER of every model (for the Transformer
also the AER of every layer's and head's cross-attention, ``aer_by_head``: layers x heads).
The chapters recompute the AER live on fresh test sentences; nothing here is typed into them.
"""
from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "lib"))

from attention_course import __version__  # noqa: E402
from attention_course.checkpoint import atomic_write_json, save_model  # noqa: E402
from attention_course.data import alignment_task as task  # noqa: E402
from attention_course.data.batching import bucket_batches  # noqa: E402
from attention_course.evaluation.alignment import argmax_alignment, corpus_aer, teacher_forced_attention  # noqa: E402
from attention_course.evaluation.heads import alignment_error_by_head, cross_attention  # noqa: E402
from attention_course.models.seq2seq import ModelConfig, build_model  # noqa: E402
from attention_course.models.transformer_decoder import TransformerDecoder  # noqa: E402
from attention_course.search import greedy_search  # noqa: E402

TINY = dict(emb_size=32, hidden_size=32, decoder_size=64, attention_size=64, dropout=0.1)
MODELS = {   # name -> model settings (all tiny; dot attention needs decoder_size = 2 · hidden_size)
    "bahdanau": dict(decoder="bahdanau", **TINY),
    "luong-dot": dict(decoder="luong", attention="dot", **TINY),
    "luong-general": dict(decoder="luong", attention="general", **TINY),
    "luong-concat": dict(decoder="luong", attention="concat", **TINY),
    "luong-local-p": dict(decoder="luong", attention="local-p", window=3, local_score="general", **TINY),
    # d_model 32 (4 heads of d_k = 8), 2 encoder + 2 decoder layers, feed-forward 128: about as
    # many parameters as the RNN models above (the shipped Transformer: d 128, 4 heads, ff 256)
    "transformer": dict(decoder="transformer", emb_size=32, layers=2, heads=4, ff_size=128, dropout=0.1),
}
# The dev sentences (for the training log) are held-out sentences of the test half of the language.
SETTINGS = dict(train_sentences=6000, train_seed=1, dev_sentences=300, dev_seed=2, epochs=5, batch_size=32,
                lr=0.003, lr_decay=0.8, clip=1.0, seed=1234)
# Training settings that differ for one model (recorded as its "settings" in results.json). The
# Transformer learns this task more slowly than the RNNs: with their 5 epochs it translated 78 % of
# the dev sentences exactly (the RNNs all of them); 20 epochs with a gentler decay bring it to 98 %.
TRAIN = {"transformer": dict(epochs=20, lr_decay=0.9)}


def evaluate(model, pairs, src_vocab, tgt_vocab) -> dict:
    """Exact-match accuracy of greedy translations and the AER of teacher-forced attention."""
    batch = task.to_batch(pairs, src_vocab, tgt_vocab)
    tgt_lengths = torch.tensor([len(p.target) for p in pairs])
    attention = teacher_forced_attention(model, batch.src, batch.src_lengths, batch.tgt_in, tgt_lengths)
    results = greedy_search(model, batch.src, batch.src_lengths)
    correct = sum(tgt_vocab.decode(r.tokens) == list(p.target) for r, p in zip(results, pairs))
    scores = {"exact_match": round(correct / len(pairs), 4),
              "aer": round(corpus_aer([argmax_alignment(a) for a in attention], [p.links for p in pairs]), 4)}
    if isinstance(model.decoder, TransformerDecoder):               # every head's own alignment too
        heads = cross_attention(model, batch.src, batch.src_lengths, batch.tgt_in)   # layers x batch x heads x tgt x src
        per_sentence = [heads[:, b, :, : len(p.target), : len(p.source)].numpy() for b, p in enumerate(pairs)]
        scores["aer_by_head"] = alignment_error_by_head(per_sentence, [p.links for p in pairs]).round(4).tolist()
    return scores


def train_one(name: str, settings: dict, src_vocab, tgt_vocab, train_ids, dev, out: Path) -> dict:
    train = {**SETTINGS, **TRAIN.get(name, {})}
    torch.manual_seed(train["seed"])
    cfg = ModelConfig(**settings)
    model = build_model(cfg, len(src_vocab), len(tgt_vocab))
    optimizer = torch.optim.Adam(model.parameters(), lr=train["lr"])
    t0, log = time.perf_counter(), []
    for epoch in range(train["epochs"]):
        for g in optimizer.param_groups:
            g["lr"] = train["lr"] * train["lr_decay"] ** epoch
        model.train()
        total, tokens = 0.0, 0
        for batch in bucket_batches(train_ids, train["batch_size"], random.Random(train["seed"] * 100 + epoch)):
            loss = model.loss(batch.src, batch.src_lengths, batch.tgt_in, batch.tgt_out)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), train["clip"])
            optimizer.step()
            total += float(loss.detach()) * batch.n_tokens
            tokens += batch.n_tokens
        scores = evaluate(model, dev, src_vocab, tgt_vocab)
        log.append({"epoch": epoch + 1, "train_loss": round(total / tokens, 4), **scores})
        print(f"{name} epoch {epoch + 1}: loss {total / tokens:.3f}, dev exact match {scores['exact_match']:.3f}, "
              f"dev AER {scores['aer']:.3f}" + (f", by head {scores['aer_by_head']}" if "aer_by_head" in scores else ""),
              file=sys.stderr, flush=True)
    seconds = time.perf_counter() - t0
    save_model(out / name, model.eval(), cfg, src_vocab, tgt_vocab, name,
               extra={"task": "attention_course.data.alignment_task", "settings": train,
                      "package_version": __version__})
    return {"model": cfg.to_dict(), "parameters": sum(p.numel() for p in model.parameters()),
            **({"settings": train} if name in TRAIN else {}), "epochs": log, "train_seconds": round(seconds, 1)}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default=str(ROOT / "lib" / "attention_course" / "alignment_models"))
    p.add_argument("--threads", type=int, default=1, help="torch threads (1 is fastest for these tiny models on a busy machine)")
    p.add_argument("--only", nargs="*", choices=sorted(MODELS), help="train only these models")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    src_vocab, tgt_vocab = task.vocabularies()
    train_pairs = task.generate(SETTINGS["train_sentences"], SETTINGS["train_seed"], "train")
    dev = task.generate(SETTINGS["dev_sentences"], SETTINGS["dev_seed"], "test")
    train_ids = task.encode(train_pairs, src_vocab, tgt_vocab)
    results_path = out / "results.json"
    results = json.loads(results_path.read_text()) if results_path.is_file() and args.only else {}
    results.update({"task": "attention_course.data.alignment_task", "settings": SETTINGS,
                    "torch_threads": args.threads, "package_version": __version__})
    models = results.setdefault("models", {})
    for name in args.only or MODELS:
        models[name] = train_one(name, MODELS[name], src_vocab, tgt_vocab, train_ids, dev, out)
        results["models"] = {n: models[n] for n in MODELS if n in models}   # keep the course's order
        atomic_write_json(results_path, results)
    print(f"saved {len(args.only or MODELS)} models and {results_path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
