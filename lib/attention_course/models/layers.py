"""Pieces every decoder shares: a GRU step with a precomputed input part,
the deep output layer, and the (tied, narrow) vocabulary projection."""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .dropout import Dropout
from .encoder import EncoderOutput


@dataclass
class Memory:
    """What a decoder reads from the source: the encoder output and its projected keys."""

    enc: EncoderOutput
    keys: torch.Tensor | None  # batch x src_len x key_proj (None without attention)

    def index_select(self, index: torch.Tensor) -> "Memory":
        keys = None if self.keys is None else self.keys.index_select(0, index)
        return Memory(self.enc.index_select(index), keys)


def gru_step(gi: torch.Tensor, h: torch.Tensor, rnn: nn.GRU) -> torch.Tensor:
    """One GRU update given the input part ``gi = W_ih x + b_ih`` (computed by the caller,
    so the part that depends only on known inputs can be computed for all steps at once).

    r = σ(W_r x + b_ir + U_r h + b_hr),  z = σ(W_z x + b_iz + U_z h + b_hz),
    n = tanh(W_n x + b_in + r ⊙ (U_n h + b_hn)),  h' = (1 - z) ⊙ n + z ⊙ h
    (``gh`` below is U h + b_h, so b_hn sits inside the product with r, as in ``nn.GRU``.)
    """
    gh = F.linear(h, rnn.weight_hh_l0, rnn.bias_hh_l0)
    i_r, i_z, i_n = gi.chunk(3, dim=-1)
    h_r, h_z, h_n = gh.chunk(3, dim=-1)
    r = torch.sigmoid(i_r + h_r)
    z = torch.sigmoid(i_z + h_z)
    n = torch.tanh(i_n + r * h_n)
    return (1 - z) * n + z * h


def input_part(x: torch.Tensor, rnn: nn.GRU, start: int, bias: bool) -> torch.Tensor:
    """W_ih[:, start:start+|x|] x (+ b_ih): the GRU input projection of one slice of its input."""
    w = rnn.weight_ih_l0[:, start: start + x.size(-1)]
    return F.linear(x, w, rnn.bias_ih_l0 if bias else None)


class TiedProjection(nn.Module):
    """logits = E t + b, sharing the target embedding matrix E (Press & Wolf 2017)."""

    def __init__(self, embedding: nn.Embedding):
        super().__init__()
        self.embedding = embedding
        self.bias = nn.Parameter(torch.zeros(embedding.num_embeddings))

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        return F.linear(t, self.embedding.weight, self.bias)

    def cross_entropy(self, t: torch.Tensor, target: torch.Tensor, reduction: str = "mean",
                      dtype: torch.dtype | None = None) -> torch.Tensor:
        """``F.cross_entropy(self(t), target, reduction=reduction)``, computed in blocks of rows
        so the ``rows x vocabulary`` logits are never held at once (see :func:`projected_cross_entropy`)."""
        return projected_cross_entropy(t, self.embedding.weight, self.bias, target, reduction, dtype=dtype)


def projected_cross_entropy(t: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, target: torch.Tensor,
                            reduction: str = "mean", chunk: int | None = None,
                            dtype: torch.dtype | None = None) -> torch.Tensor:
    """``F.cross_entropy(F.linear(t, weight, bias), target, reduction=reduction)`` for ``t``: rows x d.

    The same loss and gradients (up to float rounding), faster on a CPU: the logits of
    ``chunk`` rows at a time stay in cache, and when gradients are needed they are
    computed in the same pass, d loss / d logits = softmax - one-hot, so the softmax is
    never stored (the backward pass only scales them). ``reduction="none"`` takes the plain path.

    ``dtype=torch.bfloat16`` is mixed precision for training (as ``torch.autocast`` would do it):
    when gradients are needed, the three vocabulary-sized matrix products and the softmax run
    in bfloat16 with float32 accumulation, and the loss and gradients come back in float32
    (relative error of the gradients about 0.5 %, of the loss about 1e-5). Without gradients
    (evaluation) the float32 path is always used.
    """
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"reduction must be mean, sum or none, got {reduction!r}")
    if reduction == "none" or t.dim() != 2 or target.shape != t.shape[:1]:
        return F.cross_entropy(F.linear(t, weight, bias), target, reduction=reduction)
    chunk = chunk or (128 if t.device.type == "cpu" else 8192)
    if torch.is_grad_enabled() and (t.requires_grad or weight.requires_grad or bias.requires_grad):
        total = _ProjectedCrossEntropy.apply(t, weight, bias, target, chunk, dtype)
    else:
        total = _projected_nll_sum(t, weight, bias, target, chunk, None)
    return total / target.numel() if reduction == "mean" else total


