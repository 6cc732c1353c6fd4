"""Record the no-position ablation of the Transformer: ``python scripts/ablation_nopos.py --epoch K``.

The ablation is the shipped ``transformer`` config with ``model.positional`` false (no position
encodings anywhere: the encoder then sees a bag of words, see chapter 07), trained with the same
data, seed and schedule::

    python scripts/ablation_nopos.py --write-config /tmp/transformer-nopos.json
    python -m attention_course.train /tmp/transformer-nopos.json --out runs/transformer-nopos --keep-epochs

Its weights are not shipped. This script compares it, after ``K`` epochs, with the shipped
Transformer's own run after the same ``K`` epochs (``runs/transformer/epoch-K``, kept by
``--keep-epochs``): same budget, the positions the only difference. It decodes the test split
greedily with both (float32, one thread), and writes
``lib/attention_course/ablations/transformer-nopos.json``: both dev-BLEU curves (the one with
positions must equal the first K epochs of the shipped training log, which a test checks), both
test BLEU and chrF, and the paired-bootstrap 95 % interval of their difference.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "lib"))

from attention_course import __version__, pretrained  # noqa: E402
from attention_course.checkpoint import atomic_write_json, load_model  # noqa: E402
from attention_course.data.split import test_set  # noqa: E402
from attention_course.evaluation.significance import paired_bootstrap  # noqa: E402
from attention_course.translator import Translator  # noqa: E402

OUT = ROOT / "lib" / "attention_course" / "ablations" / "transformer-nopos.json"
NAME = "transformer-nopos"


def ablation_config() -> dict:
    """The shipped transformer's config with the positions switched off (nothing else changes)."""
    cfg = json.loads((ROOT / "lib" / "attention_course" / "configs" / "transformer.json").read_text())
    cfg["name"] = NAME
    cfg["description"] = "Ablation: the transformer without position encodings (not shipped)."
    cfg["model"]["positional"] = False
    return cfg


def dev_curve(run_epoch: Path) -> list[float]:
    return [e["dev_bleu"] for e in json.loads((run_epoch / "train_log.json").read_text())["epochs"]]


def greedy_outputs(run_epoch: Path, sources: list[str]) -> list[str]:
    model, _, src, tgt = load_model(run_epoch)
    return [t.text for t in Translator(model, src, tgt).translate_batch(sources, beam_size=1)]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epoch", type=int, help="compare the two runs after this many epochs")
    p.add_argument("--runs", type=Path, default=Path("runs"))
    p.add_argument("--out", type=Path, default=OUT)
    p.add_argument("--write-config", type=Path, help="only write the ablation's training config here")
    args = p.parse_args(argv)
    if args.write_config:
        args.write_config.write_text(json.dumps(ablation_config(), indent=1) + "\n")
        return 0
    if not args.epoch:
        p.error("give --epoch K (or --write-config FILE)")
    torch.set_num_threads(1)
    with_pos, without = args.runs / "transformer" / f"epoch-{args.epoch}", args.runs / NAME / f"epoch-{args.epoch}"
    for d in (with_pos, without):
        if not (d / "model.safetensors").is_file():
            raise SystemExit(f"{d} is missing: train both runs with --keep-epochs for {args.epoch} epochs first")
    run_cfg = json.loads((args.runs / NAME / "run_config.json").read_text())
    if run_cfg["model"] != {**pretrained.config("transformer")["model"], "positional": False}:
        raise SystemExit("the ablation run's model settings differ from the shipped transformer's by more than "
                         "the positions")
    examples = test_set("test")
    sources, refs = [e.source for e in examples], [e.references for e in examples]
    start = time.perf_counter()
    hyp_with, hyp_without = greedy_outputs(with_pos, sources), greedy_outputs(without, sources)
    bleu = paired_bootstrap(hyp_without, hyp_with, refs, "bleu")
    chrf = paired_bootstrap(hyp_without, hyp_with, refs, "chrf")
    log = json.loads((without / "train_log.json").read_text())
    record = {
        "name": NAME,
        "what": ("the shipped transformer's config with model.positional false, trained with the same data, "
                 "seed and schedule; compared after the same number of epochs with the shipped transformer's "
                 "own run (runs/transformer/epoch-K); test split, greedy search, float32 weights"),
        "command": f"python scripts/ablation_nopos.py --epoch {args.epoch}",
        "config": {k: run_cfg[k] for k in ("model", "data", "train")},     # every setting, defaults included
        "epochs": args.epoch,
        "dev_bleu_by_epoch": dev_curve(without),
        "with_positions_dev_bleu_by_epoch": dev_curve(with_pos),
        "test_sentences": len(sources),
        "test_bleu_greedy": round(bleu.score_a, 2),
        "with_positions_test_bleu_greedy": round(bleu.score_b, 2),
        "test_chrf_greedy": round(chrf.score_a, 2),
        "with_positions_test_chrf_greedy": round(chrf.score_b, 2),
        "paired_bootstrap_greedy": {
            m: {"delta": round(r.delta, 2), "ci95": [round(r.low, 2), round(r.high, 2)],
                "p_value": round(r.p_value, 4), "resamples": r.resamples, "seed": r.seed}
            for m, r in (("bleu", bleu), ("chrf", chrf))},
        "training": {k: log[k] for k in ("train_seconds", "tokens_per_second", "device", "torch_threads")
                     if k in log},
        "decode_seconds": round(time.perf_counter() - start, 1),
        "package_version": __version__,
    }
    atomic_write_json(args.out, record)
    print(f"{NAME} after {args.epoch} epochs: test BLEU {record['test_bleu_greedy']} (greedy) vs "
          f"{record['with_positions_test_bleu_greedy']} with positions, Δ {bleu.delta:+.2f} "
          f"[{bleu.low:+.2f}, {bleu.high:+.2f}]")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
