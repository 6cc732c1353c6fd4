"""Chapter 2's source-reversal exercise: right answers pass (the chapter's solution among them),
the usual slips are each rejected with their own hint, and the check's cases hold every trap."""
from pathlib import Path

import pytest
import torch

from attention_course.exercises import ch02_reverse, check
from attention_course.models.source_reversal import reverse_padded

from helpers_solutions import solution_code

CHAPTER = Path(__file__).resolve().parents[1] / "chapters" / "02_bottleneck.ipynb"


def by_loops(src, lengths):
    """Written without the package: plain Python lists."""
    rows = src.tolist()
    return torch.tensor([r[:n][::-1] + r[n:] for r, n in zip(rows, lengths.tolist())])


def by_value(src, lengths):
    """Finds the padding by its index instead of reading lengths: right for these batches."""
    out = src.clone()
    for b in range(len(src)):
        real = src[b] != 0
        out[b, real] = src[b, real].flip(0)
    return out


def test_right_answers_pass(capsys):
    for right in (reverse_padded, by_loops, by_value, lambda s, n: by_loops(s, n).tolist()):
        check(ch02_reverse.KEY, right)
        assert "correct" in capsys.readouterr().out


def test_the_chapters_solution_passes(capsys):
    namespace = {}
    exec(solution_code(CHAPTER, "def reverse_words"), namespace)  # noqa: S102
    check(ch02_reverse.KEY, namespace["answer"])
    assert "correct" in capsys.readouterr().out


def in_place(src, lengths):
    for b, n in enumerate(lengths.tolist()):
        src[b, :n] = src[b, :n].flip(0).clone()
    return src


def one_short(src, lengths):
    return reverse_padded(src, (lengths - 1).clamp(min=1))


def as_floats(src, lengths):
    return reverse_padded(src, lengths).float()


def padding_dropped(src, lengths):
    return [list(reversed(r[:n])) for r, n in zip(src.tolist(), lengths.tolist())]


def crashes(src, lengths):
    raise IndexError("index 6 is out of bounds")


# (wrong answer, words its hint must hold)
WRONG = [
    (lambda s, n: s.flip(1), "padding included"),
    (lambda s, n: s.flip(0), "order of the sentences"),
    (lambda s, n: reverse_padded(s, n).flip(0), "changed places"),
    (lambda s, n: s.flip(0).flip(1), "both dimensions"),
    (ch02_reverse._up_to_longest, "own length"),
    (lambda s, n: s.clone(), "Nothing changed"),
    (in_place, "changed the batch it was given"),
    (one_short, "should become"),
    (as_floats, "whole token ids"),
    (padding_dropped, "Return a tensor"),
    (lambda s, n: None, "returned None"),
    (crashes, "raised IndexError"),
]


@pytest.mark.parametrize("wrong, hint", WRONG, ids=[str(i) for i in range(len(WRONG))])
def test_wrong_answers_are_rejected_with_their_hint(wrong, hint):
    with pytest.raises(AssertionError, match=hint):
        check(ch02_reverse.KEY, wrong)


def test_not_a_function_is_rejected():
    src, lengths = ch02_reverse.example_batch()
    with pytest.raises(AssertionError, match="function itself"):
        check(ch02_reverse.KEY, reverse_padded(src, lengths))


def test_the_hand_made_cases_hold_every_trap():
    """Each slip the check names fails on the first hand-made batch, with an output of its own
    (so its hint is the one given), and no trap relies on the random batches; and the cases have padding after the longest row, a batch of one and
    one-word sentences."""
    fixed = ch02_reverse.batches()[:5]
    first, lengths = fixed[0]
    outputs = [reverse_padded(first, lengths)] + [slip(first, lengths) for slip, _ in ch02_reverse.SLIPS]
    for i, a in enumerate(outputs):       # on the first batch every slip is caught and told apart
        assert not any(torch.equal(a, b) for b in outputs[i + 1:]), i
    assert any(s.size(1) > int(n.max()) for s, n in fixed)
    assert any(len(s) == 1 for s, _ in fixed)
    assert any(int(n.min()) == 1 for _, n in fixed)
    assert all(bool((s[:, :1] >= ch02_reverse.FIRST_WORD).all()) for s, _ in ch02_reverse.batches())


def test_the_example_batch_is_ragged():
    src, lengths = ch02_reverse.example_batch()
    assert len(set(lengths.tolist())) == len(lengths) and src.size(1) == int(lengths.max())
    assert bool((src == 0).any())
