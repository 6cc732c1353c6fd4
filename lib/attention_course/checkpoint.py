"""Saving and loading trained models as safetensors + JSON (never pickle).

A model directory holds ``model.safetensors`` (weights), ``config.json`` (the
model settings and a sha256 of every other file) and ``vocab.json``; shipped models
add ``metrics.json`` and ``train_log.json`` (their sha256 added by :func:`record_sha256`). Every file is checked on load, and a
missing, truncated or tampered file raises one :class:`CheckpointError` naming it.

:func:`load_model` reads each file once, into memory, and hashes and parses those same
bytes (a file replaced or rewritten during a load cannot slip in unverified weights, and
nothing is memory-mapped). Before the model is built (its memory allocated) it also checks
what a checksum cannot catch in a re-signed file: every model setting's type and range,
every tensor's name, shape and dtype against the model that config.json describes (built on
the meta device, which allocates nothing), and that no weight is NaN or infinite.
"""
from __future__ import annotations

import functools
import hashlib
import json
import math
import os
import tempfile
from dataclasses import fields
from pathlib import Path

import torch
from safetensors.torch import load as load_safetensors
from safetensors.torch import save_file

from .data.vocabulary import Vocabulary
from .models.attention import LuongAttention
from .models.seq2seq import DECODERS, ModelConfig, Seq2Seq, build_model

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


def _damaged(path: Path, what: str, why: str) -> CheckpointError:
    return CheckpointError(f"{what} {path} is damaged ({why}). To restore it, {RESTORE_HINT}.")


def _parse_json(data: bytes, path: Path, what: str) -> dict:
    try:
        obj = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
        raise _damaged(path, what, e.__class__.__name__) from None
    if not isinstance(obj, dict):
        raise _damaged(path, what, "not a JSON object")
    return obj


