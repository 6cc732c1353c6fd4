"""Exercises of chapter 4 (Luong attention): the general score, the predicted position p_t
of local-p attention, and its Gaussian-weighted window.

The data of each exercise is defined here once (small, rounded numbers from a fixed seed);
the chapter prints it from here, so the question and its checker can never disagree. Each
check recomputes the right answer independently with plain NumPy loops (never with the
package's attention code) and raises an AssertionError with a hint when the answer is wrong.
Source positions are counted from 0, as in the package.
"""
from __future__ import annotations

import math

import numpy as np

from . import exercise
from .answers import rounded_normal as _data, as_array as _as_array, softmax as _softmax, as_float as _as_float

TOL = 1e-3


# 4.1: a decoder state h_t (size 3), 5 source annotations h̄_s (size 3) and W_a (3 x 3).
DATA_41 = _data(41, {"h_t": (3,), "H": (5, 3), "W_a": (3, 3)})

# 4.2: local-p: a source of S = 9 words, a decoder state h_t (size 3), W_p (2 x 3), v_p (2).
DATA_42 = {**_data(42, {"h_t": (3,), "W_p": (2, 3), "v_p": (2,)}), "S": 9}

# 4.3: local-p weights at one step: the general scores of 9 source words, p_t and D.
DATA_43 = {"scores": np.array([0.3, 1.1, -0.2, 2.4, 1.9, 0.5, 2.8, -1.0, 0.1]), "p_t": 3.6, "D": 2}


def data(key: str) -> dict:
    """The data of exercise ``key`` ("4.1", "4.2" or "4.3"): arrays as torch tensors (float32)."""
    import torch

    source = {"4.1": DATA_41, "4.2": DATA_42, "4.3": DATA_43}[key]
    return {k: torch.tensor(v, dtype=torch.float32) if isinstance(v, np.ndarray) else v
            for k, v in source.items()}


# ----------------------------------------------------------------------------------------------
# 4.1 The general score h_tᵀ W_a h̄_s
# ----------------------------------------------------------------------------------------------

def general_scores_41(transposed: bool = False) -> np.ndarray:
    h, H, W = DATA_41["h_t"], DATA_41["H"], DATA_41["W_a"]
    W = W.T if transposed else W
    return np.array([sum(h[a] * W[a, b] * hs[b] for a in range(3) for b in range(3)) for hs in H])


@exercise("4.1")
def check_general(answer) -> str:
    got = _as_array(answer, "The scores").squeeze()
    right = general_scores_41()
    if got.shape != right.shape:
        raise AssertionError(f"Give one score per source word: {right.shape[0]} numbers, got shape {got.shape}.")
    if np.allclose(got, right, atol=TOL):
        s = int(right.argmax())
        return f"h_t attends most to source position {s} (score {right[s]:.3f})."
    if np.allclose(got, _softmax(right), atol=TOL):
        raise AssertionError("These are the weights a_t(s) = softmax(score). Give the scores, before the softmax.")
    if np.allclose(got, DATA_41["H"] @ DATA_41["h_t"], atol=TOL):
        raise AssertionError("That is the dot score h_tᵀ h̄_s. The general score puts W_a between them: "
                             "h_tᵀ W_a h̄_s.")
    if np.allclose(got, general_scores_41(transposed=True), atol=TOL):
        raise AssertionError("W_a is transposed: the score is h_tᵀ (W_a h̄_s), i.e. H @ W_a.T @ h_t "
                             "(or (W_a @ H.T).T @ h_t), not h̄_sᵀ W_a h_t.")
    raise AssertionError("Not quite: for each row h̄_s of H compute h_t @ (W_a @ h̄_s); for all rows at once, "
                         "H @ W_a.T @ h_t.")


# ----------------------------------------------------------------------------------------------
# 4.2 The predicted position p_t = S · sigmoid(v_pᵀ tanh(W_p h_t))
# ----------------------------------------------------------------------------------------------

