"""Exercises of chapters/08_failures.ipynb (failures and coverage): coverage by hand, GNMT's rescoring, a
search that refuses to repeat itself, and a source word hidden from a trained model's attention.

The data of each exercise is defined here once; the chapter prints it from here. The checkers
recompute the right answers with plain Python loops, not with the package's own functions.
"""
from __future__ import annotations

import math

import torch

from . import exercise
from .answers import as_float

# 8.1: an invented output that leaves two words out ("small" and "quickly"); rows: output words.
SOURCE_81 = ["The", "cat", "ate", "the", "small", "fish", "quickly", "."]
TARGET_81 = ["Le", "chat", "a", "mangé", "le", "poisson", "."]
ATTENTION_81 = [
    [0.80, 0.10, 0.02, 0.03, 0.01, 0.02, 0.01, 0.01],
    [0.05, 0.85, 0.03, 0.02, 0.01, 0.02, 0.01, 0.01],
    [0.02, 0.10, 0.70, 0.05, 0.02, 0.05, 0.04, 0.02],
    [0.01, 0.04, 0.85, 0.03, 0.01, 0.03, 0.02, 0.01],
    [0.02, 0.02, 0.05, 0.15, 0.07, 0.64, 0.04, 0.01],
    [0.01, 0.02, 0.03, 0.12, 0.05, 0.72, 0.03, 0.02],
    [0.01, 0.01, 0.02, 0.10, 0.01, 0.05, 0.00, 0.80],
]
THRESHOLD_81 = 0.2

# 8.2: three finished hypotheses for "I lost my keys .": tokens (</s> counted in |y|), log p, and
# the attention of their output words (rows; the step that chose </s> is left out).
SOURCE_82 = ["I", "lost", "my", "keys", "."]
_J, _AI, _PERDU = [0.90, 0.05, 0.02, 0.02, 0.01], [0.30, 0.60, 0.05, 0.03, 0.02], [0.05, 0.85, 0.05, 0.03, 0.02]
_MES, _CLES = [0.02, 0.05, 0.85, 0.06, 0.02], [0.01, 0.03, 0.06, 0.88, 0.02]
HYPOTHESES_82 = {
    "A": (["J'", "ai", "perdu", ".", "</s>"], -1.2, [_J, _AI, _PERDU, [0.02, 0.03, 0.05, 0.10, 0.80]]),
    "B": (["J'", "ai", "perdu", "mes", "clés", ".", "</s>"], -2.0,
          [_J, _AI, _PERDU, _MES, _CLES, [0.02, 0.03, 0.02, 0.03, 0.90]]),
    "C": (["J'", "ai", "perdu", "mes", "clés", "clés", ".", "</s>"], -3.1,
          [_J, _AI, _PERDU, _MES, _CLES, [0.01, 0.02, 0.04, 0.90, 0.03], [0.02, 0.03, 0.02, 0.03, 0.90]]),
}
ALPHA_82, BETA_82 = 1.0, 0.5

# 8.3: a sentence on which luong-general's greedy output repeats a phrase.
SENTENCE_83 = "The nurse checked the patient's temperature twice and wrote both numbers in the notebook."
MODEL_83 = "luong-general"


# --- 8.1 -----------------------------------------------------------------------------------------

def _coverage(rows) -> list[float]:
    return [sum(row[j] for row in rows) for j in range(len(rows[0]))]


def _words(answer, source) -> set[str]:
    """The answer as source words: a list of words, or of positions."""
    if isinstance(answer, str) or not hasattr(answer, "__iter__"):
        raise AssertionError("Give the uncovered words as a list, e.g. ['cat', 'fish'].")
    out = set()
    for a in answer:
        if isinstance(a, str):
            out.add(a)
        elif isinstance(a, int) and not isinstance(a, bool) and 0 <= a < len(source):
            out.add(source[a])
        else:
            raise AssertionError("List source words (strings) or their positions (whole numbers from 0).")
    return out


