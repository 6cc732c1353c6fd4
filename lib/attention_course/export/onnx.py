"""Export a model to ONNX for the in-browser translator (ONNX Runtime Web), batch of one.

Two graphs per model, both traced by ``torch.onnx.export`` from the package's own modules
(the same submodules and weights the Python translator uses; nothing is written twice):

``encoder.onnx``  ``src`` (1 x S token ids) -> the decoder's memory and its initial state:
                  ``annotations`` (1 x S x 2H), ``keys`` (1 x S x A, models with attention),
                  ``final`` (1 x 2H, models that read the summary at every step) and
                  ``state0``.. (1 x D each). It runs ``model.encode`` (source reversal,
                  ``Encoder.forward``, ``decoder.precompute``) and ``decoder.initial_state``;
                  while tracing, ``pack_padded_sequence`` and ``pad_packed_sequence`` pass the
                  sentence through unchanged (one sentence has no padding, so packing changes
                  nothing, and it is what the exporters trace wrongly).
``step.onnx``     one decoding step for a beam of K hypotheses: ``prev`` (K ids), ``state0``..
                  (K x D), the memory above (still batch 1; broadcast to K inside) ->
                  ``log_probs`` (K x V, ``log_softmax`` of the logits, as the searches take it),
                  ``new_state0``.. and ``attention`` (K x S, models with attention).
                  It calls ``model.decoder.step`` itself.

The Transformer (``TransformerDecoder``) fits the same two graphs. Its memory is ``keys`` alone
(every layer's cross-attention keys and values, ``decoder.precompute``); its state is the target
prefix, carried as *float* ids behind one leading dummy column: ``state0`` is K x (1 + t)
(the encoder graph writes 1 x 1, the empty prefix), so no graph input or output is ever a
zero-size tensor, and the searches select its rows by beam parent like any other state
(ids below 2^24 are exact in float32). The step graph appends ``prev``, runs
``decoder.decode`` over the prefix and ``decoder.project`` at its last position, as
``TransformerDecoder.step`` does, and also returns ``heads`` (K x heads x S): the last
layer's weights of every head, whose mean over the heads is ``attention``.

Weights travel as float16 and the graphs compute in float32, as PyTorch does: each graph's
large initializers are float32 tensors stored as *external data* (``location``
``<graph>.weights``), and the file shipped beside the graph, ``<graph>.weights.f16``, holds
them as float16, in the same order (a float32 tensor at byte offset ``2 * o`` of the external
data is the float16 tensor at offset ``o``). The reader widens them before starting a session
(``translator.js``; :class:`OnnxTranslator` here). The shipped checkpoints hold float16
values, so nothing is lost (:func:`split_weights` refuses a tensor float16 would round).
A ``Cast`` node per weight would do the same, but ONNX Runtime Web does not fold it at load
time and then converts every weight at every step (14 ms a step instead of under 1 ms).

Two details of the tracing: the legacy TorchScript exporter (``dynamo=False``; it exports these
batch-of-one wrappers in a second, the dynamo exporter needs half a minute and cannot take the
dynamic beam size as given) restores the training flag it found on the module it traces, so the
wrappers are put in eval mode themselves (a fresh module starts in training mode, and dropout
would then be traced); and while tracing, ``layers.input_part`` reads the width of its input
as a Python int (it is fixed by the model's configuration), so the weight blocks it slices
become constants instead of being sliced from the whole matrix at every step.

``meta.json`` lists the inputs and outputs and the settings the browser needs (among them
``heads``, the number of heads of the ``heads`` output, 0 for the recurrent models, and
``prefix_state``, true for the Transformer's prefix state); the vocabularies go to
``vocab.json`` as in the checkpoint.

>>> from attention_course.export.onnx import export_model
>>> export_model("bahdanau", "site/models/bahdanau")      # doctest: +SKIP
"""
from __future__ import annotations

import contextlib
import copy
import hashlib
import io
import json
import os
import sys
import warnings
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..models.encoder import EncoderOutput
from ..models import layers
from ..models.layers import Memory
from ..models.seq2seq import Seq2Seq
from ..models.transformer_decoder import TransformerDecoder
from ..paths import user_cache_dir

