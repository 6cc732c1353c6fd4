"""Head statistics of a Transformer (attention_course.evaluation.heads), checked against plain
loops, and the recorded weights against the model's own modules."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from attention_course.evaluation.alignment import argmax_alignment, corpus_aer
from attention_course.evaluation.heads import (alignment_error_by_head, cross_attention, decoder_self_attention,
                                               encoder_self_attention, head_entropy, offset_share)
from attention_course.models.seq2seq import ModelConfig, build_model


def plain_entropy(sentences):
    """Mean over all queries of all sentences of -Σ_j a_ij log a_ij, per leading index."""
    lead = sentences[0].shape[:-2]
    out = np.zeros(lead)
    for index in np.ndindex(*lead):
        total, count = 0.0, 0
        for w in sentences:
            for row in w[index]:
                total -= sum(a * math.log(a) for a in row if a > 0)
                count += 1
        out[index] = total / count
    return out


def plain_offset(sentences, offset):
    lead = sentences[0].shape[:-2]
    out = np.zeros(lead)
    for index in np.ndindex(*lead):
        values = [w[index][i, i + offset] for w in sentences for i in range(w.shape[-1]) if 0 <= i + offset < w.shape[-1]]
        out[index] = sum(values) / len(values)
    return out


def random_weights(rng, lead, n, m=None, zeros=False):
    w = rng.dirichlet(np.ones(m or n), size=(*lead, n))
    if zeros:                                   # exact zeros (a masked key) must count as 0 log 0 = 0
        w[..., 0] = 0.0
        w /= w.sum(-1, keepdims=True)
    return w


def test_statistics_match_plain_loops():
    rng = np.random.default_rng(0)
    sentences = [random_weights(rng, (2, 3), n, zeros=(n == 5)) for n in (1, 2, 5, 9)]
    assert head_entropy(sentences) == pytest.approx(plain_entropy(sentences))
    for offset in (-2, -1, 0, 1, 3):
        assert offset_share(sentences, offset) == pytest.approx(plain_offset(sentences, offset))
    # one matrix alone, torch or NumPy, no leading axes
    w = sentences[2][1, 2]
    assert float(head_entropy(torch.tensor(w))) == pytest.approx(float(plain_entropy([w])))
    assert float(offset_share(w, -1)) == pytest.approx(np.mean([w[i, i - 1] for i in range(1, 5)]))


def test_statistics_by_hand():
    even = np.full((4, 4), 0.25)
    assert float(head_entropy(even)) == pytest.approx(math.log(4))
    shift = np.eye(4, k=-1)
    shift[0, 0] = 1.0                            # the first word has no previous word: itself
    assert float(head_entropy(shift)) == 0.0
    assert float(offset_share(shift, -1)) == 1.0
    assert float(offset_share(shift, 0)) == 0.25
    assert float(offset_share(shift, 1)) == 0.0
    # the rows of non-square (cross-attention) weights have an entropy too
    assert float(head_entropy(np.array([[0.5, 0.5, 0.0]]))) == pytest.approx(math.log(2))


def test_statistics_reject_bad_input():
    with pytest.raises(ValueError, match="square"):
        offset_share(np.full((2, 3), 1 / 3), -1)
    with pytest.raises(ValueError, match="long enough"):
        offset_share([np.ones((1, 1))], 1)
    with pytest.raises(ValueError, match="whole number"):
        offset_share(np.eye(3), 0.5)
    with pytest.raises(ValueError, match="2 axes"):
        head_entropy(np.ones(3))


def test_alignment_error_by_head_matches_corpus_aer_per_head():
    rng = np.random.default_rng(1)
    shapes = [(3, 4), (5, 5), (2, 6)]
    weights = [random_weights(rng, (2, 3), t, s) for t, s in shapes]
    gold = [{(i, int(rng.integers(s))) for i in range(t)} for t, s in shapes]
    got = alignment_error_by_head(weights, gold)
    assert got.shape == (2, 3)
    for layer in range(2):
        for head in range(3):
            assert got[layer, head] == corpus_aer([argmax_alignment(w[layer, head]) for w in weights], gold)
    perfect = [np.zeros((1, 1, t, s)) for t, s in shapes]
    for w, g in zip(perfect, gold):
        for i, j in g:
            w[0, 0, i, j] = 1.0
    assert alignment_error_by_head(perfect, gold)[0, 0] == 0.0
    with pytest.raises(ValueError, match="one attention array per sentence"):
        alignment_error_by_head(weights, gold[:2])


@pytest.fixture(scope="module")
def tiny_transformer():
    torch.manual_seed(0)
    cfg = ModelConfig(decoder="transformer", emb_size=16, layers=2, heads=4, ff_size=32, dropout=0.0)
    return build_model(cfg, 20, 20).eval()


def test_recorded_encoder_weights_are_the_layers_own(tiny_transformer):
    """The hook records exactly what each layer's attention computes: rebuild layer 1's
    self-attention input by hand from the embeddings and compare."""
    model = tiny_transformer
    src = torch.tensor([[4, 5, 6, 7, 8], [9, 10, 11, 0, 0]])
    lengths = torch.tensor([5, 3])
    weights = encoder_self_attention(model, src, lengths)
    assert weights.shape == (2, 2, 4, 5, 5)
    assert torch.allclose(weights.sum(-1), torch.ones(2, 2, 4, 5))
    assert float(weights[:, 1, :, :, 3:].abs().max()) == 0.0          # no weight on padding
    from attention_course.models.transformer_encoder import embed
    layer = model.encoder.layers[0]
    mask = (torch.arange(5)[None, :] < lengths[:, None])[:, None, :]
    with torch.no_grad():
        h = layer.norm_self(embed(model.encoder.embedding, src, True))
        _, first = layer.self_attention(h, layer.self_attention.keys_values(h), mask)
    assert torch.allclose(weights[0], first)
    # the hooks are removed: a second call records only its own layers
    assert encoder_self_attention(model, src, lengths).shape == weights.shape
    assert all(not layer.self_attention._forward_hooks for layer in model.encoder.layers)


def test_cross_attention_last_layer_mean_is_the_models_attention(tiny_transformer):
    model = tiny_transformer
    src, lengths = torch.tensor([[4, 5, 6, 7]]), torch.tensor([4])
    tgt_in = torch.tensor([[1, 8, 9]])
    heads = cross_attention(model, src, lengths, tgt_in)
    assert heads.shape == (2, 1, 4, 3, 4)
    with torch.no_grad():
        _, attention = model(src, lengths, tgt_in)
    assert torch.allclose(heads[-1].mean(1), attention)


def test_recorded_decoder_weights_are_causal_and_the_layers_own(tiny_transformer):
    model = tiny_transformer
    src, lengths = torch.tensor([[4, 5, 6, 7]]), torch.tensor([4])
    tgt_in = torch.tensor([[1, 8, 9, 10]])
    weights = decoder_self_attention(model, src, lengths, tgt_in)
    assert weights.shape == (2, 1, 4, 4, 4)
    assert torch.allclose(weights.sum(-1), torch.ones(2, 1, 4, 4))
    assert float(weights.triu(1).abs().max()) == 0.0                 # nothing ahead is seen
    # layer 1's weights rebuilt by hand from the target embeddings
    from attention_course.models.transformer_encoder import embed
    layer = model.decoder.layers[0]
    with torch.no_grad():
        h = layer.norm_self(embed(model.decoder.embedding, tgt_in, True))
        _, first = layer.self_attention(h, layer.self_attention.keys_values(h), torch.ones(4, 4).bool().tril()[None])
    assert torch.allclose(weights[0], first)
    assert all(not layer.self_attention._forward_hooks for layer in model.decoder.layers)


def test_rnn_models_are_refused():
    model = build_model(ModelConfig(decoder="bahdanau", emb_size=8, hidden_size=8, decoder_size=16,
                                    attention_size=16), 12, 12)
    with pytest.raises(ValueError, match="not a Transformer"):
        encoder_self_attention(model, torch.tensor([[4, 5]]), torch.tensor([2]))
