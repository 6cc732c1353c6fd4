"""Checks for chapter 2's source-reversal exercise: each sentence's real words backwards, the
padding left at the end.

The reader writes ``reverse_words(src, lengths)`` for a padded batch of token ids
(``batch x len``; row b holds ``lengths[b]`` real words, then the padding index 0). The check
runs it on batches it makes itself (ragged rows, one-word sentences, rows without padding,
extra padding columns, a batch of one) and compares with
:func:`~attention_course.models.source_reversal.reverse_padded`, the function that
``Seq2Seq.encode`` applies; the usual slips (the padding reversed too, the batch axis reversed,
every row cut at the longest length, the input changed in place) each get their own hint.
"""
from __future__ import annotations

import random

import torch

from ..data.vocabulary import Vocabulary
from ..models.source_reversal import reverse_padded
from . import exercise
from .answers import as_function

KEY = "2.6"
PAD = Vocabulary.pad_index
FIRST_WORD = 4          # ids 0-3 are <pad>, <unk>, <s>, </s>; real words here start after them


def batch_of(rows: list[list[int]], extra_columns: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """``rows`` (word ids) padded with ``PAD`` to the longest row plus ``extra_columns``, and
    their lengths."""
    width = max(len(r) for r in rows) + extra_columns
    src = torch.full((len(rows), width), PAD, dtype=torch.long)
    for b, r in enumerate(rows):
        src[b, :len(r)] = torch.tensor(r, dtype=torch.long)
    return src, torch.tensor([len(r) for r in rows], dtype=torch.long)


def example_batch() -> tuple[torch.Tensor, torch.Tensor]:
    """The small batch the chapter prints: three sentences of 4, 6 and 2 words."""
    return batch_of([[11, 12, 13, 14], [21, 22, 23, 24, 25, 26], [31, 32]])


def batches(seed: int = 2014) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Hand-made cases first (each slip the check names fails on the first of them, where
    reversing whole rows and reversing up to the longest sentence differ), then random
    batches: 1 to 6 sentences of 1 to 9 words, with up to 3 extra padding columns."""
    fixed = [
        batch_of([[11, 12, 13], [21, 22]], extra_columns=2),            # padding even after the longest
        example_batch(),
        batch_of([[11, 12, 13, 14, 15]]),                               # a batch of one, no padding
        batch_of([[11, 12, 13], [21, 22, 23]]),                         # equal lengths, no padding
        batch_of([[11], [21, 22, 23], [31]]),                           # one-word sentences
    ]
    rng = random.Random(seed)
    for _ in range(30):
        rows = [[rng.randrange(FIRST_WORD, 100) for _ in range(rng.randint(1, 9))]
                for _ in range(rng.randint(1, 6))]
        fixed.append(batch_of(rows, extra_columns=rng.choice((0, 0, 1, 3))))
    return fixed


def _up_to_longest(src: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Every row reversed over the longest sentence's length, whatever its own."""
    n = int(lengths.max())
    return torch.cat([src[:, :n].flip(1), src[:, n:]], 1)


SLIPS = (
    (lambda s, n: s.flip(1), "You reversed whole rows, padding included, so the padding comes first "
     "and the words start late. Reverse only the first lengths[b] entries of row b; the padding "
     "stays where it is, at the end."),
    (lambda s, n: s.flip(0), "You reversed the order of the sentences in the batch (dimension 0). "
     "Reverse the words inside each sentence (dimension 1), not the batch."),
    (lambda s, n: reverse_padded(s, n).flip(0), "The words are reversed, but the sentences changed "
     "places too: keep row b where it is (dimension 0 untouched)."),
    (lambda s, n: s.flip(0).flip(1), "You reversed both dimensions. Only the words inside each "
     "sentence change order, and only the real ones."),
    (_up_to_longest, "Every row was reversed over the longest sentence's length. Each row has its "
     "own length, lengths[b]: reverse its first lengths[b] entries."),
    (lambda s, n: s, "Nothing changed: return the batch with each sentence's words reversed."),
)


def _as_ids(got, shape: tuple[int, ...]) -> torch.Tensor:
    if got is None:
        raise AssertionError("Your function returned None: return the reversed batch.")
    try:
        got = torch.as_tensor(got)
    except (TypeError, ValueError, RuntimeError):
        raise AssertionError(f"Return a tensor of token ids (batch x len), got {type(got).__name__}.") from None
    if tuple(got.shape) != shape:
        raise AssertionError(f"The result has shape {tuple(got.shape)}; keep the batch's shape {shape} "
                             "(same sentences, same width: the padding stays, at the end of each row).")
    if got.is_floating_point() or got.is_complex():
        raise AssertionError(f"Return whole token ids (a long tensor like src), got dtype {got.dtype}.")
    return got.long()


@exercise(KEY)
def check_reverse(answer) -> str:
    as_function(answer, "reverse_words")
    for src, lengths in batches():
        given, given_lengths = src.clone(), lengths.clone()
        try:
            got = answer(given, given_lengths)
        except Exception as exc:   # the reader's code failed: say on which batch
            raise AssertionError(f"reverse_words raised {type(exc).__name__}: {exc} on the batch\n"
                                 f"{src.tolist()} with lengths {lengths.tolist()}") from None
        if not (torch.equal(given, src) and torch.equal(given_lengths, lengths)):
            raise AssertionError("Your function changed the batch it was given. Return a new tensor "
                                 "(src.clone() first): the caller still needs src as it was.")
        got = _as_ids(got, tuple(src.shape))
        expected = reverse_padded(src, lengths)
        if torch.equal(got, expected):
            continue
        for slip, hint in SLIPS:
            if torch.equal(got, slip(src, lengths)):
                raise AssertionError(f"{hint}\nOn {src.tolist()} with lengths {lengths.tolist()}.")
        b = next(b for b in range(len(src)) if not torch.equal(got[b], expected[b]))
        raise AssertionError(f"Row {b} of {src.tolist()} (lengths {lengths.tolist()}) should become "
                             f"{expected[b].tolist()}, not {got[b].tolist()}.")
    return ("Seq2Seq.encode does this with reverse_padded before the encoder reads the batch, "
            "and once more on the annotations, to put them back in the order of the words as "
            "written.")