@exercise("8.1")
def check_uncovered(answer) -> str:
    got = _words(answer, SOURCE_81)
    words = [(w, c) for w, c in zip(SOURCE_81, _coverage(ATTENTION_81)) if any(ch.isalnum() for ch in w)]
    right = {w for w, c in words if c < THRESHOLD_81}
    if got == right:
        return ("Coverage (column sums):\n  " + ", ".join(f"{w} {c:.2f}" for w, c in words)
                + ".\nNeither 'petit' nor 'rapidement' is in the output.")
    if got & set(TARGET_81) - set(SOURCE_81):
        raise AssertionError("Coverage belongs to source words: sum each column (a source word) over the rows.")
    by_max = {w for w, row in zip(SOURCE_81, zip(*ATTENTION_81)) if max(row) < THRESHOLD_81 and w in dict(words)}
    if got == by_max:
        raise AssertionError(f"'the' is never the largest weight of a row, but it receives {dict(words)['the']:.2f} "
                             "in all: coverage adds a column up, it does not take its maximum.")
    if got == {w for w, _ in words} - right:
        raise AssertionError("Those are the covered words: uncovered means a coverage *below* the threshold.")
    raise AssertionError(f"Add up each source word's column over all output rows and list the words whose "
                         f"sum is below {THRESHOLD_81} (leave out the full stop).")


# --- 8.2 -----------------------------------------------------------------------------------------

def _gnmt(key: str, alpha: float = ALPHA_82, beta: float = BETA_82, cap: bool = True,
          normalise: bool = True) -> float:
    tokens, log_p, rows = HYPOTHESES_82[key]
    penalty = 0.0
    for c in _coverage(rows):
        penalty += math.log(min(c, 1.0) if cap else c)
    return (log_p / len(tokens) ** alpha if normalise else log_p) + beta * penalty


@exercise("8.2")
def check_rescoring(answer) -> str:
    if not isinstance(answer, dict) or set(answer) != set(HYPOTHESES_82):
        raise AssertionError("Give a dict with one score per hypothesis: {'A': ..., 'B': ..., 'C': ...}.")
    got = {k: as_float(v, f"The score of {k}") for k, v in answer.items()}

    def close(scores):
        return all(abs(got[k] - scores[k]) < 0.005 for k in scores)

    right = {k: _gnmt(k) for k in HYPOTHESES_82}
    if close(right):
        plain = {k: _gnmt(k, beta=0.0) for k in HYPOTHESES_82}
        return (f"{max(right, key=right.get)} wins; without the penalty (β = 0) {max(plain, key=plain.get)} would: "
                "the short A leaves 'my' and 'keys' uncovered.")
    if close({k: _gnmt(k, cap=False) for k in HYPOTHESES_82}):
        raise AssertionError("Cap each coverage at 1 (min(c_j, 1)) before the log: otherwise attending to "
                             "'keys' twice, as C does, would be rewarded.")
    if close({k: _gnmt(k, normalise=False) for k in HYPOTHESES_82}):
        raise AssertionError("Divide log p by |y|^α first (α = 1, |y| counts </s>), then add the penalty.")
    if close({k: _gnmt(k, beta=1.0) for k in HYPOTHESES_82}):
        raise AssertionError(f"Multiply the sum of the logs by β = {BETA_82}.")
    raise AssertionError("For each hypothesis: coverage c_j = column sums of its rows; "
                         "penalty = β Σ_j log min(c_j, 1) with the natural log; score = log p / |y|^α + penalty.")


# --- 8.3 -----------------------------------------------------------------------------------------

def _plain_blocked(prefix: list[int], vocab_size: int) -> set[int]:
    """The words w that would repeat a bigram of the prefix: (prefix[-1], w) occurs in it already."""
    if not prefix:
        return set()
    return {prefix[i + 1] for i in range(len(prefix) - 1) if prefix[i] == prefix[-1] and prefix[i + 1] < vocab_size}


_CASES_83 = [[], [2, 5, 7, 5], [3], [3, 5], [3, 5, 3], [4, 4], [1, 2, 1, 2, 1], [6, 1, 6, 2, 6], [9, 8, 7]]


@torch.no_grad()
def greedy_with(translator, text: str, adjust) -> list[str]:
    """Greedy decoding of ``text`` in which ``adjust(log_probs, prefix)`` may change each step's
    log-probabilities over the vocabulary (``prefix``: the word ids chosen so far)."""
    from ..data.text import tokenize
    from ..data.vocabulary import Vocabulary
    from ..search.record import max_lengths

    model = translator.model.eval()
    ids = translator.src_vocab.encode(tokenize(text, "en"))
    src, lengths = torch.tensor([ids]), torch.tensor([len(ids)])
    memory = model.encode(src, lengths)
    state = model.decoder.initial_state(memory)
    prefix, prev = [], torch.tensor([Vocabulary.bos_index])
    for t in range(int(max_lengths(lengths)[0])):
        logits, state, _ = model.decoder.step(prev, state, memory, t)
        log_probs = adjust(logits[0].log_softmax(-1).clone(), list(prefix))
        word = int(torch.as_tensor(log_probs).argmax())
        if word == Vocabulary.eos_index:
            break
        prefix.append(word)
        prev = torch.tensor([word])
    return [translator.tgt_vocab.itos[i] for i in prefix]


