"""The checks of chapter 2's exercises accept the right answers and reject wrong ones."""
import math

import pytest

from attention_course.data import synthetic
from attention_course.evaluation import length_bucket
from attention_course.exercises import ch02, check


def test_2_1_buckets_agree_with_the_package():
    answer = [length_bucket(len(s.split())) for s in ch02.BUCKET_SENTENCES]
    check("2.1", answer)
    assert len(set(answer)) == 4          # the sentences cover every bucket


@pytest.mark.parametrize("wrong", [["1-5"] * 5, ["1-5", "6-10", "11-15", "11-15", "1-5"],
                                   ["1-5", "6-10", "11-15", "16+"], ["1-5", "6-10", "11-15", "16-", "1-5"],
                                   "1-5 6-10 11-15 16+ 1-5", 3])
def test_2_1_rejects_wrong_answers(wrong):
    with pytest.raises(AssertionError):
        check("2.1", wrong)


def right_accuracy(pairs=None):
    by_length = {}
    for target, pred in pairs or ch02.exercise_predictions():
        by_length.setdefault(len(target), ([], []))
        by_length[len(target)][0].append(pred)
        by_length[len(target)][1].append(target)
    return {n: synthetic.score(preds, targets)[1] for n, (preds, targets) in by_length.items()}


def pooled(pairs, right_in, total_in):
    """Per-length accuracy with a given count of right positions and denominator per pair."""
    right, total = {}, {}
    for target, pred in pairs:
        n = len(target)
        right[n] = right.get(n, 0) + right_in(target, pred)
        total[n] = total.get(n, 0) + total_in(target, pred)
    return {n: right[n] / max(total[n], 1) for n in right}


def positional(target, pred):
    return sum(a == b for a, b in zip(pred, target))


def multiset(target, pred):                 # right symbols anywhere, order ignored
    return sum(min(target.count(x), pred.count(x)) for x in set(target))


def aligned(target, pred):                  # best alignment instead of position by position
    import difflib
    return sum(b.size for b in difflib.SequenceMatcher(None, target, pred, autojunk=False).get_matching_blocks())


WRONG_IMPLEMENTATIONS = {
    "exact-sequence accuracy": lambda pairs: pooled(pairs, lambda t, p: len(t) * (p == t), lambda t, p: len(t)),
    "over the prediction's length": lambda pairs: pooled(pairs, positional, lambda t, p: len(p)),
    "over the longer of the two": lambda pairs: pooled(pairs, positional, lambda t, p: max(len(t), len(p))),
    "missing positions ignored": lambda pairs: pooled(pairs, positional, lambda t, p: min(len(t), len(p))),
    "symbols counted in any order": lambda pairs: pooled(pairs, multiset, lambda t, p: len(t)),
    "best alignment, not position by position": lambda pairs: pooled(pairs, aligned, lambda t, p: len(t)),
}


def test_2_2_predictions_are_the_shipped_models_own():
    """The exercise's data are a real model's greedy copies (no error pattern built in): its
    per-length accuracy is exactly what synthetic.evaluate measures for that model."""
    measured = synthetic.evaluate(synthetic.load(ch02.PREDICTION_MODEL), "copy", list(ch02.PREDICTION_LENGTHS),
                                  per_length=ch02.PREDICTIONS_PER_LENGTH, seed=ch02.PREDICTION_SEED)
    answer = right_accuracy()
    assert sorted(answer) == list(ch02.PREDICTION_LENGTHS)
    assert answer == pytest.approx({n: measured[n]["token"] for n in answer}, abs=1e-12)
    assert ch02.exercise_predictions() == ch02.exercise_predictions()     # the same every time


def test_2_2_data_hold_every_kind_of_error_the_check_must_see():
    """Wrong symbols, missing symbols and extra ones: without each, some wrong method would pass."""
    pairs = ch02.exercise_predictions()
    assert any(p == t for t, p in pairs)                                   # some copies are right
    assert any(len(p) == len(t) and p != t for t, p in pairs)              # a wrong symbol
    assert any(len(p) < len(t) for t, p in pairs)                          # missing symbols
    assert any(len(p) > len(t) for t, p in pairs)                          # extra symbols


