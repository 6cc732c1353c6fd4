"""The checks of chapter 1's exercises accept the right answers and reject wrong ones."""
import pytest
import torch
from torch import nn

from attention_course.exercises import check, ch01


def _gru_step(x, h, rnn, swap_update=False, reset_before_product=False):
    """A GRU step written out; the two flags make the typical wrong variants.

    swap_update: z ⊙ n + (1 - z) ⊙ h (the update gate the wrong way round);
    reset_before_product: Cho et al.'s U(r ⊙ h), a valid GRU but not nn.GRU's U h ⊙ r.
    """
    W_r, W_z, W_n = rnn.weight_ih_l0.chunk(3)
    U_r, U_z, U_n = rnn.weight_hh_l0.chunk(3)
    b_ir, b_iz, b_in = rnn.bias_ih_l0.chunk(3)
    b_hr, b_hz, b_hn = rnn.bias_hh_l0.chunk(3)
    r = torch.sigmoid(x @ W_r.T + b_ir + h @ U_r.T + b_hr)
    z = torch.sigmoid(x @ W_z.T + b_iz + h @ U_z.T + b_hz)
    hidden = (r * h) @ U_n.T + b_hn if reset_before_product else r * (h @ U_n.T + b_hn)
    n = torch.tanh(x @ W_n.T + b_in + hidden)
    return z * n + (1 - z) * h if swap_update else (1 - z) * n + z * h


def right_gru_step(x, h, rnn):
    return _gru_step(x, h, rnn)


def swapped_gru_step(x, h, rnn):
    return _gru_step(x, h, rnn, swap_update=True)


def paper_reset_gru_step(x, h, rnn):
    return _gru_step(x, h, rnn, reset_before_product=True)


def test_1_1_counts_parameters_like_torch():
    expected = sum(p.numel() for p in nn.GRU(ch01.GRU_INPUT, ch01.GRU_HIDDEN).parameters())
    check("1.1", expected)
    assert expected == 493056


@pytest.mark.parametrize("wrong", [3 * (256 * 384 + 256 * 256 + 256), 3 * (256 * 384 + 256 * 256),
                                   256 * 384 + 256 * 256 + 512, 493057, 493056.0, "493056", True])
def test_1_1_rejects_wrong_answers(wrong):
    with pytest.raises(AssertionError):
        check("1.1", wrong)


def test_1_2_accepts_a_right_step(capsys):
    check("1.2", right_gru_step)
    assert "correct" in capsys.readouterr().out


@pytest.mark.parametrize("wrong", [swapped_gru_step, paper_reset_gru_step, lambda x, h, rnn: h,
                                   lambda x, h, rnn: None, lambda x, h, rnn: h[0],
                                   lambda x, h, rnn: 1 / 0, 42])
def test_1_2_rejects_wrong_steps(wrong):
    with pytest.raises(AssertionError):
        check("1.2", wrong)


def test_1_2_swapped_update_gets_its_hint():
    with pytest.raises(AssertionError, match="wrong way round"):
        check("1.2", swapped_gru_step)


def test_1_3_teacher_forcing():
    check("1.3", (["<s>", "Il", "pleut", "."], ["Il", "pleut", ".", "</s>"]))
    for wrong in [(["Il", "pleut", ".", "</s>"], ["<s>", "Il", "pleut", "."]),
                  (["<s>", "Il", "pleut", ".", "</s>"], ["Il", "pleut", ".", "</s>"]),
                  (["<s>", "Il", "pleut", "."], ["Il", "pleut", "."]),
                  ("<s> Il pleut .", "Il pleut . </s>"), ["<s>"], 0]:
        with pytest.raises(AssertionError):
            check("1.3", wrong)


def test_unanswered_prints_a_reminder(capsys):
    check("1.1", None)
    assert "not answered yet" in capsys.readouterr().out
