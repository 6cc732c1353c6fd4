"""The Tatoeba English–French corpus: locating, reading, text processing and splits.

Only standard-library modules are imported here; tensor helpers (vocabularies, batching)
live in their own submodules.
"""
from .corpus import (
    CACHE_ENV_VAR,
    CORPUS_FILENAME,
    CORPUS_MEMBER,
    CORPUS_SHA256,
    CORPUS_URL,
    ENV_VAR,
    UNPINNED_ENV_VAR,
    URL_ENV_VAR,
    CorpusError,
    cache_dir,
    download,
    locate_corpus,
    read_pairs,
    verify_sha256,
)
from .split import SPLITS, Example, load_splits, split_of, test_set
from .text import LANGS, detokenize, normalize, tokenize

__all__ = [
    "CACHE_ENV_VAR", "CORPUS_FILENAME", "CORPUS_MEMBER", "CORPUS_SHA256", "CORPUS_URL",
    "ENV_VAR", "UNPINNED_ENV_VAR", "URL_ENV_VAR", "CorpusError", "cache_dir", "download",
    "locate_corpus", "read_pairs", "verify_sha256",
    "SPLITS", "Example", "load_splits", "split_of", "test_set",
    "LANGS", "detokenize", "normalize", "tokenize",
]
