"""load_model against faults that a checksum alone does not catch: a file swapped between
verifying and loading, re-signed files (checksums recomputed) with NaN weights, a model
configuration of the wrong type or range, tensors that do not fit the model, and a table of
damaged files. Every one gives one CheckpointError naming the file (never a raw exception,
a crash, a huge allocation or silently wrong weights).
"""
from __future__ import annotations

import hashlib
import io
import json
import mmap
import os
import shutil
import time
from dataclasses import fields
from pathlib import Path

import pytest
import safetensors
import safetensors.torch
import torch
from safetensors.torch import load as load_bytes
from safetensors.torch import save as save_bytes

from attention_course import checkpoint, pretrained
from attention_course.checkpoint import CheckpointError, load_model, save_model
from attention_course.data.vocabulary import Vocabulary
from attention_course.models.seq2seq import ModelConfig

from helpers_models import SRC_VOCAB, TGT_VOCAB, tiny_config, tiny_model, one_thread  # noqa: F401 (autouse fixture)

HINT = "pip install --force-reinstall attention-course"
PACKAGE = pretrained.checkpoint_dir("bahdanau").parents[1]


def copy_checkpoint(name: str, tmp_path: Path) -> Path:
    dest = tmp_path / name
    shutil.copytree(pretrained.checkpoint_dir(name), dest)
    return dest


def resign(d: Path) -> None:
    """Recompute every sha256 in config.json, as someone who edits the files on purpose would."""
    config = json.loads((d / "config.json").read_text(encoding="utf-8"))
    config["sha256"] = {f: hashlib.sha256((d / f).read_bytes()).hexdigest() for f in config["sha256"]}
    (d / "config.json").write_text(json.dumps(config), encoding="utf-8")


def edit_config(d: Path, change) -> None:
    config = json.loads((d / "config.json").read_text(encoding="utf-8"))
    change(config)
    (d / "config.json").write_text(json.dumps(config), encoding="utf-8")


def edit_weights(d: Path, change) -> None:
    tensors = load_bytes((d / "model.safetensors").read_bytes())
    tensors = {k: v.clone() for k, v in tensors.items()}
    change(tensors)
    (d / "model.safetensors").write_bytes(save_bytes(tensors))
    resign(d)


def assert_one_clear_error(err: pytest.ExceptionInfo, *names: str) -> str:
    message = str(err.value)
    for name in names:
        assert name in message, f"the message must name {name}: {message}"
    assert "restore" in message and HINT in message
    assert "Traceback" not in message and len(message) < 700, message
    e = err.value
    assert e.__cause__ is None and (e.__context__ is None or e.__suppress_context__)
    return message


def vocabularies():
    src = Vocabulary(["<pad>", "<unk>", "<s>", "</s>"] + [f"en{i}" for i in range(SRC_VOCAB - 4)])
    tgt = Vocabulary(["<pad>", "<unk>", "<s>", "</s>"] + [f"fr{i}" for i in range(TGT_VOCAB - 4)])
    return src, tgt


def tiny_dir(tmp_path: Path, variant: str = "luong-general", **overrides) -> Path:
    src, tgt = vocabularies()
    model = tiny_model(variant, dtype=torch.float32, **overrides)
    return save_model(tmp_path / "tiny", model, tiny_config(variant, **overrides), src, tgt, "tiny")


@pytest.fixture
def no_real_model(monkeypatch):
    """Fail if load_model builds a real model (one that allocates its weights): a model built
    on the meta device, which holds no memory, is allowed."""
    real = checkpoint.build_model

    def guarded(cfg, src_size, tgt_size):
        if torch.empty(0).device.type != "meta":
            raise AssertionError(f"a real model was built from an unchecked configuration {cfg}")
        return real(cfg, src_size, tgt_size)

    monkeypatch.setattr(checkpoint, "build_model", guarded)


# ------------------------------------------------------------------------------------------
# 1. What is verified is what is loaded
# ------------------------------------------------------------------------------------------

