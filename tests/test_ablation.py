"""The recorded no-position ablation of the Transformer (scripts/ablation_nopos.py) agrees with
the shipped Transformer: same settings but the positions, and its "with positions" curve is the
shipped training log's own first epochs (one run, not a second copy that could drift)."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from attention_course import pretrained

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import ablation_nopos  # noqa: E402


@pytest.fixture(scope="module")
def record():
    return json.loads(ablation_nopos.OUT.read_text())


def test_ablation_differs_from_the_shipped_transformer_by_the_positions_only(record):
    shipped = pretrained.config("transformer")
    assert record["config"]["model"] == {**shipped["model"], "positional": False}
    assert shipped["model"]["positional"] is True
    run = shipped["run"]
    for section in ("data", "train"):
        for key, value in record["config"][section].items():
            if key not in ("epochs", "threads", "checkpoint_every"):
                assert run[section][key] == value, (section, key)


def test_with_positions_curve_is_the_shipped_training_log(record):
    k = record["epochs"]
    shipped = [e["dev_bleu"] for e in pretrained.training_log("transformer")["epochs"]]
    assert 1 <= k < len(shipped)
    assert record["with_positions_dev_bleu_by_epoch"] == shipped[:k]
    assert len(record["dev_bleu_by_epoch"]) == k


def test_recorded_difference_is_consistent(record):
    bleu = record["paired_bootstrap_greedy"]["bleu"]
    assert bleu["delta"] == pytest.approx(record["test_bleu_greedy"] - record["with_positions_test_bleu_greedy"],
                                          abs=0.011)
    low, high = bleu["ci95"]
    assert low <= bleu["delta"] <= high
    assert record["test_sentences"] == pretrained.metrics("transformer")["test_sentences"]


def test_the_config_it_writes_is_the_one_it_checks(tmp_path):
    out = tmp_path / "nopos.json"
    assert ablation_nopos.main(["--write-config", str(out)]) == 0
    cfg = json.loads(out.read_text())
    assert cfg["model"]["positional"] is False and cfg["name"] == "transformer-nopos"
    shipped = json.loads((ROOT / "lib" / "attention_course" / "configs" / "transformer.json").read_text())
    assert {k: v for k, v in cfg["model"].items() if k != "positional"} == \
        {k: v for k, v in shipped["model"].items() if k != "positional"}
