/* attention_course: the decoding stepper without a kernel (static book pages).
 *
 * static.py inlines this file in the page, in a script element inside the stepper's div: it reads
 * the precomputed decodes from the JSON script element (class ac-data) next to it
 * and draws each step with the same elements and CSS classes as render.py's render_step.
 * Every string from the data goes in with textContent: nothing here parses data as HTML.
 */
(function () {
  "use strict";

  function el(tag, cls, text, children) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    (children || []).forEach(function (c) { node.appendChild(c); });
    return node;
  }

  function shade(theme, x) {
    return "rgba(" + theme.rgb.join(", ") + ", " + Number(x).toFixed(3) + ")";
  }

  function table(cls, rows) {
    return el("table", cls, null, [el("tbody", null, null, rows)]);
  }

  function row(key, children) {
    return el("div", "ac-row", null, [el("div", "ac-key", key), el("div", "ac-val", null, children)]);
  }

  function hyp(theme, tokens) {
    return tokens.length ? tokens.join(" ") : theme.text.start;
  }

  function source(theme, words0, view) {
    var words = view.src.map(function (s, j) {
      var cls = "ac-word";
      if (view.focus !== null && j === view.focus) cls += " ac-focus";
      if (s.x > theme.dark) cls += " ac-dark";
      var w = el("span", cls, null, [el("span", "ac-tok", words0[j]), el("span", "ac-w", s.a)]);
      w.style.backgroundColor = shade(theme, s.x);
      return w;
    });
    var out = [el("div", "ac-src", null, words)];
    if (view.focus === null) out.push(el("div", "ac-note", theme.text.no_attention));
    return out;
  }

  function prefix(theme, view) {
    var parts = view.prefix.map(function (w) { return el("span", "ac-tok", w); });
    if (!parts.length && !view.next) parts = [el("span", "ac-empty", theme.text.empty)];
    if (view.next) parts.push(el("span", "ac-new", view.next));
    return el("div", "ac-prefix", null, parts);
  }

  function topk(view) {
    return table("ac-topk", view.topk.map(function (t) {
      var fill = el("span", "ac-fill", "");
      fill.style.width = Number(t.pct).toFixed(1) + "%";
      return el("tr", t.pick ? "ac-pick" : null, null, [
        el("td", "ac-tok", t.w), el("td", "ac-bar", null, [fill]), el("td", "ac-p", t.p)]);
    }));
  }

  function beams(theme, view) {
    var h = theme.text.beam_head;
    var head = el("tr", null, null, [el("th", null, h[0]), el("th", null, h[1]), el("th", "ac-score", h[2])]);
    return table("ac-beams", [head].concat(view.beams.map(function (b) {
      return el("tr", null, null, [el("td", null, String(b.i)), el("td", "ac-hyp", hyp(theme, b.tokens)),
                                   el("td", "ac-score", b.score)]);
    })));
  }

  function cands(theme, view) {
    var h = theme.text.cands_head;
    var head = el("tr", null, null, [el("th", null, h[0]), el("th", null, h[1]), el("th", "ac-score", h[2]),
                                     el("th", null, h[3])]);
    return table("ac-cands", [head].concat(view.cands.map(function (c) {
      var label = Object.prototype.hasOwnProperty.call(theme.status, c.status) ? theme.status[c.status] : c.status;
      return el("tr", "ac-" + c.status, null, [
        el("td", null, String(c.from)), el("td", "ac-hyp", hyp(theme, view.beams[c.from - 1].tokens.concat([c.new]))),
        el("td", "ac-score", c.score), el("td", "ac-status", label)]);
    })));
  }

  /* The same element tree as render.py's render_step(decode, n). */
  function renderStep(theme, decode, n) {
    var view = decode.steps[n], t = theme.text;
    var parts = [
      el("div", "ac-head", null, [el("span", "ac-steplabel", view.label),
                                  el("span", "ac-meta", decode.model + " \u00b7 " + decode.search)]),
      row(t.source, source(theme, decode.source, view)),
      row(t.prefix, [prefix(theme, view)]),
      row(t.topk, [topk(view)])
    ];
    if (view.beams.length) parts.push(row(t.beams, [beams(theme, view)]));
    if (view.cands.length) parts.push(row(t.cands, [cands(theme, view)]));
    if (view.done !== null) {
      parts.push(el("div", "ac-done", null, [el("span", "ac-key", t.done), el("span", "ac-out", view.done)]));
    }
    return el("div", "ac-step", null, parts);
  }

  function select(cls, label, options, value) {
    var s = el("select", cls);
    s.setAttribute("aria-label", label);
    options.forEach(function (text, i) {
      var o = el("option", null, text);
      o.value = String(i);
      s.appendChild(o);
    });
    s.value = String(value);
    return s;
  }

  function button(cls, text, title) {
    var b = el("button", cls, text);
    b.type = "button";
    b.title = title;
    return b;
  }

  function mount(root) {
    if (!root || root.getAttribute("data-ac-mounted")) return;
    var holder = root.querySelector("script.ac-data");
    var view = root.querySelector(".ac-view");
    if (!holder || !view) return;
    var data = JSON.parse(holder.textContent);
    var theme = data.theme;
    root.setAttribute("data-ac-mounted", "1");

    var state = {ex: 0, model: 0, search: 0, step: 0, timer: null};
    var exSel = select("ac-ex", "Sentence", data.examples, 0);
    var modelSel = select("ac-model", "Model", data.models, 0);
    var searchSel = select("ac-search", "Search", data.searches, 0);
    var prev = button("ac-prev", "\u25c0 previous", "previous step");
    var play = button("ac-play", "\u25b6 play", "play the decode step by step");
    var next = button("ac-next", "next \u25b6", "next step");
    var slider = el("input", "ac-slider");
    slider.type = "range";
    slider.min = "0";
    slider.step = "1";
    slider.setAttribute("aria-label", "Step");
    var pos = el("span", "ac-pos");

    function decode() { return data.decodes[state.ex][state.model][state.search]; }

    function draw() {
      var d = decode(), last = d.steps.length - 1;
      state.step = Math.max(0, Math.min(state.step, last));
      slider.max = String(last);
      slider.value = String(state.step);
      pos.textContent = (state.step + 1) + " / " + (last + 1);
      prev.disabled = state.step === 0;
      next.disabled = state.step === last;
      while (view.firstChild) view.removeChild(view.firstChild);
      view.appendChild(renderStep(theme, d, state.step));
      root.setAttribute("data-step", String(state.step));
    }

    function stop() {
      if (state.timer !== null) clearInterval(state.timer);
      state.timer = null;
      play.textContent = "\u25b6 play";
    }

    function go(n) { state.step = n; draw(); }

    function choose() {
      stop();
      state.ex = Number(exSel.value);
      state.model = Number(modelSel.value);
      state.search = Number(searchSel.value);
      go(0);
    }

    exSel.addEventListener("change", choose);
    modelSel.addEventListener("change", choose);
    searchSel.addEventListener("change", choose);
    prev.addEventListener("click", function () { stop(); go(state.step - 1); });
    next.addEventListener("click", function () { stop(); go(state.step + 1); });
    slider.addEventListener("input", function () { stop(); go(Number(slider.value)); });
    play.addEventListener("click", function () {
      if (state.timer !== null) { stop(); return; }
      if (state.step >= decode().steps.length - 1) go(0);
      play.textContent = "\u275a\u275a pause";
      state.timer = setInterval(function () {
        if (state.step >= decode().steps.length - 1) { stop(); return; }
        go(state.step + 1);
      }, data.interval || 900);
    });

    var controls = root.querySelector(".ac-controls-slot");
    controls.appendChild(el("div", "ac-controls", null, [
      el("span", "ac-ctl", "Sentence"), exSel, el("span", "ac-ctl", "Model"), modelSel,
      el("span", "ac-ctl", "Search"), searchSel]));
    controls.appendChild(el("div", "ac-controls", null, [prev, play, next, slider, pos]));
    draw();
  }

  var here = document.currentScript && document.currentScript.parentNode;
  if (here) {
    mount(here);
  } else {
    Array.prototype.forEach.call(document.querySelectorAll(".ac-static"), mount);
  }
})();
