"""DecodingStepper: watch a model translate, one decoding step at a time (needs a kernel).

>>> from attention_course.widgets import DecodingStepper
>>> DecodingStepper("I like red cars.", model="bahdanau", beam_size=3)

Type a sentence, pick a model and a search, then step with the buttons, the slider or play.
The sentence is decoded once (``Translator.translate`` records every step); stepping only
redraws the record. For a Transformer, the "heads" menu switches the weights over the source
between what the search recorded (the mean of the last layer's heads) and one of those heads
(recomputed by :func:`attention_course.transformer_heads.step_heads`, once per step shown).
Core ipywidgets only, so it runs with ipywidgets 8 and with 7.7.1 (Colab).
Without a kernel (a notebook opened before it runs) the cell shows the widget's text form: a
line saying to run it, and what it decodes.
"""
from __future__ import annotations

from collections import OrderedDict

import ipywidgets as widgets

from ..checkpoint import CheckpointError
from ..transformer_heads import head_count, step_heads
from .data import decode_view, search_label, step_state, with_weights
from .examples import EXAMPLES
from .render import render_error, render_step, style_tag

__all__ = ["DecodingStepper"]

GREEDY, BEAM = "greedy", "beam search"
MEAN = -1          # the heads menu's value for the mean of the heads (what the search recorded)
CACHE_SIZE = 32
PLAY_LABEL, STOP_LABEL = "▶ play", "❚❚ stop"
# ipywidgets 8's Play starts playing in the browser when the kernel sets ``playing``; 7.7.1's
# (Colab) has ``_playing`` and starts only from its own buttons: there the kernel keeps time.
KERNEL_TIMER = widgets.Play.class_traits().get("playing") is None
REPR_CHARS = 110   # ipywidgets cuts a widget's text/plain form after this many characters


def call_later(delay: float, fn):
    """Run ``fn`` after ``delay`` seconds on the kernel's event loop; returns a function that
    cancels it (None, and nothing runs, outside a running loop, e.g. in a script)."""
    import asyncio

    try:
        handle = asyncio.get_running_loop().call_later(delay, fn)
        return handle.cancel
    except RuntimeError:
        pass
    try:
        from tornado.ioloop import IOLoop
        loop = IOLoop.current(instance=False)
    except Exception:  # noqa: BLE001 - no tornado: no kernel loop either
        loop = None
    if loop is None:
        return None
    timeout = loop.call_later(delay, fn)
    return lambda: loop.remove_timeout(timeout)


def fixed(width: str) -> widgets.Layout:
    """A layout that keeps ``width`` in a row: it neither grows nor shrinks (no cut labels)."""
    return widgets.Layout(width=width, flex="0 0 auto")


def plain_text(kind: str, text: str, what: str) -> str:
    """A widget's text form, what a page without widget state shows instead of the widget:
    a line saying to run the cell, then the sentence and the models (at most 110 characters,
    ipywidgets' limit, and 78 per line)."""
    first = f"{kind}: run the cell to use it."
    room = min(REPR_CHARS - len(first) - 1, 78) - len(what) - len(" · ") - 2
    text = " ".join(str(text).split())
    if len(text) > room:
        text = text[: max(room - 1, 0)] + "…"
    return f"{first}\n“{text}” · {what}"


def wrap(body: str) -> str:
    """HTML for an ``ipywidgets.HTML`` value: the stylesheet and the body in ``.ac-widget``."""
    return f'{style_tag()}<div class="ac-widget">{body}</div>'


def head_options(heads: int | None) -> list[tuple[str, int]]:
    """The heads menu of a Transformer with ``heads`` heads in its last layer: the mean, then each head."""
    return [(f"mean of {heads}" if heads else "mean", MEAN)] + [(f"head {h + 1}", h) for h in range(heads or 0)]


def head_label(head: int | None, heads: int) -> str:
    """Which of a Transformer's weights over the source a step shows: the heads' mean (what the
    search recorded) or one head (0-based ``head``); the words of the book's stepper (``web/stepper.js``)."""
    return f"mean of the {heads} heads (last layer)" if head is None else f"head {head + 1} of {heads} (last layer)"


def friendly_error(exc: Exception) -> str:
    if isinstance(exc, (ValueError, CheckpointError)):
        return str(exc)
    return f"Something went wrong ({type(exc).__name__}): {exc}"


