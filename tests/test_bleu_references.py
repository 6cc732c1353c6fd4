"""Corpus BLEU and chrF with a variable number of references, checked against sacreBLEU called
directly with reference streams written out by hand; the length buckets at their edges; the
signature. Invented sentences only."""
from __future__ import annotations

import pytest
import sacrebleu
from sacrebleu.metrics import BLEU

from attention_course.evaluation import LENGTH_BUCKETS, bleu_by_length, corpus_bleu, corpus_chrf, length_bucket

HYPS = ["there is a cat on a mat .", "a dog barks at night .", "we do not eat soup on tuesdays .",
        "my neighbour paints his boat ."]   # closest to the 2nd, 1st, 3rd and 1st reference
REFS = [["the cat sat on the mat .", "there is a cat on the mat ."],   # two references
        ["a dog barks at night ."],                                    # one
        ["we never eat soup on tuesdays .", "on tuesdays we eat no soup .", "we do not eat soup on tuesday ."],
        ["my neighbour paints his boat every spring ."]]
# sacreBLEU's reference streams: stream k holds every sentence's k-th reference, None where it has none
STREAMS = [[REFS[0][0], REFS[1][0], REFS[2][0], REFS[3][0]],
           [REFS[0][1], None, REFS[2][1], None],
           [None, None, REFS[2][2], None]]


def test_bleu_with_uneven_reference_lists_is_sacrebleus():
    got = corpus_bleu(HYPS, REFS)
    expected = sacrebleu.corpus_bleu(HYPS, STREAMS)
    assert got.score == pytest.approx(expected.score, abs=1e-9)
    assert (got.counts, got.totals, got.sys_len, got.ref_len) == \
        (expected.counts, expected.totals, expected.sys_len, expected.ref_len)
    # every reference counts: neither only the first ones nor only as many as the shortest list
    assert got.score != pytest.approx(sacrebleu.corpus_bleu(HYPS, STREAMS[:1]).score)
    assert got.score != pytest.approx(sacrebleu.corpus_bleu(HYPS, STREAMS[:2]).score)


def test_chrf_with_uneven_reference_lists_is_sacrebleus():
    got = corpus_chrf(HYPS, REFS)
    assert got.score == pytest.approx(sacrebleu.corpus_chrf(HYPS, STREAMS).score, abs=1e-9)
    assert got.score != pytest.approx(sacrebleu.corpus_chrf(HYPS, STREAMS[:1]).score)
    assert got.score != pytest.approx(sacrebleu.corpus_chrf(HYPS, STREAMS[:2]).score)


def test_the_order_of_a_sentences_references_does_not_matter():
    shuffled = [list(reversed(r)) for r in REFS]
    assert corpus_bleu(HYPS, shuffled).score == pytest.approx(corpus_bleu(HYPS, REFS).score, abs=1e-9)
    assert corpus_chrf(HYPS, shuffled).score == pytest.approx(corpus_chrf(HYPS, REFS).score, abs=1e-9)


def test_one_reference_each_and_even_lists():
    one = [[r[0]] for r in REFS]
    assert corpus_bleu(HYPS, one).score == pytest.approx(sacrebleu.corpus_bleu(HYPS, [[r[0] for r in REFS]]).score)
    two = [[r[0], r[-1]] for r in REFS]
    streams = [[r[0] for r in REFS], [r[-1] for r in REFS]]
    assert corpus_bleu(HYPS, two).score == pytest.approx(sacrebleu.corpus_bleu(HYPS, streams).score)
    assert corpus_chrf(HYPS, two).score == pytest.approx(sacrebleu.corpus_chrf(HYPS, streams).score)


def test_the_signature_is_sacrebleus_for_this_very_call():
    got = corpus_bleu(HYPS, REFS)
    bleu = BLEU()
    bleu.corpus_score(HYPS, STREAMS)
    assert got.signature == str(bleu.get_signature())
    assert got.signature.startswith("nrefs:var|case:mixed|eff:no|tok:13a|smooth:exp|version:")
    assert corpus_bleu(HYPS, [[r[0]] for r in REFS]).signature.startswith("nrefs:1|")
    assert f"version:{sacrebleu.__version__}" in got.signature


def test_bad_reference_lists_are_refused():
    with pytest.raises(ValueError, match="at least one reference"):
        corpus_bleu(["a b"], [[]])
    with pytest.raises(ValueError, match="at least one reference"):
        corpus_chrf(["a b", "c"], [[], []])
    with pytest.raises(ValueError, match="hypotheses"):
        corpus_bleu(HYPS, REFS[:3])


# ------------------------------------------------------------------------------------------
# Length buckets: 1-5, 6-10, 11-15, 16+ source words
# ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("n, bucket", [(1, "1-5"), (5, "1-5"), (6, "6-10"), (10, "6-10"), (11, "11-15"),
                                       (15, "11-15"), (16, "16+"), (17, "16+"), (60, "16+")])
def test_length_bucket_edges(n, bucket):
    assert length_bucket(n) == bucket


def test_length_bucket_needs_a_word():
    with pytest.raises(ValueError, match="at least one word"):
        length_bucket(0)
    assert [f"{lo}-{hi}" if hi else f"{lo}+" for lo, hi in LENGTH_BUCKETS] == ["1-5", "6-10", "11-15", "16+"]


def words(n: int) -> str:
    return " ".join(f"w{i}" for i in range(n))


def test_bleu_by_length_puts_each_sentence_in_its_bucket_and_scores_it_with_sacrebleu():
    """Sources of 5/6, 10/11, 15/16 words (and an empty one, counted as one word); each bucket's
    score is sacreBLEU's on exactly its sentences, with their uneven references."""
    lengths = [5, 6, 10, 11, 15, 16, 0, 3, 12]
    sources = [words(n) for n in lengths]
    hyps = ["the cat sits on the mat .", "a dog barks at night .", "we eat soup on tuesdays .",
            "my neighbour paints his boat .", "the kettle is singing .", "where did you hide the keys ?",
            "good morning .", "it is raining again today .", "the train leaves at noon ."]
    refs = [["the cat sat on the mat .", "a cat is on the mat ."], ["a dog barks at night ."],
            ["we never eat soup on tuesdays .", "on tuesdays we eat no soup .", "no soup on tuesdays ."],
            ["my neighbour paints his boat every spring ."], ["the kettle sings .", "the blue kettle is singing ."],
            ["where have you hidden the keys ?"], ["good morning !", "hello ."],
            ["it is raining again .", "it rains again today ."], ["the train leaves at twelve ."]]
    expected_members = {"1-5": [0, 6, 7], "6-10": [1, 2], "11-15": [3, 4, 8], "16+": [5]}
    got = bleu_by_length(sources, hyps, refs)
    assert list(got) == ["1-5", "6-10", "11-15", "16+"]
    for key, members in expected_members.items():
        width = max(len(refs[i]) for i in members)
        streams = [[refs[i][k] if k < len(refs[i]) else None for i in members] for k in range(width)]
        score = sacrebleu.corpus_bleu([hyps[i] for i in members], streams).score
        assert got[key] == {"bleu": round(score, 2), "sentences": len(members)}, key
    assert len({v["bleu"] for v in got.values()}) == 4, "the buckets must differ for this test to mean anything"


def test_bleu_by_length_leaves_out_empty_buckets():
    got = bleu_by_length([words(7), words(8)], ["a b c d", "e f g h"], [["a b c d"], ["e f g x", "e f g h"]])
    assert list(got) == ["6-10"]
    assert got["6-10"] == {"bleu": 100.0, "sentences": 2}