def _projected_nll_sum(t, weight, bias, target, chunk, grads):
    """Σ_rows -log softmax(W t + b)[target]; with ``grads`` = (dt, dW, db) also fills the gradients."""
    total = t.new_zeros(())
    for start in range(0, t.size(0), chunk):
        x, y = t[start: start + chunk], target[start: start + chunk]
        z = torch.addmm(bias[:, None], weight, x.T)        # vocab x rows: logits, transposed (faster on CPUs)
        z.sub_(z.amax(0, keepdim=True))
        z_y = z.gather(0, y[None, :])
        p = z.exp_()
        norm = p.sum(0, keepdim=True)
        total = total + (norm.log() - z_y).sum()
        if grads is not None:
            dt, dW, db = grads
            p.div_(norm)                                    # softmax
            p[y, torch.arange(y.numel(), device=y.device)] -= 1   # d loss / d logits = softmax - one-hot
            torch.mm(p.T, weight, out=dt[start: start + chunk])
            dW.addmm_(p, x)
            db.add_(p.sum(1))
    return total


def _projected_nll_sum_mixed(t, weight, bias, target, chunk, dtype):
    """The loss and its gradients (dt, dW, db) as above, with the large products and the softmax in ``dtype``.

    The softmax of every row is kept (rows x vocab in ``dtype``), so dW and dt are one large
    product each; d loss / d bias, a column sum, is a product with a row of ones (no float32 copy).
    """
    w, x, b = weight.to(dtype), t.to(dtype), bias.to(dtype)
    rows = torch.arange(t.size(0), device=t.device)
    p = torch.empty(t.size(0), weight.size(0), dtype=dtype, device=t.device)
    for start in range(0, t.size(0), chunk):
        torch._softmax(torch.addmm(b, x[start: start + chunk], w.T), 1, False, out=p[start: start + chunk])
    total = -p[rows, target].float().clamp_min(torch.finfo(torch.float32).tiny).log().sum()
    p[rows, target] -= 1                                    # d loss / d logits = softmax - one-hot
    grads = (torch.mm(p, w).float(), torch.mm(p.T, x).float(),
             torch.mm(x.new_ones(1, t.size(0)), p)[0].float())
    return total, grads


class _ProjectedCrossEntropy(torch.autograd.Function):
    @staticmethod
    def forward(ctx, t, weight, bias, target, chunk, dtype):
        if dtype is not None and dtype != t.dtype:
            total, grads = _projected_nll_sum_mixed(t, weight, bias, target, chunk, dtype)
        else:
            grads = (torch.empty(t.shape, dtype=t.dtype, device=t.device), torch.zeros_like(weight),
                     torch.zeros_like(bias))
            total = _projected_nll_sum(t, weight, bias, target, chunk, grads)
        ctx.save_for_backward(*grads)
        return total

    @staticmethod
    def backward(ctx, grad_total):
        dt, dW, db = ctx.saved_tensors
        need = ctx.needs_input_grad
        return (grad_total * dt if need[0] else None, grad_total * dW if need[1] else None,
                grad_total * db if need[2] else None, None, None, None)


class DeepOutput(nn.Module):
    """Deep output with maxout (Bahdanau et al. 2014, App. A.2.2; Pascanu et al. 2014):

    t̃_i = U_o s_i + V_o E y_{i-1} + C_o c_i,   t_i = max(t̃_{i,2k-1}, t̃_{i,2k}),   p(y_i) = softmax(W_o t_i)

    t_i has the embedding width, so W_o can be the (tied) target embedding and the
    vocabulary projection stays narrow. Returns t_i; the decoder applies W_o.
    """

    def __init__(self, input_sizes: list[int], width: int, dropout: float = 0.0):
        super().__init__()
        self.width = width
        self.inputs = nn.Linear(sum(input_sizes), 2 * width)
        self.dropout = Dropout(dropout)

    def forward(self, *parts: torch.Tensor) -> torch.Tensor:
        t = self.inputs(torch.cat(parts, dim=-1))
        t = t.unflatten(-1, (self.width, 2)).amax(-1)        # maxout over pairs
        return self.dropout(t)


class InitialState(nn.Module):
    """s_0 = tanh(W_s summary), summary being a vector the encoder produced."""

    def __init__(self, summary_size: int, hidden_size: int):
        super().__init__()
        self.W_s = nn.Linear(summary_size, hidden_size)

    def forward(self, summary: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.W_s(summary))