class SwapAfterHashing:
    """Stands in for ``hashlib`` inside the checkpoint module: right after the digest of the
    weights has been computed (and matched), the file on disk is replaced by other weights."""

    def __init__(self, path: Path, how: str):
        self.path, self.how, self.swapped = path, how, False
        self.target = hashlib.sha256(path.read_bytes()).hexdigest()
        tensors = load_bytes(path.read_bytes())
        self.other = save_bytes({k: torch.zeros_like(v) + 0.5 for k, v in tensors.items()})
        assert len(self.other) == path.stat().st_size     # same size: an in-place rewrite fits

    def swap(self) -> None:
        if self.how == "replaced":                        # a new file renamed over the old one
            tmp = self.path.with_name(".swap.tmp")
            tmp.write_bytes(self.other)
            os.replace(tmp, self.path)
        else:                                             # the same file rewritten in place
            with open(self.path, "r+b") as f:
                f.write(self.other)
        self.swapped = True

    def sha256(self, data: bytes = b""):
        h, outer = hashlib.sha256(data), self

        class Hash:
            def update(self, more):
                h.update(more)

            def digest(self):
                return h.digest()

            def hexdigest(self):
                digest = h.hexdigest()
                if digest == outer.target and not outer.swapped:
                    outer.swap()
                return digest

        return Hash()

    def __getattr__(self, name):
        return getattr(hashlib, name)


@pytest.mark.parametrize("how", ["replaced", "rewritten in place"])
def test_weights_swapped_right_after_hashing_are_never_loaded(how, tmp_path, monkeypatch):
    d = copy_checkpoint("bahdanau", tmp_path)
    verified = {k: v.float() for k, v in load_bytes((d / "model.safetensors").read_bytes()).items()}
    swapper = SwapAfterHashing(d / "model.safetensors", how)
    monkeypatch.setattr(checkpoint, "hashlib", swapper)
    try:
        model, _, _, _ = load_model(d)
    except CheckpointError as e:                          # refusing is fine too
        assert "model.safetensors" in str(e)
        return
    finally:
        assert swapper.swapped, "the test did not swap the file; it checks nothing"
    state = model.state_dict()
    for name, tensor in verified.items():
        assert torch.equal(state[name], tensor), f"{name} was loaded from the swapped file, not the verified bytes"


def test_each_file_is_read_once_into_memory_and_never_memory_mapped(tmp_path, monkeypatch):
    """A memory-mapped file that is rewritten during a load kills the process with SIGBUS."""
    d = copy_checkpoint("luong-general", tmp_path)

    def refuse(*args, **kwargs):
        raise AssertionError("load_model must read the weights into memory, not map or reopen the file")

    for module, attr in ((safetensors, "safe_open"), (safetensors.torch, "safe_open"),
                         (safetensors.torch, "load_file"), (mmap, "mmap")):
        monkeypatch.setattr(module, attr, refuse)
    monkeypatch.setattr(checkpoint, "load_file", refuse, raising=False)
    opened, real_open = [], io.open

    def counting_open(file, *args, **kwargs):
        if isinstance(file, (str, os.PathLike)) and Path(file).parent == d:
            opened.append(Path(file).name)
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(io, "open", counting_open)
    load_model(d)
    assert sorted(opened) == sorted(["config.json", "model.safetensors", "vocab.json", "metrics.json",
                                     "train_log.json"]), opened


# ------------------------------------------------------------------------------------------
# 2. NaN and infinite weights
# ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
@pytest.mark.parametrize("tensor", ["decoder.attention.W_a.weight", "encoder.embedding.weight"])
def test_non_finite_weights_are_refused_naming_the_tensor(tensor, value, tmp_path):
    d = copy_checkpoint("bahdanau", tmp_path)              # float16 on disk

    def poison(tensors):
        tensors[tensor].view(-1)[7] = value

    edit_weights(d, poison)
    with pytest.raises(CheckpointError) as err:
        load_model(d)
    message = assert_one_clear_error(err, "model.safetensors", tensor)
    assert "NaN or infinite" in message and "1 of" in message


def test_non_finite_float32_weights_are_refused_too(tmp_path):
    d = tiny_dir(tmp_path)
    edit_weights(d, lambda t: t["decoder.rnn.weight_hh_l0"].fill_(float("nan")))
    with pytest.raises(CheckpointError, match="decoder.rnn.weight_hh_l0"):
        load_model(d)


def test_huge_but_finite_weights_still_load(tmp_path):
    """The fast check sums each tensor; a float32 sum that overflows must not be mistaken for
    an infinite weight."""
    d = tiny_dir(tmp_path)
    edit_weights(d, lambda t: t["decoder.rnn.weight_hh_l0"].view(-1)[:4].fill_(3e38))
    model, _, _, _ = load_model(d)
    assert model.decoder.rnn.weight_hh_l0.view(-1)[0] == torch.tensor(3e38)


# ------------------------------------------------------------------------------------------
# 3. The model configuration: every setting's type and range, before anything is built
# ------------------------------------------------------------------------------------------

