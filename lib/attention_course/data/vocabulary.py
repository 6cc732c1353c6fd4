"""Word-level vocabulary with a frequency threshold, saved as JSON next to each model."""
from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

PAD, UNK, BOS, EOS = "<pad>", "<unk>", "<s>", "</s>"
SPECIALS = (PAD, UNK, BOS, EOS)


class Vocabulary:
    """Maps tokens to indices. Indices 0..3 are always ``<pad> <unk> <s> </s>``."""

    pad_index, unk_index, bos_index, eos_index = range(4)

    def __init__(self, tokens: Sequence[str]):
        if tuple(tokens[:4]) != SPECIALS:
            raise ValueError(f"a vocabulary must start with {SPECIALS}, got {tuple(tokens[:4])}")
        if len(set(tokens)) != len(tokens):
            raise ValueError("a vocabulary must not list a token twice")
        self.itos: list[str] = list(tokens)
        self.stoi: dict[str, int] = {t: i for i, t in enumerate(self.itos)}

    @classmethod
    def build(cls, sentences: Iterable[Sequence[str]], min_freq: int = 3) -> "Vocabulary":
        """Keep every token seen at least ``min_freq`` times, most frequent first (ties: alphabetical)."""
        counts = Counter(tok for sent in sentences for tok in sent)
        kept = sorted((t for t, c in counts.items() if c >= min_freq and t not in SPECIALS),
                      key=lambda t: (-counts[t], t))
        return cls(list(SPECIALS) + kept)

    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, token: str) -> bool:
        return token in self.stoi

    def encode(self, tokens: Sequence[str], eos: bool = False) -> list[int]:
        ids = [self.stoi.get(t, self.unk_index) for t in tokens]
        return ids + [self.eos_index] if eos else ids

    def decode(self, ids: Iterable[int]) -> list[str]:
        """Tokens for ``ids``, stopping at the first ``</s>`` and skipping ``<pad>``/``<s>``."""
        out = []
        for i in ids:
            i = int(i)
            if i == self.eos_index:
                break
            if i not in (self.pad_index, self.bos_index):
                out.append(self.itos[i])
        return out

    def to_json(self) -> str:
        return json.dumps({"tokens": self.itos}, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> "Vocabulary":
        return cls(json.loads(text)["tokens"])

    def save(self, path: str | Path) -> None:
        Path(path).write_text(self.to_json(), encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> "Vocabulary":
        return cls.from_json(Path(path).read_text(encoding="utf-8"))