class DecodingStepper(widgets.VBox):
    """A sentence box, model and search choices, step controls and the current step's view."""

    def __init__(self, text: str = EXAMPLES[0], model: str = "bahdanau", beam_size: int = 1,
                 top_k: int = 5, models=None, loader=None, interval_ms: int = 900, **kwargs):
        if loader is None:
            from .. import pretrained
            loader = pretrained.load
            models = list(models or pretrained.available())
        models = list(models or [model])
        if model not in models:
            raise ValueError(f"unknown model {model!r}; choose one of: {', '.join(models)}")
        self._load, self._top_k = loader, top_k
        self._cache: OrderedDict = OrderedDict()
        self._step_heads: dict = {}
        self.decode: dict | None = None      # the data of the current decode (see .data)
        self.translation = None              # its Translation
        self.translator = None               # the model that decoded it (loader's object)
        self.heads: int | None = None        # its number of heads (a Transformer; else None)
        self.error: str | None = None        # the message shown instead, if any

        wide = {"description_width": "6em"}
        self.text_box = widgets.Text(value=text, description="English", continuous_update=False,
                                     placeholder="Type an English sentence and press Enter",
                                     layout=widgets.Layout(width="100%"), style=wide)
        # Fixed widths that never shrink: each row fits a 720 px column (a notebook at 1024 px
        # has about 880 px), so no label is cut and Translate stays on its row (measured in
        # Chromium by tests/test_widgets_layout.py).
        self.model_menu = widgets.Dropdown(options=models, value=model, description="Model",
                                           style={"description_width": "4em"}, layout=fixed("15em"))
        self.search_buttons = widgets.ToggleButtons(options=[GREEDY, BEAM],
                                                    value=GREEDY if beam_size == 1 else BEAM,
                                                    style={"button_width": "8.5em"}, layout=fixed("auto"))
        self.beam_slider = widgets.IntSlider(value=beam_size if beam_size > 1 else 3, min=2, max=10,
                                             description="beam size", disabled=beam_size == 1,
                                             continuous_update=False, style={"description_width": "6em"},
                                             layout=fixed("13em"))
        self.translate_button = widgets.Button(description="Translate", button_style="primary",
                                               tooltip="translate the sentence", layout=fixed("8em"))
        self.prev_button = widgets.Button(description="◀ previous", tooltip="previous step",
                                          layout=fixed("8.5em"))
        self.play_button = widgets.Button(description=PLAY_LABEL, tooltip="play the decode step by step",
                                          layout=fixed("8.5em"))
        self.next_button = widgets.Button(description="next ▶", tooltip="next step", layout=fixed("8.5em"))
        # The Play widget only keeps time (in the browser, so playing needs no kernel round trip):
        # it is hidden, and the labelled button above starts and stops it.
        self.play = widgets.Play(value=0, min=0, max=0, step=1, interval=interval_ms, description="play",
                                 show_repeat=False, layout=widgets.Layout(display="none"))
        self.slider = widgets.IntSlider(value=0, min=0, max=0, description="step", readout=False,
                                        style={"description_width": "3.5em"},
                                        layout=widgets.Layout(flex="1 1 auto", width="auto", min_width="10em"))
        widgets.jslink((self.play, "value"), (self.slider, "value"))
        # A Transformer's attention heads (last layer): the mean (what the search recorded) or one
        # head. Shown only for a Transformer.
        self.heads_menu = widgets.Dropdown(options=head_options(None), value=MEAN, description="heads",
                                           style={"description_width": "4em"}, layout=fixed("12em"))
        self.heads_menu.layout.display = "none"
        self.view = widgets.HTML()

        self.text_box.observe(self._inputs_changed, names="value")
        self.model_menu.observe(self._inputs_changed, names="value")
        self.search_buttons.observe(self._inputs_changed, names="value")
        self.beam_slider.observe(self._inputs_changed, names="value")
        self.translate_button.on_click(lambda _: self.run())
        self.prev_button.on_click(lambda _: self.previous())
        self.next_button.on_click(lambda _: self.next())
        self.play_button.on_click(lambda _: self.toggle_play())
        self._kernel_playing, self._cancel = False, None
        if not KERNEL_TIMER:
            self.play.observe(self._playing_changed, names=["playing"])
        self.slider.observe(self._step_changed, names="value")
        self.heads_menu.observe(self._head_changed, names="value")

        super().__init__(children=[
            self.text_box,
            widgets.HBox([self.model_menu, self.search_buttons, self.beam_slider, self.translate_button],
                         layout=widgets.Layout(flex_flow="row wrap", align_items="center")),
            widgets.HBox([self.prev_button, self.play_button, self.next_button, self.slider, self.heads_menu,
                          self.play],
                         layout=widgets.Layout(flex_flow="row wrap", align_items="center")),
            self.view,
        ], **kwargs)
        self.run()

    # ---- the decode (once per input) ------------------------------------------------------

    @property
    def beam_size(self) -> int:
        return 1 if self.search_buttons.value == GREEDY else int(self.beam_slider.value)

    def run(self) -> None:
        """Decode the current input (or take it from the cache) and show its first step."""
        self.beam_slider.disabled = self.search_buttons.value == GREEDY
        text, model, beam = self.text_box.value, self.model_menu.value, self.beam_size
        key = (text, model, beam)
        try:
            if key not in self._cache:
                translator = self._load(model)
                translation = translator.translate(text, beam_size=beam, top_k=self._top_k)
                # the translation, its view, its model and the per-head weights of the steps shown so far
                self._cache[key] = (translation, decode_view(translation, model, beam, text), translator, {})
                while len(self._cache) > CACHE_SIZE:
                    self._cache.popitem(last=False)
            self._cache.move_to_end(key)
            self.translation, self.decode, self.translator, self._step_heads = self._cache[key]
            self.error = None
        except Exception as exc:  # noqa: BLE001 - shown to the reader instead of a traceback
            self.translation, self.decode, self.translator, self.error = None, None, None, friendly_error(exc)
        self._set_heads(head_count(self.translator) if self.decode is not None else None)
        last = len(self.decode["steps"]) - 1 if self.decode else 0
        self.stop()
        self.play.value = 0
        self.slider.value = 0
        self.play.max = last
        self.slider.max = last
        self._draw()

    def _inputs_changed(self, change) -> None:
        self.run()

    # ---- a Transformer's heads (redraw only) ------------------------------------------------

    def _set_heads(self, heads: int | None) -> None:
        """Show the heads menu for a Transformer with ``heads`` heads (hide it otherwise); a
        chosen head stays chosen while the model has it."""
        keep = self.heads_menu.value if heads and self.heads_menu.value < heads else MEAN
        self.heads = heads
        self._quiet = True            # the caller redraws once
        try:
            if list(self.heads_menu.options) != head_options(heads):
                self.heads_menu.value = MEAN
                self.heads_menu.options = head_options(heads)
            self.heads_menu.value = keep
        finally:
            self._quiet = False
        self.heads_menu.layout.display = None if heads else "none"

    @property
    def head(self) -> int | None:
        """The head whose weights are shown (0-based), or None for the mean (what the search recorded)."""
        return None if self.heads is None or self.heads_menu.value == MEAN else int(self.heads_menu.value)

    def show_head(self, head: int | None) -> None:
        """Show one head's weights (0-based) or, with None, their mean (a Transformer only)."""
        if head is not None and (self.heads is None or not 0 <= head < self.heads):
            raise ValueError(f"head must be None (the mean) or from 0 to {(self.heads or 0) - 1}; "
                             f"{self.model_menu.value} has {self.heads or 'no'} heads")
        self.heads_menu.value = MEAN if head is None else head

    def _head_changed(self, change) -> None:
        if not getattr(self, "_quiet", False):
            self._draw()

    def _head_weights(self):
        """The current step's weights in each head of the last layer (heads x source words), for
        the best hypothesis of that step; computed once per step shown."""
        if self.step not in self._step_heads:
            best = self.translation.steps[self.step].hypotheses[0]
            self._step_heads[self.step] = step_heads(self.translator, self.translation.source_tokens, best.tokens)
        return self._step_heads[self.step]

    def _view(self) -> dict:
        """The current step's view, with the chosen head's weights for a Transformer."""
        view = self.decode["steps"][self.step]
        if self.heads is None:
            return view
        if self.head is None:
            return {**view, "weights": head_label(None, self.heads)}
        return with_weights(view, self._head_weights()[self.head], self.decode["source"],
                            head_label(self.head, self.heads))

    @property
    def weights(self) -> list[float] | None:
        """The weights over the source the current step shows (None without attention): the best
        hypothesis' recorded ones, or the chosen head's."""
        if self.decode is None:
            return None
        recorded = self.translation.steps[self.step].hypotheses[0].attention
        if recorded is None or self.head is None:
            return None if recorded is None else [float(a) for a in recorded]
        return [float(a) for a in self._head_weights()[self.head]]

    # ---- stepping (redraw only) -----------------------------------------------------------

    @property
    def step(self) -> int:
        return int(self.slider.value)

    @property
    def n_steps(self) -> int:
        return len(self.decode["steps"]) if self.decode else 0

    def go(self, n: int) -> None:
        """Show step ``n`` (clipped to the decode); stops playback, as the page's stepper does."""
        self.stop()
        n = max(0, min(int(n), max(self.n_steps - 1, 0)))
        if n != self.slider.value:
            self.slider.value = n     # redraws through _step_changed
        else:
            self._draw()

    def next(self) -> None:
        self.go(self.step + 1)

    def previous(self) -> None:
        self.go(self.step - 1)

    # ---- playing ------------------------------------------------------------------------------
    # ipywidgets 8: the hidden Play keeps time in the browser (its front end starts when the
    # kernel sets ``playing``). ipywidgets 7.7.1's front end only starts from its own buttons,
    # so there the kernel advances the slider itself, on its event loop (KERNEL_TIMER).

    @property
    def playing(self) -> bool:
        return self._kernel_playing if KERNEL_TIMER else bool(self.play.playing)

    def play_steps(self) -> None:
        """Start playback (from the first step if the last one is shown)."""
        if self.decode is None or self.n_steps < 2:
            return
        if self.step >= self.n_steps - 1:
            self.go(0)
        if KERNEL_TIMER:
            self._kernel_playing = True
            self._show_playing(True)
            self._schedule()
        else:
            self.play.playing = True

    def stop(self) -> None:
        """Stop playback where it is."""
        if KERNEL_TIMER:
            if self._cancel is not None:
                self._cancel()
                self._cancel = None
            if self._kernel_playing:
                self._kernel_playing = False
                self._show_playing(False)
        else:
            self.play.playing = False

    def toggle_play(self) -> None:
        if self.playing:
            self.stop()
        else:
            self.play_steps()

    def _schedule(self) -> None:
        self._cancel = call_later(self.play.interval / 1000, self._tick)

    def _tick(self) -> None:
        """One step of kernel-timed playback (ipywidgets 7)."""
        self._cancel = None
        if not self._kernel_playing:
            return
        if self.step < self.n_steps - 1:
            self.slider.value = self.step + 1     # not go(): that stops playback
        if self.step >= self.n_steps - 1:
            self.stop()
        else:
            self._schedule()

    def _playing_changed(self, change) -> None:
        self._show_playing(bool(change["new"]))

    def _show_playing(self, playing: bool) -> None:
        self.play_button.description = STOP_LABEL if playing else PLAY_LABEL
        self.play_button.tooltip = "stop playing" if playing else "play the decode step by step"

    def _step_changed(self, change) -> None:
        # Keep Play where the slider is: jslink copies Play's value onto the slider when a page
        # (re)draws the widgets, and Play counts on from its own value.
        if self.play.value != self.slider.value:
            self.play.value = self.slider.value
        self._draw()

    def _draw(self) -> None:
        if self.decode is None:
            self.view.value = wrap(render_error(self.error or ""))
        else:
            self.view.value = wrap(render_step(self.decode, self.step, self._view()))
        self.prev_button.disabled = self.decode is None or self.step == 0
        self.next_button.disabled = self.decode is None or self.step >= self.n_steps - 1
        self.play_button.disabled = self.decode is None or self.n_steps < 2

    def __repr__(self) -> str:
        if not hasattr(self, "view"):      # still being built
            return "DecodingStepper()"
        return plain_text("DecodingStepper", self.text_box.value,
                          f"{self.model_menu.value}, {search_label(self.beam_size)}")

    @property
    def html(self) -> str:
        """The HTML of what the view shows now."""
        return self.view.value

    @property
    def state(self) -> dict:
        """What the current step shows: the head (None: the mean or a model without heads),
        prefix, focus (source index), top-k words, beams."""
        if self.decode is None:
            return {"error": self.error}
        return {"step": self.step, "head": self.head, **step_state(self._view())}
