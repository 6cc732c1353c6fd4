"""Interactive widgets for the course: decoding step by step and attention side by side.

* :class:`DecodingStepper` — live (needs a kernel): type a sentence, choose a model and a
  search, and step through the decode. In the built book it shows its stored state but cannot
  step: use :func:`static_stepper` there.
* :class:`AttentionExplorer` — live: two models' attention heatmaps for one sentence.
* :func:`static_stepper` — the stepper for precomputed example sentences, driven by data
  embedded in the page: it works in the built book, where there is no kernel.

Core ipywidgets only (ipywidgets 8 and 7.7.1, Colab's version). Static figures are in
:mod:`attention_course.plots`.
"""
from .data import decode_view, heatmap_view, step_state
from .examples import EXAMPLES
from .explorer import AttentionExplorer, explorer_html
from .render import CSS, render_step
from .static import static_data, static_stepper, static_stepper_html
from .stepper import DecodingStepper

__all__ = ["DecodingStepper", "AttentionExplorer", "static_stepper", "static_stepper_html", "static_data",
           "explorer_html", "decode_view", "heatmap_view", "step_state", "render_step", "CSS", "EXAMPLES"]
