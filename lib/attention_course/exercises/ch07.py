"""Checks for the exercises of chapter 7 (towards self-attention).

Each check recomputes the right answer independently (plain NumPy loops or the variance
algebra), never with the package's own attention code, and raises an AssertionError with a
hint when the answer is wrong.
"""
from __future__ import annotations

import math
from functools import partial

import numpy as np

from . import exercise
from .answers import as_array

_as_array = partial(as_array, dtype=None)


def _plain_attention(q: np.ndarray, k: np.ndarray, v: np.ndarray, scale: float | None = None) -> np.ndarray:
    """softmax(q kᵀ / √d_k) v with loops over the queries (float64)."""
    scale = 1.0 / math.sqrt(q.shape[1]) if scale is None else scale
    out = np.zeros((q.shape[0], v.shape[1]))
    for i in range(q.shape[0]):
        s = np.array([q[i] @ k[j] for j in range(k.shape[0])]) * scale
        e = np.exp(s - s.max())
        out[i] = (e / e.sum()) @ v
    return out


@exercise("7.1")
def scaled_dot_product_by_hand(fn):
    """``fn(q, k, v)`` returns softmax(q kᵀ / √d_k) v for 2-D float tensors."""
    import torch

    assert callable(fn), "answer should be your function itself (answer = my_attention), not its result"
    rng = np.random.default_rng(7)
    for n_q, n_k, d_k, d_v in [(3, 5, 4, 2), (4, 6, 64, 3), (1, 2, 16, 16)]:
        q, k, v = rng.normal(size=(n_q, d_k)) * 2, rng.normal(size=(n_k, d_k)), rng.normal(size=(n_k, d_v))
        try:
            got = fn(torch.tensor(q), torch.tensor(k), torch.tensor(v))
        except Exception as exc:  # noqa: BLE001 - report the reader's error as a hint
            raise AssertionError(f"your function raised {type(exc).__name__}: {exc}") from exc
        if isinstance(got, tuple):
            raise AssertionError("return only the output softmax(q kᵀ / √d_k) v, not a tuple")
        got = _as_array(got, "the output")
        assert got.shape == (n_q, d_v), (
            f"for {n_q} queries and values of size {d_v} the output must be {n_q} x {d_v}, got {got.shape}")
        if np.allclose(got, _plain_attention(q, k, v)):
            continue
        if np.allclose(got, _plain_attention(q, k, v, scale=1.0)):
            raise AssertionError("these are Luong's dot weights: divide the scores q kᵀ by √d_k")
        if np.allclose(got, _plain_attention(q, k, v, scale=1.0 / d_k)):
            raise AssertionError("divide by the square root of d_k, not by d_k itself")
        raise AssertionError(
            "the output differs from softmax(q kᵀ / √d_k) v; the softmax runs over the keys "
            "(the last axis of the scores), then the weights multiply v")
    return "Your function agrees with Eq. 1 on three sets of random q, k and v."


def _plain_decoder_mask(lengths: list[int], causal: bool = True, keys: bool = True,
                        strict: bool = False) -> np.ndarray:
    """batch x n x n: True where query i of sentence b may see key j (loops, no tril)."""
    n = max(lengths)
    m = np.zeros((len(lengths), n, n), dtype=bool)
    for b, length in enumerate(lengths):
        for i in range(n):
            for j in range(n):
                ok_time = (j < i if strict else j <= i) if causal else True
                ok_pad = (j < length) if keys else (i < length)
                m[b, i, j] = ok_time and ok_pad
    return m


_CASES_72 = [[3, 5, 1], [4], [2, 2], [6, 1, 4, 3], [1], [5, 5, 2]]


