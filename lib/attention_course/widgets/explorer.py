"""AttentionExplorer: the attention of two models for one sentence, side by side.

>>> from attention_course.widgets import AttentionExplorer
>>> AttentionExplorer("The little girl is reading a book in the garden.",
...                   models=("bahdanau", "luong-dot"))

Each panel is a heatmap with the English words across and the French words down. Hovering a
French word (a row) fades the other rows, so its weights over the source stand out; the
menus under the panels select a word and list where it looks. For a Transformer, a "heads" menu
switches its panel between the mean of the last layer's heads (the recorded alignment) and one
head (:func:`attention_course.transformer_heads.head_attention`). The heatmaps are HTML tables
with CSS hover, so :func:`explorer_html` also works in a static page.
"""
from __future__ import annotations

import ipywidgets as widgets

from ..transformer_heads import head_attention, head_count
from .data import heatmap_view
from .examples import EXAMPLES
from .render import render_error, render_heatmap
from .stepper import MEAN, fixed, friendly_error, head_options, plain_text, wrap

__all__ = ["AttentionExplorer", "explorer_html"]

NONE = -1


def explorer_html(t1, t2, titles=("first model", "second model"), selected=(None, None),
                  attention=(None, None)) -> str:
    """Two translations' attention as hoverable HTML heatmaps, side by side; ``attention`` may
    replace a translation's weights (one row per French word), e.g. by one Transformer head's."""
    panels = [render_heatmap(heatmap_view(t, title, a), sel)
              for t, title, sel, a in zip((t1, t2), titles, selected, attention)]
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
        self.translators = [None, None]
        self.heads: list[int | None] = [None, None]    # each panel's number of heads (a Transformer)
        self._head_weights: list = [None, None]        # each panel's per-head matrix, once computed
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
        # A Transformer panel's attention: the mean of the last layer's heads, or one head (a menu
        # kept in its place but hidden for another model; the row hidden without a Transformer).
        self.head_menus = [widgets.Dropdown(options=head_options(None), value=MEAN, description="heads",
                                            style=wide, layout=fixed("20em")) for _ in range(2)]
        self.view = widgets.HTML()
        self.text_box.observe(self._text_changed, names="value")
        for panel, menu in enumerate(self.model_menus):
            menu.observe(lambda change, panel=panel: self._model_changed(panel), names="value")
        for menu in self.word_menus + self.head_menus:
            menu.observe(self._selection_changed, names="value")
        row = lambda: widgets.Layout(flex_flow="row wrap", align_items="center")  # noqa: E731
        self.head_row = widgets.HBox(self.head_menus, layout=row())
        super().__init__(children=[self.text_box, widgets.HBox(self.model_menus, layout=row()),
                                   self.head_row, widgets.HBox(self.word_menus, layout=row()), self.view],
                         **kwargs)
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
            translator = self._load(self.model_menus[panel].value)
            t = translator.translate(self.text_box.value, beam_size=self._beam)
            self.translations[panel], self.translators[panel], self.errors[panel] = t, translator, None
        except Exception as exc:  # noqa: BLE001 - shown to the reader instead of a traceback
            self.translations[panel], self.translators[panel], self.errors[panel] = None, None, friendly_error(exc)
        t = self.translations[panel]
        words = [] if t is None or t.attention is None else t.target_tokens
        menu, heads_menu = self.word_menus[panel], self.head_menus[panel]
        heads = None if t is None else head_count(self.translators[panel])
        head = heads_menu.value if heads and heads_menu.value < heads else MEAN
        self.heads[panel], self._head_weights[panel] = heads, None
        self._quiet = True          # one redraw by the caller, not one per menu change
        try:
            menu.value = NONE
            menu.options = [("(none)", NONE)] + [(f"{i + 1}. {w}", i) for i, w in enumerate(words)]
            menu.value = keep if keep is not None and 0 <= keep < len(words) else NONE
            if list(heads_menu.options) != head_options(heads):
                heads_menu.value = MEAN
                heads_menu.options = head_options(heads)
            heads_menu.value = head
        finally:
            self._quiet = False
        heads_menu.layout.visibility = "visible" if heads else "hidden"
        self.head_row.layout.display = None if any(self.heads) else "none"

    def select(self, panel: int, index: int | None) -> None:
        """Select French word ``index`` (0-based; None for none) in panel 0 or 1."""
        self.word_menus[panel].value = NONE if index is None else index

    @property
    def selected(self) -> list[int | None]:
        return [None if m.value == NONE else m.value for m in self.word_menus]

    def show_head(self, panel: int, head: int | None) -> None:
        """Show one head's weights (0-based) in panel 0 or 1 (a Transformer), or with None their mean."""
        heads = self.heads[panel]
        if head is not None and (heads is None or not 0 <= head < heads):
            raise ValueError(f"head must be None (the mean) or from 0 to {(heads or 0) - 1}; "
                             f"{self.model_menus[panel].value} has {heads or 'no'} heads")
        self.head_menus[panel].value = MEAN if head is None else head

    @property
    def shown_heads(self) -> list[int | None]:
        """Each panel's head (0-based), or None for the mean (or a model without heads)."""
        return [None if h is None or m.value == MEAN else int(m.value) for h, m in zip(self.heads, self.head_menus)]

    @property
    def attention(self) -> list:
        """The matrix each panel shows (French words x English words; None without attention):
        the translation's, or the chosen head's."""
        out = []
        for panel, (t, head) in enumerate(zip(self.translations, self.shown_heads)):
            if head is None:
                out.append(None if t is None else t.attention)
                continue
            if self._head_weights[panel] is None:     # last layer: heads x (words + </s>) x source
                self._head_weights[panel] = head_attention(self.translators[panel], t.source_tokens,
                                                           t.raw_tokens)[-1]
            out.append(self._head_weights[panel][head, : len(t.target_tokens)])
        return out

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
        titles = [m.value if h is None else f"{m.value} · head {h + 1} of {n}"
                  for m, h, n in zip(self.model_menus, self.shown_heads, self.heads)]
        self.view.value = explorer_html(*self.translations, titles=titles, selected=self.selected,
                                        attention=self.attention)

    def __repr__(self) -> str:
        if not hasattr(self, "view"):      # still being built
            return "AttentionExplorer()"
        return plain_text("AttentionExplorer", self.text_box.value,
                          " vs ".join(m.value for m in self.model_menus))

    @property
    def html(self) -> str:
        return self.view.value
