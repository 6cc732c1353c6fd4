"""The checkers of chapter 3's exercises: a right answer (computed here with the package's own
modules, independently of the checkers' NumPy loops) passes; typical wrong answers raise an
AssertionError with a hint."""
from __future__ import annotations

import pytest
import torch

from attention_course.exercises import ch03, check
from attention_course.models.attention import BahdanauAttention, masked_softmax
from attention_course.models.layers import InitialState


def _energies_with_module() -> torch.Tensor:
    d = ch03.data("3.1")
    att = BahdanauAttention(query_size=3, key_size=4, attention_size=3)
    with torch.no_grad():
        att.W_a.weight.copy_(d["W_a"])
        att.U_a.weight.copy_(d["U_a"])
        att.v_a.weight.copy_(d["v_a"][None, :])
        keys = att.precompute(d["H"][None])
        _, alpha = att(d["s_prev"][None, None], keys, d["H"][None], torch.ones(1, 4, dtype=torch.bool))
        energy = att.v_a(torch.tanh(att.W_a(d["s_prev"]) + keys[0])).squeeze(-1)
    assert torch.allclose(alpha[0, 0], torch.softmax(energy, -1))
    return energy


def _fails(key, answer, hint: str):
    with pytest.raises(AssertionError, match=hint):
        check(key, answer)


def test_unanswered_prints_a_reminder(capsys):
    check("3.1", None)
    assert "not answered yet" in capsys.readouterr().out


def test_31_right_answers_pass(capsys):
    e = _energies_with_module()
    check("3.1", e)
    check("3.1", e.tolist())
    d = ch03.data("3.1")
    check("3.1", torch.tanh(d["W_a"] @ d["s_prev"] + d["H"] @ d["U_a"].T) @ d["v_a"])
    assert capsys.readouterr().out.count("correct") == 3


def test_31_wrong_answers_fail():
    e = _energies_with_module()
    d = ch03.data("3.1")
    _fails("3.1", torch.softmax(e, -1), "weights")
    _fails("3.1", (d["W_a"] @ d["s_prev"] + d["H"] @ d["U_a"].T) @ d["v_a"], "tanh")
    _fails("3.1", e[:3], "one energy per source word")
    _fails("3.1", e + 0.1, "Not quite")
    _fails("3.1", "energies", "tensor")


def test_32_right_answer_passes(capsys):
    d = ch03.data("3.2")
    mask = torch.arange(5) < d["length"]
    alpha = masked_softmax(d["e"], mask)
    check("3.2", (alpha, alpha @ d["H"]))
    assert "correct" in capsys.readouterr().out


def test_32_wrong_answers_fail():
    d = ch03.data("3.2")
    alpha = masked_softmax(d["e"], torch.arange(5) < d["length"])
    unmasked = torch.softmax(d["e"], -1)
    _fails("3.2", (unmasked, unmasked @ d["H"]), "padding")
    _fails("3.2", (alpha, d["H"].sum(0)), "c = ")
    _fails("3.2", (alpha[:3], alpha @ d["H"]), "padding included")
    _fails("3.2", (alpha * 2, alpha @ d["H"]), "sum to 1")
    _fails("3.2", alpha, "pair")


def _s0(row: int, half: slice, tanh: bool = True) -> torch.Tensor:
    d = ch03.data("3.3")
    layer = InitialState(2, 3)
    with torch.no_grad():
        layer.W_s.weight.copy_(d["W_s"])
        layer.W_s.bias.copy_(d["b_s"])
        h = d["H"][row, half]
        return layer(h) if tanh else layer.W_s(h)


def test_33_right_answer_passes(capsys):
    check("3.3", _s0(0, slice(2, 4)))
    assert "correct" in capsys.readouterr().out


def test_33_wrong_answers_fail():
    _fails("3.3", _s0(-1, slice(2, 4)), "last row")
    _fails("3.3", _s0(0, slice(0, 2)), "forward half")
    _fails("3.3", _s0(0, slice(2, 4), tanh=False), "apply tanh")
    _fails("3.3", _s0(1, slice(2, 4)), "Not quite")
    _fails("3.3", [1.0, 2.0], "decoder's size")


def test_33_matches_the_shipped_decoder_convention():
    """The exercise's ←h_1 is what BahdanauDecoder.initial_state reads: the second half of row 0."""
    from attention_course.models.bahdanau_decoder import BahdanauDecoder
    from attention_course.models.encoder import EncoderOutput
    from attention_course.models.layers import Memory

    d = ch03.data("3.3")
    dec = BahdanauDecoder(vocab_size=7, emb_size=2, hidden_size=3, key_size=4, attention_size=3)
    with torch.no_grad():
        dec.init.W_s.weight.copy_(d["W_s"])
        dec.init.W_s.bias.copy_(d["b_s"])
    enc = EncoderOutput(d["H"][None], torch.zeros(1, 4), torch.ones(1, 4, dtype=torch.bool), torch.tensor([4]))
    with torch.no_grad():
        check("3.3", dec.initial_state(Memory(enc, None))[0])


