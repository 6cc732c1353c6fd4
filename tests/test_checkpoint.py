"""Shipped checkpoints and model directories: all eleven load, stay small, never go through
pickle, and any missing, truncated or tampered file gives one CheckpointError that names the
file and says how to restore it. (Load times are printed by benchmarks/load_speed.py.)
"""
from __future__ import annotations

import json
import pickle
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from attention_course import checkpoint, pretrained
from attention_course.checkpoint import CheckpointError, load_model, save_model
from attention_course.data.vocabulary import Vocabulary
from attention_course.translator import Translator

from helpers_models import random_batch, tiny_config, tiny_model, one_thread  # noqa: F401 (autouse fixture)

SHIPPED = ["seq2seq-init", "seq2seq", "seq2seq-uni", "seq2seq-reverse", "bahdanau", "luong-dot", "luong-general",
           "luong-concat", "luong-general-nofeed", "luong-local-p", "transformer"]
NO_ATTENTION = ("seq2seq-init", "seq2seq", "seq2seq-uni", "seq2seq-reverse")
CHECKPOINTS = pretrained.checkpoint_dir("bahdanau").parent
FILES = ["model.safetensors", "vocab.json", "config.json", "metrics.json", "train_log.json"]


def test_all_eleven_models_are_available_in_the_course_order():
    assert pretrained.available() == SHIPPED


@pytest.mark.parametrize("name", SHIPPED)
def test_each_shipped_model_loads(name):
    tr = pretrained.load(name)
    assert isinstance(tr, Translator) and tr.name == name
    assert pretrained.load(name) is tr                      # cached
    assert not tr.model.training
    assert tr.has_attention == (name not in NO_ATTENTION)
    assert all(p.dtype == torch.float32 for p in tr.model.parameters())   # float16 on disk, float32 in memory
    cfg = pretrained.config(name)
    assert cfg["name"] == name and cfg["dtype"] == "float16"
    metrics = pretrained.metrics(name)
    assert metrics["name"] == name and 0 < metrics["bleu_beam5"] < 100
    assert metrics["parameters"] == sum(p.numel() for p in tr.model.parameters())
    log = pretrained.training_log(name)
    assert len(log["epochs"]) == cfg["run"]["train"]["epochs"]


def test_unknown_model_name_is_a_value_error():
    with pytest.raises(ValueError, match="unknown model"):
        pretrained.load("perceiver")
    with pytest.raises(ValueError, match="bahdanau"):
        pretrained.metrics("Bahdanau")


def test_checkpoints_fit_in_80_mb():
    files = [f for f in CHECKPOINTS.rglob("*") if f.is_file()]
    total = sum(f.stat().st_size for f in files)
    assert total <= 80 * 1024 * 1024, f"checkpoints take {total / 2**20:.1f} MiB"
    assert not [f for f in files if f.suffix in (".pt", ".pth", ".bin", ".pkl", ".ckpt", ".tmp")]