def _bigrams(tokens) -> list[tuple]:
    return list(zip(tokens, tokens[1:]))


@exercise("8.3")
def check_no_repeat_bigram(fn) -> str:
    if not callable(fn):
        raise AssertionError("answer should be your function itself (answer = no_repeat_bigram), not its result.")
    V = 10
    base = torch.linspace(-5.0, -0.5, V)
    for prefix in _CASES_83:
        try:
            got = fn(base.clone(), list(prefix))
        except Exception as exc:  # noqa: BLE001 - report the reader's error as a hint
            raise AssertionError(f"your function raised {type(exc).__name__}: {exc} (prefix {prefix})") from exc
        got = torch.as_tensor(got, dtype=base.dtype)
        if got.shape != base.shape:
            raise AssertionError(f"return log-probabilities of the same shape ({V},), got {tuple(got.shape)}")
        blocked = {i for i in range(V) if got[i] == -math.inf}
        right = _plain_blocked(prefix, V)
        if blocked != right:
            if len(set(prefix)) > 1 and blocked == set(prefix):
                raise AssertionError(f"prefix {prefix}: you blocked every word already used; block only the words "
                                     f"that would repeat a *pair* (prefix[-1], w) already in the prefix")
            if len(set(prefix)) > 1 and blocked == {prefix[-1]}:
                raise AssertionError(f"prefix {prefix}: that blocks an immediate repeat of the last word; block "
                                     f"instead each w such that (prefix[-1], w) is already a pair of the prefix")
            raise AssertionError(f"prefix {prefix}: blocked {sorted(blocked)}, expected {sorted(right)} "
                                 f"(the words that follow an earlier occurrence of the last word {prefix[-1:]})")
        keep = [i for i in range(V) if i not in right]
        if not torch.equal(got[keep], base[keep]):
            raise AssertionError(f"prefix {prefix}: leave the other log-probabilities unchanged")
    from .. import pretrained
    tr = pretrained.load(MODEL_83)
    plain = greedy_with(tr, SENTENCE_83, lambda lp, prefix: lp)
    mine = greedy_with(tr, SENTENCE_83, fn)
    repeated = [b for b in set(_bigrams(mine)) if _bigrams(mine).count(b) > 1]
    if repeated:
        raise AssertionError(f"the decode with your function still repeats {repeated}")
    from ..data.text import detokenize
    import textwrap
    lines = [textwrap.fill(detokenize(words, "fr"), 78, initial_indent=f"  {label:<12}", subsequent_indent=" " * 14)
             for label, words in (("without it:", plain), ("with it:", mine))]
    return f"Greedy {MODEL_83}\n" + "\n".join(lines)


# --- 8.4 -----------------------------------------------------------------------------------------

MODEL_84 = "luong-general"
# Sentence pairs of our own: English, French reference, the English word to hide from the
# attention, and the French word that translates it.
PAIRS_84 = [
    ("My father drinks tea without sugar.", "Mon père boit du thé sans sucre.", "tea", "thé"),
    ("Our neighbors have a big black dog.", "Nos voisins ont un gros chien noir.", "dog", "chien"),
    ("I lost my keys in the park yesterday.", "J'ai perdu mes clés dans le parc hier.", "park", "parc"),
    ("She has never seen the ocean.", "Elle n'a jamais vu l'océan.", "ocean", "océan"),
    ("The old man sold his car last month.", "Le vieil homme a vendu sa voiture le mois dernier.", "car",
     "voiture"),
    ("I will call you tomorrow evening.", "Je t'appellerai demain soir.", "tomorrow", "demain"),
    ("My aunt is looking for her red glasses.", "Ma tante cherche ses lunettes rouges.", "glasses", "lunettes"),
    ("The shop is closed on Sundays.", "Le magasin est fermé le dimanche.", "shop", "magasin"),
    ("Can you close the door, please?", "Peux-tu fermer la porte, s'il te plaît ?", "door", "porte"),
    ("We walked along the river for an hour.", "Nous avons marché le long de la rivière pendant une heure.",
     "river", "rivière"),
]


