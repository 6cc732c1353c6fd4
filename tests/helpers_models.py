"""Small shared fixtures for the model, search and training tests: tiny models of every
decoder variant (float64, no dropout) and random padded batches.

Nothing here reads the corpus; every sentence is invented or random ids.
"""
from __future__ import annotations

import os
from contextlib import contextmanager

import pytest
import torch

from attention_course.data.batching import make_batch
from attention_course.data.vocabulary import Vocabulary
from attention_course.models import ModelConfig, build_model

SRC_VOCAB, TGT_VOCAB = 23, 19
# emb 8, encoder 6 per direction (annotations 12), decoder 12 (so dot attention fits), window D = 2.
TINY = dict(emb_size=8, hidden_size=6, decoder_size=12, attention_size=10, dropout=0.0, window=2)

VARIANTS = {
    "context-init": dict(decoder="context-init"),
    "context-every-step": dict(decoder="context-every-step"),
    "bahdanau": dict(decoder="bahdanau"),
    "luong-dot": dict(decoder="luong", attention="dot"),
    "luong-general": dict(decoder="luong", attention="general"),
    "luong-concat": dict(decoder="luong", attention="concat"),
    "luong-general-nofeed": dict(decoder="luong", attention="general", input_feeding=False),
    "luong-local-m": dict(decoder="luong", attention="local-m"),
    "luong-local-p": dict(decoder="luong", attention="local-p"),
}
ATTENTION_VARIANTS = [v for v in VARIANTS if v.startswith(("bahdanau", "luong"))]


def tiny_config(variant: str, **overrides) -> ModelConfig:
    return ModelConfig(**{**TINY, **VARIANTS[variant], **overrides})


def tiny_model(variant: str, seed: int = 0, dtype=torch.float64, **overrides):
    """A randomly initialised tiny model in eval mode (float64 unless asked otherwise).

    The initial weights are scaled up a little so that attention is far from uniform and
    the outputs of random models are not all the same word.
    """
    torch.manual_seed(seed)
    model = build_model(tiny_config(variant, **overrides), SRC_VOCAB, TGT_VOCAB).to(dtype)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() > 1:
                p.mul_(2.0)
    return model.eval()


def random_ids(lengths, vocab: int, seed: int) -> list[list[int]]:
    """Random token ids (never a special index 0..3) for sentences of the given lengths."""
    g = torch.Generator().manual_seed(seed)
    return [torch.randint(4, vocab, (n,), generator=g).tolist() for n in lengths]


def random_batch(src_lengths=(5, 3, 7, 1), tgt_lengths=(4, 6, 2, 3), seed: int = 0):
    return make_batch(random_ids(src_lengths, SRC_VOCAB, seed), random_ids(tgt_lengths, TGT_VOCAB, seed + 1))


def corpus_or_skip() -> str:
    """The real corpus file for tests that train on it: skipped with the reason when it cannot
    be located without downloading, and failed instead when the environment variable CI is set."""
    from attention_course.data import CorpusError, locate_corpus
    try:
        return str(locate_corpus(download=False))
    except CorpusError as exc:
        reason = f"the real corpus is not available (set ATTENTION_COURSE_DATA to its folder): {exc}"
        if os.environ.get("CI"):
            pytest.fail(reason + " (CI is set, so this test may not be skipped)", pytrace=False)
        pytest.skip(reason)


@pytest.fixture(autouse=True)
def one_thread():
    """One torch thread per test (restored afterwards): these tests run tiny tensors, for which
    extra threads only add contention on a busy machine. Import it into a test module to use it."""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


@contextmanager
def hang_guard(seconds: int, what: str):
    """Fail (instead of hanging the suite) when the block runs longer than ``seconds``.

    This is a guard against hangs and endless loops, not a speed requirement: keep
    ``seconds`` far above the expected time (benchmarks measure speed).
    """
    import signal

    def on_alarm(signum, frame):
        raise TimeoutError(f"{what} did not finish within {seconds} s (hang?)")

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


__all__ = ["SRC_VOCAB", "TGT_VOCAB", "TINY", "VARIANTS", "ATTENTION_VARIANTS", "Vocabulary", "tiny_config",
           "tiny_model", "random_ids", "random_batch", "corpus_or_skip", "hang_guard", "one_thread"]


@pytest.fixture
def no_decoding(monkeypatch):
    """The bahdanau translator with the searches replaced by a failure: validation must come first."""
    from attention_course import pretrained
    from attention_course import translator as translator_module

    def decoding(*args, **kwargs):
        raise AssertionError("decoding started before the arguments were checked")
    monkeypatch.setattr(translator_module, "greedy_search", decoding)
    monkeypatch.setattr(translator_module, "beam_search", decoding)
    return pretrained.load("bahdanau")