__all__ = ["EncoderGraph", "StepGraph", "export_model", "export_models", "split_weights", "join_weights",
           "memory_names", "state_size", "FORMAT_VERSION", "OnnxTranslator", "default_cache_dir",
           "greedy_decode", "greedy_text", "source_fingerprint", "exportable_models",
           "EXPORTABLE_DECODERS", "MODEL_FILES", "is_transformer", "n_heads"]

# Bump when the graphs or meta.json change: build caches key on it.
# 3: the Transformer (prefix state as float ids behind a dummy column, per-head output, "heads").
FORMAT_VERSION = 3
OPSET = 18


def is_transformer(model: Seq2Seq) -> bool:
    return isinstance(model.decoder, TransformerDecoder)


def n_heads(model: Seq2Seq) -> int:
    """Attention heads of the last decoder layer (the step graph's ``heads`` output,
    ``transformer_heads.model_head_count``); 0 for the recurrent models, whose one attention has no heads."""
    from ..transformer_heads import model_head_count

    return model_head_count(model) or 0


def memory_names(model: Seq2Seq) -> list[str]:
    """The memory tensors the step graph reads (the encoder graph writes them in this order)."""
    dec = model.decoder
    if is_transformer(model):
        return ["keys"]   # every layer's keys and values of the source; the mask is all True
    names = []
    if dec.has_attention:
        names += ["annotations", "keys"]
    if getattr(dec, "reads_context_every_step", False):
        names.append("final")
    return names


def _state_parts(state) -> tuple[torch.Tensor, ...]:
    return state if isinstance(state, tuple) else (state,)


def state_size(model: Seq2Seq) -> int:
    """How many tensors make a decoder state (2 with input feeding: h and h̃; 1 for the
    Transformer, its target prefix)."""
    dec = model.decoder
    return 2 if getattr(dec, "input_feeding", False) else 1


EXPORTABLE_DECODERS = ("context-init", "context-every-step", "bahdanau", "luong", "transformer")


def exportable_models() -> list[str]:
    """The shipped models these wrappers export: every decoder in :data:`EXPORTABLE_DECODERS`
    (local-m attention excepted), in the course's order."""
    from .. import pretrained

    names = []
    for name in pretrained.available():
        cfg = pretrained.config(name).get("model", {})
        if cfg.get("decoder") in EXPORTABLE_DECODERS and cfg.get("attention") != "local-m":
            names.append(name)
    return names


def _check_exportable(model: Seq2Seq) -> None:
    from ..models.bahdanau_decoder import BahdanauDecoder
    from ..models.luong_decoder import LuongDecoder
    from ..models.plain_decoders import ContextInitDecoder

    if not isinstance(model.decoder, (BahdanauDecoder, LuongDecoder, ContextInitDecoder, TransformerDecoder)):
        raise NotImplementedError(f"only the recurrent decoders and the Transformer are exported, "
                                  f"not {type(model.decoder).__name__}")
    attention = getattr(model.decoder, "attention", None)
    if attention is not None and hasattr(attention, "predictive") and not attention.predictive:
        # local-m reads the step number t; the step graph has no t input (no shipped model needs it).
        raise NotImplementedError("local-m attention is not exported (the step graph has no step-number input)")


def _pack_nothing(x, lengths, batch_first=False, enforce_sorted=True):
    return x   # one sentence, no padding: the packed sequence is the sequence itself


def _unpack_nothing(x, batch_first=False, padding_value=0.0, total_length=None):
    return x, None


@contextlib.contextmanager
def _tracing_patches():
    """What tracing needs, restored afterwards: ``Encoder.forward`` skips packing (for one
    unpadded sentence ``pack_padded_sequence`` / ``pad_packed_sequence`` change nothing, and the
    exporters trace them wrongly), and every models module that imported ``layers.input_part``
    uses :func:`_input_part_static`. (Module attributes: no other thread should run the models
    while an export is in progress.)"""
    from ..models import encoder as encoder_module

    original = layers.input_part
    prefix = __package__.rsplit(".", 1)[0] + ".models"
    patched = [m for n, m in list(sys.modules.items())
               if n.startswith(prefix) and getattr(m, "input_part", None) is original]
    packing = (encoder_module.pack_padded_sequence, encoder_module.pad_packed_sequence)
    for m in patched:
        m.input_part = _input_part_static
    encoder_module.pack_padded_sequence, encoder_module.pad_packed_sequence = _pack_nothing, _unpack_nothing
    try:
        yield
    finally:
        for m in patched:
            m.input_part = original
        encoder_module.pack_padded_sequence, encoder_module.pad_packed_sequence = packing


