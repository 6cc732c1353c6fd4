"""AttentionExplorer: the attention of two models for one sentence, side by side.

>>> from attention_course.widgets import AttentionExplorer
>>> AttentionExplorer("The little girl is reading a book in the garden.",
...                   models=("bahdanau", "luong-dot"))

Each panel is a heatmap with the English words across and the French words down. Hovering a
French word (a row) fades the other rows, so its weights over the source stand out; the
menus under the panels select a word and list where it looks. The heatmaps are HTML tables
with CSS hover, so :func:`explorer_html` also works in a static page.
"""
from __future__ import annotations

import ipywidgets as widgets

from .data import heatmap_view
from .examples import EXAMPLES
from .render import render_error, render_heatmap
from .stepper import friendly_error, wrap

__all__ = ["AttentionExplorer", "explorer_html"]

NONE = -1


def explorer_html(t1, t2, titles=("first model", "second model"), selected=(None, None)) -> str:
    """Two translations' attention as hoverable HTML heatmaps, side by side."""
    panels = [render_heatmap(heatmap_view(t, title), sel) for t, title, sel in zip((t1, t2), titles, selected)]
    return wrap(f'<div class="ac-panels ac-explorer-view">{"".join(panels)}</div>')


class AttentionExplorer(widgets.VBox):
    """A sentence box, two model menus, two heatmaps and a French-word menu under each."""

    def __init__(self, text: str = EXAMPLES[1], models=("bahdanau", "luong-dot"), beam_size: int = 1,
                 choices=None, loader=None, **kwargs):
        if loader is None:
            from .. import pretrained
            loader = pretrained.load
            choices = list(choices or pretrained.available())
        choices = list(choices or models)
        if len(models) != 2 or any(m not in choices for m in models):
            raise ValueError(f"models must be two of: {', '.join(choices)}")
        self._load, self._beam = loader, beam_size
        self.translations = [None, None]
        self.error: str | None = None
        wide = {"description_width": "6em"}
        self.text_box = widgets.Text(value=text, description="English", continuous_update=False,
                                     layout=widgets.Layout(width="100%"), style=wide)
        self.model_menus = [widgets.Dropdown(options=choices, value=m, description=d, style=wide)
                            for m, d in zip(models, ("left", "right"))]
        self.word_menus = [widgets.Dropdown(options=[("(none)", NONE)], value=NONE, description="French word",
                                            style=wide) for _ in range(2)]
        self.view = widgets.HTML()
        self.text_box.observe(self._inputs_changed, names="value")
        for menu in self.model_menus:
            menu.observe(self._inputs_changed, names="value")
        for menu in self.word_menus:
            menu.observe(self._selection_changed, names="value")
        super().__init__(children=[self.text_box, widgets.HBox(self.model_menus),
                                   widgets.HBox(self.word_menus), self.view], **kwargs)
        self.run()

    def run(self) -> None:
        """Translate with both models and redraw."""
        try:
            self.translations = [self._load(m.value).translate(self.text_box.value, beam_size=self._beam)
                                 for m in self.model_menus]
            self.error = None
        except Exception as exc:  # noqa: BLE001 - shown to the reader instead of a traceback
            self.translations, self.error = [None, None], friendly_error(exc)
        for menu, t in zip(self.word_menus, self.translations):
            words = [] if t is None or t.attention is None else t.target_tokens
            menu.value = NONE
            menu.options = [("(none)", NONE)] + [(f"{i + 1}. {w}", i) for i, w in enumerate(words)]
        self._draw()

    def select(self, panel: int, index: int | None) -> None:
        """Select French word ``index`` (0-based; None for none) in panel 0 or 1."""
        self.word_menus[panel].value = NONE if index is None else index

    @property
    def selected(self) -> list[int | None]:
        return [None if m.value == NONE else m.value for m in self.word_menus]

    def _inputs_changed(self, change) -> None:
        self.run()

    def _selection_changed(self, change) -> None:
        self._draw()

    def _draw(self) -> None:
        if self.error is not None:
            self.view.value = wrap(render_error(self.error))
            return
        self.view.value = explorer_html(*self.translations, titles=[m.value for m in self.model_menus],
                                        selected=self.selected)

    @property
    def html(self) -> str:
        return self.view.value