def read_json(path: Path, what: str) -> dict:
    """A JSON object read from ``path`` (one read); anything else raises a CheckpointError naming it."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{what} is missing: {path}. To restore it, {RESTORE_HINT}.")
    try:
        data = path.read_bytes()
    except OSError as e:
        raise CheckpointError(f"{what} {path} cannot be read ({e.__class__.__name__}). "
                              f"To restore it, {RESTORE_HINT}.") from None
    return _parse_json(data, path, what)


# ------------------------------------------------------------------------------------------
# Loading: read once, verify those bytes, validate, then build
# ------------------------------------------------------------------------------------------

WEIGHTS, VOCAB, CONFIG = "model.safetensors", "vocab.json", "config.json"
MAX_SIZE = 4096                    # emb_size, hidden_size, decoder_size, attention_size, window
ATTENTIONS = ("bahdanau", *LuongAttention.SCORES, "local-m", "local-p")   # what build_attention accepts
FLOAT_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)

# Every ModelConfig field: (kind, allowed). "int": an int (not a bool) in [lo, hi];
# "float": a number (not a bool) in [lo, hi); "bool": true or false; "choice": one of the strings.
MODEL_FIELDS: dict[str, tuple[str, tuple]] = {
    "decoder": ("choice", DECODERS),
    "attention": ("choice", ATTENTIONS),
    "input_feeding": ("bool", (False, True)),
    "window": ("int", (1, MAX_SIZE)),
    "local_score": ("choice", LuongAttention.SCORES),
    "emb_size": ("int", (1, MAX_SIZE)),
    "hidden_size": ("int", (1, MAX_SIZE)),
    "decoder_size": ("int", (1, MAX_SIZE)),
    "attention_size": ("int", (1, MAX_SIZE)),
    "dropout": ("float", (0.0, 1.0)),
    "reverse_source": ("bool", (False, True)),
    "bidirectional": ("bool", (False, True)),
    "layers": ("int", (1, 64)),
    "heads": ("int", (1, MAX_SIZE)),
    "ff_size": ("int", (1, MAX_SIZE)),
    "positional": ("bool", (False, True)),
}
assert set(MODEL_FIELDS) == {f.name for f in fields(ModelConfig)}, "every model setting needs a rule"


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _invalid_config(path: Path, why: str) -> CheckpointError:
    return CheckpointError(f"the model configuration {path} is invalid: {why}. To restore it, {RESTORE_HINT}.")


def _bad_value(name: str, value, kind: str, allowed: tuple) -> str | None:
    """Why ``value`` is not allowed for the model setting ``name`` (None if it is)."""
    if kind == "choice":
        ok = isinstance(value, str) and value in allowed
        expected = "one of " + ", ".join(allowed)
    elif kind == "bool":
        ok, expected = isinstance(value, bool), "true or false"
    elif kind == "int":
        lo, hi = allowed
        ok = isinstance(value, int) and not isinstance(value, bool) and lo <= value <= hi
        expected = f"an integer from {lo} to {hi}"
    else:   # float
        lo, hi = allowed
        ok = (isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
              and lo <= value < hi)
        expected = f"a number from {lo:g} up to (not including) {hi:g}"
    return None if ok else f"model.{name} is {_short(value)}, expected {expected}"


def validate_model_config(settings, path: Path = Path(CONFIG)) -> ModelConfig:
    """The :class:`ModelConfig` of a config.json's ``model`` section, after checking the type and
    range of every setting (missing ones take ModelConfig's defaults; unknown ones are refused).
    Raises one :class:`CheckpointError` naming the setting, its value and what is allowed."""
    if not isinstance(settings, dict):
        raise _invalid_config(path, f"its \"model\" section is {_short(settings)}, expected a JSON object "
                                    f"with the settings {', '.join(MODEL_FIELDS)}")
    unknown = sorted(set(settings) - set(MODEL_FIELDS), key=str)
    if unknown:
        raise _invalid_config(path, f"unknown model setting model.{str(unknown[0])[:40]}; "
                                    f"known: {', '.join(MODEL_FIELDS)}")
    for name, (kind, allowed) in MODEL_FIELDS.items():
        if name in settings:
            why = _bad_value(name, settings[name], kind, allowed)
            if why:
                raise _invalid_config(path, why)
    try:
        cfg = ModelConfig(**settings)
    except ValueError as e:     # settings that do not fit together (ModelConfig's own rules)
        raise _invalid_config(path, str(e)) from None
    if cfg.decoder == "luong":
        score = cfg.local_score if cfg.attention in ("local-m", "local-p") else cfg.attention
        if score == "dot" and cfg.decoder_size != 2 * cfg.hidden_size:
            raise _invalid_config(path, f"model.decoder_size is {cfg.decoder_size}, but dot attention needs "
                                        f"2 x hidden_size = {2 * cfg.hidden_size}")
    if cfg.decoder == "transformer" and cfg.emb_size % cfg.heads:
        raise _invalid_config(path, f"model.heads is {cfg.heads}, but a Transformer needs emb_size "
                                    f"({cfg.emb_size}) to be a multiple of it")
    return cfg


def _read_checked(path: Path, expected: str) -> bytes:
    """The bytes of ``path``, read once and checked against their sha256: these bytes, not the
    file (which may change meanwhile), are what the caller parses."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise CheckpointError(f"the checkpoint file {path} is missing. To restore it, {RESTORE_HINT}.") from None
    except OSError as e:
        raise CheckpointError(f"the checkpoint file {path} cannot be read ({e.__class__.__name__}). "
                              f"To restore it, {RESTORE_HINT}.") from None
    if hashlib.sha256(data).hexdigest() != expected:
        raise CheckpointError(f"the checkpoint file {path} is truncated or modified (its sha256 does not "
                              f"match config.json). To restore it, {RESTORE_HINT}.")
    return data


def _checksums(config: dict, path: Path) -> dict[str, str]:
    checksums = config.get("sha256")
    if not isinstance(checksums, dict) or not {WEIGHTS, VOCAB} <= set(checksums):
        raise CheckpointError(f"the model configuration {path} is modified (it lacks the sha256 of "
                              f"{WEIGHTS} and {VOCAB}). To restore it, {RESTORE_HINT}.")
    for fname, digest in checksums.items():
        if (fname in ("", ".", "..", CONFIG) or "/" in fname or "\\" in fname
                or not isinstance(digest, str)):
            raise CheckpointError(f"the model configuration {path} is modified (its sha256 entry "
                                  f"{_short(fname)} is not a checksum of a file beside it). "
                                  f"To restore it, {RESTORE_HINT}.")
    return checksums


def _vocabularies(data: bytes, path: Path) -> tuple[Vocabulary, Vocabulary]:
    vocab = _parse_json(data, path, "the vocabulary")
    try:
        for side in ("source", "target"):
            if not isinstance(vocab.get(side), list) or set(map(type, vocab[side])) != {str}:
                raise ValueError(f"its {side!r} entry must be a list of strings")
        return Vocabulary(vocab["source"]), Vocabulary(vocab["target"])
    except ValueError as e:
        raise CheckpointError(f"the vocabulary {path} is invalid ({e}). To restore it, {RESTORE_HINT}.") from None


@functools.lru_cache(maxsize=64)
def _expected_shapes(cfg: ModelConfig, src_size: int, tgt_size: int) -> dict[str, torch.Size]:
    """Name and shape of every tensor that the model needs, from a model built on the meta
    device (no memory, no random numbers); tied parameters are stored once. Cached: the
    shapes depend on nothing else, and the eight shipped models share a few architectures."""
    with torch.device("meta"):
        model = build_model(cfg, src_size, tgt_size)
    seen, shapes = set(), {}
    for name, t in model.state_dict(keep_vars=True).items():
        if id(t) not in seen:
            seen.add(id(t))
            shapes[name] = t.shape
    return shapes


def _shape(shape) -> str:
    return "(" + ", ".join(str(n) for n in shape) + ")"


def _check_tensors(tensors: dict[str, torch.Tensor], expected: dict[str, torch.Size], path: Path,
                   src_size: int, tgt_size: int) -> dict[str, torch.Tensor]:
    """float32 copies of the tensors, once their names, shapes and dtypes fit the model and
    every value is finite; otherwise one CheckpointError naming the first tensor that does not."""
    def bad(why: str) -> CheckpointError:
        return CheckpointError(f"the weights {path} {why}. To restore them, {RESTORE_HINT}.")

    missing = [k for k in expected if k not in tensors]
    if missing:
        raise bad(f"lack the tensor {missing[0]!r} that the model in config.json needs"
                  + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""))
    extra = [k for k in tensors if k not in expected]
    if extra:
        raise bad(f"hold a tensor {_short(extra[0])} that the model in config.json does not have")
    for k, shape in expected.items():
        if tensors[k].shape != shape:
            raise bad(f"do not fit the model in config.json: tensor {k!r} has shape {_shape(tensors[k].shape)}, "
                      f"the model needs {_shape(shape)} (vocab.json holds {src_size} source and "
                      f"{tgt_size} target tokens)")
        if tensors[k].dtype not in FLOAT_DTYPES:
            raise bad(f"hold tensor {k!r} as {str(tensors[k].dtype).replace('torch.', '')}, "
                      f"not as floating point numbers")
    out = {}
    for k, t in tensors.items():
        f = t.float()   # what the model will hold (a float64 beyond float32's range becomes inf)
        # A sum is NaN or infinite if any value is, and costs far less than isfinite(); only a
        # non-finite sum (or one that overflowed, adding up huge but finite values) needs the exact check.
        if not math.isfinite(f.sum()) and not bool(torch.isfinite(f).all()):
            n = int((~torch.isfinite(f)).sum())
            raise bad(f"hold NaN or infinite values in tensor {k!r} ({n} of {t.numel()} values)")
        out[k] = f
    return out