def position_42(length: float | None = None, squash: bool = True) -> float:
    d = DATA_42
    S = d["S"] if length is None else length
    hidden = [math.tanh(sum(d["W_p"][k, m] * d["h_t"][m] for m in range(3))) for k in range(2)]
    z = sum(d["v_p"][k] * hidden[k] for k in range(2))
    return S / (1 + math.exp(-z)) if squash else S * z


@exercise("4.2")
def check_position(answer) -> str:
    got = _as_float(answer, "p_t")
    right = position_42()
    if abs(got - right) < TOL:
        return (f"p_t = {right:.3f}: a real number between 0 and S = {DATA_42['S']}, so the window may be "
                "centred between two words.")
    if abs(got - right / DATA_42["S"]) < TOL:
        raise AssertionError("The sigmoid gives a fraction of the sentence; multiply it by the source length S.")
    if abs(got - position_42(length=DATA_42["S"] - 1)) < TOL:
        raise AssertionError("Multiply by S itself (the source length, 9), as in Luong et al. (Sec. 3.2), "
                             "not by S - 1.")
    if not 0 <= got <= DATA_42["S"]:
        raise AssertionError(f"p_t must lie between 0 and S = {DATA_42['S']}: squash v_pᵀ tanh(W_p h_t) "
                             "with a sigmoid before multiplying by S.")
    raise AssertionError("Not quite: p_t = S * sigmoid(v_p @ tanh(W_p @ h_t)) with S = 9.")


# ----------------------------------------------------------------------------------------------
# 4.3 local-p weights: softmax over the window, times a Gaussian centred at p_t
# ----------------------------------------------------------------------------------------------

def local_weights_43(window: bool = True, gaussian: bool = True, sigma: float | None = None) -> np.ndarray:
    d = DATA_43
    p, D, scores = d["p_t"], d["D"], d["scores"]
    sigma = D / 2 if sigma is None else sigma
    inside = [s for s in range(len(scores)) if abs(s - p) <= D or not window]
    align = np.zeros(len(scores))
    align[inside] = _softmax(scores[inside])
    if gaussian:
        align = align * np.array([math.exp(-(s - p) ** 2 / (2 * sigma ** 2)) for s in range(len(scores))])
    return align


@exercise("4.3")
def check_local_weights(answer) -> str:
    got = _as_array(answer, "a_t").squeeze()
    right = local_weights_43()
    if got.shape != right.shape:
        raise AssertionError(f"Give one weight per source position ({right.shape[0]}), zeros outside the window; "
                             f"got shape {got.shape}.")
    if np.allclose(got, right, atol=TOL):
        return (f"Only positions {int(np.ceil(DATA_43['p_t'] - DATA_43['D']))}..."
                f"{int(np.floor(DATA_43['p_t'] + DATA_43['D']))} are in the window, and the weights now sum to "
                f"{right.sum():.3f}, not 1: the Gaussian is applied after the softmax.")
    if np.allclose(got, local_weights_43(window=False), atol=TOL):
        raise AssertionError("The softmax runs over the window only: positions s with |s - p_t| ≤ D; "
                             "the others get weight 0.")
    if np.allclose(got, local_weights_43(gaussian=False), atol=TOL):
        raise AssertionError("Right window and softmax; now multiply each weight by exp(-(s - p_t)² / (2σ²)).")
    if np.allclose(got, local_weights_43(sigma=DATA_43["D"]), atol=TOL):
        raise AssertionError("σ is D / 2, not D.")
    if np.allclose(got, got.sum() * local_weights_43() / right.sum(), atol=TOL) and abs(got.sum() - 1) < TOL:
        raise AssertionError("Do not renormalise after the Gaussian: Luong et al. multiply the softmax by it, "
                             "so the weights no longer sum to 1.")
    raise AssertionError("Not quite: keep s with |s - p_t| ≤ D, softmax their scores, multiply by "
                         "exp(-(s - p_t)² / (2 (D/2)²)), and put 0 elsewhere.")


# ----------------------------------------------------------------------------------------------
# 4.4 Switch input feeding off in a model trained with it (an ablation at inference)
# ----------------------------------------------------------------------------------------------

