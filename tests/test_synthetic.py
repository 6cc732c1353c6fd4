"""The synthetic copy/reverse task of chapter 2 and its shipped tiny models."""
import json

import pytest
import torch

from attention_course.data import synthetic
from attention_course.data.vocabulary import Vocabulary
from attention_course.models.seq2seq import ModelConfig, build_model


def test_vocabulary_has_specials_then_twenty_symbols():
    v = synthetic.vocabulary()
    assert len(synthetic.SYMBOLS) == 20 and len(v) == 24
    assert v.itos[:4] == ["<pad>", "<unk>", "<s>", "</s>"]
    assert v.decode(v.encode(list("abc"))) == list("abc")


def test_targets():
    assert synthetic.target("abc", "copy") == ("a", "b", "c")
    assert synthetic.target("abc", "reverse") == ("c", "b", "a")
    with pytest.raises(ValueError, match="task"):
        synthetic.target("abc", "sort")


def test_sample_is_seeded_and_has_the_asked_lengths():
    a = synthetic.sample([5, 60, 7], "reverse", seed=3)
    assert a == synthetic.sample([5, 60, 7], "reverse", seed=3)
    assert a != synthetic.sample([5, 60, 7], "reverse", seed=4)
    assert [len(p.source) for p in a] == [5, 60, 7]
    assert all(p.target == tuple(reversed(p.source)) and set(p.source) <= set(synthetic.SYMBOLS) for p in a)
    for bad in (0, -1, 2.5, True, "5"):
        with pytest.raises(ValueError, match="length"):
            synthetic.sample([bad], "copy", seed=0)


def test_sample_lengths_are_uniform_in_range():
    lengths = synthetic.sample_lengths(5000, seed=1)
    assert min(lengths) == synthetic.MIN_LEN and max(lengths) == synthetic.MAX_LEN
    assert lengths == synthetic.sample_lengths(5000, seed=1)
    with pytest.raises(ValueError):
        synthetic.sample_lengths(3, seed=1, low=10, high=5)


def test_to_batch_shifts_the_target():
    pairs = synthetic.sample([3, 5], "copy", seed=0)
    b = synthetic.to_batch(pairs)
    assert b.src.shape == (2, 5) and b.src_lengths.tolist() == [3, 5]
    assert b.tgt_in[:, 0].tolist() == [Vocabulary.bos_index] * 2
    assert b.tgt_out[0, 3] == Vocabulary.eos_index and b.tgt_out[1, 5] == Vocabulary.eos_index
    assert torch.equal(b.tgt_in[1, 1:], b.tgt_out[1, :-1])


def test_score():
    assert synthetic.score([list("abc"), list("abd")], [list("abc"), list("abc")]) == (0.5, 5 / 6)
    # a dropped symbol shifts the rest; extra symbols after the end are ignored per token
    assert synthetic.score([list("ac")], [list("abc")]) == (0.0, 1 / 3)
    assert synthetic.score([list("abcx")], [list("abc")]) == (0.0, 1.0)
    with pytest.raises(ValueError):
        synthetic.score([list("a")], [])
    with pytest.raises(ValueError):
        synthetic.score([], [])


def test_evaluate_runs_an_untrained_model():
    torch.manual_seed(0)
    v = synthetic.vocabulary()
    model = build_model(ModelConfig(decoder="bahdanau", emb_size=8, hidden_size=8, decoder_size=16,
                                    attention_size=16, dropout=0.0), len(v), len(v))
    acc = synthetic.evaluate(model, "copy", [5, 9], per_length=4, seed=1)
    assert list(acc) == [5, 9]
    assert all(0 <= a["exact"] <= a["token"] <= 1 for a in acc.values())
    assert acc == synthetic.evaluate(model, "copy", [5, 9], per_length=4, seed=1)


def test_shipped_models_and_results():
    results = synthetic.results()
    names = list(results["models"])
    assert any(n.startswith("seq2seq") for n in names) and any(n.startswith("bahdanau") for n in names)
    total = sum(p.stat().st_size for p in synthetic.artifacts_dir().rglob("*") if p.is_file())
    assert total < 3_000_000, f"the synthetic artifacts take {total:,} bytes"
    for name, info in results["models"].items():
        model = synthetic.load(name)
        assert not model.training
        assert sum(p.numel() for p in model.parameters()) == info["parameters"]
        assert model.has_attention == (info["model"]["decoder"] == "bahdanau")
    with pytest.raises(ValueError, match="unknown synthetic model"):
        synthetic.load("nonsense")
    json.dumps(results)  # plain JSON


def test_shipped_attention_model_beats_the_largest_plain_one_on_long_sequences():
    """The finding chapter 2 shows, on fresh sequences (quick: 20 sequences of length 50)."""
    torch.set_num_threads(1)
    results = synthetic.results()
    task = results["settings"]["task"]
    plain = max((n for n in results["models"] if n.startswith("seq2seq")),
                key=lambda n: results["models"][n]["model"]["hidden_size"])
    attention = max((n for n in results["models"] if n.startswith("bahdanau")),
                    key=lambda n: results["models"][n]["model"]["hidden_size"])
    acc = {n: synthetic.evaluate(synthetic.load(n), task, [50], per_length=20, seed=7)[50]["token"]
           for n in (plain, attention)}
    assert acc[attention] > acc[plain] + 0.3, acc