# --- 3.4: the trained model with uniform attention weights ---

from pathlib import Path  # noqa: E402

import torch.nn.functional as F  # noqa: E402

from attention_course.exercises.ch01 import ablation_batch  # noqa: E402
from helpers_solutions import solution_code  # noqa: E402

CHAPTER = Path(__file__).resolve().parents[1] / "chapters" / "03_bahdanau.ipynb"


class FixedWeights(torch.nn.Module):
    """Attention whose weights do not depend on the query: ``how`` says which."""

    def __init__(self, how="uniform"):
        super().__init__()
        self.how = how

    def forward(self, query, keys, annotations, mask, **_):
        steps = query.shape[1]
        weights = mask.float() if self.how != "padding too" else torch.ones(mask.shape)
        if self.how != "sum":
            weights = weights / weights.sum(-1, keepdim=True)
        alpha = weights[:, None, :].expand(-1, steps, -1)
        values = keys if self.how == "keys" else annotations
        return alpha @ values, alpha


def step_by_step(model, batch, attention=None, how="mean"):
    dec = model.decoder
    memory = model.encode(batch.src, batch.src_lengths)
    if attention is not None:
        dec.attention = attention
    s, losses = dec.initial_state(memory), []
    for i in range(batch.tgt_in.size(1)):
        logits, s, _ = dec.step(batch.tgt_in[:, i], s, memory, i)
        losses.append(F.cross_entropy(logits, batch.tgt_out[:, i], reduction="none"))
    losses = torch.stack(losses, 1)
    real = batch.tgt_out != 0
    if how == "sum":
        return losses[real].sum().item()
    if how == "with padding":
        return losses.mean().item()
    return losses[real].mean().item()


def uniform(model, batch):
    return step_by_step(model, batch, FixedWeights())


def uniform_by_zero_energies(model, batch):
    """Another right way: keep BahdanauAttention, but give every source word the same energy
    (v_a = 0); then even the decoder's fused forward, and so Seq2Seq.loss, is uniform."""
    with torch.no_grad():
        model.decoder.attention.v_a.weight.zero_()
    return model.loss(batch.src, batch.src_lengths, batch.tgt_in, batch.tgt_out)


def module_then_model_loss(model, batch):
    """The trap: the attention's forward is replaced (the module keeps its weights, which
    Seq2Seq.encode and the fused forward read), but Seq2Seq.loss never calls it."""
    model.decoder.attention.forward = FixedWeights().forward
    return model.loss(batch.src, batch.src_lengths, batch.tgt_in, batch.tgt_out)


def test_34_right_answers_pass(capsys):
    check("3.4", uniform)
    check("3.4", uniform_by_zero_energies)
    out = capsys.readouterr().out
    assert out.count("Exercise 3.4: correct.") == 2
    assert max(len(line) for line in out.splitlines()) <= 78


def test_34_the_checks_computation_agrees_with_the_step_path_and_differs_from_the_model():
    from attention_course import pretrained
    tr = pretrained.load(ch03.UNIFORM_MODEL)
    batch = ablation_batch(tr)
    assert bool((batch.src == 0).any()) and bool((batch.tgt_out == 0).any())   # padded on both sides
    import copy
    with torch.no_grad():
        by_steps = step_by_step(copy.deepcopy(tr.model), batch, FixedWeights())
        checker = ch03.uniform_word_losses(tr.model, batch)
        intact = step_by_step(tr.model, batch)
    real = batch.tgt_out != 0
    assert abs(checker[real].mean().item() - by_steps) < 1e-4
    assert abs(intact - tr.model.loss(batch.src, batch.src_lengths, batch.tgt_in, batch.tgt_out).item()) < 1e-4
    assert by_steps > intact + 0.5


@pytest.mark.parametrize("wrong, hint", [
    (module_then_model_loss, "intact model"),
    (lambda model, batch: step_by_step(model, batch), "intact model"),
    (lambda model, batch: step_by_step(model, batch, FixedWeights("padding too")), "padding got weight"),
    (lambda model, batch: step_by_step(model, batch, FixedWeights("sum")), "sum to 1"),
    (lambda model, batch: step_by_step(model, batch, FixedWeights("keys")), "keys"),
    (lambda model, batch: step_by_step(model, batch, FixedWeights(), how="sum"), "sum over the words"),
    (lambda model, batch: step_by_step(model, batch, FixedWeights(), how="with padding"), "Leave the padding out"),
    (lambda model, batch: None, "number"),
    (lambda model, batch: [].pop(), "raised IndexError"),
    (2.5, "function itself"),
])
def test_34_wrong_answers_fail(wrong, hint):
    with pytest.raises(AssertionError, match=hint):
        check("3.4", wrong)


def test_34_the_solution_in_the_chapter_passes(capsys):
    namespace = {"torch": torch, "masked_softmax": masked_softmax}
    exec(solution_code(CHAPTER, "def loss_with_uniform_attention"), namespace)  # noqa: S102
    check("3.4", namespace["answer"])
    assert "correct" in capsys.readouterr().out