BAD_SETTINGS = [
    ("emb_size", "128", "an integer from 1 to 4096"),
    ("emb_size", -1, "an integer from 1 to 4096"),
    ("emb_size", 0, "an integer from 1 to 4096"),
    ("emb_size", 200000, "an integer from 1 to 4096"),
    ("emb_size", True, "an integer from 1 to 4096"),
    ("emb_size", 128.0, "an integer from 1 to 4096"),
    ("hidden_size", None, "an integer from 1 to 4096"),
    ("decoder_size", 10 ** 12, "an integer from 1 to 4096"),
    ("attention_size", [256], "an integer from 1 to 4096"),
    ("window", 0, "an integer from 1 to 4096"),
    ("window", 5000, "an integer from 1 to 4096"),
    ("dropout", 1.0, "a number from 0 up to (not including) 1"),
    ("dropout", -0.1, "a number from 0 up to (not including) 1"),
    ("dropout", "0.2", "a number from 0 up to (not including) 1"),
    ("dropout", True, "a number from 0 up to (not including) 1"),
    ("dropout", float("nan"), "a number from 0 up to (not including) 1"),
    ("decoder", "perceiver", "one of context-init, context-every-step, bahdanau, luong, transformer"),
    ("decoder", 3, "one of context-init"),
    ("attention", "cosine", "one of bahdanau, dot, general, concat, local-m, local-p"),
    ("local_score", "local-p", "one of dot, general, concat"),
    ("input_feeding", "yes", "true or false"),
    ("input_feeding", 1, "true or false"),
]


@pytest.mark.parametrize("field,value,allowed", BAD_SETTINGS,
                         ids=[f"{f}={v!r}" for f, v, _ in BAD_SETTINGS])
def test_a_bad_model_setting_is_named_with_its_value_and_range(field, value, allowed, tmp_path, no_real_model):
    d = copy_checkpoint("luong-general", tmp_path)
    edit_config(d, lambda c: c["model"].__setitem__(field, value))
    t0 = time.perf_counter()
    with pytest.raises(CheckpointError) as err:
        load_model(d)
    assert time.perf_counter() - t0 < 5
    assert_one_clear_error(err, "config.json", f"model.{field}", repr(value), allowed)


@pytest.mark.parametrize("model, named", [
    ({"n_layers": 2}, "model.n_layers"),
    ([], "\"model\" section"),
    ("bahdanau", "\"model\" section"),
    (None, "\"model\" section"),
])
def test_unknown_settings_or_no_settings_object_are_refused(model, named, tmp_path, no_real_model):
    d = copy_checkpoint("bahdanau", tmp_path)
    if isinstance(model, dict):
        edit_config(d, lambda c: c["model"].update(model))
    else:
        edit_config(d, lambda c: c.__setitem__("model", model))
    with pytest.raises(CheckpointError) as err:
        load_model(d)
    assert_one_clear_error(err, "config.json", named)


def test_a_missing_model_section_is_refused(tmp_path):
    d = copy_checkpoint("bahdanau", tmp_path)
    edit_config(d, lambda c: c.pop("model"))
    with pytest.raises(CheckpointError) as err:
        load_model(d)
    assert_one_clear_error(err, "config.json", "\"model\"")


@pytest.mark.parametrize("attention, local_score", [("dot", "general"), ("local-m", "dot")])
def test_dot_attention_with_unequal_sizes_names_decoder_size(attention, local_score, tmp_path, no_real_model):
    d = copy_checkpoint("luong-dot", tmp_path)
    edit_config(d, lambda c: c["model"].update(attention=attention, local_score=local_score, decoder_size=200))
    with pytest.raises(CheckpointError) as err:
        load_model(d)
    assert_one_clear_error(err, "config.json", "model.decoder_size", "200", "2 x hidden_size = 256")


def test_every_model_setting_has_a_rule():
    assert set(checkpoint.MODEL_FIELDS) == {f.name for f in fields(ModelConfig)}


def test_every_model_directory_in_the_package_passes_the_checks():
    """The shipped models, the alignment models of chapter 6 and the synthetic-task models."""
    dirs = sorted(p.parent for p in PACKAGE.rglob("config.json") if (p.parent / "model.safetensors").is_file())
    assert len(dirs) >= 8
    for d in dirs:
        model, config, src, tgt = load_model(d)
        assert config["model"] == ModelConfig.from_dict(config["model"]).to_dict()