@exercise("7.2")
def decoder_self_attention_mask(fn):
    """``fn(lengths)`` returns the mask of a decoder's self-attention over a padded batch of
    French prefixes: batch x n x n (n = the longest), True where query i of sentence b may
    attend to key j, i.e. j ≤ i (no peeking ahead) and j < lengths[b] (no padding)."""
    if not callable(fn):
        raise AssertionError("answer should be your function itself (answer = decoder_mask), not its result")
    for lengths in _CASES_72:
        try:
            got = fn(list(lengths))
        except Exception as exc:  # noqa: BLE001 - report the reader's error as a hint
            raise AssertionError(f"your function raised {type(exc).__name__}: {exc} (lengths {lengths})") from exc
        m = _as_array(got, "the mask")
        n = max(lengths)
        assert m.shape == (len(lengths), n, n), (
            f"for lengths {lengths} the mask is batch x n x n = {(len(lengths), n, n)} "
            f"(n = the longest), got {m.shape}")
        assert m.dtype == bool, f"the mask should hold booleans (True = may attend), got {m.dtype}"
        right = _plain_decoder_mask(lengths)
        if (m == right).all():
            continue
        where = f"lengths {lengths}"
        if (m == right.transpose(0, 2, 1)).all():
            raise AssertionError(f"{where}: that is the transpose: row i is query i, and it may see keys j ≤ i")
        if (m == ~right).all():
            raise AssertionError(f"{where}: True should mean 'may attend'; you marked the forbidden positions")
        if (m == _plain_decoder_mask(lengths, strict=True)).all():
            raise AssertionError(f"{where}: a word may attend to itself: keep the diagonal (j ≤ i)")
        if len(set(lengths)) > 1 and (m == _plain_decoder_mask(lengths, keys=False)).all():
            raise AssertionError(f"{where}: you masked padded *queries* (rows); mask padded *keys* "
                                 "(columns j ≥ length), which no real word may attend to")
        if len(set(lengths)) > 1 and (m == _plain_decoder_mask([n] * len(lengths))).all():
            raise AssertionError(f"{where}: the causal part is right, but the shorter sentences "
                                 "attend to padding: also require j < lengths[b]")
        if (m == _plain_decoder_mask(lengths, causal=False)).all():
            raise AssertionError(f"{where}: the padding part is right, but query i sees the future: "
                                 "also require j ≤ i")
        raise AssertionError(f"{where}: row i of sentence b should be True exactly at the keys "
                             "j ≤ i with j < lengths[b]")
    return ("Row i of each sentence sees the words up to i, and never the padding: "
            "the mask of a Transformer decoder trained on a batch.")


@exercise("7.3")
def variance_of_dot_products(answer):
    """(Var(q·k), Var(q·k/√d_k)) for d_k = 64, q_i ~ N(0, 2²), k_i ~ N(0, 1), all independent."""
    try:
        unscaled, scaled = (float(x) for x in answer)
    except (TypeError, ValueError):
        raise AssertionError("answer should be a pair of numbers: (variance of q·k, variance of q·k / √d_k)") from None
    d_k, var_q, var_k = 64, 4.0, 1.0
    # Var(q_i k_i) = E[q_i²] E[k_i²] = var_q var_k (zero means, independent); d_k such terms add up.
    want_unscaled = d_k * var_q * var_k
    want_scaled = want_unscaled / d_k
    if abs(unscaled - want_unscaled) > 0.05 * want_unscaled:
        if math.isclose(unscaled, d_k, rel_tol=0.05):
            raise AssertionError("Var(q·k) is not d_k here: each term q_i k_i has variance Var(q_i)·Var(k_i)")
        if math.isclose(unscaled, d_k * 2, rel_tol=0.05):
            raise AssertionError("a standard deviation of 2 is a variance of 4")
        raise AssertionError(f"Var(q·k) is the sum of d_k = {d_k} terms, each of variance Var(q_i)·Var(k_i)")
    if abs(scaled - want_scaled) > 0.05 * want_scaled:
        if math.isclose(scaled, want_unscaled / math.sqrt(d_k), rel_tol=0.05):
            raise AssertionError("dividing a number by √d_k divides its variance by d_k, not by √d_k")
        raise AssertionError("Var(c·X) = c²·Var(X): what does multiplying by 1/√d_k do to the variance?")
    return ("Scaling by 1/√d_k removes the growth with d_k, but not the queries' own scale: "
            "the variance is Var(q_i)·Var(k_i).")


__all__ = ["scaled_dot_product_by_hand", "decoder_self_attention_mask", "variance_of_dot_products"]


# --- 7.4: the scale after the fact ---------------------------------------------------------------

MODEL_74 = "luong-dot"
# Sentence pairs of our own (English, French reference), for teacher forcing.
PAIRS_74 = [
    ("My sister bought a small house near the sea.", "Ma sœur a acheté une petite maison près de la mer."),
    ("The children are playing in the garden.", "Les enfants jouent dans le jardin."),
    ("We had dinner in a small restaurant.", "Nous avons dîné dans un petit restaurant."),
    ("She reads a book every evening.", "Elle lit un livre chaque soir."),
    ("He forgot his umbrella at the office.", "Il a oublié son parapluie au bureau."),
    ("The train leaves at eight in the morning.", "Le train part à huit heures du matin."),
    ("My brother does not like cold coffee.", "Mon frère n'aime pas le café froid."),
    ("They are waiting for the bus in the rain.", "Ils attendent le bus sous la pluie."),
]