class EncoderGraph(nn.Module):
    """src (1 x S) -> memory tensors (:func:`memory_names`) and the initial state, batch of one:
    ``model.encode`` (source reversal, the encoder, ``decoder.precompute``), then
    ``decoder.initial_state``."""

    def __init__(self, model: Seq2Seq):
        super().__init__()
        _check_exportable(model)
        self.model = model.eval()
        self.names = memory_names(model)

    def forward(self, src: torch.Tensor):
        lengths = torch.ones_like(src[:, 0]) * src.size(1)
        memory = self.model.encode(src, lengths)
        fields = {"annotations": memory.enc.annotations, "keys": memory.keys, "final": memory.enc.final}
        if is_transformer(self.model):
            # initial_state is the empty prefix (1 x 0): here its float form, the dummy column alone
            state = (torch.zeros_like(src[:, :1], dtype=torch.float32),)
        else:
            state = _state_parts(self.model.decoder.initial_state(memory))
        return tuple(fields[n] for n in self.names) + state


class StepGraph(nn.Module):
    """One ``decoder.step`` for K hypotheses of one sentence -> (log_probs, new state.., attention)."""

    def __init__(self, model: Seq2Seq):
        super().__init__()
        _check_exportable(model)
        self.model = model.eval()
        self.names = memory_names(model)
        self.n_state = state_size(model)

    def forward(self, prev: torch.Tensor, *args: torch.Tensor):
        state = args[: self.n_state]
        given = dict(zip(self.names, args[self.n_state:]))
        if is_transformer(self.model):
            return self._transformer_step(prev, state[0], given["keys"])
        K = prev.size(0)
        hidden = state[0]
        if "annotations" in given:
            annotations = given["annotations"].expand(K, -1, -1)
            S = annotations.size(1)
            mask = torch.ones(K, S, dtype=torch.bool, device=prev.device)
            lengths = torch.ones_like(prev) * S
            keys = given["keys"].expand(K, -1, -1)
        else:
            annotations = hidden[:, None, :]   # unused without attention
            mask, lengths, keys = torch.ones_like(prev, dtype=torch.bool)[:, None], torch.ones_like(prev), None
        final = given["final"].expand(K, -1) if "final" in given else hidden
        memory = Memory(EncoderOutput(annotations, final, mask, lengths), keys)
        logits, new_state, alpha = self.model.decoder.step(prev, state if self.n_state > 1 else state[0], memory, 0)
        out = (logits.log_softmax(-1),) + _state_parts(new_state)
        return out + ((alpha,) if alpha is not None else ())

    def _transformer_step(self, prev: torch.Tensor, state: torch.Tensor, keys: torch.Tensor):
        """``TransformerDecoder.step`` on the float prefix (K x 1+t: dummy column, then ids), with
        the last layer's weights of every head as well as their mean."""
        dec = self.model.decoder
        K, S = prev.size(0), keys.size(1)
        new_state = torch.cat([state, prev.to(state.dtype)[:, None]], 1)            # K x 2+t
        prefix = new_state[:, 1:].long()                                            # K x 1+t: never empty
        mask = torch.ones(K, S, dtype=torch.bool, device=prev.device)
        lengths = torch.ones_like(prev) * S
        keys = keys.expand(K, -1, -1)
        memory = Memory(EncoderOutput(keys, keys[:, 0], mask, lengths), keys)      # only keys and mask are read
        features, weights = dec.decode(prefix, memory)
        heads = weights[-1][:, :, -1]                                               # K x heads x S
        return dec.project(features[:, -1]).log_softmax(-1), new_state, heads.mean(1), heads


def _io_names(model: Seq2Seq) -> dict:
    mem = memory_names(model)
    states = [f"state{i}" for i in range(state_size(model))]
    has_attention = model.decoder.has_attention
    return {
        "encoder": {"inputs": ["src"], "outputs": mem + states},
        "step": {"inputs": ["prev"] + states + mem,
                 "outputs": ["log_probs"] + [f"new_{s}" for s in states] + (["attention"] if has_attention else [])
                 + (["heads"] if n_heads(model) else [])},
    }


