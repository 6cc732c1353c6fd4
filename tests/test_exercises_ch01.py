"""The checks of chapter 1's exercises accept the right answers and reject wrong ones."""
import re
from pathlib import Path

import nbformat
import pytest
import torch
from torch import nn

from attention_course.exercises import check, ch01


CHAPTER = Path(__file__).resolve().parents[1] / "chapters" / "01_seq2seq.ipynb"


def _gru_step(x, h, rnn, swap_update=False, reset_before_product=False, bias_outside=False):
    """A GRU step written out; the flags make the typical wrong variants.

    swap_update: z ⊙ n + (1 - z) ⊙ h (the update gate the wrong way round);
    reset_before_product: Cho et al.'s U(r ⊙ h), a valid GRU but not nn.GRU's U h ⊙ r;
    bias_outside: b_hn added after the reset gate's product, r ⊙ (U_n h) + b_hn.
    """
    W_r, W_z, W_n = rnn.weight_ih_l0.chunk(3)
    U_r, U_z, U_n = rnn.weight_hh_l0.chunk(3)
    b_ir, b_iz, b_in = rnn.bias_ih_l0.chunk(3)
    b_hr, b_hz, b_hn = rnn.bias_hh_l0.chunk(3)
    r = torch.sigmoid(x @ W_r.T + b_ir + h @ U_r.T + b_hr)
    z = torch.sigmoid(x @ W_z.T + b_iz + h @ U_z.T + b_hz)
    if reset_before_product:
        hidden = (r * h) @ U_n.T + b_hn
    elif bias_outside:
        hidden = r * (h @ U_n.T) + b_hn
    else:
        hidden = r * (h @ U_n.T + b_hn)
    n = torch.tanh(x @ W_n.T + b_in + hidden)
    return z * n + (1 - z) * h if swap_update else (1 - z) * n + z * h


def right_gru_step(x, h, rnn):
    return _gru_step(x, h, rnn)


def swapped_gru_step(x, h, rnn):
    return _gru_step(x, h, rnn, swap_update=True)


def paper_reset_gru_step(x, h, rnn):
    return _gru_step(x, h, rnn, reset_before_product=True)


def bias_outside_gru_step(x, h, rnn):
    return _gru_step(x, h, rnn, bias_outside=True)


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


@pytest.mark.parametrize("wrong", [swapped_gru_step, paper_reset_gru_step, bias_outside_gru_step,
                                   lambda x, h, rnn: h,
                                   lambda x, h, rnn: None, lambda x, h, rnn: h[0],
                                   lambda x, h, rnn: 1 / 0, 42])
def test_1_2_rejects_wrong_steps(wrong):
    with pytest.raises(AssertionError):
        check("1.2", wrong)


def test_1_2_swapped_update_gets_its_hint():
    with pytest.raises(AssertionError, match="wrong way round"):
        check("1.2", swapped_gru_step)


def test_1_2_bias_outside_the_reset_product_gets_its_hint():
    with pytest.raises(AssertionError, match=r"b_hn belongs inside the reset gate's product"):
        check("1.2", bias_outside_gru_step)


def test_1_2_the_papers_reset_placement_gets_its_hint():
    with pytest.raises(AssertionError, match="paper's GRU"):
        check("1.2", paper_reset_gru_step)


# --- The GRU equations printed in chapter 1 are the ones the checker of exercise 1.2 wants. ---

class _Matrix:
    """A weight matrix written before a vector, W x, acting on a batch of row vectors."""

    def __init__(self, weight):
        self.weight = weight

    def __matmul__(self, v):
        return v @ self.weight.T


def printed_gru_equations(notebook=CHAPTER) -> list[tuple[str, str]]:
    """The (left side, right side) of each line of the chapter's GRU equations, as LaTeX."""
    nb = nbformat.read(notebook, as_version=4)
    blocks = [m.group(1) for c in nb.cells if c.cell_type == "markdown"
              for m in re.finditer(r"\\begin\{aligned\}(.*?)\\end\{aligned\}", c.source, re.S)
              if "reset gate" in m.group(1)]
    assert len(blocks) == 1, "expected one aligned block with the GRU equations"
    lines = []
    for line in blocks[0].split("\\\\"):
        lhs, rhs = line.split("&=")
        lines.append((lhs.strip(), rhs.split("&&")[0].strip()))
    return lines


def _identifier(latex: str) -> str:
    latex = re.sub(r"\\tilde\{(\w)\}", r"\1tilde", latex)
    latex = re.sub(r"_\{([^{}]*)\}", lambda m: "_" + m.group(1).replace("-1", "m1"), latex)
    return latex