def replay_criterion(dev_losses: list[dict], s: dict) -> list[dict]:
    """The convergence criterion of scripts/train_synthetic.py, replayed on the logged dev losses.

    The log rounds each loss to 4 decimals, so a test that falls within that rounding of the
    threshold could have gone either way: both branches are followed, and a branch survives only
    while it reproduces the learning rate logged at every evaluation. Returns every surviving
    outcome."""
    rounding = 1e-4
    outcomes = []

    def step(i, best, best_step, stale, lr):
        while i < len(dev_losses):
            e = dev_losses[i]
            if abs(e["lr"] - lr) > 1e-12:
                return                                           # not what the script did
            i += 1
            if e["step"] <= s["warmup_steps"]:
                continue
            if best == float("inf"):
                improved = [True]
            else:
                margin = best - max(s["min_improvement"] * best, s["min_improvement_abs"]) - e["loss"]
                improved = [True, False] if abs(margin) <= rounding else [margin > 0]
            if len(improved) == 2:                               # follow the other branch too
                step(i, e["loss"], e["step"], 0, lr)
            if improved[-1]:
                best, best_step, stale = e["loss"], e["step"], 0
                continue
            stale += 1
            if stale >= s["patience"]:
                outcomes.append({"stopped": "converged", "steps": e["step"], "best_step": best_step,
                                 "best": best})
                return
            if stale % s["lr_patience"] == 0:
                lr *= s["lr_factor"]
        outcomes.append({"stopped": "cap", "steps": dev_losses[-1]["step"], "best_step": best_step, "best": best})

    step(0, float("inf"), 0, 0, s["lr"])
    return outcomes


def test_every_model_was_trained_to_convergence_or_to_the_recorded_cap():
    """What results.json says about each model's stop follows from its own dev losses: it
    stopped where the stated criterion says, and 'converged' means no >1 % improvement in the
    last `patience` evaluations (chapter 2 reads 'converged' and 'hit the cap' from here)."""
    results = synthetic.results()
    s = results["settings"]
    for key in ("dev_size", "eval_every", "min_improvement", "patience", "lr_patience", "max_steps"):
        assert key in s, key
    for name, info in results["models"].items():
        assert info["stopped"] in ("converged", "cap"), name
        dev = info["dev_losses"]
        assert [e["step"] for e in dev] == list(range(s["eval_every"], info["steps"] + 1, s["eval_every"])), name
        recorded = (info["stopped"], info["steps"], info["best_step"], info["best_dev_loss"])
        assert any((r["stopped"], r["steps"], r["best_step"], round(r["best"], 4)) == recorded
                   for r in replay_criterion(dev, s)), name
        if info["stopped"] == "cap":
            assert info["steps"] == s["max_steps"], name
        else:
            assert info["steps"] < s["max_steps"] and info["steps"] - info["best_step"] == s["patience"] * s["eval_every"]


def test_equal_step_snapshots_and_offline_time_are_recorded():
    results = synthetic.results()
    s = results["settings"]
    for name, info in results["models"].items():
        assert "1200" in info["snapshots"], name         # the equal-step comparison of chapter 2
        for step, acc in info["snapshots"].items():
            assert int(step) in s["snapshot_steps"] and int(step) <= info["steps"], (name, step)
            assert set(acc) == {str(n) for n in s["eval_lengths"]}
            assert all(0 <= a["exact"] <= a["token"] <= 1 and a["token_se"] >= 0 for a in acc.values())
        assert 0 < info["cpu_seconds"] <= info["train_seconds"] * 1.05 + 1, name
    total = results["total"]
    assert total["cpu_seconds"] == pytest.approx(sum(m["cpu_seconds"] for m in results["models"].values()), abs=0.5)
    assert total["cpu_seconds"] <= 30 * 60, "the offline training should stay within about 30 min of CPU"


def test_evaluate_reports_the_standard_error_over_sequences():
    torch.manual_seed(0)
    v = synthetic.vocabulary()
    model = build_model(ModelConfig(decoder="bahdanau", emb_size=8, hidden_size=8, decoder_size=16,
                                    attention_size=16, dropout=0.0), len(v), len(v))
    acc = synthetic.evaluate(model, "copy", [6], per_length=5, seed=3)[6]
    pairs = synthetic.sample([6] * 5, "copy", 3 * 1000 + 6)
    with torch.no_grad():
        from attention_course.search import greedy_search
        batch = synthetic.to_batch(pairs)
        preds = [v.decode(r.tokens) for r in greedy_search(model, batch.src, batch.src_lengths)]
    each = torch.tensor([synthetic.score([p], [q.target])[1] for p, q in zip(preds, pairs)], dtype=torch.float64)
    assert acc["token"] == pytest.approx(float(each.mean()))
    assert acc["token_se"] == pytest.approx(float(each.std()) / 5 ** 0.5)
    assert synthetic.evaluate(model, "copy", [6], per_length=1, seed=3)[6]["token_se"] == 0.0


def test_the_replay_rejects_stops_that_do_not_follow_the_criterion():
    s = synthetic.results()["settings"]
    every, first = s["eval_every"], (s["warmup_steps"] // s["eval_every"] + 1) * s["eval_every"]
    halved = first + s["lr_patience"] * every          # the evaluation after which lr halves
    plateau = [{"step": k, "loss": 1.0, "lr": s["lr"] * (s["lr_factor"] if k > halved else 1)}
               for k in range(every, first + (s["patience"] + 4) * every, every)]
    assert replay_criterion(plateau, s) == [{"stopped": "converged", "steps": first + s["patience"] * every,
                                             "best_step": first, "best": 1.0}]
    # the same plateau logged without the halving cannot come from the criterion
    assert replay_criterion([dict(e, lr=s["lr"]) for e in plateau], s) == []
    # a loss that keeps improving by 2 % never stops before the cap
    falling = [{"step": k, "loss": 0.98 ** (k // every), "lr": s["lr"]} for k in range(every, 6000, every)]
    assert [o["stopped"] for o in replay_criterion(falling, s)] == ["cap"]
