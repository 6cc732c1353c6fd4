"""Interactive widgets for the course: decoding step by step and attention side by side.

* :class:`DecodingStepper` — live (needs a kernel): type a sentence, choose a model and a
  search, and step through the decode. In the built book, where there is no kernel, the
  chapters show its in-page counterpart instead: :func:`attention_course.web.live_html`,
  the shipped models run in the reader's browser.
* :class:`AttentionExplorer` — live: two models' attention heatmaps for one sentence (in the
  book: :func:`attention_course.web.live_explorer_html`).

For a Transformer both have a "heads" menu: the mean of the last layer's heads (what the search
recorded, the default) or one head (:mod:`attention_course.transformer_heads`).

Core ipywidgets only (ipywidgets 8 and 7.7.1, Colab's version). Static figures are in
:mod:`attention_course.plots`.
"""
from .data import decode_view, heatmap_view, step_state
from .examples import EXAMPLES
from .explorer import AttentionExplorer, explorer_html
from .render import CSS, render_step
from .stepper import DecodingStepper

__all__ = ["DecodingStepper", "AttentionExplorer", "explorer_html", "decode_view", "heatmap_view",
           "step_state", "render_step", "CSS", "EXAMPLES"]