def _python(rhs: str) -> str:
    """Read the LaTeX of one right-hand side as Python (for the notation of these equations)."""
    rhs = re.sub(r"\\(big|Big|bigl|bigr|Bigl|Bigr|left|right)\b", "", rhs)
    rhs = rhs.replace(r"\sigma", "sigmoid").replace(r"\tanh", "tanh").replace(r"\odot", "*")
    rhs = _identifier(rhs)
    rhs = re.sub(r"\b([WU](?:_\w+)?)\s*(?=[\w(])", r"\1 @ ", rhs)   # W_r x_t -> W_r @ x_t
    return rhs


def printed_equation_gru_step(x, h, rnn, notebook=CHAPTER):
    """One GRU step computed by evaluating the chapter's printed equations as they stand.

    Blocks are named r, z, n in the order of nn.GRU's stacked weights. A bias written with
    one symbol (b_r, or b for the candidate) is read as the sum of PyTorch's two, placed
    where the equation places it.
    """
    W_r, W_z, W_n = rnn.weight_ih_l0.chunk(3)
    U_r, U_z, U_n = rnn.weight_hh_l0.chunk(3)
    b_ir, b_iz, b_in = rnn.bias_ih_l0.chunk(3)
    b_hr, b_hz, b_hn = rnn.bias_hh_l0.chunk(3)
    names = {"sigmoid": torch.sigmoid, "tanh": torch.tanh, "x_t": x, "h_tm1": h,
             "W_r": _Matrix(W_r), "W_z": _Matrix(W_z), "W_n": _Matrix(W_n), "W": _Matrix(W_n),
             "U_r": _Matrix(U_r), "U_z": _Matrix(U_z), "U_n": _Matrix(U_n), "U": _Matrix(U_n),
             "b_ir": b_ir, "b_iz": b_iz, "b_in": b_in, "b_hr": b_hr, "b_hz": b_hz, "b_hn": b_hn,
             "b_r": b_ir + b_hr, "b_z": b_iz + b_hz, "b_n": b_in + b_hn, "b": b_in + b_hn}
    for lhs, rhs in printed_gru_equations(notebook):
        names[_identifier(lhs)] = eval(_python(rhs), {"__builtins__": {}}, names)  # noqa: S307
    return names["h_t"]


def test_the_printed_equations_are_the_four_lines_of_a_gru():
    lhs = [_identifier(left) for left, _ in printed_gru_equations()]
    assert len(lhs) == 4 and lhs[:2] == ["r_t", "z_t"] and lhs[-1] == "h_t", lhs


def test_1_2_a_step_that_follows_the_printed_equations_passes(capsys):
    check("1.2", printed_equation_gru_step)
    assert "correct" in capsys.readouterr().out


def test_the_printed_equations_reproduce_nn_gru():
    torch.manual_seed(3)
    rnn = nn.GRU(3, 4, batch_first=True)
    x, h = torch.randn(2, 3), torch.randn(2, 4)
    with torch.no_grad():
        expected = rnn(x[:, None], h[None])[0][:, 0]
        assert torch.allclose(printed_equation_gru_step(x, h, rnn), expected, atol=1e-6)


def test_1_2_the_solution_in_the_chapter_passes(capsys):
    namespace = {"torch": torch}
    exec(solution_code(CHAPTER, "def my_gru_step"), namespace)  # noqa: S102
    check("1.2", namespace["answer"])
    assert "correct" in capsys.readouterr().out


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


# --- 1.4: the summary ablated in the trained models ---

import torch.nn.functional as F  # noqa: E402
from helpers_solutions import solution_code  # noqa: E402


def _features(model, batch, memory, initial=None):
    """The teacher-forced decoder's features, optionally from a given first state."""
    if initial is not None:
        model.decoder.initial_state = lambda memory: initial
    features, _ = model.decoder(batch.tgt_in, memory)
    return features


def _mean_loss(model, batch, features, how="mean"):
    real = batch.tgt_out != 0
    if how == "with padding":
        logits = model.decoder.project(features)
        return F.cross_entropy(logits.flatten(0, 1), batch.tgt_out.flatten()).item()
    if how == "per sentence":
        logits = model.decoder.project(features)
        each = F.cross_entropy(logits.transpose(1, 2), batch.tgt_out, reduction="none")
        return torch.stack([each[k][real[k]].mean() for k in range(len(real))]).mean().item()
    return F.cross_entropy(model.decoder.project(features[real]), batch.tgt_out[real],
                           reduction="sum" if how == "sum" else "mean").item()


def zero_summary(model, batch, how="mean"):
    memory = model.encode(batch.src, batch.src_lengths)
    memory.enc.final = torch.zeros_like(memory.enc.final)
    return _mean_loss(model, batch, _features(model, batch, memory), how)


def zero_summary_by_hook(model, batch):
    """Another right way: a forward hook on the encoder zeroes its summary, then Seq2Seq.loss."""
    def hook(module, inputs, output):
        output.final = torch.zeros_like(output.final)
        return output
    model.encoder.register_forward_hook(hook)
    return model.loss(batch.src, batch.src_lengths, batch.tgt_in, batch.tgt_out)