@torch.no_grad()
def _loss_84(how: str = "hide", shift: int = 0, eos: bool = True, reduction: str = "mean",
             translation_only: bool = False) -> float:
    """Teacher-forced cross-entropy (nats per token) of a fresh ``luong-general`` on
    :data:`PAIRS_84`, decoded step by step and fed the reference, with each pair's word (at its
    position + ``shift``) "hide": given the score -inf in every step's attention, "zero": its
    annotation zeroed, "drop": removed from the source, "none": left alone. With
    ``translation_only``: the mean probability of the French words that translate the hidden ones."""
    from .. import pretrained
    from ..checkpoint import load_model
    from ..data.text import tokenize
    from ..data.vocabulary import Vocabulary

    model, _, src_vocab, tgt_vocab = load_model(pretrained.checkpoint_dir(MODEL_84))
    model.eval()
    attention, hidden = model.decoder.attention, []

    def without_hidden(query, keys, annotations, mask, **_):
        scores = attention.scores(query, keys)                        # batch x steps x src_len
        scores[:, :, hidden] = float("-inf")
        scores = scores.masked_fill(~mask[:, None, :], float("-inf"))
        alpha = torch.softmax(scores, -1)
        return alpha @ annotations, alpha

    if how == "hide":
        attention.forward = without_hidden
    total, tokens, probs = 0.0, 0, []
    for english, french, word, translation in PAIRS_84:
        words = tokenize(english, "en")
        j = words.index(word) + shift
        if how == "drop":
            words = words[:j] + words[j + 1:]
        hidden[:] = [j]
        src = src_vocab.encode(words)
        ref = tgt_vocab.encode(tokenize(french, "fr")) + [Vocabulary.eos_index]
        memory = model.encode(torch.tensor([src]), torch.tensor([len(src)]))
        if how == "zero":
            memory.enc.annotations[:, j] = 0
            memory = model.decoder.precompute(memory.enc)
        state = model.decoder.initial_state(memory)
        prev = Vocabulary.bos_index
        for t, gold in enumerate(ref):
            logits, state, _ = model.decoder.step(torch.tensor([prev]), state, memory, t)
            log_p = torch.log_softmax(logits[0].double(), -1)
            if eos or gold != Vocabulary.eos_index:
                total -= float(log_p[gold])
                tokens += 1
            if gold == tgt_vocab.stoi[translation]:
                probs.append(float(log_p[gold].exp()))
            prev = gold
    if translation_only:
        return sum(probs) / len(probs)
    return total / tokens if reduction == "mean" else total


@exercise("8.4")
def check_hidden_word(answer) -> str:
    got = as_float(answer, "The loss")
    right = _loss_84()
    if math.isclose(got, right, rel_tol=1e-3):
        plain = _loss_84("none")
        p_plain, p_hidden = _loss_84("none", translation_only=True), _loss_84(translation_only=True)
        return (f"Cross-entropy per token on our {len(PAIRS_84)} pairs: {plain:.2f} nats as the model is, "
                f"{right:.2f} with one word hidden from the attention. The French words that translate the "
                f"hidden ones get probability {p_plain:.2f} on average as the model is, {p_hidden:.2f} "
                "hidden: what the attention cannot reach, the decoder mostly cannot write, although the "
                "neighbouring annotations have read the word.")
    wrong = [
        (_loss_84("none"), "That is the unchanged model: give the hidden word's score −∞ at every step "
                           "(or mark it False in the attention's mask) before you measure."),
        (_loss_84("zero"), "You zeroed the word's annotation: its weight still takes a share of the "
                           "softmax. Hide it from the attention instead (score −∞, weight 0)."),
        (_loss_84("drop"), "You removed the word from the source, which changes what the encoder reads "
                           "too; keep the sentence and hide the word from the attention only."),
        (_loss_84(shift=1), "You hid the word after the one named: words.index(word) is its position."),
        (_loss_84(eos=False), "Count </s> too: every reference word and the final </s> is a position."),
        (_loss_84(reduction="sum"), "That is the sum over all tokens: give the mean per token."),
    ]
    for value, hint in wrong:
        if math.isclose(got, value, rel_tol=1e-3):
            raise AssertionError(hint)
    raise AssertionError("For each pair: encode the English words, forbid the attention to look at the "
                         "hidden word at every step, feed the reference and average −log p (natural log) "
                         "of every reference word and of </s> over all pairs.")

__all__ = ["SOURCE_81", "TARGET_81", "ATTENTION_81", "THRESHOLD_81", "SOURCE_82", "HYPOTHESES_82", "ALPHA_82",
           "BETA_82", "SENTENCE_83", "MODEL_83", "MODEL_84", "PAIRS_84", "greedy_with", "check_uncovered",
           "check_rescoring", "check_no_repeat_bigram", "check_hidden_word"]
