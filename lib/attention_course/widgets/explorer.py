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
from .stepper import fixed, friendly_error, plain_text, wrap

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
        self.errors: list[str | None] = [None, None]
        # Descriptions wide enough for "French word" (never cut); widths fixed so the two
        # panels' menus line up and fit a 700 px column.
        wide = {"description_width": "8em"}
        self.text_box = widgets.Text(value=text, description="English", continuous_update=False,
                                     layout=widgets.Layout(width="100%"), style=wide)
        self.model_menus = [widgets.Dropdown(options=choices, value=m, description=d, style=wide,
                                             layout=fixed("20em"))
                            for m, d in zip(models, ("left model", "right model"))]
        self.word_menus = [widgets.Dropdown(options=[("(none)", NONE)], value=NONE, description="French word",
                                            style=wide, layout=fixed("20em")) for _ in range(2)]
        self.view = widgets.HTML()
        self.text_box.observe(self._text_changed, names="value")
        for panel, menu in enumerate(self.model_menus):
            menu.observe(lambda change, panel=panel: self._model_changed(panel), names="value")
        for menu in self.word_menus:
            menu.observe(self._selection_changed, names="value")
        row = widgets.Layout(flex_flow="row wrap", align_items="center")
        super().__init__(children=[self.text_box, widgets.HBox(self.model_menus, layout=row),
                                   widgets.HBox(self.word_menus, layout=row), self.view], **kwargs)
        self.run()

    @property
    def error(self) -> str | None:
        """The message shown instead of the heatmaps (the first panel's, if both failed)."""
        return next((e for e in self.errors if e is not None), None)

    def run(self) -> None:
        """Translate with both models and redraw (a new sentence: no word selected)."""
        for panel in (0, 1):
            self._translate(panel, keep=None)
        self._draw()

    def _translate(self, panel: int, keep: int | None) -> None:
        """Translate the sentence with panel ``panel``'s model; select ``keep`` again if it exists."""
        try:
            t = self._load(self.model_menus[panel].value).translate(self.text_box.value, beam_size=self._beam)
            self.translations[panel], self.errors[panel] = t, None
        except Exception as exc:  # noqa: BLE001 - shown to the reader instead of a traceback
            self.translations[panel], self.errors[panel] = None, friendly_error(exc)
        t = self.translations[panel]
        words = [] if t is None or t.attention is None else t.target_tokens
        menu = self.word_menus[panel]
        self._quiet = True          # one redraw by the caller, not one per menu change
        try:
            menu.value = NONE
            menu.options = [("(none)", NONE)] + [(f"{i + 1}. {w}", i) for i, w in enumerate(words)]
            menu.value = keep if keep is not None and 0 <= keep < len(words) else NONE
        finally:
            self._quiet = False

    def select(self, panel: int, index: int | None) -> None:
        """Select French word ``index`` (0-based; None for none) in panel 0 or 1."""
        self.word_menus[panel].value = NONE if index is None else index

    @property
    def selected(self) -> list[int | None]:
        return [None if m.value == NONE else m.value for m in self.word_menus]

    def _text_changed(self, change) -> None:
        self.run()

    def _model_changed(self, panel: int) -> None:
        """Another model in one panel: only that panel is translated again, and each panel keeps
        its selected word (by position) where it still exists."""
        self._translate(panel, keep=self.selected[panel])
        self._draw()

    def _selection_changed(self, change) -> None:
        if not getattr(self, "_quiet", False):
            self._draw()

    def _draw(self) -> None:
        if self.error is not None:
            self.view.value = wrap(render_error(self.error))
            return
        self.view.value = explorer_html(*self.translations, titles=[m.value for m in self.model_menus],
                                        selected=self.selected)

    def __repr__(self) -> str:
        if not hasattr(self, "view"):      # still being built
            return "AttentionExplorer()"
        return plain_text("AttentionExplorer", self.text_box.value,
                          " vs ".join(m.value for m in self.model_menus))

    @property
    def html(self) -> str:
        return self.view.value
