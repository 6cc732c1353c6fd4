"""The trained models that ship inside the package (weights in float16 safetensors).

>>> from attention_course import pretrained
>>> pretrained.available()
['seq2seq-init', 'seq2seq', 'bahdanau', 'luong-dot', ...]
>>> pretrained.load("bahdanau").translate("I like red cars.").text
"""
from __future__ import annotations

import functools
from importlib import resources
from pathlib import Path

from .checkpoint import RESTORE_HINT, CheckpointError, load_model, read_json
from .translator import Translator

# The order the course compares them in: no attention first, then Bahdanau, then Luong, then the
# Transformer.
NAMES = ("seq2seq-init", "seq2seq", "seq2seq-uni", "seq2seq-reverse", "bahdanau", "luong-dot",
         "luong-general", "luong-concat", "luong-general-nofeed", "luong-local-p", "transformer")


def checkpoint_dir(name: str) -> Path:
    return Path(str(resources.files("attention_course") / "checkpoints" / name))


def available() -> list[str]:
    """Names of the shipped models, in the course's order."""
    return [n for n in NAMES if (checkpoint_dir(n) / "config.json").is_file()]


def _check_name(name: str) -> str:
    if not isinstance(name, str) or name not in NAMES:
        raise ValueError(f"unknown model {name!r}; choose one of: {', '.join(NAMES)}")
    if not checkpoint_dir(name).is_dir():
        raise CheckpointError(f"the checkpoint folder {checkpoint_dir(name)} is missing. To restore it, {RESTORE_HINT}.")
    return name


@functools.lru_cache(maxsize=None)
def load(name: str, device: str = "cpu") -> Translator:
    """A ready :class:`Translator` for a shipped model (cached: loading twice returns the same object)."""
    model, config, src_vocab, tgt_vocab = load_model(checkpoint_dir(_check_name(name)), device)
    return Translator(model, src_vocab, tgt_vocab, name=name, device=device)


def metrics(name: str) -> dict:
    """The model card: test BLEU, chrF, perplexity, BLEU by length, training cost, ..."""
    return read_json(checkpoint_dir(_check_name(name)) / "metrics.json", f"the metrics of {name}")


def config(name: str) -> dict:
    return read_json(checkpoint_dir(_check_name(name)) / "config.json", f"the configuration of {name}")


def training_log(name: str) -> dict:
    return read_json(checkpoint_dir(_check_name(name)) / "train_log.json", f"the training log of {name}")


__all__ = ["NAMES", "available", "load", "metrics", "config", "training_log", "checkpoint_dir"]
