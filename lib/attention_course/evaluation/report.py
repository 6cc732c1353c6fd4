"""Regenerate every shipped model's ``metrics.json`` (its model card) and the results table.

``python -m attention_course.evaluation.report [NAMES] [--table book/results.md]``

Every number comes from decoding the multi-reference test split with the shipped
weights; none is typed by hand.
"""
from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

import torch

from .. import __version__, pretrained
from ..checkpoint import atomic_write_json, record_sha256
from ..data.batching import bucket_batches
from ..data.corpus import CORPUS_SHA256
from ..data.dataset import encode_pairs, tokenize_pairs
from ..data.split import load_splits, test_set
from ..data.text import detokenize
from .bleu import bleu_by_length, corpus_bleu, corpus_chrf
from .perplexity import perplexity


def evaluate(name: str) -> dict:
    tr = pretrained.load(name)
    examples = test_set("test")
    sources, refs = [e.source for e in examples], [e.references for e in examples]
    t0 = time.perf_counter()
    greedy = tr.translate_batch(sources, beam_size=1)
    beam = tr.translate_batch(sources, beam_size=5)
    seconds = time.perf_counter() - t0
    beam_text = [t.text for t in beam]
    no_unk = [detokenize(t.raw_tokens, "fr") for t in beam]
    bleu_greedy, bleu_beam = corpus_bleu([t.text for t in greedy], refs), corpus_bleu(beam_text, refs)
    bleu_no_unk = corpus_bleu(no_unk, refs)
    pairs = encode_pairs(tokenize_pairs(load_splits()["test"]), tr.src_vocab, tr.tgt_vocab)
    log = pretrained.training_log(name)
    config = pretrained.config(name)
    n_unk = sum(t.raw_tokens.count("<unk>") for t in beam)
    return {
        "name": name,
        "test_sentences": len(examples),
        "test_references": sum(len(r) for r in refs),
        "bleu_greedy": round(bleu_greedy.score, 2),
        "bleu_beam5": round(bleu_beam.score, 2),
        "bleu_signature": bleu_beam.signature,
        "bleu_beam5_full": str(bleu_beam),
        "chrf_beam5": round(corpus_chrf(beam_text, refs).score, 2),
        "perplexity": round(perplexity(tr.model, bucket_batches(pairs, 100)), 3),
        "bleu_by_length_beam5": bleu_by_length(sources, beam_text, refs),
        "unk_replacement": {"unk_tokens_in_beam5_output": n_unk, "bleu_beam5_without": round(bleu_no_unk.score, 2),
                            "bleu_beam5_with": round(bleu_beam.score, 2),
                            "gain": round(bleu_beam.score - bleu_no_unk.score, 2)},
        "parameters": sum(p.numel() for p in tr.model.parameters()),
        "weights_dtype": config.get("dtype"),
        "training": {"epochs": len(log["epochs"]), "device": log.get("device"),
                     "train_seconds": round(log["train_seconds"], 1), "wall_seconds": round(log.get("wall_seconds", 0), 1),
                     "tokens_per_second": log["tokens_per_second"], "steps": log.get("steps"),
                     "dev_bleu_by_epoch": [e["dev_bleu"] for e in log["epochs"]]},
        "evaluation": {"decode_seconds_greedy_plus_beam5": round(seconds, 1), "machine": platform.machine(),
                       "torch_threads": torch.get_num_threads()},
        "corpus_sha256": CORPUS_SHA256,
        "package_version": __version__,
    }


def results_table(names: list[str]) -> str:
    rows = [("Model", "BLEU greedy", "BLEU beam 5", "chrF", "Perplexity", "BLEU 1–5", "BLEU 6–10", "BLEU 11–15",
             "BLEU 16+", "`<unk>` repl. gain", "Parameters")]
    for n in names:
        m = pretrained.metrics(n)
        b = m["bleu_by_length_beam5"]
        rows.append((f"`{n}`", f"{m['bleu_greedy']:.1f}", f"{m['bleu_beam5']:.1f}", f"{m['chrf_beam5']:.1f}",
                     f"{m['perplexity']:.2f}", *(f"{b[k]['bleu']:.1f}" if k in b else "–" for k in ("1-5", "6-10", "11-15", "16+")),
                     f"{m['unk_replacement']['gain']:+.1f}", f"{m['parameters'] / 1e6:.2f} M"))
    lines = ["| " + " | ".join(r) + " |" for r in rows]
    lines.insert(1, "|" + "---|" * len(rows[0]))
    sig = pretrained.metrics(names[0])["bleu_signature"]
    return "\n".join(lines) + f"\n\nsacreBLEU signature: `{sig}`. Test split: {pretrained.metrics(names[0])['test_sentences']:,} English sentences, every French translation a reference.\n"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("names", nargs="*")
    p.add_argument("--table", help="write the markdown results table into this file between the RESULTS markers")
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    names = args.names or pretrained.available()
    if not args.table or args.names:
        for n in names:
            m = evaluate(n)
            atomic_write_json(pretrained.checkpoint_dir(n) / "metrics.json", m)
            record_sha256(pretrained.checkpoint_dir(n), "metrics.json")   # load_model verifies it
            print(f"{n}: BLEU {m['bleu_greedy']:.1f} greedy, {m['bleu_beam5']:.1f} beam 5", flush=True)
    if args.table:
        path = Path(args.table)
        text = path.read_text(encoding="utf-8")
        start, end = "<!-- RESULTS:START -->", "<!-- RESULTS:END -->"
        if start not in text or end not in text:
            raise SystemExit(f"{path} needs the markers {start} and {end}")
        head, rest = text.split(start, 1)
        path.write_text(head + start + "\n" + results_table(pretrained.available()) + end + rest.split(end, 1)[1], encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
