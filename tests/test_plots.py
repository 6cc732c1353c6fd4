"""attention_course.plots: static attention heatmaps with words on both axes."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from attention_course import plots  # noqa: E402
from attention_course.translator import Translation  # noqa: E402


def translation(src, tgt, attention="diag"):
    if isinstance(attention, str):
        attention = np.full((len(tgt), len(src)), 0.1 / max(len(src) - 1, 1))
        for i in range(len(tgt)):
            attention[i, min(i, len(src) - 1)] = 0.9
    return Translation(" ".join(tgt), list(src), list(tgt), attention)


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def test_words_on_both_axes_and_weights_in_cells():
    t = translation(["I", "like", "red", "cars", "."], ["J'", "aime", "les", "voitures", "rouges", "."])
    ax = plots.plot_attention(t, title="bahdanau")
    assert [x.get_text() for x in ax.get_xticklabels()] == t.source_tokens
    assert [y.get_text() for y in ax.get_yticklabels()] == t.target_tokens
    assert ax.get_title() == "bahdanau"
    image = ax.get_images()[0]
    np.testing.assert_allclose(image.get_array(), t.attention)
    assert image.get_clim() == (0.0, 1.0)
    assert ".90" in {txt.get_text() for txt in ax.texts}


def test_no_attention_and_bad_shapes():
    t = translation(["I", "run", "."], ["Je", "cours", "."], attention=None)
    ax = plots.plot_attention(t)
    assert not ax.get_images() and "no attention" in ax.texts[0].get_text()
    bad = translation(["I", "run", "."], ["Je", "cours", "."], attention=np.ones((3, 2)))
    with pytest.raises(ValueError, match="shape"):
        plots.plot_attention(bad)


def test_pair_side_by_side_on_given_axes():
    a = translation(["I", "run", "."], ["Je", "cours", "."])
    b = translation(["We", "will", "swim", "."], ["Nous", "allons", "nager", "."])
    fig = plots.plot_attention_pair(a, b, titles=("bahdanau", "luong-dot"))
    assert [ax.get_title() for ax in fig.axes] == ["bahdanau", "luong-dot"]
    assert [x.get_text() for x in fig.axes[1].get_xticklabels()] == b.source_tokens
    with pytest.raises(ValueError, match="pair"):
        plots.plot_attention_pair(a, b, titles="one title")
    fig, ax = plt.subplots()
    assert plots.plot_attention(a, ax=ax) is ax