def _teacher_forced_loss_74(scale: float | None = None, after_softmax: bool = False, eos: bool = True,
                            reduction: str = "mean") -> float:
    """Cross-entropy (nats) of a fresh ``luong-dot`` on :data:`PAIRS_74`, fed the references,
    with the dot scores multiplied by ``scale`` (None: unchanged) or, with ``after_softmax``,
    the weights. One sentence at a time, with its own loop over the reference words."""
    import torch

    from .. import pretrained
    from ..checkpoint import load_model
    from ..data.text import tokenize
    from ..data.vocabulary import Vocabulary

    model, _, src_vocab, tgt_vocab = load_model(pretrained.checkpoint_dir(MODEL_74))
    model.eval()
    if scale is not None:
        def scaled(query, keys, annotations, mask, **_):
            scores = query @ annotations.transpose(1, 2)                  # h_t · h̄_s
            if not after_softmax:
                scores = scores * scale
            scores = scores.masked_fill(~mask[:, None, :], float("-inf"))
            alpha = torch.softmax(scores, -1) * (scale if after_softmax else 1.0)
            return alpha @ annotations, alpha
        model.decoder.attention.forward = scaled
    total, tokens = 0.0, 0
    with torch.no_grad():
        for english, french in PAIRS_74:
            src = src_vocab.encode(tokenize(english, "en"))
            ref = tgt_vocab.encode(tokenize(french, "fr")) + [Vocabulary.eos_index]
            logits, _ = model(torch.tensor([src]), torch.tensor([len(src)]),
                              torch.tensor([[Vocabulary.bos_index] + ref[:-1]]))
            log_p = torch.log_softmax(logits[0].double(), -1)
            for i, word in enumerate(ref if eos else ref[:-1]):
                total -= float(log_p[i, word])
                tokens += 1
    return total / tokens if reduction == "mean" else total


@exercise("7.4")
def check_scaled_luong_dot(answer) -> str:
    """The teacher-forced cross-entropy of luong-dot on PAIRS_74 with its scores divided by 16."""
    from .answers import as_float
    got = as_float(answer, "The loss")
    d = 256
    right = _teacher_forced_loss_74(scale=1 / math.sqrt(d))
    if math.isclose(got, right, rel_tol=1e-3):
        plain = _teacher_forced_loss_74()
        return (f"Cross-entropy per token: {plain:.2f} nats as trained, {right:.2f} with the scale "
                f"1/√{d} (perplexity {math.exp(plain):.1f} → {math.exp(right):.1f}). Training tuned the "
                "states to the scale 1; dividing afterwards flattens the weights the decoder relies on.")
    wrong = [
        (_teacher_forced_loss_74(), "That is the unchanged model: divide its scores h_t · h̄_s by √256 = 16 "
                                    "before the softmax, then measure."),
        (_teacher_forced_loss_74(scale=1 / d), "Divide the scores by √d_k = 16, not by d_k = 256."),
        (_teacher_forced_loss_74(scale=math.sqrt(d)), "Divide the scores by 16; you multiplied them."),
        (_teacher_forced_loss_74(scale=1 / math.sqrt(d), after_softmax=True),
         "Scale the scores before the softmax, not the weights after it (they must still sum to 1)."),
        (_teacher_forced_loss_74(scale=1 / math.sqrt(d), eos=False),
         "Count </s> too: the loss is averaged over every reference word and the final </s>."),
        (_teacher_forced_loss_74(scale=1 / math.sqrt(d), reduction="sum"),
         "That is the sum over all tokens: give the mean per token."),
    ]
    for value, hint in wrong:
        if math.isclose(got, value, rel_tol=1e-3):
            raise AssertionError(hint)
    raise AssertionError("Load a fresh luong-dot, make its attention compute softmax(h_t · h̄_s / 16) "
                         "over the real source words, feed each reference (<s> + words) and average "
                         "−log p of each reference word and of </s>.")


# --- 7.5: the previous-word head -----------------------------------------------------------------

# A sentence of our own for the report on the trained model (not a corpus sentence).
SENTENCE_75 = "The old man gave his dog a bone."