def _dynamic_axes(names: list[str], kind: str, prefix_state: bool = False) -> dict:
    axes = {}
    for n in names:
        if n == "src":
            axes[n] = {1: "S"}
        elif n in ("annotations", "keys"):
            axes[n] = {1: "S"}
        elif n == "attention":
            axes[n] = {0: "K", 1: "S"}
        elif n == "heads":
            axes[n] = {0: "K", 2: "S"}
        elif kind == "step" and "state" in n and prefix_state:   # the Transformer's prefix: K x 1+t
            axes[n] = {0: "K", 1: "T1" if n.startswith("new_") else "T"}
        elif n in ("prev", "log_probs") or (kind == "step" and "state" in n):
            axes[n] = {0: "K"}
    return axes


def _example_inputs(model: Seq2Seq, S: int = 7, K: int = 3):
    torch.manual_seed(0)
    src = torch.randint(4, model.encoder.embedding.num_embeddings, (1, S))
    with torch.no_grad():
        enc_out = EncoderGraph(model).eval()(src)
    n_mem = len(memory_names(model))
    memory, state = enc_out[:n_mem], enc_out[n_mem:]
    prev = torch.randint(4, model.decoder.embedding.num_embeddings, (K,))
    if is_transformer(model):   # a prefix of 3 words behind the dummy column
        words = torch.randint(4, model.decoder.embedding.num_embeddings, (K, 3)).float()
        state_k = (torch.cat([state[0].expand(K, -1), words], 1),)
    else:
        state_k = tuple(s.expand(K, -1).contiguous() + 0.01 * torch.randn(K, s.size(-1)) for s in state)
    return (src,), (prev,) + state_k + tuple(memory)


def _export(module: nn.Module, args: tuple, inputs: list[str], outputs: list[str], kind: str,
            prefix_state: bool = False) -> bytes:
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, args, buf, input_names=inputs, output_names=outputs,
                          dynamic_axes=_dynamic_axes(inputs + outputs, kind, prefix_state), opset_version=OPSET,
                          dynamo=False, do_constant_folding=True)
    return buf.getvalue()


MODEL_FILES = ("encoder.onnx", "encoder.weights.f16", "step.onnx", "step.weights.f16", "vocab.json")
WEIGHTS_MIN_VALUES = 1024   # initializers this large travel as float16 external data


def split_weights(model_bytes: bytes, kind: str, min_values: int = WEIGHTS_MIN_VALUES) -> tuple[bytes, bytes]:
    """Move every float32 initializer of at least ``min_values`` values out of the graph:
    returns (the graph, whose initializers now point at the external data ``<kind>.weights``,
    the float16 bytes of those initializers). Refuses (ValueError) a tensor whose values
    float16 cannot hold exactly: the weights must stay the ones Python uses."""
    import numpy as np
    import onnx
    from onnx import numpy_helper

    proto = onnx.load_from_string(model_bytes)
    onnx.checker.check_model(proto)
    chunks, offset = [], 0
    for init in proto.graph.initializer:
        if init.data_type != onnx.TensorProto.FLOAT or int(np.prod(init.dims)) < min_values:
            continue
        values = numpy_helper.to_array(init)
        half = values.astype("<f2")
        if not np.array_equal(half.astype(np.float32), values):
            raise ValueError(f"initializer {init.name!r} holds values float16 cannot represent exactly")
        raw = half.tobytes()
        init.ClearField("raw_data")
        init.ClearField("float_data")
        init.data_location = onnx.TensorProto.EXTERNAL
        del init.external_data[:]
        for key, value in (("location", f"{kind}.weights"), ("offset", str(2 * offset)), ("length", str(2 * len(raw)))):
            entry = init.external_data.add()
            entry.key, entry.value = key, value
        chunks.append(raw)
        offset += len(raw)
    return proto.SerializeToString(), b"".join(chunks)


def join_weights(graph_bytes: bytes, f16_bytes: bytes) -> bytes:
    """The inverse of :func:`split_weights`: one self-contained float32 model."""
    import numpy as np
    import onnx

    proto = onnx.load_from_string(graph_bytes)
    half = np.frombuffer(f16_bytes, dtype="<f2")
    for init in proto.graph.initializer:
        if init.data_location != onnx.TensorProto.EXTERNAL:
            continue
        info = {e.key: e.value for e in init.external_data}
        start, length = int(info["offset"]) // 4, int(info["length"]) // 4
        init.raw_data = half[start: start + length].astype("<f4").tobytes()
        init.data_location = onnx.TensorProto.DEFAULT
        del init.external_data[:]
    return proto.SerializeToString()


