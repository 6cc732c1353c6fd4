"""The chapter 7 checks accept right answers and reject wrong ones with a hint."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from attention_course.exercises import ch07, check


def right_attention(q, k, v):
    return torch.softmax(q @ k.T / math.sqrt(q.shape[-1]), dim=-1) @ v


@pytest.mark.parametrize("wrong, hint", [
    (lambda q, k, v: torch.softmax(q @ k.T, dim=-1) @ v, "√d_k"),
    (lambda q, k, v: torch.softmax(q @ k.T / q.shape[-1], dim=-1) @ v, "square root"),
    (lambda q, k, v: torch.softmax(q @ k.T / math.sqrt(q.shape[-1]), dim=0) @ v, "last axis"),
    (lambda q, k, v: (right_attention(q, k, v), None), "tuple"),
    (lambda q, k, v: right_attention(q, k, v).T, "output must be"),
    (lambda q, k, v: 1 / 0, "ZeroDivisionError"),
    (right_attention(torch.eye(2), torch.eye(2), torch.eye(2)), "function itself"),
])
def test_7_1_rejects(wrong, hint):
    with pytest.raises(AssertionError, match=hint):
        check("7.1", wrong)


def test_7_1_accepts(capsys):
    check("7.1", right_attention)
    # also a NumPy-style solution that goes through the tensors' values
    check("7.1", lambda q, k, v: torch.tensor(
        np.exp(s := (q @ k.T).numpy() / np.sqrt(q.shape[1])) / np.exp(s).sum(1, keepdims=True)) @ v)
    assert capsys.readouterr().out.count("correct") == 2


def test_7_1_none_is_a_reminder(capsys):
    check("7.1", None)
    assert "not answered yet" in capsys.readouterr().out


def decoder_mask(lengths):
    lengths = torch.as_tensor(lengths)
    j = torch.arange(int(lengths.max()))
    causal = j[None, :] <= j[:, None]
    real = j[None, :] < lengths[:, None]
    return causal[None, :, :] & real[:, None, :]


def decoder_mask_by_package(lengths):
    """The same mask from the package's causal_mask and the padding mask SelfAttention uses."""
    from attention_course.self_attention import causal_mask
    n = max(lengths)
    real = torch.arange(n)[None, :] < torch.tensor(lengths)[:, None]
    return causal_mask(n)[None] & real[:, None, :]


def test_7_2_accepts(capsys):
    check("7.2", decoder_mask)
    check("7.2", decoder_mask_by_package)
    check("7.2", lambda lengths: np.array([[[j <= i and j < n for j in range(max(lengths))]
                                             for i in range(max(lengths))] for n in lengths]))
    assert capsys.readouterr().out.count("correct") == 3


def padded_queries(lengths):
    n = max(lengths)
    real = torch.arange(n)[None, :] < torch.tensor(lengths)[:, None]
    return torch.ones(n, n, dtype=torch.bool).tril()[None] & real[:, :, None]      # rows, not columns


def one_flipped(lengths):
    """Right except for one key of one query."""
    m = decoder_mask(lengths).clone()
    m[0, -1, 0] = ~m[0, -1, 0]
    return m


@pytest.mark.parametrize("wrong, hint", [
    (lambda lengths: decoder_mask(lengths).transpose(1, 2), "transpose"),
    (lambda lengths: ~decoder_mask(lengths), "forbidden"),
    (lambda lengths: decoder_mask(lengths) & ~torch.eye(max(lengths), dtype=torch.bool), "diagonal"),
    (padded_queries, "padded \\*queries\\*"),
    (lambda lengths: torch.ones(max(lengths), max(lengths), dtype=torch.bool).tril().expand(len(lengths), -1, -1),
     "attend to padding"),
    (lambda lengths: (torch.arange(max(lengths))[None, :] < torch.tensor(lengths)[:, None])[:, None, :]
     .expand(-1, max(lengths), -1), "sees the future"),
    (lambda lengths: torch.ones(5, 5, dtype=torch.bool).tril(), "batch x n x n"),
    (lambda lengths: decoder_mask(lengths).int(), "booleans"),
    (one_flipped, "j ≤ i with j < lengths"),
    (lambda lengths: 1 / 0, "ZeroDivisionError"),
    (torch.ones(5, 5, dtype=torch.bool).tril(), "function itself"),              # the old answer
])
def test_7_2_rejects(wrong, hint):
    with pytest.raises(AssertionError, match=hint):
        check("7.2", wrong)