def _plain_offset_share(w: np.ndarray, offset: int = -1, divide_by_n: bool = False, wrap: bool = False) -> np.ndarray:
    """layers x heads: the mean over queries i (with a key i + offset) of w[l, h, i, i + offset],
    with loops. ``divide_by_n`` averages over all n queries (the first counted as 0); ``wrap``
    lets query 0 take the last word as its previous one."""
    layers, heads, n, _ = w.shape
    out = np.zeros((layers, heads))
    for layer in range(layers):
        for head in range(heads):
            values = []
            for i in range(n):
                j = i + offset
                if 0 <= j < n:
                    values.append(w[layer, head, i, j])
                elif wrap:
                    values.append(w[layer, head, i, j % n])
            out[layer, head] = sum(values) / (n if divide_by_n else len(values))
    return out


def _cases_75() -> list[np.ndarray]:
    """Random row-stochastic weights (layers x heads x n x n), one head made a previous-word head."""
    rng = np.random.default_rng(75)
    cases = []
    for layers, heads, n in [(2, 4, 6), (1, 2, 2), (3, 1, 9), (2, 3, 13)]:
        w = rng.dirichlet(np.ones(n), size=(layers, heads, n))
        layer, head = int(rng.integers(layers)), int(rng.integers(heads))
        w[layer, head, 1:] = 0.1 * w[layer, head, 1:]
        w[layer, head, np.arange(1, n), np.arange(n - 1)] += 0.9                # a previous-word head
        cases.append(w)
    return cases


def _trained_head_75() -> tuple[int, int, float]:
    """(layer, head, share) of the trained Transformer's encoder head with the largest
    previous-word share on SENTENCE_75, with loops over its recorded weights."""
    import torch

    from .. import pretrained
    from ..data.text import tokenize
    from ..evaluation.heads import encoder_self_attention

    tr = pretrained.load("transformer")
    words = tokenize(SENTENCE_75, "en")
    weights = encoder_self_attention(tr.model, torch.tensor([tr.src_vocab.encode(words)]),
                                     torch.tensor([len(words)]))[:, 0].double().numpy()
    shares = _plain_offset_share(weights)
    layer, head = np.unravel_index(int(shares.argmax()), shares.shape)
    return int(layer), int(head), float(shares[layer, head])


@exercise("7.5")
def previous_word_head(fn):
    """``fn(weights)``: layers x heads x n x n -> layers x heads, the mean weight on the previous word."""
    import torch

    if not callable(fn):
        raise AssertionError("answer should be your function itself (answer = previous_word_share), "
                             "not its result")
    for w in _cases_75():
        layers, heads, n, _ = w.shape
        try:
            got = fn(torch.tensor(w))
        except Exception as exc:  # noqa: BLE001 - report the reader's error as a hint
            raise AssertionError(f"your function raised {type(exc).__name__}: {exc} "
                                 f"(weights of shape {w.shape})") from exc
        got = _as_array(got, "the result")
        assert got.shape == (layers, heads), (
            f"for weights of shape {w.shape} the result is layers x heads = {(layers, heads)}, got {got.shape}")
        if np.allclose(got, _plain_offset_share(w)):
            continue
        where = f"weights of shape {w.shape}"
        if np.allclose(got, _plain_offset_share(w, +1)):
            raise AssertionError(f"{where}: that is the weight on the *next* word (i + 1); row i is the "
                                 "word that attends, column i - 1 the previous word")
        if np.allclose(got, _plain_offset_share(w, 0)):
            raise AssertionError(f"{where}: that is the weight of each word on itself (the diagonal)")
        if np.allclose(got, _plain_offset_share(w, divide_by_n=True)):
            raise AssertionError(f"{where}: average over the n - 1 words that have a previous word, "
                                 "not over all n (the first word has none)")
        if np.allclose(got, _plain_offset_share(w, wrap=True)):
            raise AssertionError(f"{where}: the first word has no previous word: leave it out "
                                 "(torch.roll wraps the last word round to the front)")
        raise AssertionError(f"{where}: for each head, take w[i, i - 1] for i = 1 .. n-1 and average")
    layer, head, share = _trained_head_75()
    return (f"Your function agrees with a plain loop on {len(_cases_75())} generated cases. On "
            f"'{SENTENCE_75}' the trained Transformer's\nencoder head with the largest share is "
            f"layer {layer + 1}, head {head + 1}: {share:.2f} of each word's weight on the previous word.")


__all__ += ["previous_word_head"]
