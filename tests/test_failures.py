"""Failure analysis (attention_course.evaluation.failures): the definitions on hand-made cases,
the rates and their intervals, exposure bias against a step-by-step recomputation, and the
shipped results file against its own definitions and (with the corpus) a fresh decode.

Every sentence here is invented; test-split sentences are read at test time only.
"""
from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from attention_course import pretrained
from attention_course.data.text import tokenize
from attention_course.data.vocabulary import Vocabulary
from attention_course.evaluation import failures as F
from attention_course.evaluation.significance import resample_indices

from helpers_models import corpus_or_skip, one_thread  # noqa: F401 (autouse fixture)

COMMON = frozenset({"de", "la", "le", "je", "et"})


def words(text):
    return text.split()


# --- over-translation ----------------------------------------------------------------------------

@pytest.mark.parametrize("output, references, expected", [
    ("la température de la température", ["la température du patient"], {"température": 1}),
    ("la température de la température", ["la température , la température"], {}),      # as often as a reference
    ("Maison maison maison", ["une maison"], {"maison": 2}),                               # case ignored, extra copies
    ("la maison de la maison", ["la maison", "une maison , la maison"], {}),               # any reference allows it
    ("de la de la de la", ["la"], {}),                                                     # common words never count
    ("<unk> et <unk> !", ["Paul et Marie !"], {}),                                         # <unk> and punctuation
    ("chat chat chat", ["chat chat"], {"chat": 1}),
    ("un deux", ["un"], {}),
])
def test_repeated_words(output, references, expected):
    assert F.repeated_words(words(output), [words(r) for r in references], COMMON) == expected


def test_immediate_repeats():
    assert F.immediate_repeats(words("très très bien"), [words("très bien")]) == [1]
    assert F.immediate_repeats(words("Nous nous sommes vus"), [words("nous nous sommes vus")]) == []
    assert F.immediate_repeats(words("<unk> <unk> est là"), [words("x")]) == []
    assert F.immediate_repeats(words("rouge rouge rouge"), [words("rouge")]) == [1, 2]
    assert F.immediate_repeats(words(". ."), [words(".")]) == [1]


def test_common_words_are_the_most_frequent_tokens_of_the_vocabulary():
    vocab = Vocabulary(["<pad>", "<unk>", "<s>", "</s>", "Le", "chat", "le", "dort"])
    assert F.common_words(vocab, 2) == {"le", "chat"}
    tr = pretrained.load("bahdanau")
    common = F.common_words(tr.tgt_vocab)
    assert {"de", "la", "le", "pas", "est"} <= common and "température" not in common
    assert F.is_content("Température", common) and not F.is_content("Le", common)
    assert not F.is_content("<unk>", common) and not F.is_content("?", common) and F.is_content("42", common)


# --- under-translation ---------------------------------------------------------------------------

def test_coverage_and_uncovered_words():
    source = ["The", "red", "car", "."]
    attention = np.array([[0.9, 0.05, 0.03, 0.02],
                          [0.1, 0.02, 0.85, 0.03],
                          [0.0, 0.03, 0.07, 0.9]])
    assert F.coverage(attention) == pytest.approx([1.0, 0.10, 0.95, 0.95])
    assert F.uncovered_words(source, attention, frozenset()) == [1]
    assert F.uncovered_words(source, attention, frozenset({"red"})) == []                # a common word
    assert F.uncovered_words(source, attention, frozenset(), threshold=0.96) == [1, 2]  # "." is punctuation
    with pytest.raises(ValueError, match="source of 3"):
        F.uncovered_words(source[:3], attention, frozenset())


def test_sentence_counts_of_a_translation():
    tr = pretrained.load("luong-general")
    t = tr.translate("I would rather stay at home and read a good book than go to a noisy party "
                     "where I don't know anyone.", beam_size=5)
    counts = F.sentence_counts(t, ["Je préférerais rester à la maison et lire un bon livre plutôt que d'aller "
                                   "à une fête bruyante où je ne connais personne."],
                               F.common_words(tr.src_vocab), F.common_words(tr.tgt_vocab))
    # the same numbers by hand from the definitions
    cov = t.attention.sum(0)
    low = [w for w, c in zip(t.source_tokens, cov) if c < F.THRESHOLD and F.is_content(w, F.common_words(tr.src_vocab))]
    assert counts.uncovered == len(low) and "party" in low
    assert counts.content == sum(F.is_content(w, F.common_words(tr.src_vocab)) for w in t.source_tokens)
    assert F.sentence_counts(pretrained.load("seq2seq").translate("I like red cars."), ["J'aime les voitures rouges."],
                             frozenset(), frozenset()).uncovered is None


# --- rates ---------------------------------------------------------------------------------------

def test_rates_per_100_sentences_and_intervals():
    counts = np.array([0, 2, 0, 1, 0, 0, 3, 0, 0, 0] * 20)
    assert F.per_100(counts) == pytest.approx(60.0)
    low, high = F.interval_per_100(counts)
    assert low < 60.0 < high and high - low < 60
    draws = resample_indices(len(counts))
    assert F.paired_difference_per_100(counts, counts, draws) == (0.0, 0.0, 0.0)
    delta, low, high = F.paired_difference_per_100(counts + (np.arange(200) % 4 == 0), counts, draws)
    assert delta == pytest.approx(25.0) and low <= 25.0 <= high


