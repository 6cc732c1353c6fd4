"""The Bahdanau decoder's recurrence over a whole target sentence (teacher forcing), with a
hand-written backward pass.

Forward, for i = 1..T (Bahdanau et al. 2014, Eq. 4-6; GRU as in ``layers.gru_step``):

    [gh_i ; q_i] = [U ; W_a] s_{i-1} + [b_hh ; 0]          one product gives both
    E_i = tanh(q_i + U_a h_j),  e_ij = v_aᵀ E_ij (+ 0 / -inf mask),  α_i = softmax(e_i),  c_i = Σ_j α_ij h_j
    gi_i = gi_y_i + W_c c_i                                  gi_y_i = W_y E y_{i-1} + b_ih, all steps at once
    r, z = σ(gi_rz + gh_rz),  n = tanh(gi_n + r ⊙ gh_n),  s_i = (1 - z) ⊙ n + z ⊙ s_{i-1}

Autograd would record some twenty small operations per step and compute every weight
gradient step by step. The backward pass below walks the steps in reverse with only what
the recurrence needs (the gradient of s_{i-1}), keeps each step's gradients of the
pre-activations, and forms the weight gradients afterwards as one large product each:
d[U ; W_a] = Σ_i d[gh_i ; q_i]ᵀ s_{i-1} over all steps and sentences at once, likewise W_c,
v_a and the annotations. ``tests/test_fast_paths.py`` checks it against autograd.
"""
from __future__ import annotations

import torch


class BahdanauRecurrence(torch.autograd.Function):
    """``apply(gi_y, s0, keys, annotations, mask_bias, W_s, b_s, W_c, v_a) -> (states, contexts, alphas)``.

    Shapes: gi_y batch x T x 3D, s0 batch x D, keys batch x S x A (U_a h_j), annotations
    batch x S x K, mask_bias batch x S (0 at real words, -inf at padding), W_s (3D + A) x D
    ([U ; W_a]), b_s 3D + A, W_c 3D x K, v_a A. Returns batch x T x D, x K and x S.
    """

    @staticmethod
    def forward(ctx, gi_y, s0, keys, annotations, mask_bias, W_s, b_s, W_c, v_a):
        D = s0.size(-1)
        s, saved = s0, []
        states, contexts, alphas = [], [], []
        for gi_y_i in gi_y.unbind(1):
            gh, q = torch.addmm(b_s, s, W_s.T).split([3 * D, W_s.size(0) - 3 * D], dim=-1)
            E = torch.tanh(keys + q[:, None, :])
            alpha = torch.softmax(E @ v_a + mask_bias, dim=-1)
            c = torch.bmm(alpha[:, None, :], annotations).squeeze(1)
            gi = torch.addmm(gi_y_i, c, W_c.T)
            rz = torch.sigmoid(gi[:, : 2 * D] + gh[:, : 2 * D])
            r, z = rz[:, :D], rz[:, D:]
            gh_n = gh[:, 2 * D:]
            n = torch.tanh(gi[:, 2 * D:] + r * gh_n)
            saved.append((s, E, r, z, n, gh_n))
            s = (1 - z) * n + z * s
            states.append(s), contexts.append(c), alphas.append(alpha)
        states, contexts, alphas = torch.stack(states, 1), torch.stack(contexts, 1), torch.stack(alphas, 1)
        ctx.saved = saved
        ctx.save_for_backward(keys, annotations, W_s, W_c, v_a, contexts, alphas)
        ctx.set_materialize_grads(False)
        return states, contexts, alphas

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, d_states, d_contexts, d_alphas):
        keys, annotations, W_s, W_c, v_a, contexts, alphas = ctx.saved_tensors
        saved = ctx.saved
        B, T, K = contexts.shape
        D = saved[0][0].size(-1)
        d_keys = torch.zeros_like(keys)
        d_gs = keys.new_empty(T, B, W_s.size(0))        # d[gh_i ; q_i]
        d_gi = keys.new_empty(T, B, 3 * D)               # d gi_i  (= d gi_y_i)
        d_c = keys.new_empty(T, B, K)                    # d c_i, everything that reaches it
        d_e = keys.new_empty(T, B, keys.size(1))         # d e_ij, for d v_a
        ds = keys.new_zeros(B, D)                        # d s_i from the later steps
        for i in range(T - 1, -1, -1):
            s_prev, E, r, z, n, gh_n = saved[i]
            if d_states is not None:
                ds = ds + d_states[:, i]
            dn = ds * (1 - z)
            dz_pre = ds * (s_prev - n) * z * (1 - z)
            dn_pre = dn * (1 - n * n)
            dr_pre = dn_pre * gh_n * r * (1 - r)
            torch.cat([dr_pre, dz_pre, dn_pre], dim=-1, out=d_gi[i])
            dc = d_gi[i] @ W_c
            if d_contexts is not None:
                dc = dc + d_contexts[:, i]
            d_c[i] = dc
            d_alpha = torch.bmm(annotations, dc[:, :, None]).squeeze(-1)
            if d_alphas is not None:
                d_alpha = d_alpha + d_alphas[:, i]
            alpha = alphas[:, i]
            de = alpha * (d_alpha - (alpha * d_alpha).sum(-1, keepdim=True))
            d_e[i] = de
            dE_pre = (de[:, :, None] * v_a) * (1 - E * E)
            d_keys += dE_pre
            torch.cat([dr_pre, dz_pre, dn_pre * r, dE_pre.sum(1)], dim=-1, out=d_gs[i])
            ds = ds * z + d_gs[i] @ W_s
        # the weight gradients, each one product over all steps and sentences
        s_prev_all = torch.stack([st[0] for st in saved])                     # T x B x D
        d_W_s = d_gs.flatten(0, 1).T @ s_prev_all.flatten(0, 1)
        d_b_s = d_gs.sum((0, 1))
        d_W_c = d_gi.flatten(0, 1).T @ contexts.transpose(0, 1).flatten(0, 1)
        E_all = torch.stack([st[1] for st in saved])                          # T x B x S x A
        d_v_a = (d_e[..., None] * E_all).sum((0, 1, 2))
        d_annotations = torch.bmm(alphas.transpose(1, 2), d_c.transpose(0, 1))   # Σ_i α_ij dc_i
        return d_gi.transpose(0, 1), ds, d_keys, d_annotations, None, d_W_s, d_b_s, d_W_c, d_v_a