def test_2_2_accepts_the_right_answer_and_reports_what_it_measures(capsys):
    answer = right_accuracy()
    check("2.2", answer)
    out = capsys.readouterr().out
    assert max(len(line) for line in out.splitlines()) <= 78
    out = " ".join(out.split())
    assert "correct" in out and ch02.PREDICTION_MODEL in out
    for n, a in answer.items():
        assert f"{a:.0%} at length {n}" in out


@pytest.mark.parametrize("method", sorted(WRONG_IMPLEMENTATIONS))
def test_2_2_rejects_each_wrong_implementation(method):
    pairs = ch02.exercise_predictions()
    wrong = WRONG_IMPLEMENTATIONS[method](pairs)
    assert wrong != pytest.approx(right_accuracy(pairs), abs=1e-6), f"{method} gives the right numbers here"
    with pytest.raises(AssertionError):
        check("2.2", wrong)


def test_2_2_rejects_malformed_answers():
    right = right_accuracy()
    n = sorted(right)
    for wrong in [{k: 100 * v for k, v in right.items()}, {k: right[k] for k in n[:2]},
                  {str(k): v for k, v in right.items()}, list(right.values()), {k: None for k in right}]:
        with pytest.raises(AssertionError):
            check("2.2", wrong)


@pytest.mark.parametrize("values, says", [((0.9, 0.6, 0.3), "falls from each length to the next"),
                                          ((0.3, 0.6, 0.9), "rises from each length to the next"),
                                          ((0.9, 0.3, 0.6), "does not change steadily with length"),
                                          ((0.5, 0.5, 0.5), "does not change steadily with length")])
def test_2_2_message_states_only_the_trend_the_numbers_have(monkeypatch, capsys, values, says):
    """The success message is computed from the data: no trend is announced that is not there."""
    pairs = [(list("a" * n), list("a" * round(v * n))) for n, v in zip((10, 20, 40), values)]
    monkeypatch.setattr(ch02, "exercise_predictions", lambda: pairs)
    check("2.2", right_accuracy(pairs))
    out = " ".join(capsys.readouterr().out.split())
    assert says in out
    if "falls" not in says:
        assert "falls" not in out


def test_2_3_bits():
    check("2.3", 60 * math.log2(20))
    check("2.3", 259.3)
    for wrong in [60 * math.log(20), math.log2(20), 60 * 20, 60, "259.3", float("nan")]:
        with pytest.raises(AssertionError):
            check("2.3", wrong)


# --- 2.4: one half of seq2seq-64's summary ablated ---

from pathlib import Path  # noqa: E402

import torch  # noqa: E402
from helpers_solutions import solution_code  # noqa: E402

CHAPTER = Path(__file__).resolve().parents[1] / "chapters" / "02_bottleneck.ipynb"


def position_accuracy(model, batch, half, slip=None):
    """Teacher-forced accuracy per position with one half of the summary replaced by its
    average over the batch (mean ablation), through the
    decoder's forward (the checker goes step by step); ``slip`` makes a typical mistake."""
    memory = model.encode(batch.src, batch.src_lengths)
    c = memory.enc.final
    size = c.size(-1) // 2
    zeroed = {"forward": slice(0, size), "backward": slice(size, None)}
    if slip == "swapped":
        zeroed = {"forward": slice(size, None), "backward": slice(0, size)}
    if half is not None:
        ablated = c.clone()
        part = zeroed[half]
        if slip == "zero":
            ablated[:, part] = 0
        elif slip == "units":
            ablated[:, part] = ablated[:, part].mean(1, keepdim=True)
        else:
            ablated[:, part] = ablated[:, part].mean(0)
        if slip == "annotations":
            memory.enc.annotations[..., part] = memory.enc.annotations[..., part].mean(0)
        elif slip == "only initial":                     # s_0 from the ablated c, steps read the full c
            s0 = model.decoder.init(ablated)
            model.decoder.initial_state = lambda memory: s0
        elif slip == "only steps":                       # s_0 from the full c, steps read the ablated c
            s0 = model.decoder.initial_state(memory)
            model.decoder.initial_state = lambda memory: s0
            memory.enc.final = ablated
        else:
            memory.enc.final = ablated
    features, _ = model.decoder(batch.tgt_in, memory)
    right = (model.decoder.project(features).argmax(-1) == batch.tgt_out).double().mean(0)
    if slip == "with </s>":
        return right
    if slip == "error rate":
        return 1 - right[:-1]
    return right[:-1]