def _input_part_static(x: torch.Tensor, rnn: nn.GRU, start: int, bias: bool) -> torch.Tensor:
    """``layers.input_part`` with the width of ``x`` read as a Python int while tracing."""
    width = int(x.shape[-1])
    return F.linear(x, rnn.weight_ih_l0[:, start: start + width], rnn.bias_ih_l0 if bias else None)


def export_graphs(model: Seq2Seq) -> dict[str, tuple[bytes, bytes]]:
    """``{"encoder": (graph, float16 weights), "step": (graph, float16 weights)}`` for ``model``."""
    # A copy: the exporter sets the training flag of the module it traces (and of everything
    # inside) back to what it found, and a fresh wrapper module starts in training mode.
    model = copy.deepcopy(model).eval()
    names = _io_names(model)
    enc_args, step_args = _example_inputs(model)
    with _tracing_patches():
        graphs = {"encoder": _export(EncoderGraph(model).eval(), enc_args, names["encoder"]["inputs"],
                                     names["encoder"]["outputs"], "encoder"),
                  "step": _export(StepGraph(model).eval(), step_args, names["step"]["inputs"],
                                  names["step"]["outputs"], "step", prefix_state=is_transformer(model))}
    return {kind: split_weights(data, kind) for kind, data in graphs.items()}


def meta(model: Seq2Seq, name: str, config: dict | None = None) -> dict:
    """What the browser needs besides the graphs (written as ``meta.json``)."""
    return {"format": FORMAT_VERSION, "name": name, "has_attention": bool(model.has_attention),
            "description": (config or {}).get("description", ""),
            "memory": memory_names(model), "n_state": state_size(model), "heads": n_heads(model),
            "prefix_state": is_transformer(model),
            "vocab_size": {"source": model.encoder.embedding.num_embeddings,
                           "target": model.decoder.embedding.num_embeddings},
            "io": _io_names(model)}


def export_model(name: str, out_dir: str | os.PathLike) -> Path:
    """Write ``encoder.onnx``, ``step.onnx``, ``vocab.json`` and ``meta.json`` of the shipped
    model ``name`` into ``out_dir``; returns that folder."""
    from .. import pretrained

    translator = pretrained.load(name)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with torch.no_grad():
        graphs = export_graphs(translator.model)
    for kind, (graph, weights) in graphs.items():
        (out / f"{kind}.onnx").write_bytes(graph)
        (out / f"{kind}.weights.f16").write_bytes(weights)
    (out / "vocab.json").write_text(json.dumps({"source": translator.src_vocab.itos, "target": translator.tgt_vocab.itos},
                                               ensure_ascii=False, separators=(",", ":")), encoding="utf-8")
    info = meta(translator.model, name, pretrained.config(name))
    info["files"] = {f: (out / f).stat().st_size for f in MODEL_FILES}
    (out / "meta.json").write_text(json.dumps(info, indent=1), encoding="utf-8")
    return out


def source_fingerprint(name: str) -> str:
    """A digest of everything an export of ``name`` depends on: the checkpoint's files, the
    model and export code, the torch version and :data:`FORMAT_VERSION` (build caches key on it)."""
    from .. import pretrained

    h = hashlib.sha256(f"{FORMAT_VERSION}|{torch.__version__}|{name}".encode())
    for f in sorted(pretrained.checkpoint_dir(name).iterdir()):
        if f.is_file() and f.suffix in (".json", ".safetensors"):
            h.update(f.name.encode() + f.read_bytes())
    root = Path(__file__).resolve().parents[1]
    for f in sorted((root / "models").glob("*.py")) + [Path(__file__)]:
        h.update(f.read_bytes())
    return h.hexdigest()[:16]


