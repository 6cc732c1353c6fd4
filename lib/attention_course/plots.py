"""Static attention heatmaps (matplotlib) for the chapters.

>>> from attention_course import pretrained, plots
>>> t = pretrained.load("bahdanau").translate("I like red cars.")
>>> plots.plot_attention(t)                       # source words across, French words down
>>> plots.plot_attention_pair(t, pretrained.load("luong-dot").translate("I like red cars."),
...                           titles=("Bahdanau", "Luong dot"))

Each row is one decoding step: the weights the model put on the source words when it chose
that French word (rows sum to 1). Interactive versions live in ``attention_course.widgets``.
"""
from __future__ import annotations

import numpy as np

__all__ = ["plot_attention", "plot_attention_pair", "attention_matrix"]

CMAP = "Greys"


def attention_matrix(translation) -> np.ndarray | None:
    """The ``len(target) x len(source)`` weights of a Translation, checked; None without attention."""
    attn = getattr(translation, "attention", None)
    if attn is None:
        return None
    attn = np.asarray(attn, dtype=float)
    rows, cols = len(translation.target_tokens), len(translation.source_tokens)
    if attn.ndim != 2 or attn.shape[1] != cols or attn.shape[0] < rows:
        raise ValueError(f"the attention matrix has shape {attn.shape}, but the translation has "
                         f"{rows} French and {cols} English words")
    return attn[:rows]


# The book's text column is 688 px wide; at the chapters' 80 dpi that is 8.6 inches. A figure
# wider than about 1.3 times that is shrunk below 75 % and its labels below 9 px.
COLUMN_INCHES = 8.6


def _figure_size(n_src: int, n_tgt: int) -> tuple[float, float]:
    return (max(3.0, 0.45 * n_src + 1.6), max(2.2, 0.38 * n_tgt + 1.4))


def plot_attention(translation, ax=None, title: str | None = None, annotate: bool | None = None,
                   colorbar: bool = False):
    """Draw the attention of one :class:`~attention_course.translator.Translation`.

    English (source) words label the columns, French (target) words the rows. ``annotate``
    writes each weight in its cell (default: when the matrix is small enough to read).
    A model without attention gets an empty frame that says so. Returns the Axes.
    """
    import matplotlib.pyplot as plt

    src, tgt = list(translation.source_tokens), list(translation.target_tokens)
    attn = attention_matrix(translation)
    if ax is None:
        _, ax = plt.subplots(figsize=_figure_size(len(src), len(tgt)), layout="constrained")
    if title is not None:
        ax.set_title(title)
    if attn is None:
        ax.text(0.5, 0.5, "this model has no attention", ha="center", va="center",
                transform=ax.transAxes, color="0.4")
        ax.set_xticks([])
        ax.set_yticks([])
        return ax
    image = ax.imshow(attn, cmap=CMAP, vmin=0.0, vmax=1.0, aspect="auto", interpolation="nearest")
    ax.set_xticks(range(len(src)), src, rotation=60, ha="left", rotation_mode="anchor")
    ax.set_yticks(range(len(tgt)), tgt)
    ax.tick_params(axis="x", labelbottom=False, labeltop=True, bottom=False, top=True)
    ax.set_xlabel("English (source)")
    ax.set_ylabel("French (output)")
    ax.set_xticks(np.arange(-0.5, len(src), 1), minor=True)
    ax.set_yticks(np.arange(-0.5, len(tgt), 1), minor=True)
    ax.grid(which="minor", color="0.9", linewidth=0.5)
    ax.tick_params(which="minor", length=0)
    if annotate is None:
        annotate = len(src) <= 14 and len(tgt) <= 16
    if annotate:
        for i in range(attn.shape[0]):
            for j in range(attn.shape[1]):
                w = attn[i, j]
                if w >= 0.005:
                    ax.text(j, i, f"{w:.2f}"[1:] if w < 1 else "1", ha="center", va="center",
                            fontsize=8, color="white" if w > 0.55 else "0.25")
    if colorbar:
        ax.figure.colorbar(image, ax=ax, shrink=0.8, label="attention weight")
    return ax


def plot_attention_pair(t1, t2, titles=("first model", "second model"), annotate: bool | None = None):
    """Two translations' attention side by side (e.g. Bahdanau against Luong dot).

    Returns the Figure; the two Axes are ``fig.axes[0]`` and ``fig.axes[1]``.
    """
    import matplotlib.pyplot as plt

    if titles is None:
        titles = (None, None)
    if isinstance(titles, str) or len(titles) != 2:
        raise ValueError("titles must be a pair of strings, e.g. ('Bahdanau', 'Luong dot')")
    w1, h1 = _figure_size(len(t1.source_tokens), len(t1.target_tokens))
    w2, h2 = _figure_size(len(t2.source_tokens), len(t2.target_tokens))
    if w1 + w2 <= COLUMN_INCHES:
        fig, axes = plt.subplots(1, 2, figsize=(w1 + w2, max(h1, h2)), layout="constrained",
                                 width_ratios=[w1, w2])
    else:   # side by side they would be shrunk below legibility in the book's column: stack them
        fig, axes = plt.subplots(2, 1, figsize=(max(w1, w2), h1 + h2), layout="constrained",
                                 height_ratios=[h1, h2])
    plot_attention(t1, ax=axes[0], title=titles[0], annotate=annotate)
    plot_attention(t2, ax=axes[1], title=titles[1], annotate=annotate)
    return fig