def simulated_variances(n=200_000, d_k=64, seed=0):
    """The variances of exercise 7.3 by simulation: independent of the checker's algebra."""
    g = torch.Generator().manual_seed(seed)
    q = 2.0 * torch.randn(n, d_k, generator=g, dtype=torch.float64)
    k = torch.randn(n, d_k, generator=g, dtype=torch.float64)
    dots = (q * k).sum(-1)
    return float(dots.var()), float((dots / math.sqrt(d_k)).var())


def test_7_3_accepts_theory_and_simulation(capsys):
    unscaled, scaled = simulated_variances()
    assert math.isclose(unscaled, 256, rel_tol=0.02) and math.isclose(scaled, 4, rel_tol=0.02)
    check("7.3", (256, 4))
    check("7.3", (unscaled, scaled))
    assert capsys.readouterr().out.count("correct") == 2


@pytest.mark.parametrize("wrong, hint", [
    ((64, 1), "Var\\(q_i\\)"),
    ((128, 2), "variance of 4"),
    ((256, 32), "not by √d_k"),
    ((256, 16), "c²"),
    ((512, 8), "sum of d_k"),
    (256, "pair of numbers"),
    (("a", "b"), "pair of numbers"),
])
def test_7_3_rejects(wrong, hint):
    with pytest.raises(AssertionError, match=hint):
        check("7.3", wrong)


# --- 7.4 -----------------------------------------------------------------------------------------

def loss_74(scores_fn=None, weights_fn=None, with_eos=True, reduction="mean"):
    """The solution of 7.4 as a reader would write it (a batch, model.loss or the logits),
    with the attention's scores or weights changed."""
    from attention_course import pretrained
    from attention_course.checkpoint import load_model
    from attention_course.data.batching import make_batch
    from attention_course.data.text import tokenize
    from attention_course.models.attention import masked_softmax

    model, _, src_vocab, tgt_vocab = load_model(pretrained.checkpoint_dir("luong-dot"))
    if scores_fn is not None or weights_fn is not None:
        def forward(query, keys, annotations, mask, **_):
            scores = query @ keys.transpose(1, 2)
            if scores_fn is not None:
                scores = scores_fn(scores)
            alpha = masked_softmax(scores, mask[:, None, :])
            if weights_fn is not None:
                alpha = weights_fn(alpha)
            return alpha @ annotations, alpha
        model.decoder.attention.forward = forward
    batch = make_batch([src_vocab.encode(tokenize(e, "en")) for e, _ in ch07.PAIRS_74],
                       [tgt_vocab.encode(tokenize(f, "fr")) for _, f in ch07.PAIRS_74])
    tgt_out = batch.tgt_out.clone()
    if not with_eos:
        tgt_out[tgt_out == tgt_vocab.eos_index] = tgt_vocab.pad_index
    with torch.no_grad():
        return model.loss(batch.src, batch.src_lengths, batch.tgt_in, tgt_out, reduction=reduction).item()


def test_7_4_accepts(capsys):
    right = loss_74(scores_fn=lambda s: s / 16)
    check("7.4", right)
    check("7.4", round(right, 4))
    out = capsys.readouterr().out
    assert out.count("correct") == 2
    assert right > 3 * loss_74()                     # the scale costs a lot


@pytest.mark.parametrize("wrong, hint", [
    (lambda: loss_74(), "unchanged model"),
    (lambda: loss_74(scores_fn=lambda s: s / 256), "not by d_k = 256"),
    (lambda: loss_74(scores_fn=lambda s: s * 16), "you multiplied"),
    (lambda: loss_74(weights_fn=lambda a: a / 16), "before the softmax"),
    (lambda: loss_74(scores_fn=lambda s: s / 16, with_eos=False), "Count </s>"),
    (lambda: loss_74(scores_fn=lambda s: s / 16, reduction="sum"), "sum over all tokens"),
    (lambda: loss_74(scores_fn=lambda s: s / 8), "Load a fresh luong-dot"),
    (lambda: "1.4", "Load a fresh luong-dot"),
    (lambda: [1.4], "number"),
])
def test_7_4_rejects(wrong, hint):
    with pytest.raises(AssertionError, match=hint):
        check("7.4", wrong())