def zero_summary_weights(model, batch):
    """Another right way: zero every weight that reads c (W_s, and for seq2seq the context
    columns of the decoder GRU and of the deep output)."""
    dec = model.decoder
    ctx = model.encoder.output_size
    with torch.no_grad():
        dec.init.W_s.weight.zero_()
        if dec.reads_context_every_step:
            dec.rnn.weight_ih_l0[:, -ctx:] = 0
            dec.output.inputs.weight[:, -ctx:] = 0
    return model.loss(batch.src, batch.src_lengths, batch.tgt_in, batch.tgt_out)


def intact(model, batch):
    return model.loss(batch.src, batch.src_lengths, batch.tgt_in, batch.tgt_out).item()


def first_state_zero(model, batch):
    memory = model.encode(batch.src, batch.src_lengths)
    s0 = torch.zeros_like(model.decoder.initial_state(memory))
    return _mean_loss(model, batch, _features(model, batch, memory, initial=s0))


def first_state_zero_and_no_context(model, batch):
    memory = model.encode(batch.src, batch.src_lengths)
    s0 = torch.zeros_like(model.decoder.initial_state(memory))
    memory.enc.final = torch.zeros_like(memory.enc.final)
    return _mean_loss(model, batch, _features(model, batch, memory, initial=s0))


def zero_only_initial_state(model, batch):
    memory = model.encode(batch.src, batch.src_lengths)
    s0 = model.decoder.init(torch.zeros_like(memory.enc.final))
    return _mean_loss(model, batch, _features(model, batch, memory, initial=s0))


def zero_only_every_step(model, batch):
    memory = model.encode(batch.src, batch.src_lengths)
    s0 = model.decoder.initial_state(memory)
    memory.enc.final = torch.zeros_like(memory.enc.final)
    return _mean_loss(model, batch, _features(model, batch, memory, initial=s0))


def zero_annotations(model, batch):
    memory = model.encode(batch.src, batch.src_lengths)
    memory.enc.annotations = torch.zeros_like(memory.enc.annotations)
    return _mean_loss(model, batch, _features(model, batch, memory))


def zero_source_words(model, batch):
    memory = model.encode(torch.zeros_like(batch.src), batch.src_lengths)
    return _mean_loss(model, batch, _features(model, batch, memory))


def test_1_4_right_ablations_pass(capsys):
    for right in (zero_summary, zero_summary_by_hook, zero_summary_weights):
        check("1.4", right)
    out = capsys.readouterr().out
    assert out.count("Exercise 1.4: correct.") == 3
    assert "seq2seq-init" in out and "with c = 0" in out
    assert max(len(line) for line in out.splitlines()) <= 78


def test_1_4_the_ablation_changes_the_loss():
    """The exercise measures something: without c both models do much worse on our pairs."""
    from attention_course import pretrained
    for name in ch01.ABLATION_MODELS:
        tr = pretrained.load(name)
        batch = ch01.ablation_batch(tr)
        with torch.no_grad():
            assert zero_summary(tr.model, batch) > intact(tr.model, batch) + 1.0
        assert bool((batch.tgt_out == 0).any())          # the batch is padded


def test_1_4_the_checker_leaves_the_shipped_model_alone():
    from attention_course import pretrained
    tr = pretrained.load("seq2seq")
    before = {k: v.clone() for k, v in tr.model.state_dict().items()}
    check("1.4", zero_summary_weights)
    assert all(torch.equal(v, tr.model.state_dict()[k]) for k, v in before.items())


@pytest.mark.parametrize("wrong, hint", [
    (intact, "intact model"),
    (zero_annotations, "intact model"),                    # the decoder never reads them
    (first_state_zero, "first state to zero"),
    (first_state_zero_and_no_context, "first state to zero"),
    (zero_only_initial_state, "reads the summary at every step"),
    (zero_only_every_step, "s_0 comes from the zero summary"),
    (lambda model, batch: zero_summary(model, batch, "sum"), "sum over the words"),
    (lambda model, batch: zero_summary(model, batch, "with padding"), "padding"),
    (lambda model, batch: zero_summary(model, batch, "per sentence"), "pool the words"),
    (zero_source_words, "not the teacher-forced loss"),
    (lambda model, batch: None, "number"),
    (lambda model, batch: 1 / 0, "raised ZeroDivisionError"),
    (3.2, "function itself"),
])
def test_1_4_rejects_wrong_ablations(wrong, hint):
    with pytest.raises(AssertionError, match=hint):
        check("1.4", wrong)


def test_1_4_the_solution_in_the_chapter_passes(capsys):
    from attention_course import pretrained
    namespace = {"torch": torch, "F": F, "tgt_vocab": pretrained.load("seq2seq").tgt_vocab}
    exec(solution_code(CHAPTER, "def loss_without_summary"), namespace)  # noqa: S102
    check("1.4", namespace["answer"])
    assert "correct" in capsys.readouterr().out