MODEL_44 = "luong-general"
# Sentence pairs of our own (not from the corpus), of different lengths so that the batch is padded.
PAIRS_44 = [
    ("The cat is sleeping on the chair.", "Le chat dort sur la chaise."),
    ("My brother bought a new bicycle yesterday.", "Mon frère a acheté un nouveau vélo hier."),
    ("She forgot her umbrella at the office.", "Elle a oublié son parapluie au bureau."),
    ("Open the window, please.", "Ouvre la fenêtre, s'il te plaît."),
    ("The children drew a house with a red roof.", "Les enfants ont dessiné une maison avec un toit rouge."),
    ("I am looking for the key to the garage.", "Je cherche la clé du garage."),
    ("Where did you put the green book?", "Où as-tu mis le livre vert ?"),
    ("The train leaves at seven.", "Le train part à sept heures."),
    ("He drinks his coffee without sugar every morning.", "Il boit son café sans sucre tous les matins."),
    ("Our neighbours have two dogs and a cat.", "Nos voisins ont deux chiens et un chat."),
    ("It rained all day, so we stayed at home.", "Il a plu toute la journée, alors nous sommes restés à la maison."),
    ("Do you know the name of this little river?", "Connais-tu le nom de cette petite rivière ?"),
]


def batch_44(translator):
    """The pairs of exercise 4.4 as one padded teacher-forcing batch for ``translator``'s vocabularies."""
    from ..data.batching import make_batch
    from ..data.text import tokenize

    return make_batch([translator.src_vocab.encode(tokenize(en, "en")) for en, _ in PAIRS_44],
                      [translator.tgt_vocab.encode(tokenize(fr, "fr")) for _, fr in PAIRS_44])


def _luong_by_hand(translator, feed: str = "previous", zero_output: bool = False, per: str = "token"):
    """Teacher-forced cross-entropy of a Luong *general* decoder on the 4.4 batch, written out
    from the weights in float64 (the package's decoder code is not used; the encoder is).

    feed: what enters the next step as h̃_{t-1}: "previous" (input feeding, as trained),
    "zero" (switched off). zero_output: predict from h̃_t = 0 as well (a wrong ablation).
    per: "token" (mean over real target tokens), "sum", "all" (mean including padding),
    "sentence" (one value per sentence: its summed loss and its token count).
    """
    import torch

    batch = batch_44(translator)
    model, dec = translator.model, translator.model.decoder
    if getattr(dec, "input_feeding", None) is not True or getattr(dec.attention, "score", None) != "general":
        raise ValueError("the 4.4 reference needs a Luong general model with input feeding")
    d = torch.float64
    with torch.no_grad():
        memory = model.encode(batch.src, batch.src_lengths)
        ann, mask = memory.enc.annotations.to(d), memory.enc.mask
        h = dec.init(memory.enc.final).to(d)                                  # h_0
        E = dec.embedding.weight.to(d)
        W_ih, W_hh = dec.rnn.weight_ih_l0.to(d), dec.rnn.weight_hh_l0.to(d)
        b_ih, b_hh = dec.rnn.bias_ih_l0.to(d), dec.rnn.bias_hh_l0.to(d)
        W_a, W_c, W_b = dec.attention.W_a.weight.to(d), dec.W_c.weight.to(d), dec.W_b.weight.to(d)
        bias = dec.project.bias.to(d)
        n = h.shape[1]
        h_tilde = torch.zeros_like(h)
        nll = torch.zeros(batch.tgt_out.shape, dtype=d)
        for t in range(batch.tgt_in.shape[1]):
            fed = h_tilde if feed == "previous" else torch.zeros_like(h_tilde)
            x = torch.cat([E[batch.tgt_in[:, t]], fed], -1)
            gi, gh = x @ W_ih.T + b_ih, h @ W_hh.T + b_hh
            r = torch.sigmoid(gi[:, :n] + gh[:, :n])
            z = torch.sigmoid(gi[:, n:2 * n] + gh[:, n:2 * n])
            cand = torch.tanh(gi[:, 2 * n:] + r * gh[:, 2 * n:])
            h = (1 - z) * cand + z * h
            scores = torch.einsum("bq,bsq->bs", h, ann @ W_a.T)               # h_tᵀ W_a h̄_s
            scores = scores.masked_fill(~mask, -math.inf)
            a = torch.exp(scores - scores.max(-1, keepdim=True).values)
            a = a / a.sum(-1, keepdim=True)
            c = torch.einsum("bs,bsk->bk", a, ann)
            h_tilde = torch.tanh(torch.cat([c, h], -1) @ W_c.T)
            out = torch.zeros_like(h_tilde) if zero_output else h_tilde
            logits = (out @ W_b.T) @ E.T + bias
            logp = logits - torch.logsumexp(logits, -1, keepdim=True)
            nll[:, t] = -logp.gather(1, batch.tgt_out[:, t:t + 1])[:, 0]
    real = batch.tgt_out != 0                                                    # 0 = <pad>
    if per == "sum":
        return float(nll[real].sum())
    if per == "all":
        return float(nll.mean())
    if per == "sentence":
        return (nll * real).sum(1).numpy(), real.sum(1).numpy()
    return float(nll[real].mean())