def previous_word_share(weights):
    return torch.diagonal(weights, offset=-1, dim1=-2, dim2=-1).mean(-1)


def previous_word_share_loops(weights):
    """The same with loops and a NumPy result, as a reader might write it."""
    w = weights.numpy()
    layers, heads, n, _ = w.shape
    return np.array([[sum(w[l, h, i, i - 1] for i in range(1, n)) / (n - 1) for h in range(heads)]
                     for l in range(layers)])


def test_7_5_accepts(capsys):
    check("7.5", previous_word_share)
    check("7.5", previous_word_share_loops)
    out = capsys.readouterr().out
    assert out.count("correct") == 2
    # the report names the trained model's head, found by the checker's own loops
    layer, head, share = ch07._trained_head_75()
    assert f"layer {layer + 1}, head {head + 1}: {share:.2f}" in " ".join(out.split())
    # the plain-loop reference agrees with the package's offset_share on the trained model
    from attention_course import pretrained
    from attention_course.data.text import tokenize
    from attention_course.evaluation.heads import encoder_self_attention, offset_share
    tr = pretrained.load("transformer")
    words = tokenize(ch07.SENTENCE_75, "en")
    w = encoder_self_attention(tr.model, torch.tensor([tr.src_vocab.encode(words)]), torch.tensor([len(words)]))[:, 0]
    assert float(offset_share(w, -1).max()) == pytest.approx(share, abs=1e-6)


def test_7_5_the_solution_in_the_chapter_passes(capsys):
    """The folded solution runs in the chapter's names and finds the head the checker reports."""
    from pathlib import Path

    from attention_course import pretrained
    from attention_course.data.text import tokenize
    from attention_course.evaluation.heads import encoder_self_attention
    from helpers_solutions import solution_code
    chapter = Path(__file__).resolve().parents[1] / "chapters" / "07_self_attention.ipynb"
    transformer = pretrained.load("transformer")
    namespace = {"torch": torch, "tokenize": tokenize, "transformer": transformer, "model": transformer.model,
                 "encoder_self_attention": encoder_self_attention}
    exec(solution_code(chapter, "def previous_word_share"), namespace)  # noqa: S102
    check("7.5", namespace["answer"])
    out = capsys.readouterr().out
    assert "correct" in out
    printed = out.splitlines()[0]                     # the solution's own print: "layer L, head H: share"
    assert printed.startswith("layer ") and f"{float(namespace['shares'].max()):.2f}" in printed


@pytest.mark.parametrize("wrong, hint", [
    (lambda w: torch.diagonal(w, offset=1, dim1=-2, dim2=-1).mean(-1), "next"),
    (lambda w: torch.diagonal(w, dim1=-2, dim2=-1).mean(-1), "itself"),
    (lambda w: torch.diagonal(w, offset=-1, dim1=-2, dim2=-1).sum(-1) / w.shape[-1], "n - 1"),
    (lambda w: (w * torch.roll(torch.eye(w.shape[-1], dtype=w.dtype), -1, 1)).sum(-1).mean(-1), "roll"),
    (lambda w: torch.diagonal(w, offset=-1, dim1=-2, dim2=-1).mean(), "layers x heads"),
    (lambda w: torch.diagonal(w, offset=-1, dim1=-2, dim2=-1).median(-1).values, "average"),
    (lambda w: 1 / 0, "ZeroDivisionError"),
    (previous_word_share(torch.eye(3)[None, None]), "function itself"),
])
def test_7_5_rejects(wrong, hint):
    with pytest.raises(AssertionError, match=hint):
        check("7.5", wrong)


def test_none_is_a_reminder(capsys):
    for key in ("7.1", "7.2", "7.3", "7.4", "7.5"):
        check(key, None)
    assert capsys.readouterr().out.count("not answered yet") == 5