def test_settings_at_the_edges_of_their_ranges_load(tmp_path):
    d = tiny_dir(tmp_path, "luong-local-p", window=1)
    edit_config(d, lambda c: c["model"].update(dropout=0, attention_size=1))   # an int 0 is a number too
    with pytest.raises(CheckpointError, match="decoder.attention"):              # attention_size 1: valid, but
        load_model(d)                                                            # the weights are 10 wide
    edit_config(d, lambda c: c["model"].update(attention_size=10))
    model, config, _, _ = load_model(d)
    assert model.decoder.attention.window == 1 and config["model"]["dropout"] == 0


def test_settings_left_out_take_the_defaults(tmp_path):
    d = tiny_dir(tmp_path, "luong-general", dropout=0.2)
    edit_config(d, lambda c: c["model"].pop("dropout"))
    load_model(d)


# ------------------------------------------------------------------------------------------
# Tensors that do not fit the model: named before load_state_dict sees them
# ------------------------------------------------------------------------------------------

def test_a_shape_that_does_not_fit_names_the_tensor_and_both_shapes(tmp_path):
    d = copy_checkpoint("luong-general", tmp_path)
    edit_config(d, lambda c: c["model"].update(decoder_size=128))          # valid, but not these weights
    with pytest.raises(CheckpointError) as err:
        load_model(d)
    message = assert_one_clear_error(err, "model.safetensors", "config.json", "'decoder.", "(256", "(128")
    assert "size mismatch" not in message


