"""The ONNX export (attention_course.export.onnx) computes what the PyTorch models compute.

For every shipped model and many sentences (our own and corpus test-split sources, read here
and never stored), the exported encoder and step graphs, run by onnxruntime, give the same
log-probabilities and attention weights as ``model.encode`` / ``model.decoder.step`` within
1e-4, for a beam of five hypotheses carried through a whole decode on each side; for the
Transformer also the same target prefix (its state) and the same weights of every head of the
last layer (``decoder.cross_attention``). The graphs
hold the checkpoint's float16 weights unchanged and stay under 8 MB a model, and greedy
decoding with them gives the same test BLEU (on a subset here; benchmarks/onnx_export.py
runs the whole test split).
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from helpers_models import corpus_or_skip, one_thread  # noqa: E402,F401  (one_thread: autouse fixture)
from helpers_translator_sentences import INVENTED, corpus_sources  # noqa: E402

from attention_course import pretrained  # noqa: E402
from attention_course.data.text import tokenize  # noqa: E402
from attention_course.data.vocabulary import Vocabulary  # noqa: E402
from attention_course.export import onnx as export  # noqa: E402
from attention_course.translator import MAX_TOKENS  # noqa: E402

MODELS = export.exportable_models()
RECURRENT = ("seq2seq-init", "seq2seq", "bahdanau", "luong-dot", "luong-general", "luong-concat",
             "luong-general-nofeed", "luong-local-p")
K = 5
TOL = 1e-4
MAX_BYTES = 8 * 1024 * 1024


@pytest.fixture(scope="session")
def exported(tmp_path_factory) -> dict[str, Path]:
    """Every shipped model exported once (reusing the build cache when it is current)."""
    cache = os.environ.get("ATTENTION_COURSE_ONNX_CACHE") or str(export.default_cache_dir())
    return export.export_models(tmp_path_factory.mktemp("onnx"), MODELS, cache_dir=cache)


@pytest.fixture(scope="module")
def sentences() -> list[str]:
    corpus = corpus_sources(40)
    return [s for s in INVENTED if tokenize(s, "en")] + corpus


def _torch_state(state):
    return state if isinstance(state, tuple) else (state,)


def _state_gap(onnx_state, torch_state, prefix: bool) -> float:
    """The largest difference between the two sides' states; a Transformer's ONNX state is its
    prefix as float ids behind a dummy column, which must be exactly the PyTorch prefix."""
    if prefix:
        (o,), (t,) = onnx_state, torch_state
        assert o.dtype == np.float32 and o.shape == (t.shape[0], t.shape[1] + 1), (o.shape, tuple(t.shape))
        assert np.array_equal(o[:, 1:].astype(np.int64), t.numpy())
        return 0.0
    return max(float(np.abs(o - t.numpy()).max()) for o, t in zip(onnx_state, torch_state))


def compare_decode(translator, onnx, text: str) -> tuple[float, float, float]:
    """Run both sides through a whole decode of ``text`` with K hypotheses (row 0 follows the
    greedy path, rows 1.. its runners-up, each side carrying its own state). Returns the largest
    differences in log-probability, attention weight (for a Transformer also each head's) and
    encoder output (and state)."""
    ids = translator.src_vocab.encode(tokenize(text, "en"))
    src, lengths = torch.tensor([ids]), torch.tensor([len(ids)])
    model = translator.model
    with torch.no_grad():
        memory = model.encode(src, lengths)
        state = model.decoder.initial_state(memory)
    o_memory, o_state = onnx.encode(ids)
    names = onnx.meta["memory"]
    fields = {"annotations": memory.enc.annotations, "keys": memory.keys, "final": memory.enc.final}
    prefix = bool(onnx.meta.get("prefix_state"))
    d_enc = max([float(np.abs(o - fields[n].numpy()).max()) for o, n in zip(o_memory, names)]
                + [_state_gap(o_state, _torch_state(state), prefix)])
    memory_k = memory.index_select(torch.zeros(K, dtype=torch.long))
    state = tuple(s.index_select(0, torch.zeros(K, dtype=torch.long)) for s in _torch_state(state))
    o_state = [np.repeat(s, K, 0) for s in o_state]
    prev = torch.full((K,), Vocabulary.bos_index)
    d_lp = d_att = 0.0
    for t in range(2 * len(ids) + 10):
        with torch.no_grad():
            logits, new_state, alpha = model.decoder.step(prev, state if len(state) > 1 else state[0], memory_k, t)
        lp = logits.log_softmax(-1)
        o_lp, o_state, o_alpha, o_heads = onnx.step_heads(prev.numpy(), o_state, o_memory)
        d_lp = max(d_lp, float(np.abs(o_lp - lp.numpy()).max()))
        if alpha is not None:
            d_att = max(d_att, float(np.abs(o_alpha - alpha.numpy()).max()))
        else:
            assert o_alpha is None
        if onnx.meta.get("heads"):   # every head of the last layer, as the model's own cross_attention gives them
            with torch.no_grad():
                heads = model.decoder.cross_attention(new_state, memory_k)[-1][:, :, -1]   # K x heads x S
            assert o_heads.shape == tuple(heads.shape) and heads.shape[1] == onnx.meta["heads"]
            d_att = max(d_att, float(np.abs(o_heads - heads.numpy()).max()))
        else:
            assert o_heads is None
        state = _torch_state(new_state)
        d_enc = max(d_enc, _state_gap(o_state, state, prefix))
        best = lp[0].topk(K).indices
        if int(best[0]) == Vocabulary.eos_index:
            break
        prev = best
    return d_lp, d_att, d_enc


@pytest.mark.parametrize("name", MODELS)
def test_exported_graphs_compute_what_pytorch_computes(name, exported, sentences):
    translator = pretrained.load(name)
    onnx = export.OnnxTranslator(exported[name])
    worst = np.zeros(3)
    for text in sentences:
        worst = np.maximum(worst, compare_decode(translator, onnx, text))
    print(f"{name}: {len(sentences)} sentences, K={K}: log-probs within {worst[0]:.1e}, "
          f"attention within {worst[1]:.1e}, encoder within {worst[2]:.1e}")
    assert len(sentences) >= 100
    assert worst[0] <= TOL, f"{name}: log-probabilities differ by {worst[0]:.2e}"
    assert worst[1] <= TOL, f"{name}: attention weights differ by {worst[1]:.2e}"
    assert worst[2] <= TOL, f"{name}: encoder outputs differ by {worst[2]:.2e}"


def test_every_shipped_recurrent_model_is_exported():
    assert set(RECURRENT) <= set(pretrained.available()) and set(RECURRENT) <= set(MODELS)


def test_every_shipped_model_is_exported():
    """The Transformer and the source-reversing and one-way-encoder models too: every model
    ``pretrained`` ships runs in the page."""
    assert MODELS == pretrained.available()
    assert "transformer" in MODELS


def test_transformer_meta_and_state(exported):
    """meta.json gives the heads and the prefix state; the encoder's state is one dummy column
    (no zero-size tensor at any input or output), the step adds one column per step."""
    if "transformer" not in MODELS:
        pytest.skip("no Transformer is shipped")
    onnx = export.OnnxTranslator(exported["transformer"])
    model = pretrained.load("transformer").model
    assert onnx.meta["heads"] == model.decoder.layers[-1].cross_attention.heads == export.n_heads(model)
    assert onnx.meta["prefix_state"] is True and onnx.meta["memory"] == ["keys"] and onnx.meta["n_state"] == 1
    assert onnx.meta["io"]["step"]["outputs"] == ["log_probs", "new_state0", "attention", "heads"]
    memory, state = onnx.encode([5, 6, 7])
    assert state[0].shape == (1, 1) and state[0].dtype == np.float32
    prev = np.array([Vocabulary.bos_index] * 3)
    _, state2, alpha, heads = onnx.step_heads(prev, [np.repeat(state[0], 3, 0)], memory)
    assert state2[0].shape == (3, 2) and (state2[0][:, 1] == Vocabulary.bos_index).all()
    assert alpha.shape == (3, 3) and heads.shape == (3, onnx.meta["heads"], 3)
    np.testing.assert_allclose(heads.mean(1), alpha, atol=1e-6)
    for name in MODELS:
        info = json.loads((exported[name] / "meta.json").read_text())
        assert info["format"] == export.FORMAT_VERSION
        if name != "transformer":
            assert info["heads"] == 0 and info["prefix_state"] is False and "heads" not in info["io"]["step"]["outputs"]


def test_the_longest_input_and_one_word_inputs(exported):
    """Source lengths the example inputs of the export did not have: 1 word and MAX_TOKENS."""
    for name in [n for n in ("luong-local-p", "bahdanau", "transformer") if n in MODELS]:
        translator, onnx = pretrained.load(name), export.OnnxTranslator(exported[name])
        long = " ".join(["the cat sees the dog and"] * (MAX_TOKENS // 6)) + " it"
        assert len(tokenize(long, "en")) <= MAX_TOKENS
        for text in ("Go", long):
            d_lp, d_att, d_enc = compare_decode(translator, onnx, text)
            assert max(d_lp, d_att, d_enc) <= TOL, (name, text, d_lp, d_att, d_enc)


@pytest.mark.parametrize("name", MODELS)
def test_weights_are_the_checkpoints_float16_values_and_small(name, exported):
    import onnx
    from onnx import numpy_helper

    folder = exported[name]
    sizes = {f: (folder / f).stat().st_size for f in export.MODEL_FILES if f != "vocab.json"}
    assert sum(sizes.values()) <= MAX_BYTES, sizes
    model = pretrained.load(name).model
    rows = _rows([p.detach().numpy() for p in model.parameters()])
    shipped = 0
    for kind in ("encoder", "step"):
        graph = onnx.ModelProto.FromString((folder / f"{kind}.onnx").read_bytes()).graph
        external = [i for i in graph.initializer if i.data_location == onnx.TensorProto.EXTERNAL]
        inline = [i for i in graph.initializer if i.data_location != onnx.TensorProto.EXTERNAL]
        assert external and all(i.data_type == onnx.TensorProto.FLOAT for i in external), kind
        assert all(np.prod(i.dims) < export.WEIGHTS_MIN_VALUES for i in inline if i.data_type == onnx.TensorProto.FLOAT)
        weights = (folder / f"{kind}.weights.f16").read_bytes()
        assert len(weights) == sum(2 * int(np.prod(i.dims)) for i in external)   # 2 bytes a value
        shipped += len(weights)
        full = onnx.load_from_string(export.join_weights((folder / f"{kind}.onnx").read_bytes(), weights)).graph
        for init in full.initializer:   # each large tensor is (a slice or transpose of) a checkpoint tensor, unrounded
            values = numpy_helper.to_array(init)
            if values.dtype == np.float32 and values.size >= export.WEIGHTS_MIN_VALUES:
                assert _from_checkpoint(values, rows), init.name
    # (nearly) every weight crosses the wire once, as float16: the tied embedding is not doubled
    assert shipped <= 2 * sum(p.numel() for p in model.parameters()) * 1.05
    info = json.loads((folder / "meta.json").read_text())
    assert info["name"] == name and info["has_attention"] == model.has_attention
    vocab = json.loads((folder / "vocab.json").read_text(encoding="utf-8"))
    translator = pretrained.load(name)
    assert vocab["source"] == translator.src_vocab.itos and vocab["target"] == translator.tgt_vocab.itos


def _rows(params: list[np.ndarray]) -> set[bytes]:
    """Every row of every parameter and of its transpose, as bytes."""
    rows = set()
    for p in params:
        for q in (p, p.T) if p.ndim == 2 else (p.reshape(1, -1),):
            rows.update(np.ascontiguousarray(r).tobytes() for r in q)
    return rows


def _from_checkpoint(values: np.ndarray, rows: set[bytes]) -> bool:
    """Each row (or each column) of ``values`` is a row of a parameter or of its transpose: the
    graphs hold slices of the checkpoint's matrices (ONNX's GRU also reorders the gates, moving
    whole blocks of rows). Small constants (biases, which the GRU fuses) are not looked up."""
    if values.size < 4096:
        return True
    flat = values.reshape(-1, values.shape[-1])
    return any(all(np.ascontiguousarray(r).tobytes() in rows for r in m) for m in (flat, flat.T))


def test_exporting_leaves_the_python_model_unchanged(exported):
    """The exporter restores the training flag it found on the traced module: exporting must
    not switch the shared, cached model into training mode (dropout on)."""
    translator = pretrained.load("bahdanau")
    before = translator.translate("I like red cars.").target_tokens
    export.export_graphs(translator.model)
    assert not any(m.training for m in translator.model.modules())
    assert translator.translate("I like red cars.").target_tokens == before


class _RandomModel:
    """A small untrained model as a translator-like object for :func:`compare_decode`."""

    def __init__(self, cfg, vocab: int = 60):
        from attention_course.models.seq2seq import build_model
        torch.manual_seed(7)
        self.model = build_model(cfg, vocab, vocab).eval()
        with torch.no_grad():   # float16 values, as the shipped checkpoints hold
            for p in self.model.parameters():
                p.copy_(p.half().float())
        words = ["<pad>", "<unk>", "<s>", "</s>"] + [f"w{i}" for i in range(vocab - 4)]
        self.src_vocab = self.tgt_vocab = Vocabulary(words)


@pytest.mark.parametrize("settings", [
    dict(decoder="luong", attention="general", bidirectional=False, reverse_source=True),
    dict(decoder="luong", attention="concat", reverse_source=True),
    dict(decoder="luong", attention="local-p", window=2, input_feeding=False, bidirectional=False),
    dict(decoder="context-every-step", reverse_source=True, bidirectional=False),
    dict(decoder="context-every-step", bidirectional=False),
    dict(decoder="transformer", heads=2, layers=3, ff_size=24, reverse_source=True),
    dict(decoder="transformer", heads=4, layers=1, ff_size=24, positional=False),
], ids=["luong-general-uni-reversed", "luong-concat-reversed", "local-p-nofeed-uni", "seq2seq-uni-reversed",
        "seq2seq-uni", "transformer-3-layers-reversed", "transformer-no-positions"])
def test_settings_the_shipped_models_do_not_use_export_too(settings, tmp_path):
    """Source reversal, a one-way encoder, other Transformer sizes go through ``model.encode``
    and the same wrappers like everything else."""
    from attention_course.models.seq2seq import ModelConfig
    model = _RandomModel(ModelConfig(emb_size=16, hidden_size=16, decoder_size=32, attention_size=32,
                                     dropout=0.0, **settings))
    folder = tmp_path / "m"
    folder.mkdir()
    for kind, (graph, weights) in export.export_graphs(model.model).items():
        (folder / f"{kind}.onnx").write_bytes(graph)
        (folder / f"{kind}.weights.f16").write_bytes(weights)
    (folder / "meta.json").write_text(json.dumps(export.meta(model.model, "random")))
    onnx = export.OnnxTranslator(folder)
    for text in ("w1 w2 w3 w4 w5 w6 w7", "w9", "w3 w1 w4 w1 w5 w9 w2 w6 w5 w3 w5 w8 w9 w7"):
        assert max(compare_decode(model, onnx, text)) <= TOL, (settings, text)


def test_local_m_attention_is_refused_clearly():
    from attention_course.models.seq2seq import ModelConfig, build_model
    model = build_model(ModelConfig(decoder="luong", attention="local-m", emb_size=8, hidden_size=8,
                                    decoder_size=16, attention_size=16), 20, 20)
    with pytest.raises(NotImplementedError, match="local-m"):
        export.export_graphs(model)


def test_greedy_bleu_on_test_subset_is_unchanged(exported):
    """Greedy decoding with the exported graphs (onnxruntime, Python) against the shipped
    PyTorch models, on 150 test-split sentences per model: BLEU within 0.05."""
    corpus_or_skip()
    from attention_course.data.split import test_set
    from attention_course.evaluation.bleu import corpus_bleu
    examples = test_set("test")
    subset = examples[:: max(1, len(examples) // 150)][:150]
    sources, refs = [e.source for e in subset], [list(e.references) for e in subset]
    for name in MODELS:
        translator, onnx = pretrained.load(name), export.OnnxTranslator(exported[name])
        py = [t.text for t in translator.translate_batch(sources, beam_size=1)]
        ox = [export.greedy_text(translator, onnx, s) for s in sources]
        b_py, b_ox = corpus_bleu(py, refs).score, corpus_bleu(ox, refs).score
        assert abs(b_py - b_ox) <= 0.05, f"{name}: BLEU {b_py:.2f} (PyTorch) vs {b_ox:.2f} (ONNX)"
