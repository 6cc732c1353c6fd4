"""Saving and loading trained models as safetensors + JSON (never pickle).

A model directory holds ``model.safetensors`` (weights), ``config.json`` (the
model settings and a sha256 of every other file) and ``vocab.json``; shipped models
add ``metrics.json`` and ``train_log.json`` (their sha256 added by :func:`record_sha256`). Every file is checked on load, and a
missing, truncated or tampered file raises one :class:`CheckpointError` naming it.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from .data.vocabulary import Vocabulary
from .models.seq2seq import ModelConfig, Seq2Seq, build_model

RESTORE_HINT = ("reinstall the package (pip install --force-reinstall attention-course) "
                "or retrain it with `python -m attention_course.train`")


class CheckpointError(RuntimeError):
    pass


def sha256_file(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write to a temporary file beside ``path``, then rename: readers never see half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o644)   # readable like any package file (mkstemp makes it private)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_json(path: Path, obj) -> None:
    atomic_write_bytes(path, (json.dumps(obj, indent=1, ensure_ascii=False) + "\n").encode("utf-8"))


def unique_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The state dict without tied duplicates (the output projection shares the embedding)."""
    seen, out = set(), {}
    for name, t in model.state_dict().items():
        if t.data_ptr() not in seen:
            seen.add(t.data_ptr())
            out[name] = t
    return out


def save_vocabularies(path: Path, src: Vocabulary, tgt: Vocabulary) -> None:
    atomic_write_json(path, {"source": src.itos, "target": tgt.itos})


def save_model(directory: str | Path, model: Seq2Seq, cfg: ModelConfig, src_vocab: Vocabulary,
               tgt_vocab: Vocabulary, name: str, dtype: torch.dtype = torch.float32, extra: dict | None = None) -> Path:
    """Write a loadable model directory (weights optionally cast, e.g. to float16 to halve the size)."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().to("cpu", dtype if v.is_floating_point() else v.dtype).contiguous()
               for k, v in unique_state(model).items()}
    fd, tmp = tempfile.mkstemp(dir=d, prefix=".model.safetensors.", suffix=".tmp")
    os.fchmod(fd, 0o644)
    os.close(fd)
    try:
        save_file(tensors, tmp)
        os.chmod(tmp, 0o644)   # save_file rewrites the file as private (0600)
        os.replace(tmp, d / "model.safetensors")
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    save_vocabularies(d / "vocab.json", src_vocab, tgt_vocab)
    config = {"name": name, "model": cfg.to_dict(), "dtype": str(dtype).replace("torch.", ""),
              "sha256": {f: sha256_file(d / f) for f in ("model.safetensors", "vocab.json")}, **(extra or {})}
    atomic_write_json(d / "config.json", config)
    return d


def record_sha256(directory: str | Path, *names: str) -> None:
    """Add the sha256 of files written after :func:`save_model` (``metrics.json``, ``train_log.json``)
    to ``config.json``, so that :func:`load_model` checks them too."""
    d = Path(directory)
    config = read_json(d / "config.json", "the model configuration")
    config.setdefault("sha256", {}).update({n: sha256_file(d / n) for n in names})
    atomic_write_json(d / "config.json", config)


def read_json(path: Path, what: str) -> dict:
    if not path.is_file():
        raise CheckpointError(f"{what} is missing: {path}. To restore it, {RESTORE_HINT}.")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CheckpointError(f"{what} {path} is damaged ({e.__class__.__name__}). To restore it, {RESTORE_HINT}.") from None
    if not isinstance(data, dict):
        raise CheckpointError(f"{what} {path} is damaged (not a JSON object). To restore it, {RESTORE_HINT}.")
    return data


def load_model(directory: str | Path, device: str | torch.device = "cpu"
               ) -> tuple[Seq2Seq, dict, Vocabulary, Vocabulary]:
    """Load and verify a model directory: returns (model in eval mode, config dict, source vocab, target vocab)."""
    d = Path(directory)
    config = read_json(d / "config.json", "the model configuration")
    checksums = config.get("sha256")
    if not isinstance(checksums, dict) or not {"model.safetensors", "vocab.json"} <= set(checksums):
        raise CheckpointError(f"the model configuration {d / 'config.json'} is modified (it lacks the sha256 of "
                              f"model.safetensors and vocab.json). To restore it, {RESTORE_HINT}.")
    for fname, expected in checksums.items():
        f = d / fname
        if not f.is_file():
            raise CheckpointError(f"the checkpoint file {f} is missing. To restore it, {RESTORE_HINT}.")
        if sha256_file(f) != expected:
            raise CheckpointError(f"the checkpoint file {f} is truncated or modified (its sha256 does not "
                                  f"match config.json). To restore it, {RESTORE_HINT}.")
    vocab = read_json(d / "vocab.json", "the vocabulary")
    try:
        src_vocab, tgt_vocab = Vocabulary(vocab["source"]), Vocabulary(vocab["target"])
    except (KeyError, TypeError, ValueError) as e:
        raise CheckpointError(f"the vocabulary {d / 'vocab.json'} is invalid ({e}). To restore it, {RESTORE_HINT}.") from None
    try:
        cfg = ModelConfig.from_dict(config["model"])
    except (KeyError, TypeError, ValueError) as e:
        raise CheckpointError(f"the model configuration {d / 'config.json'} is invalid ({e}). To restore it, {RESTORE_HINT}.") from None
    model = build_model(cfg, len(src_vocab), len(tgt_vocab))
    try:
        tensors = load_file(d / "model.safetensors")
    except (SafetensorError, OSError) as e:
        raise CheckpointError(f"the weights {d / 'model.safetensors'} cannot be read ({e}). To restore them, {RESTORE_HINT}.") from None
    expected = unique_state(model)
    if set(tensors) != set(expected) or any(tensors[k].shape != v.shape for k, v in expected.items()):
        raise CheckpointError(f"the weights {d / 'model.safetensors'} do not fit the model in config.json. "
                              f"To restore them, {RESTORE_HINT}.")
    model.load_state_dict({k: v.float() for k, v in tensors.items()}, strict=False)
    return model.to(device).eval(), config, src_vocab, tgt_vocab