def greedy_position_accuracy(model, batch, half):
    """Free-running instead of teacher forcing: the decoder reads its own guesses."""
    from attention_course.search import greedy_search
    memory = model.encode(batch.src, batch.src_lengths)
    size = memory.enc.final.size(-1) // 2
    if half is not None:
        part = slice(0, size) if half == "forward" else slice(size, None)
        model.encode = lambda src, lengths: _averaged(memory, part)
    out = greedy_search(model, batch.src, batch.src_lengths)
    n = batch.tgt_out.size(1) - 1
    return torch.tensor([[len(r.tokens) > i and r.tokens[i] == int(batch.tgt_out[k, i]) for i in range(n)]
                         for k, r in enumerate(out)], dtype=torch.float64).mean(0)


def _averaged(memory, part):
    memory.enc.final = memory.enc.final.clone()
    memory.enc.final[:, part] = memory.enc.final[:, part].mean(0)
    return memory


def test_2_4_right_answer_passes_and_reports_both_ends(capsys):
    check("2.4", position_accuracy)
    out = capsys.readouterr().out
    assert "Exercise 2.4: correct." in out and "backward half averaged" in out
    assert max(len(line) for line in out.splitlines()) <= 78


def test_2_4_the_ablation_changes_the_accuracies():
    """Each half matters: averaging either one lowers seq2seq-64's teacher-forced accuracy."""
    model, batch = synthetic.load(ch02.HALVES_MODEL), ch02.halves_batch()
    with torch.no_grad():
        full = position_accuracy(model, batch, None)
        for half in ("forward", "backward"):
            assert float(position_accuracy(model, batch, half).mean()) < float(full.mean()) - 0.05


@pytest.mark.parametrize("wrong, hint", [
    (lambda m, b, h: position_accuracy(m, b, h, "swapped"), "You replaced the"),
    (lambda m, b, h: position_accuracy(m, b, h, "zero"), "not by zeros"),
    (lambda m, b, h: position_accuracy(m, b, h, "units"), "average over the batch's sequences"),
    (lambda m, b, h: position_accuracy(m, b, h, "annotations"), "Nothing changed"),
    (lambda m, b, h: position_accuracy(m, b, None), "Nothing changed"),
    (lambda m, b, h: position_accuracy(m, b, h, "only initial"), "Only the first state"),
    (lambda m, b, h: position_accuracy(m, b, h, "only steps"), "first state came from the full one"),
    (lambda m, b, h: position_accuracy(m, b, h, "with </s>"), "leave out the last position"),
    (lambda m, b, h: position_accuracy(m, b, h, "error rate"), "error rate"),
    (greedy_position_accuracy, "free-running"),
    (lambda m, b, h: None, "one accuracy per target position"),
    (lambda m, b, h: 1 / 0, "raised ZeroDivisionError"),
    ([0.5] * 20, "function itself"),
])
def test_2_4_rejects_wrong_ablations(wrong, hint):
    with torch.no_grad():
        with pytest.raises(AssertionError, match=hint):
            check("2.4", wrong)


def test_2_4_the_solution_in_the_chapter_passes(capsys):
    namespace = {"torch": torch}
    exec(solution_code(CHAPTER, "def position_accuracy"), namespace)  # noqa: S102
    check("2.4", namespace["answer"])
    assert "correct" in capsys.readouterr().out
