"""The synthetic copy/reverse task of chapter 2 and its shipped tiny models."""
import json

import pytest
import torch

from attention_course.data import synthetic
from attention_course.data.vocabulary import Vocabulary
from attention_course.models.seq2seq import ModelConfig, build_model


def test_vocabulary_has_specials_then_twenty_symbols():
    v = synthetic.vocabulary()
    assert len(synthetic.SYMBOLS) == 20 and len(v) == 24
    assert v.itos[:4] == ["<pad>", "<unk>", "<s>", "</s>"]
    assert v.decode(v.encode(list("abc"))) == list("abc")


def test_targets():
    assert synthetic.target("abc", "copy") == ("a", "b", "c")
    assert synthetic.target("abc", "reverse") == ("c", "b", "a")
    with pytest.raises(ValueError, match="task"):
        synthetic.target("abc", "sort")


def test_sample_is_seeded_and_has_the_asked_lengths():
    a = synthetic.sample([5, 60, 7], "reverse", seed=3)
    assert a == synthetic.sample([5, 60, 7], "reverse", seed=3)
    assert a != synthetic.sample([5, 60, 7], "reverse", seed=4)
    assert [len(p.source) for p in a] == [5, 60, 7]
    assert all(p.target == tuple(reversed(p.source)) and set(p.source) <= set(synthetic.SYMBOLS) for p in a)
    for bad in (0, -1, 2.5, True, "5"):
        with pytest.raises(ValueError, match="length"):
            synthetic.sample([bad], "copy", seed=0)


def test_sample_lengths_are_uniform_in_range():
    lengths = synthetic.sample_lengths(5000, seed=1)
    assert min(lengths) == synthetic.MIN_LEN and max(lengths) == synthetic.MAX_LEN
    assert lengths == synthetic.sample_lengths(5000, seed=1)
    with pytest.raises(ValueError):
        synthetic.sample_lengths(3, seed=1, low=10, high=5)


def test_to_batch_shifts_the_target():
    pairs = synthetic.sample([3, 5], "copy", seed=0)
    b = synthetic.to_batch(pairs)
    assert b.src.shape == (2, 5) and b.src_lengths.tolist() == [3, 5]
    assert b.tgt_in[:, 0].tolist() == [Vocabulary.bos_index] * 2
    assert b.tgt_out[0, 3] == Vocabulary.eos_index and b.tgt_out[1, 5] == Vocabulary.eos_index
    assert torch.equal(b.tgt_in[1, 1:], b.tgt_out[1, :-1])


def test_score():
    assert synthetic.score([list("abc"), list("abd")], [list("abc"), list("abc")]) == (0.5, 5 / 6)
    # a dropped symbol shifts the rest; extra symbols after the end are ignored per token
    assert synthetic.score([list("ac")], [list("abc")]) == (0.0, 1 / 3)
    assert synthetic.score([list("abcx")], [list("abc")]) == (0.0, 1.0)
    with pytest.raises(ValueError):
        synthetic.score([list("a")], [])
    with pytest.raises(ValueError):
        synthetic.score([], [])


def test_evaluate_runs_an_untrained_model():
    torch.manual_seed(0)
    v = synthetic.vocabulary()
    model = build_model(ModelConfig(decoder="bahdanau", emb_size=8, hidden_size=8, decoder_size=16,
                                    attention_size=16, dropout=0.0), len(v), len(v))
    acc = synthetic.evaluate(model, "copy", [5, 9], per_length=4, seed=1)
    assert list(acc) == [5, 9]
    assert all(0 <= a["exact"] <= a["token"] <= 1 for a in acc.values())
    assert acc == synthetic.evaluate(model, "copy", [5, 9], per_length=4, seed=1)


def test_shipped_models_and_results():
    results = synthetic.results()
    names = list(results["models"])
    assert any(n.startswith("seq2seq") for n in names) and any(n.startswith("bahdanau") for n in names)
    total = sum(p.stat().st_size for p in synthetic.artifacts_dir().rglob("*") if p.is_file())
    assert total < 3_000_000, f"the synthetic artifacts take {total:,} bytes"
    for name, info in results["models"].items():
        model = synthetic.load(name)
        assert not model.training
        assert sum(p.numel() for p in model.parameters()) == info["parameters"]
        assert model.has_attention == (info["model"]["decoder"] == "bahdanau")
    with pytest.raises(ValueError, match="unknown synthetic model"):
        synthetic.load("nonsense")
    json.dumps(results)  # plain JSON


def test_shipped_attention_model_beats_the_largest_plain_one_on_long_sequences():
    """The finding chapter 2 shows, on fresh sequences (quick: 20 sequences of length 50)."""
    torch.set_num_threads(1)
    results = synthetic.results()
    task = results["settings"]["task"]
    plain = max((n for n in results["models"] if n.startswith("seq2seq")),
                key=lambda n: results["models"][n]["model"]["hidden_size"])
    attention = max((n for n in results["models"] if n.startswith("bahdanau")),
                    key=lambda n: results["models"][n]["model"]["hidden_size"])
    acc = {n: synthetic.evaluate(synthetic.load(n), task, [50], per_length=20, seed=7)[50]["token"]
           for n in (plain, attention)}
    assert acc[attention] > acc[plain] + 0.3, acc
