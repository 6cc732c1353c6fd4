"""The test split as every evaluation reads it, and the hashes that tie a result to texts.

>>> sources, references = evaluation_texts()   # references[i]: every reference of sentence i
>>> texts_sha256(sources, references)          # the ``test_sha256`` of results files and kept outputs
>>> output_sha256(translations)               # a model card's ``beam5_output_sha256``
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence

from ..data.split import test_set


def output_sha256(texts: Sequence[str]) -> str:
    """A hash of a list of texts (JSON of the list, so sentence boundaries count)."""
    return hashlib.sha256(json.dumps(list(texts), ensure_ascii=False).encode("utf-8")).hexdigest()


def evaluation_texts() -> tuple[list[str], list[list[str]]]:
    """The test split's source sentences and, for each, the list of its references."""
    examples = test_set("test")
    return [e.source for e in examples], [list(e.references) for e in examples]


def texts_sha256(sources: Sequence[str], references: Sequence[Sequence[str]]) -> str:
    """A hash of the sources with their references: what a results file was measured on."""
    return output_sha256([json.dumps([s, list(r)], ensure_ascii=False) for s, r in zip(sources, references)])


__all__ = ["output_sha256", "evaluation_texts", "texts_sha256"]
