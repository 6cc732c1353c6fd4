"""The checkers of chapter 4's exercises: a right answer (computed here with the package's own
attention modules, independently of the checkers' NumPy loops) passes; typical wrong answers
raise an AssertionError with a hint."""
from __future__ import annotations

import pytest
import torch

from attention_course.exercises import ch04, check
from attention_course.models.attention import LocalAttention, LuongAttention


def _fails(key, answer, hint: str):
    with pytest.raises(AssertionError, match=hint):
        check(key, answer)


def _general_scores() -> torch.Tensor:
    d = ch04.data("4.1")
    att = LuongAttention("general", query_size=3, key_size=3)
    with torch.no_grad():
        att.W_a.weight.copy_(d["W_a"])
        return att.scores(d["h_t"][None, None], att.precompute(d["H"][None]))[0, 0]


def test_unanswered_prints_a_reminder(capsys):
    check("4.2", None)
    assert "not answered yet" in capsys.readouterr().out


def test_41_right_answers_pass(capsys):
    d = ch04.data("4.1")
    check("4.1", _general_scores())
    check("4.1", d["H"] @ d["W_a"].T @ d["h_t"])
    assert capsys.readouterr().out.count("correct") == 2


def test_41_wrong_answers_fail():
    d = ch04.data("4.1")
    right = _general_scores()
    _fails("4.1", torch.softmax(right, -1), "weights")
    _fails("4.1", d["H"] @ d["h_t"], "dot score")
    _fails("4.1", d["H"] @ d["W_a"] @ d["h_t"], "transposed")
    _fails("4.1", right[:4], "one score per source word")
    _fails("4.1", right * 2, "Not quite")


def _local_p(window: int = 2) -> LocalAttention:
    att = LocalAttention("general", query_size=3, key_size=3, window=window, predictive=True, attention_size=2)
    d = ch04.data("4.2")
    with torch.no_grad():
        att.W_p.weight.copy_(d["W_p"])
        att.v_p.weight.copy_(d["v_p"][None, :])
    return att


def test_42_right_answer_passes(capsys):
    d = ch04.data("4.2")
    with torch.no_grad():
        p = _local_p().positions(d["h_t"][None, None], torch.tensor([d["S"]]), step=0)
    check("4.2", p)
    check("4.2", float(p))
    assert capsys.readouterr().out.count("correct") == 2


def test_42_wrong_answers_fail():
    right = ch04.position_42()
    _fails("4.2", right / 9, "multiply it by the source length")
    _fails("4.2", right * 8 / 9, "S itself")
    _fails("4.2", ch04.position_42(squash=False), "sigmoid|Not quite")
    _fails("4.2", right + 0.5, "Not quite")
    _fails("4.2", torch.ones(3), "one number")
    _fails("4.2", True, "number")


def _local_weights_with_module() -> torch.Tensor:
    """LocalAttention.forward with the dot score on 1-d keys (so the scores are the keys) and
    p_t fixed to the exercise's value."""
    d = ch04.data("4.3")
    n = d["scores"].numel()
    att = LocalAttention("dot", query_size=1, key_size=1, window=d["D"], predictive=True)
    att.positions = lambda query, lengths, step: torch.full((1, 1), d["p_t"])
    keys = d["scores"][None, :, None]
    with torch.no_grad():
        _, alpha = att(torch.ones(1, 1, 1), keys, keys, torch.ones(1, n, dtype=torch.bool))
    return alpha[0, 0]


def test_43_right_answer_passes(capsys):
    check("4.3", _local_weights_with_module())
    assert "correct" in capsys.readouterr().out


def test_43_wrong_answers_fail():
    d = ch04.data("4.3")
    right = _local_weights_with_module()
    _fails("4.3", torch.softmax(d["scores"], -1) *
           torch.exp(-(torch.arange(9.0) - d["p_t"]) ** 2 / 2), "window only")
    _fails("4.3", torch.tensor(ch04.local_weights_43(gaussian=False)), "multiply each weight")
    _fails("4.3", torch.tensor(ch04.local_weights_43(sigma=2.0)), "D / 2")
    _fails("4.3", right / right.sum(), "renormalise")
    _fails("4.3", right[2:6], "one weight per source position")
    _fails("4.3", right + 0.01, "Not quite")


# --- 4.4: input feeding switched off in the trained luong-general ----------------------------------

def _step_logits(translator, batch, fed="zero", zero_output=False):
    """The solution's loop with the package's own decoder.step (the checker writes the decoder out
    by hand instead): logits of every step with h̃_{t-1} replaced by zeros."""
    dec = translator.model.decoder
    with torch.no_grad():
        memory = translator.model.encode(batch.src, batch.src_lengths)
        h, h_tilde = dec.initial_state(memory)
        logits = []
        for t in range(batch.tgt_in.size(1)):
            state = (h, torch.zeros_like(h_tilde) if fed == "zero" else h_tilde)
            step_logits, (h, h_tilde), _ = dec.step(batch.tgt_in[:, t], state, memory, t)
            if zero_output:
                step_logits = dec.project(dec._features(torch.zeros_like(h_tilde)))
            logits.append(step_logits)
    return torch.stack(logits, 1)


def _ce(logits, batch, **kwargs):
    return torch.nn.functional.cross_entropy(logits.transpose(1, 2), batch.tgt_out, **kwargs)


@pytest.fixture(scope="module")
def feed44():
    from attention_course import pretrained
    translator = pretrained.load(ch04.MODEL_44)
    return translator, ch04.batch_44(translator)


def test_44_the_hand_written_decoder_is_the_package_decoder(feed44):
    """With input feeding on, the checker's float64 decoder gives the package's own loss."""
    translator, batch = feed44
    assert batch.src.shape[0] == len(ch04.PAIRS_44) and bool((batch.tgt_out == 0).any())   # padded
    with torch.no_grad():
        own = float(translator.model.loss(batch.src, batch.src_lengths, batch.tgt_in, batch.tgt_out))
    assert abs(ch04._luong_by_hand(translator) - own) < 1e-4
    assert abs(float(_ce(_step_logits(translator, batch, fed="previous"), batch, ignore_index=0)) - own) < 1e-4


def test_44_right_answer_passes(feed44, capsys):
    translator, batch = feed44
    right = _ce(_step_logits(translator, batch), batch, ignore_index=0)
    check("4.4", right)
    check("4.4", float(right))
    out = capsys.readouterr().out
    assert out.count("correct") == 2 and "luong-general-nofeed" in out
    assert all(len(line) <= 78 for line in out.splitlines())


def test_44_wrong_answers_fail(feed44):
    from attention_course import pretrained
    translator, batch = feed44
    logits = _step_logits(translator, batch)
    with torch.no_grad():
        own = translator.model.loss(batch.src, batch.src_lengths, batch.tgt_in, batch.tgt_out)
        other = pretrained.load("luong-general-nofeed")
        b = ch04.batch_44(other)
        nofeed = other.model.loss(b.src, b.src_lengths, b.tgt_in, b.tgt_out)
    _fails("4.4", own, "own loss, with input feeding on")
    _fails("4.4", nofeed, "another model")
    _fails("4.4", _ce(_step_logits(translator, batch, zero_output=True), batch, ignore_index=0),
           "that predicts the word as well")
    _fails("4.4", _ce(logits, batch), "padding")
    _fails("4.4", _ce(logits, batch, ignore_index=0, reduction="sum"), "sum")
    _fails("4.4", float(_ce(logits, batch, ignore_index=0)) + 0.01, "Not quite")
    _fails("4.4", logits, "one number")
