"""A stable train/dev/test split of the corpus, decided by the English sentence alone.

Rule (:func:`split_of`): take ``normalize(english).lower()``, hash its UTF-8 bytes with
SHA-1, read the first 8 hex digits as an integer and take it modulo 1000; below 25 is
``"test"``, 25–49 is ``"dev"``, the rest is ``"train"`` (about 2.5 % / 2.5 % / 95 %).
The rule looks at nothing else, so every release of the corpus puts a sentence shared
with another release in the same split, and all translations of one English sentence
(whatever its case or spacing) land in the same split: no test source is seen in training.
"""
from __future__ import annotations

import functools
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from .corpus import CorpusError, _resolve, locate_corpus, read_pairs
from .text import normalize

__all__ = ["SPLITS", "Example", "split_of", "load_splits", "test_set"]

SPLITS = ("train", "dev", "test")


def split_of(english: str) -> str:
    """The split ("train", "dev" or "test") of the pair whose English side is ``english``."""
    key = normalize(english).lower().encode("utf-8", "surrogatepass")
    bucket = int(hashlib.sha1(key).hexdigest()[:8], 16) % 1000
    return "test" if bucket < 25 else "dev" if bucket < 50 else "train"


@dataclass(frozen=True)
class Example:
    """One English source sentence with all its French reference translations (normalised)."""

    source: str
    references: tuple[str, ...]


def _corpus_file(path: str | os.PathLike[str] | None) -> Path:
    if path is None:
        file = locate_corpus()
    else:
        file = _resolve(Path(path).expanduser(), where="load_splits")
    try:
        return file.resolve()
    except OSError as exc:
        raise CorpusError(f"cannot resolve {file} ({exc})") from exc


@functools.lru_cache(maxsize=4)
def _splits(file: str, _size: int, _mtime_ns: int) -> dict[str, tuple[tuple[str, str], ...]]:
    seen: set[tuple[str, str]] = set()
    out: dict[str, list[tuple[str, str]]] = {name: [] for name in SPLITS}
    for en, fr in read_pairs(file):
        pair = (normalize(en), normalize(fr))
        if pair[0] and pair[1] and pair not in seen:
            seen.add(pair)
            out[split_of(pair[0])].append(pair)
    return {name: tuple(pairs) for name, pairs in out.items()}


def _cached_splits(path: str | os.PathLike[str] | None) -> dict[str, tuple[tuple[str, str], ...]]:
    file = _corpus_file(path)
    try:
        st = file.stat()
    except OSError as exc:
        raise CorpusError(f"cannot read {file} ({exc})") from exc
    return _splits(str(file), st.st_size, st.st_mtime_ns)


def load_splits(path: str | os.PathLike[str] | None = None) -> dict[str, list[tuple[str, str]]]:
    """Normalised, de-duplicated ``(english, french)`` pairs per split, in corpus order.

    ``path`` is a corpus zip, ``.txt`` or folder (default: :func:`locate_corpus`).
    The parsed corpus is cached in-process; each call returns fresh lists.
    """
    return {name: list(pairs) for name, pairs in _cached_splits(path).items()}


def test_set(split: str = "test", path: str | os.PathLike[str] | None = None) -> list[Example]:
    """One :class:`Example` per distinct English sentence of ``split``, with every French
    translation as a reference (in corpus order), sorted by source."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, not {split!r}")
    groups: dict[str, list[str]] = {}
    for en, fr in _cached_splits(path)[split]:
        groups.setdefault(en, []).append(fr)
    return [Example(en, tuple(refs)) for en, refs in sorted(groups.items())]


test_set.__test__ = False  # type: ignore[attr-defined]  # not a pytest test when imported