def export_models(out_dir: str | os.PathLike, names=None, cache_dir: str | os.PathLike | None = None,
                  log=None) -> dict[str, Path]:
    """Export every shipped model (or ``names``) into ``out_dir/<name>/``, reusing exports
    cached in ``cache_dir`` (keyed by :func:`source_fingerprint`). Returns name -> folder."""
    import shutil

    from .. import pretrained

    names = list(names or exportable_models())
    out, done = Path(out_dir), {}
    for name in names:
        target = out / name
        if cache_dir is not None:
            cached = Path(cache_dir) / f"{name}-{source_fingerprint(name)}"
            if not (cached / "meta.json").is_file():
                if log:
                    log(f"exporting {name} to ONNX")
                tmp = cached.with_name(cached.name + f".tmp{os.getpid()}")
                shutil.rmtree(tmp, ignore_errors=True)
                export_model(name, tmp)
                shutil.rmtree(cached, ignore_errors=True)
                tmp.rename(cached)
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(cached, target)
        else:
            export_model(name, target)
        done[name] = target
    return done


class OnnxTranslator:
    """The exported graphs run by onnxruntime in Python, for checks against the PyTorch path:
    ``encode(ids)`` and ``step(prev, state, memory)`` with numpy arrays (a Transformer's state
    is its float prefix behind the dummy column; :meth:`step_heads` also gives its heads)."""

    def __init__(self, folder: str | os.PathLike):
        import onnxruntime as ort

        folder = Path(folder)
        self.meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        self.encoder, self.stepper = (
            ort.InferenceSession(join_weights((folder / f"{kind}.onnx").read_bytes(),
                                              (folder / f"{kind}.weights.f16").read_bytes()),
                                 opts, providers=["CPUExecutionProvider"])
            for kind in ("encoder", "step"))
        self.n_mem = len(self.meta["memory"])

    def encode(self, ids):
        import numpy as np

        outs = self.encoder.run(None, {"src": np.asarray(ids, dtype=np.int64)[None, :]})
        return outs[: self.n_mem], outs[self.n_mem:]

    def step(self, prev, state, memory):
        """(log_probs, new state, attention or None)."""
        return self.step_heads(prev, state, memory)[:3]

    def step_heads(self, prev, state, memory):
        """(log_probs, new state, attention or None, the last layer's heads K x heads x S or None)."""
        import numpy as np

        io = self.meta["io"]["step"]["inputs"]
        feed = dict(zip(io, [np.asarray(prev, dtype=np.int64)] + list(state) + list(memory)))
        outs = self.stepper.run(None, feed)
        n = self.meta["n_state"]
        return (outs[0], outs[1: 1 + n], (outs[1 + n] if self.meta["has_attention"] else None),
                (outs[2 + n] if self.meta.get("heads") else None))


def default_cache_dir() -> Path:
    """Where exports are cached between builds: ``$ATTENTION_COURSE_ONNX_CACHE``, else
    ``$XDG_CACHE_HOME/attention-course-onnx`` (``~/.cache/attention-course-onnx``)."""
    return user_cache_dir("ATTENTION_COURSE_ONNX_CACHE", "attention-course-onnx")


def greedy_decode(onnx: OnnxTranslator, ids: list[int], max_len_a: float = 2.0, max_len_b: int = 10):
    """Greedy search with the exported graphs for one sentence, as ``search.greedy_search`` does
    it (the first most probable word; only ``</s>`` at the length limit): (token ids without
    ``</s>``, attention rows or None)."""
    import numpy as np

    from ..data.vocabulary import Vocabulary

    memory, state = onnx.encode(ids)
    limit = int(len(ids) * max_len_a) + max_len_b
    prev, tokens, rows = Vocabulary.bos_index, [], []
    for t in range(limit):
        log_probs, state, alpha = onnx.step(np.array([prev]), state, memory)
        prev = Vocabulary.eos_index if limit <= t + 1 else int(log_probs[0].argmax())
        tokens.append(prev)
        rows.append(None if alpha is None else alpha[0])
        if prev == Vocabulary.eos_index:
            break
    n = len(tokens) - (tokens[-1] == Vocabulary.eos_index)
    return tokens[:n], (None if rows[0] is None else np.stack(rows[:n]) if n else np.zeros((0, len(ids))))


def greedy_text(translator, onnx: OnnxTranslator, text: str) -> str:
    """The French text ``translator.translate(text)`` gives, decoded with the exported graphs."""
    from ..data.text import detokenize
    from ..translator import check_text, replace_unknowns

    source = check_text(text)
    ids, attention = greedy_decode(onnx, translator.src_vocab.encode(source))
    return detokenize(replace_unknowns([translator.tgt_vocab.itos[i] for i in ids], attention, source), "fr")
