/* attention_course web: the live decoding stepper. The real models run in the page (ONNX
 * Runtime Web, no kernel): a reader types a sentence, picks a model and greedy or beam search,
 * and steps through the decode (previous / play / next / slider), seeing the source attention,
 * the most probable next words and the beam.
 *
 * Mounts every element with class "ac-live" (markup: attention_course.web.live_html). Nothing
 * heavy is fetched when the page loads: ONNX Runtime and a model's weights come when the reader
 * presses Translate or switches to another model. Every string from the reader or a model goes
 * into the page with textContent, never as HTML. A step is drawn with the same elements and CSS
 * classes as widgets/render.py's render_step (the live ipywidgets), plus a bar above each
 * source word showing its attention weight.
 *
 * For a model with attention heads (the Transformer) the source row shows the last layer's
 * weights averaged over its heads, as Python's Translation.attention does; the "Attention"
 * menu shows one head of that layer instead (the step graph's ``heads`` output, recorded per
 * hypothesis by search.js). The menu is hidden for models without heads.
 */
(function (root) {
  "use strict";

  var ns = root.AttentionCourse = root.AttentionCourse || {};
  var script = document.currentScript;
  var BASE = script && script.src ? script.src.replace(/[^/]*$/, "") : "";
  var KEEP_MODELS = 3;   // models kept started (the explorer uses two at once); older ones are released

  /* ---- ONNX Runtime and the models, loaded on demand ---- */

  var ortPromise = null;
  function loadOrt(base) {
    base = base || BASE;
    if (!ortPromise) {
      ortPromise = new Promise(function (resolve, reject) {
        if (root.ort) { resolve(root.ort); return; }
        var s = document.createElement("script");
        s.src = base + "ort/ort.wasm.min.js";
        s.onload = function () { resolve(root.ort); };
        s.onerror = function () { reject(new Error("could not load ONNX Runtime from " + s.src)); };
        document.head.appendChild(s);
      }).then(function (ort) {
        ort.env.wasm.wasmPaths = base + "ort/";
        ort.env.wasm.numThreads = 1;   // no cross-origin isolation on a static site
        ort.env.wasm.proxy = false;
        return ort;
      });
      ortPromise.catch(function () { ortPromise = null; });
    }
    return ortPromise;
  }

  var models = new Map();   // name -> Promise<OrtModel>, most recent last
  function getModel(name, base) {
    base = base || BASE;
    if (models.has(name)) {
      var p = models.get(name);
      models.delete(name);
      models.set(name, p);
      return p;
    }
    var promise = loadOrt(base).then(function (ort) {
      return ns.translator.loadModel(base + "models/" + encodeURIComponent(name) + "/", ort);
    });
    models.set(name, promise);
    promise.catch(function () { if (models.get(name) === promise) models.delete(name); });
    while (models.size > KEEP_MODELS) {
      var oldest = models.keys().next().value, old = models.get(oldest);
      models.delete(oldest);
      old.then(function (m) { m.release(); }, function () {});
    }
    return promise;
  }

  /* ---- drawing a step (the element tree of render.py's render_step) ---- */

  function el(tag, cls, text, children) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    (children || []).forEach(function (c) { node.appendChild(c); });
    return node;
  }

  function shade(theme, x) { return "rgba(" + theme.rgb.join(", ") + ", " + Number(x).toFixed(3) + ")"; }
  function table(cls, rows) { return el("table", cls, null, [el("tbody", null, null, rows)]); }
  function row(key, children) {
    return el("div", "ac-row", null, [el("div", "ac-key", key), el("div", "ac-val", null, children)]);
  }
  function hyp(theme, tokens) { return tokens.length ? tokens.join(" ") : theme.text.start; }

  function sourceRow(theme, words0, view) {
    var words = view.src.map(function (s, j) {
      var cls = "ac-word";
      if (view.focus !== null && j === view.focus) cls += " ac-focus";
      if (s.x > theme.dark) cls += " ac-dark";
      var parts = [el("span", "ac-tok", words0[j]), el("span", "ac-w", s.a)];
      if (view.focus !== null) {   // a bar per word: its attention weight, 0 to 1
        var fill = el("span", "ac-abar-fill");
        fill.style.height = (100 * s.x).toFixed(1) + "%";
        parts.unshift(el("span", "ac-abar", null, [fill]));
      }
      var w = el("span", cls, null, parts);
      w.style.backgroundColor = shade(theme, s.x);
      if (s.a) w.setAttribute("aria-label", words0[j] + ": attention " + s.a);
      return w;
    });
    var out = [el("div", "ac-src", null, words)];
    if (view.focus === null) out.push(el("div", "ac-note", theme.text.no_attention));
    return out;
  }

  function prefixRow(theme, view) {
    var parts = view.prefix.map(function (w) { return el("span", "ac-tok", w); });
    if (!parts.length && !view.next) parts = [el("span", "ac-empty", theme.text.empty)];
    if (view.next) parts.push(el("span", "ac-new", view.next));
    return el("div", "ac-prefix", null, parts);
  }

  function topkTable(view) {
    return table("ac-topk", view.topk.map(function (t) {
      var fill = el("span", "ac-fill", "");
      fill.style.width = Number(t.pct).toFixed(1) + "%";
      return el("tr", t.pick ? "ac-pick" : null, null, [
        el("td", "ac-tok", t.w), el("td", "ac-bar", null, [fill]), el("td", "ac-p", t.p)]);
    }));
  }

  function beamsTable(theme, view) {
    var h = theme.text.beam_head;
    var head = el("tr", null, null, [el("th", null, h[0]), el("th", null, h[1]), el("th", "ac-score", h[2])]);
    return table("ac-beams", [head].concat(view.beams.map(function (b) {
      return el("tr", null, null, [el("td", null, String(b.i)), el("td", "ac-hyp", hyp(theme, b.tokens)),
                                   el("td", "ac-score", b.score)]);
    })));
  }

  function candsTable(theme, view) {
    var h = theme.text.cands_head;
    var head = el("tr", null, null, [el("th", null, h[0]), el("th", null, h[1]), el("th", "ac-score", h[2]),
                                     el("th", null, h[3])]);
    return table("ac-cands", [head].concat(view.cands.map(function (c) {
      var label = Object.prototype.hasOwnProperty.call(theme.status, c.status) ? theme.status[c.status] : c.status;
      return el("tr", "ac-" + c.status, null, [
        el("td", null, String(c.from)), el("td", "ac-hyp", hyp(theme, view.beams[c.from - 1].tokens.concat([c["new"]]))),
        el("td", "ac-score", c.score), el("td", "ac-status", label)]);
    })));
  }

  /* What the attention menu shows: "mean" (the heads' mean) or head h (1-based) of the last layer. */
  function headLabel(head, H) {
    return head === "mean" ? "mean of the " + H + " heads (last layer)" : "head " + head + " of " + H + " (last layer)";
  }

  /* ``view`` with the source weights of head ``head`` (1-based) instead of the heads' mean. */
  function headView(view, head) {
    if (head === "mean" || !view.heads) return view;
    var h = view.heads[Number(head) - 1];
    return Object.assign({}, view, {src: h.src, focus: h.focus});
  }

  function renderStep(theme, decode, n, head) {
    var view = decode.steps[n], t = theme.text, meta = decode.model + " \u00b7 " + decode.search;
    head = head === undefined || head === null ? "mean" : String(head);
    if (view.heads) {
      meta += " \u00b7 " + headLabel(head, view.heads.length);
      view = headView(view, head);
    }
    var parts = [
      el("div", "ac-head", null, [el("span", "ac-steplabel", view.label), el("span", "ac-meta", meta)]),
      row(t.source, sourceRow(theme, decode.source, view)),
      row(t.prefix, [prefixRow(theme, view)]),
      row(t.topk, [topkTable(view)])
    ];
    if (view.beams.length) parts.push(row(t.beams, [beamsTable(theme, view)]));
    if (view.cands.length) parts.push(row(t.cands, [candsTable(theme, view)]));
    if (view.done !== null) {
      parts.push(el("div", "ac-done", null, [el("span", "ac-key", t.done), el("span", "ac-out", view.done)]));
    }
    return el("div", "ac-step", null, parts);
  }

  /* ---- the widget ---- */

  var uid = 0;
  function labelled(control, text, id) {
    control.id = id;
    var label = el("label", "ac-ctl", text);
    label.htmlFor = id;
    return [label, control];
  }

  function button(cls, text, label) {
    var b = el("button", cls, text);
    b.type = "button";
    b.setAttribute("aria-label", label);
    b.title = label;
    return b;
  }

  function mount(rootEl) {
    if (!rootEl || rootEl.getAttribute("data-ac-mounted")) return null;
    var holder = rootEl.querySelector("script.ac-live-config");
    if (!holder) return null;
    var cfg = JSON.parse(holder.textContent);
    var theme = cfg.theme, base = cfg.base || BASE;
    rootEl.setAttribute("data-ac-mounted", "1");
    var id = "ac-live-" + (++uid);

    var input = el("textarea", "ac-live-text");
    input.rows = 2;
    input.value = cfg.text || "";
    input.setAttribute("spellcheck", "false");
    var modelSel = el("select", "ac-live-model");
    cfg.models.forEach(function (m) {
      var o = el("option", null, m.name);
      o.value = m.name;
      if (m.description) o.title = m.description;
      modelSel.appendChild(o);
    });
    modelSel.value = cfg.model || cfg.models[0].name;
    var headsOf = {};
    cfg.models.forEach(function (m) { headsOf[m.name] = m.heads || 0; });
    // the attention shown for a model with heads: their mean (default) or one head of the last layer
    var headSel = el("select", "ac-live-head");
    var headWanted = cfg.head === undefined || cfg.head === null ? "mean" : String(cfg.head);
    function fillHeads() {
      var H = headsOf[modelSel.value] || 0, keep = headSel.value || headWanted;
      while (headSel.firstChild) headSel.removeChild(headSel.firstChild);
      ["mean"].concat(Array.from({length: H}, function (_, i) { return String(i + 1); })).forEach(function (v) {
        var o = el("option", null, headLabel(v, H)); o.value = v; headSel.appendChild(o);
      });
      headSel.value = keep === "mean" || Number(keep) <= H ? keep : "mean";
      headBox.hidden = H === 0;
      headSel.disabled = H === 0;
    }
    var searchSel = el("select", "ac-live-search");
    [["greedy", "greedy"], ["beam", "beam search"]].forEach(function (p) {
      var o = el("option", null, p[1]); o.value = p[0]; searchSel.appendChild(o);
    });
    var beamIn = el("input", "ac-live-beam");
    beamIn.type = "number"; beamIn.min = "2"; beamIn.max = String(ns.translator.MAX_BEAM); beamIn.step = "1";
    beamIn.value = String(cfg.beam > 1 ? cfg.beam : 5);
    searchSel.value = cfg.beam > 1 ? "beam" : "greedy";
    var go = button("ac-live-go", "Translate", "Translate the sentence and show its decoding");
    var status = el("div", "ac-live-status", cfg.note || "");
    status.setAttribute("role", "status");
    status.setAttribute("aria-live", "polite");
    var error = el("div", "ac-error ac-live-error");
    error.setAttribute("role", "alert");
    error.hidden = true;

    var prev = button("ac-prev", "\u25c0 previous", "previous step");
    var play = button("ac-play", "\u25b6 play", "play the decode step by step");
    var next = button("ac-next", "next \u25b6", "next step");
    var slider = el("input", "ac-slider");
    slider.type = "range"; slider.min = "0"; slider.max = "0"; slider.step = "1"; slider.value = "0";
    slider.setAttribute("aria-label", "Step");
    var pos = el("span", "ac-pos");
    var output = el("div", "ac-live-out");
    output.setAttribute("aria-live", "polite");
    var view = el("div", "ac-view");
    var headBox = el("span", "ac-live-headbox", null, labelled(headSel, "Attention", id + "-head"));
    var stepper = el("div", "ac-controls ac-live-steps", null, [prev, play, next, slider, pos, headBox]);
    fillHeads();

    var state = {decode: null, step: 0, timer: null, run: 0, started: false};

    function beamSize() { return searchSel.value === "beam" ? Number(beamIn.value) : 1; }
    function setSteppable(on) {
      [prev, play, next, slider].forEach(function (c) { c.disabled = !on; });
    }
    function showError(message) {
      error.textContent = message;
      error.hidden = !message;
    }

    function draw() {
      var d = state.decode;
      if (!d) return;
      var last = d.steps.length - 1;
      state.step = Math.max(0, Math.min(state.step, last));
      slider.max = String(last);
      slider.value = String(state.step);
      slider.setAttribute("aria-valuetext", "step " + (state.step + 1) + " of " + (last + 1));
      pos.textContent = (state.step + 1) + " / " + (last + 1);
      prev.disabled = state.step === 0;
      next.disabled = state.step === last;
      play.disabled = false; slider.disabled = false;
      while (view.firstChild) view.removeChild(view.firstChild);
      view.appendChild(renderStep(theme, d, state.step, headSel.value));
      rootEl.setAttribute("data-step", String(state.step));
      rootEl.setAttribute("data-head", d.steps[state.step].heads ? headSel.value : "");
    }

    function stop() {
      if (state.timer !== null) clearInterval(state.timer);
      state.timer = null;
      play.textContent = "\u25b6 play";
      play.setAttribute("aria-label", "play the decode step by step");
    }
    function goTo(n) { state.step = n; draw(); }

    async function translate() {
      stop();
      var run = ++state.run, name = modelSel.value, b = beamSize(), text = input.value;
      showError("");
      try {
        ns.translator.checkWhole("beam_size", b, 1, ns.translator.MAX_BEAM);
        ns.translator.checkText(text);   // a clear message before any download
      } catch (e) {
        showError(e.message);
        return null;
      }
      state.started = true;
      rootEl.setAttribute("data-busy", "1");
      var t0 = performance.now();
      var loaded = models.has(name);
      status.textContent = loaded ? "Translating\u2026" : "Loading the model " + name + "\u2026";
      try {
        var model = await getModel(name, base);
        if (run !== state.run) return null;
        var t1 = performance.now();
        status.textContent = "Translating\u2026";
        var tr = await ns.translator.translate(model, text, {beamSize: b, topK: cfg.top_k || 5});
        if (run !== state.run) return null;
        var t2 = performance.now();
        if (model.heads !== (headsOf[name] || 0)) { headsOf[name] = model.heads; fillHeads(); }
        state.decode = ns.translator.decodeView(tr, name, b, text);
        state.translation = tr;
        output.textContent = tr.text;
        status.textContent = name + " \u00b7 " + ns.translator.searchLabel(b) + " \u00b7 " + tr.steps.length +
          " steps in " + Math.round(t2 - t1) + " ms" + (loaded ? "" : " (model loaded in " + Math.round(t1 - t0) + " ms)");
        goTo(0);
        rootEl.setAttribute("data-ready", String(run));
        return tr;
      } catch (e) {
        if (run === state.run) { showError(String(e && e.message || e)); status.textContent = ""; }
        return null;
      } finally {
        if (run === state.run) rootEl.removeAttribute("data-busy");
      }
    }

    go.addEventListener("click", translate);
    input.addEventListener("keydown", function (e) {
      if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); translate(); }
    });
    function changed() {
      beamIn.disabled = searchSel.value !== "beam";
      if (state.started) translate();   // switching model fetches its weights now
    }
    modelSel.addEventListener("change", function () { fillHeads(); changed(); });
    headSel.addEventListener("change", function () { draw(); });   // the same decode, another head
    searchSel.addEventListener("change", changed);
    beamIn.addEventListener("change", changed);
    prev.addEventListener("click", function () { stop(); goTo(state.step - 1); });
    next.addEventListener("click", function () { stop(); goTo(state.step + 1); });
    slider.addEventListener("input", function () { stop(); goTo(Number(slider.value)); });
    play.addEventListener("click", function () {
      if (state.timer !== null) { stop(); return; }
      if (!state.decode) return;
      if (state.step >= state.decode.steps.length - 1) goTo(0);
      play.textContent = "\u275a\u275a stop";
      play.setAttribute("aria-label", "stop playing");
      state.timer = setInterval(function () {
        if (state.step >= state.decode.steps.length - 1) { stop(); return; }
        goTo(state.step + 1);
      }, cfg.interval || 900);
    });

    var slot = rootEl.querySelector(".ac-live-slot") || rootEl;
    while (slot.firstChild) slot.removeChild(slot.firstChild);
    var textRow = el("div", "ac-live-row", null, labelled(input, "English sentence", id + "-text"));
    var choose = el("div", "ac-controls", null,
      labelled(modelSel, "Model", id + "-model").concat(labelled(searchSel, "Search", id + "-search"),
                                                         labelled(beamIn, "Beam size", id + "-beam"), [go]));
    [textRow, choose, status, error, el("div", "ac-live-result", null, [el("span", "ac-key", theme.text.done), output]),
     stepper, view].forEach(function (n) { slot.appendChild(n); });
    beamIn.disabled = searchSel.value !== "beam";
    setSteppable(false);
    var widget = {root: rootEl, translate: translate, state: state,
                  controls: {input: input, model: modelSel, search: searchSel, beam: beamIn, go: go,
                             prev: prev, play: play, next: next, slider: slider, head: headSel}};
    instances.push(widget);
    return widget;
  }

  var instances = [];
  ns.live = {mount: mount, instances: instances, loadOrt: loadOrt, getModel: getModel, models: models,
             el: el, shade: shade, labelled: labelled,
             renderStep: renderStep, headView: headView, headLabel: headLabel, base: BASE};

  function mountAll() { Array.prototype.forEach.call(document.querySelectorAll(".ac-live"), mount); }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", mountAll);
  else mountAll();
})(window);
