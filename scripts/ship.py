"""Copy trained models into the package: ``python scripts/ship.py --epoch K [NAMES]``.

Takes ``runs/NAME/epoch-K`` (the same K for every model, so comparisons are fair),
stores its weights as float16 (loading casts back to float32) in
``lib/attention_course/checkpoints/NAME`` with its config, vocabulary and training
log. ``--check`` translates the test split with the float32 and the float16 weights
and writes the BLEU of both to ``runs/NAME/fp16_check.json``.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

from attention_course.checkpoint import atomic_write_json, load_model, record_sha256, save_model
from attention_course.data.split import test_set
from attention_course.evaluation import corpus_bleu
from attention_course.models import ModelConfig
from attention_course.translator import Translator

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "lib" / "attention_course" / "checkpoints"


def ship(run: Path, epoch: int, dest: Path) -> Path:
    model, config, src, tgt = load_model(run / f"epoch-{epoch}")
    config["run"]["train"]["epochs"] = epoch
    extra = {k: v for k, v in config.items() if k not in ("name", "model", "dtype", "sha256")}
    out = save_model(dest, model, ModelConfig.from_dict(config["model"]), src, tgt, config["name"],
                     dtype=torch.float16, extra=extra)
    (out / "train_log.json").write_bytes((run / f"epoch-{epoch}" / "train_log.json").read_bytes())
    record_sha256(out, "train_log.json")   # load_model verifies it (evaluation.report adds metrics.json)
    return out


def check(run: Path, epoch: int, shipped: Path, device: str) -> dict:
    examples = test_set("test")
    refs = [e.references for e in examples]
    out = {"epoch": epoch, "device": device}
    for label, d in (("float32", run / f"epoch-{epoch}"), ("float16", shipped)):
        model, config, src, tgt = load_model(d, device)
        tr = Translator(model, src, tgt, device=device)
        for beam in (1, 5):
            hyps = [t.text for t in tr.translate_batch([e.source for e in examples], beam_size=beam)]
            out[f"{label}_beam{beam}"] = round(corpus_bleu(hyps, refs).score, 2)
    atomic_write_json(run / "fp16_check.json", out)
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("names", nargs="*")
    p.add_argument("--epoch", type=int, required=True)
    p.add_argument("--runs", default="runs")
    p.add_argument("--dest", default=str(SHIPPED))
    p.add_argument("--check", action="store_true")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = p.parse_args()
    names = args.names or sorted(d.name for d in Path(args.runs).iterdir() if d.is_dir())
    for name in names:
        shipped = ship(Path(args.runs) / name, args.epoch, Path(args.dest) / name)
        print(f"shipped {name} epoch {args.epoch} -> {shipped}", flush=True)
        if args.check:
            print(name, json.dumps(check(Path(args.runs) / name, args.epoch, shipped, args.device)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