def test_a_vocabulary_longer_than_the_embedding_names_the_embedding(tmp_path, no_real_model):
    d = copy_checkpoint("bahdanau", tmp_path)
    vocab = json.loads((d / "vocab.json").read_text(encoding="utf-8"))
    vocab["source"].append("zzz-not-a-word")
    (d / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    resign(d)
    with pytest.raises(CheckpointError) as err:
        load_model(d)
    assert_one_clear_error(err, "'encoder.embedding.weight'", "(7687, 128)", "(7688, 128)", "7688 source")


@pytest.mark.parametrize("change, named", [
    (lambda t: t.pop("decoder.attention.v_a.weight"), "'decoder.attention.v_a.weight'"),
    (lambda t: t.__setitem__("decoder.extra.weight", torch.zeros(3)), "'decoder.extra.weight'"),
    (lambda t: t.__setitem__("decoder.attention.v_a.weight",
                             torch.ones_like(t["decoder.attention.v_a.weight"], dtype=torch.int32)),
     "'decoder.attention.v_a.weight' as int32"),
])
def test_missing_extra_or_integer_tensors_are_named(change, named, tmp_path, no_real_model):
    d = copy_checkpoint("bahdanau", tmp_path)
    edit_weights(d, change)
    with pytest.raises(CheckpointError) as err:
        load_model(d)
    assert_one_clear_error(err, "model.safetensors", named)


# ------------------------------------------------------------------------------------------
# The fault table: every bad checkpoint gives CheckpointError, never a raw exception
# ------------------------------------------------------------------------------------------

def write(name: str, data: bytes, sign: bool = True):
    def fault(d: Path) -> None:
        (d / name).write_bytes(data)
        if sign:
            resign(d)
    return fault


def truncate(name: str, keep: float, sign: bool = True):
    def fault(d: Path) -> None:
        data = (d / name).read_bytes()
        (d / name).write_bytes(data[: int(len(data) * keep)])
        if sign:
            resign(d)
    return fault


def safetensors_header(header: dict, body: bytes = b"") -> bytes:
    raw = json.dumps(header).encode()
    return len(raw).to_bytes(8, "little") + raw + body


def set_checksum(name: str, value):
    return lambda d: edit_config(d, lambda c: c["sha256"].__setitem__(name, value))


def make_dir(name: str):
    def fault(d: Path) -> None:
        (d / name).unlink()
        (d / name).mkdir()
    return fault


FAULTS = {
    # missing files
    "config.json missing": (lambda d: (d / "config.json").unlink(), "config.json"),
    "vocab.json missing": (lambda d: (d / "vocab.json").unlink(), "vocab.json"),
    "weights missing": (lambda d: (d / "model.safetensors").unlink(), "model.safetensors"),
    "metrics.json missing": (lambda d: (d / "metrics.json").unlink(), "metrics.json"),
    "weights are a folder": (make_dir("model.safetensors"), "model.safetensors"),
    # truncated or malformed weights, with and without a recomputed checksum
    "weights truncated": (truncate("model.safetensors", 0.5, sign=False), "model.safetensors"),
    "weights truncated, re-signed": (truncate("model.safetensors", 0.5), "model.safetensors"),
    "weights cut inside the header, re-signed": (truncate("model.safetensors", 0.00001), "model.safetensors"),
    "weights empty, re-signed": (write("model.safetensors", b""), "model.safetensors"),
    "weights not safetensors, re-signed": (write("model.safetensors", b"PK\x03\x04" + bytes(100)),
                                           "model.safetensors"),
    "weights header is not JSON, re-signed": (write("model.safetensors", (5).to_bytes(8, "little") + b"{{{{{"),
                                              "model.safetensors"),
    "weights header offsets past the end, re-signed": (
        write("model.safetensors", safetensors_header(
            {"a": {"dtype": "F16", "shape": [4], "data_offsets": [0, 8000]}}, bytes(8))), "model.safetensors"),
    "weights header with an unknown dtype, re-signed": (
        write("model.safetensors", safetensors_header(
            {"a": {"dtype": "Q4", "shape": [4], "data_offsets": [0, 8]}}, bytes(8))), "model.safetensors"),
    "weights hold no tensor, re-signed": (write("model.safetensors", safetensors_header({})), "model.safetensors"),
    # bad JSON
    "config.json truncated": (truncate("config.json", 0.5, sign=False), "config.json"),
    "config.json empty": (lambda d: (d / "config.json").write_bytes(b""), "config.json"),
    "config.json not UTF-8": (lambda d: (d / "config.json").write_bytes(b"\xff\xfe{}"), "config.json"),
    "config.json nested too deep": (lambda d: (d / "config.json").write_bytes(b"[" * 100000 + b"]" * 100000),
                                    "config.json"),
    "vocab.json truncated, re-signed": (truncate("vocab.json", 0.5), "vocab.json"),
    "vocab.json not UTF-8, re-signed": (write("vocab.json", b"\xff\xfe\x00{"), "vocab.json"),
    "vocab.json nested too deep, re-signed": (write("vocab.json", b"[" * 100000 + b"]" * 100000), "vocab.json"),
    "vocab.json a list, re-signed": (write("vocab.json", b"[]"), "vocab.json"),
    "vocab.json without target, re-signed": (write("vocab.json", b'{"source": ["<pad>", "<unk>", "<s>", "</s>"]}'),
                                             "vocab.json"),
    "vocab.json tokens not strings, re-signed": (
        write("vocab.json", b'{"source": ["<pad>", "<unk>", "<s>", "</s>", 5], '
                            b'"target": ["<pad>", "<unk>", "<s>", "</s>"]}'), "vocab.json"),
    "vocab.json without the special tokens, re-signed": (
        write("vocab.json", b'{"source": ["a"], "target": ["b"]}'), "vocab.json"),
    "vocab.json repeats a token, re-signed": (
        write("vocab.json", b'{"source": ["<pad>", "<unk>", "<s>", "</s>", "a", "a"], '
                            b'"target": ["<pad>", "<unk>", "<s>", "</s>"]}'), "vocab.json"),
    # wrong checksums
    "weights checksum wrong": (set_checksum("model.safetensors", "0" * 64), "model.safetensors"),
    "vocab.json checksum wrong": (set_checksum("vocab.json", "f" * 64), "vocab.json"),
    "train_log.json checksum wrong": (set_checksum("train_log.json", "1" * 64), "train_log.json"),
    "weights checksum not a string": (set_checksum("model.safetensors", 123), "model.safetensors"),
    "a checksum for a file outside the folder": (set_checksum("../bahdanau/metrics.json", "0" * 64),
                                                 "config.json"),
    "a checksum for config.json itself": (set_checksum("config.json", "0" * 64), "config.json"),
    "checksums not an object": (lambda d: edit_config(d, lambda c: c.__setitem__("sha256", ["x"])), "config.json"),
}


@pytest.mark.parametrize("fault", list(FAULTS))
def test_fault_table_every_bad_checkpoint_gives_one_checkpoint_error(fault, tmp_path):
    d = copy_checkpoint("bahdanau", tmp_path)
    damage, named = FAULTS[fault]
    damage(d)
    with pytest.raises(CheckpointError) as err:
        load_model(d)
    assert_one_clear_error(err, named)


def test_float64_weights_too_large_for_float32_are_refused(tmp_path):
    """The model holds float32: a finite float64 weight of 1e300 would become infinite."""
    d = tiny_dir(tmp_path)
    edit_weights(d, lambda t: t.__setitem__("decoder.rnn.weight_hh_l0",
                                            t["decoder.rnn.weight_hh_l0"].double().fill_(1e300)))
    with pytest.raises(CheckpointError, match="decoder.rnn.weight_hh_l0"):
        load_model(d)