def test_sparse_and_dense_are_inverse():
    values = [0, 3, 0, 0, 1, 0]
    assert F.sparse(values) == {"1": 3, "4": 1}
    assert F.dense(F.sparse(values), len(values)).tolist() == values


# --- exposure bias -------------------------------------------------------------------------------

PAIRS = [("I like red cars.", "J'aime les voitures rouges."),
         ("The old man is cleaning the house today.", "Le vieil homme nettoie la maison aujourd'hui."),
         ("We never eat soup on Tuesdays.", "Nous ne mangeons jamais de soupe le mardi."),
         ("Where did you hide the keys?", "Où as-tu caché les clés ?")]


def test_token_accuracy_agrees_with_a_step_by_step_recomputation():
    tr = pretrained.load("bahdanau")
    acc = F.token_accuracy(tr, PAIRS, batch_size=3)
    dec = tr.model.decoder
    for k, (en, fr) in enumerate(PAIRS):
        src = torch.tensor([tr.src_vocab.encode(tokenize(en, "en"))])
        gold = tr.tgt_vocab.encode(tokenize(fr, "fr")) + [Vocabulary.eos_index]
        with torch.no_grad():
            memory = tr.model.encode(src, torch.tensor([src.size(1)]))
            state, prev, hits = dec.initial_state(memory), Vocabulary.bos_index, []
            for t, g in enumerate(gold):                           # teacher forcing, one step at a time
                logits, state, _ = dec.step(torch.tensor([prev]), state, memory, t)
                hits.append(int(logits[0].argmax()) == g)
                prev = g
        assert acc.teacher_forced[k, : len(gold)].tolist() == hits
        assert acc.mask[k].sum() == len(gold)
        own = tr.translate(en).raw_tokens
        own_ids = [tr.tgt_vocab.stoi[w] for w in own] + [Vocabulary.eos_index]
        assert acc.free_running[k, : len(gold)].tolist() == [i < len(own_ids) and own_ids[i] == g
                                                             for i, g in enumerate(gold)]
    assert 0 <= acc.accuracy("free_running") <= acc.accuracy("teacher_forced") <= 1
    delta, low, high = F.accuracy_difference(acc, resample_indices(len(PAIRS), 200))
    assert low <= delta <= high


# --- the shipped results -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def results():
    return F.load_results()


def test_results_were_made_with_the_current_definitions(results):
    assert results["command"] == F.COMMAND == "python -m attention_course.evaluation.failures --all"
    d = results["definitions"]
    assert d["common_words"] == F.COMMON and d["uncovered_below"] == F.THRESHOLD and d["search"] == F.SEARCH
    assert list(results["runs"]) == pretrained.available()
    assert set(results["coverage_penalty"]) == set(F.COVERAGE_MODELS)
    assert all(set(r) == {f"{b:g}" for b in F.BETAS} for r in results["coverage_penalty"].values())
    assert list(results["exposure_bias"]) == pretrained.available()


def test_results_rates_agree_with_their_per_sentence_counts(results):
    n = results["test_sentences"]
    runs = [(name, run) for name, run in results["runs"].items()]
    runs += [(name, run) for name, by_beta in results["coverage_penalty"].items() for run in by_beta.values()]
    for name, run in runs:
        attention = pretrained.load(name).has_attention
        assert ("uncovered" in run) == attention, name
        for kind in ("repeated", "immediate") + (("uncovered",) if attention else ()):
            counts = F.dense(run["per_sentence"][kind], n)
            assert run[kind]["per_100"] == pytest.approx(F.per_100(counts), abs=0.005), (name, kind)
            assert run[kind]["sentences_with"] == np.count_nonzero(counts)
            low, high = run[kind]["ci95"]
            assert low <= run[kind]["per_100"] <= high
        if attention:
            assert sum(run["coverage_histogram"]["counts"]) == run["uncovered"]["content_words"]


def test_results_match_a_fresh_decode_of_a_sample(results):
    corpus_or_skip()
    from attention_course.data import test_set
    examples = test_set("test")
    assert len(examples) == results["test_sentences"]
    idx = sorted(random.Random(8).sample(range(len(examples)), 40))
    tr = pretrained.load("luong-general")
    translations = tr.translate_batch([examples[i].source for i in idx], **F.SEARCH)
    counts = F.count_failures(tr, translations, [examples[i].references for i in idx])
    run = results["runs"]["luong-general"]["per_sentence"]
    for kind in ("repeated", "immediate", "uncovered"):
        stored = F.dense(run[kind], len(examples))[idx]
        assert [getattr(c, kind) for c in counts] == stored.tolist(), kind


def test_results_decode_what_the_model_cards_decode(results):
    # the same search as the cards (beam 5, α = 1), scored the same way: a run made before a card changed
    # (new weights, a new scoring rule) shows up here
    for name, run in results["runs"].items():
        card = pretrained.metrics(name)["bleu_beam5"]
        assert run["bleu_card"] == card, name
        assert run["bleu"] == pytest.approx(card, abs=0.01), name