def _nofeed_loss() -> float:
    import torch

    from .. import pretrained

    other = pretrained.load("luong-general-nofeed")
    batch = batch_44(other)
    with torch.no_grad():
        return float(other.model.loss(batch.src, batch.src_lengths, batch.tgt_in, batch.tgt_out))


@exercise("4.4")
def check_no_feeding(answer) -> str:
    from .. import pretrained

    got = _as_float(answer, "The loss")
    translator = pretrained.load(MODEL_44)
    right = _luong_by_hand(translator, feed="zero")
    if abs(got - right) < TOL:
        with_feeding = _luong_by_hand(translator)
        nofeed = _nofeed_loss()
        (off, n), (on, _) = (_luong_by_hand(translator, feed="zero", per="sentence"),
                             _luong_by_hand(translator, per="sentence"))
        worse = int((off / n > on / n).sum())
        return (f"Teacher-forced loss on these {len(PAIRS_44)} pairs, nats per target token:\n"
                f"  {MODEL_44}, input feeding on (as trained)  {with_feeding:.3f}\n"
                f"  {MODEL_44}, input feeding switched off     {right:.3f}\n"
                f"  luong-general-nofeed, trained without it    {nofeed:.3f}\n"
                f"Switched off, the loss is higher for {worse} of the {len(PAIRS_44)} sentences.\n"
                "Switching a component off in a trained model measures how much that model relies "
                "on it, not what the component is worth: the model trained without input feeding "
                "did not learn to need it.")
    if abs(got - _luong_by_hand(translator)) < TOL:
        raise AssertionError("That is the model's own loss, with input feeding on. Feed zeros as h̃_{t-1} "
                             "at every step: run the decoder step by step (decoder.step) and replace the "
                             "second part of the state by zeros before each step.")
    if abs(got - _nofeed_loss()) < TOL:
        raise AssertionError("That is luong-general-nofeed, another model, trained without input feeding. "
                             "Here the model trained *with* it (luong-general) must run without it.")
    if abs(got - _luong_by_hand(translator, feed="zero", zero_output=True)) < TOL \
            or abs(got - _luong_by_hand(translator, zero_output=True)) < TOL:
        raise AssertionError("You zeroed the attentional state h̃_t that predicts the word as well. Only the "
                             "copy fed to the next step becomes zero; step t still predicts from its own h̃_t.")
    if abs(got - _luong_by_hand(translator, feed="zero", per="all")) < TOL:
        raise AssertionError("The mean includes the padding positions: average over real target tokens only "
                             "(tgt_out != 0, or ignore_index=0 in the cross-entropy).")
    if abs(got - _luong_by_hand(translator, feed="zero", per="sum")) < 1e-2:
        raise AssertionError("That is the sum over all target tokens; give the mean per real target token.")
    raise AssertionError("Not quite. Encode the batch, then for t = 0, 1, ... call "
                         "decoder.step(batch.tgt_in[:, t], (h, zeros), memory, t), keep the new h, and "
                         "average the cross-entropy of the logits against batch.tgt_out over real words. "
                         "Use torch.no_grad() and the model in eval mode.")