@pytest.mark.parametrize("name", ["bahdanau", "luong-local-p"])
def test_weights_are_never_unpickled(name, tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("pickle must never be used to load weights")

    for module, attr in ((pickle, "load"), (pickle, "loads"), (pickle, "Unpickler"), (torch, "load")):
        monkeypatch.setattr(module, attr, refuse)
    model, config, src, tgt = load_model(copy_checkpoint(name, tmp_path))
    assert config["name"] == name and len(src) > 4 and len(tgt) > 4
    data = (tmp_path / name / "model.safetensors").read_bytes()
    header = int.from_bytes(data[:8], "little")
    assert data[8:9] == b"{" and json.loads(data[8: 8 + header])      # a safetensors header, no pickle


# ------------------------------------------------------------------------------------------
# Damaged checkpoints
# ------------------------------------------------------------------------------------------

def copy_checkpoint(name: str, tmp_path: Path) -> Path:
    dest = tmp_path / name
    shutil.copytree(pretrained.checkpoint_dir(name), dest)
    return dest


def tamper(path: Path) -> None:
    """A change that keeps the file well-formed (valid JSON, same size of weights)."""
    if path.name == "model.safetensors":
        data = bytearray(path.read_bytes())
        data[-100] ^= 0x40                       # one bit of one weight
        path.write_bytes(bytes(data))
    elif path.name == "vocab.json":
        vocab = json.loads(path.read_text(encoding="utf-8"))
        vocab["target"][10], vocab["target"][11] = vocab["target"][11], vocab["target"][10]
        path.write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    elif path.name == "config.json":
        config = json.loads(path.read_text(encoding="utf-8"))
        config["model"]["decoder_size"] = 128    # weights no longer fit
        path.write_text(json.dumps(config), encoding="utf-8")
    elif path.name == "metrics.json":
        metrics = json.loads(path.read_text(encoding="utf-8"))
        metrics["bleu_beam5"] = 99.9
        path.write_text(json.dumps(metrics), encoding="utf-8")
    else:   # train_log.json
        log = json.loads(path.read_text(encoding="utf-8"))
        log["train_seconds"] = 1.0
        path.write_text(json.dumps(log), encoding="utf-8")


def damage(path: Path, how: str) -> None:
    if how == "missing":
        path.unlink()
    elif how == "truncated":
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    elif how == "empty":
        path.write_bytes(b"")
    else:
        tamper(path)


@pytest.mark.parametrize("how", ["missing", "truncated", "empty", "tampered"])
@pytest.mark.parametrize("fname", FILES)
def test_a_damaged_file_gives_one_clear_checkpoint_error(fname, how, tmp_path):
    d = copy_checkpoint("luong-general", tmp_path)
    damage(d / fname, how)
    with pytest.raises(CheckpointError) as err:
        load_model(d)
    message = str(err.value)
    assert fname in message, f"the message must name {fname}: {message}"
    assert "restore" in message and "pip install --force-reinstall attention-course" in message
    assert "Traceback" not in message and len(message) < 600
    e = err.value   # one error, not a chain of library exceptions
    assert e.__cause__ is None and (e.__context__ is None or e.__suppress_context__)


def test_tampered_checksum_in_config_is_detected(tmp_path):
    d = copy_checkpoint("bahdanau", tmp_path)
    config = json.loads((d / "config.json").read_text(encoding="utf-8"))
    config["sha256"]["model.safetensors"] = "0" * 64
    (d / "config.json").write_text(json.dumps(config), encoding="utf-8")
    with pytest.raises(CheckpointError, match="model.safetensors"):
        load_model(d)


@pytest.mark.parametrize("change", ["drop the checksums", "drop one checksum", "not an object"])
def test_a_config_without_checksums_is_refused(change, tmp_path):
    d = copy_checkpoint("bahdanau", tmp_path)
    config = json.loads((d / "config.json").read_text(encoding="utf-8"))
    if change == "drop the checksums":
        del config["sha256"]
    elif change == "drop one checksum":
        del config["sha256"]["model.safetensors"]
    else:
        config = [config]
    (d / "config.json").write_text(json.dumps(config), encoding="utf-8")
    with pytest.raises(CheckpointError, match="config.json"):
        load_model(d)


def test_an_invalid_configuration_names_config_json(tmp_path):
    d = copy_checkpoint("bahdanau", tmp_path)
    config = json.loads((d / "config.json").read_text(encoding="utf-8"))
    config["model"]["decoder"] = "perceiver"
    (d / "config.json").write_text(json.dumps(config), encoding="utf-8")
    with pytest.raises(CheckpointError, match="config.json"):
        load_model(d)


def test_damaged_metrics_are_reported_by_pretrained_metrics(tmp_path, monkeypatch):
    d = copy_checkpoint("bahdanau", tmp_path)
    monkeypatch.setattr(pretrained, "checkpoint_dir", lambda name: tmp_path / name)
    (d / "metrics.json").write_text("{\"name\": ", encoding="utf-8")
    with pytest.raises(CheckpointError, match="metrics.json"):
        pretrained.metrics("bahdanau")
    (d / "metrics.json").unlink()
    with pytest.raises(CheckpointError, match="metrics.json"):
        pretrained.metrics("bahdanau")


def test_the_undamaged_copy_loads_and_translates_like_the_shipped_model(tmp_path):
    model, config, src, tgt = load_model(copy_checkpoint("luong-general", tmp_path))
    copy = Translator(model, src, tgt)
    shipped = pretrained.load("luong-general")
    text = "The old fisherman repaired his net."
    assert copy.translate(text).target_tokens == shipped.translate(text).target_tokens


# ------------------------------------------------------------------------------------------
# Saving
# ------------------------------------------------------------------------------------------

def vocabularies():
    from helpers_models import SRC_VOCAB, TGT_VOCAB
    src = Vocabulary(["<pad>", "<unk>", "<s>", "</s>"] + [f"en{i}" for i in range(SRC_VOCAB - 4)])
    tgt = Vocabulary(["<pad>", "<unk>", "<s>", "</s>"] + [f"fr{i}" for i in range(TGT_VOCAB - 4)])
    return src, tgt


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16])
def test_save_then_load_round_trip(dtype, tmp_path):
    model = tiny_model("luong-local-p", dtype=torch.float32)
    src, tgt = vocabularies()
    d = save_model(tmp_path / "m", model, tiny_config("luong-local-p"), src, tgt, "tiny", dtype=dtype)
    loaded, config, src2, tgt2 = load_model(d)
    assert src2.itos == src.itos and tgt2.itos == tgt.itos and config["name"] == "tiny"
    stored = load_file(d / "model.safetensors")
    assert all(t.dtype == dtype for t in stored.values())
    assert "decoder.project.embedding.weight" not in stored        # the tied copy is stored once
    batch = random_batch(seed=1)
    with torch.no_grad():
        a = model(batch.src, batch.src_lengths, batch.tgt_in)[0]
        b = loaded(batch.src, batch.src_lengths, batch.tgt_in)[0]
    if dtype == torch.float32:
        assert torch.equal(a, b)
    else:
        torch.testing.assert_close(a, b, atol=2e-2, rtol=2e-2)
    assert loaded.decoder.project.embedding.weight is loaded.decoder.embedding.weight
    assert not list(d.glob("*.tmp")) and not list(d.glob(".*.tmp"))


def test_a_crash_while_saving_leaves_the_previous_model_intact(tmp_path, monkeypatch):
    model = tiny_model("bahdanau", dtype=torch.float32)
    src, tgt = vocabularies()
    d = save_model(tmp_path / "m", model, tiny_config("bahdanau"), src, tgt, "tiny")
    before = (d / "model.safetensors").read_bytes()

    def crash(tensors, filename, metadata=None):
        Path(filename).write_bytes(b"half a fi")        # a partial write, then the process "dies"
        raise OSError("disk full")

    monkeypatch.setattr(checkpoint, "save_file", crash)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)
    with pytest.raises(OSError, match="disk full"):
        save_model(d, model, tiny_config("bahdanau"), src, tgt, "tiny")
    assert (d / "model.safetensors").read_bytes() == before
    load_model(d)                                            # still consistent
    assert [p.name for p in d.iterdir() if p.name.endswith(".tmp")] == []