def load_model(directory: str | Path, device: str | torch.device = "cpu"
               ) -> tuple[Seq2Seq, dict, Vocabulary, Vocabulary]:
    """Load and verify a model directory: returns (model in eval mode, config dict, source vocab, target vocab).

    Each file is read once; its sha256 is checked on those bytes and the same bytes are parsed.
    Every problem (a missing, truncated, tampered or re-signed but invalid file) raises one
    :class:`CheckpointError` naming the file, before any large allocation."""
    d = Path(directory)
    config_path = d / CONFIG
    config = read_json(config_path, "the model configuration")
    blobs = {fname: _read_checked(d / fname, digest) for fname, digest in _checksums(config, config_path).items()}
    src_vocab, tgt_vocab = _vocabularies(blobs[VOCAB], d / VOCAB)
    if "model" not in config:
        raise _invalid_config(config_path, "it lacks the \"model\" section")
    cfg = validate_model_config(config["model"], config_path)
    try:
        expected = dict(_expected_shapes(cfg, len(src_vocab), len(tgt_vocab)))
    except ValueError as e:   # a combination of settings that the model refuses
        raise _invalid_config(config_path, str(e)) from None
    try:
        tensors = load_safetensors(blobs.pop(WEIGHTS))   # copies: the file's bytes can go
    except Exception as e:   # SafetensorError, or a header that torch cannot turn into tensors
        why = str(e) if len(str(e)) <= 80 else str(e)[:77] + "..."
        raise CheckpointError(f"the weights {d / WEIGHTS} cannot be read ({e.__class__.__name__}: {why}). "
                              f"To restore them, {RESTORE_HINT}.") from None
    del blobs
    state = _check_tensors(tensors, expected, d / WEIGHTS, len(src_vocab), len(tgt_vocab))
    del tensors
    model = build_model(cfg, len(src_vocab), len(tgt_vocab))
    model.load_state_dict(state, strict=False)
    return model.to(device).eval(), config, src_vocab, tgt_vocab
