/* attention_course web: the live attention explorer. Two shipped models translate the reader's
 * sentence in the page (ONNX Runtime Web, no kernel) and their attention matrices are drawn
 * side by side (stacked on a narrow page), as widgets/explorer.py's AttentionExplorer does.
 *
 * Mounts every element with class "ac-live-explorer" (markup: attention_course.web.
 * live_explorer_html). It reuses the live stepper's code: stepper.js loads ONNX Runtime and the
 * models on demand and keeps them (AttentionCourse.live.getModel), translator.js tokenizes,
 * checks the text with Python's messages and runs greedy search (search.js). Nothing heavy is
 * fetched before the reader presses Translate (or changes a model after a first translation).
 *
 * A heatmap is the element tree of widgets/render.py's render_heatmap: English words across,
 * French words down, one cell per weight. Hovering or clicking a French word selects it: its
 * row stands out in its panel, the other panel shows the same French word (its occurrence
 * nearest in position) if that translation has it, the English word each attends to most is
 * marked, and a line under each panel lists where the word looks. The French words stay in
 * view when a long sentence scrolls sideways (widgets.css). Every string from the reader or a
 * model goes into the page with textContent.
 *
 * For a model with attention heads (the Transformer) a panel shows the last layer's weights
 * averaged over its heads (Translation.attention), or, chosen in that side's "attention" menu
 * (hidden for models without heads), one head: the step graph's per-head weights, recorded by
 * the search at each step of the greedy translation.
 */
(function (root) {
  "use strict";

  var ns = root.AttentionCourse = root.AttentionCourse || {};
  var script = document.currentScript;
  var BASE = script && script.src ? script.src.replace(/[^/]*$/, "") : "";

  // The page helpers of the stepper (stepper.js loads first, web/__init__.py JS_FILES): one
  // element builder (text only through textContent), one colour scale, one labelled control.
  function el(tag, cls, text, children) { return ns.live.el(tag, cls, text, children); }
  function shade(theme, x) { return ns.live.shade(theme, x); }
  function labelled(control, text, id) { return ns.live.labelled(control, text, id); }
  function clip01(a) { return Math.min(Math.max(a, 0), 1); }
  function round3(x) { return Math.round(x * 1000) / 1000; }

  /* widgets/data.py heatmap_view: a cell's text (two decimals without the leading 0, "1", or ""). */
  function cellText(a) {
    if (a >= 0.995) return "1";
    if (a >= 0.005) return ns.translator.num(a, 2).slice(1);
    return "";
  }

  /* The attention matrix a panel shows: the translation's (for a model with heads, their mean),
     or head ``head`` (1-based) of the last layer, from the step record of a greedy translation. */
  function panelAttention(translation, head) {
    if (head === undefined || head === "mean" || !translation.steps.length || !translation.steps[0].hypotheses[0].heads) {
      return translation.attention;
    }
    return translation.targetTokens.map(function (_, i) { return translation.steps[i].hypotheses[0].heads[Number(head) - 1]; });
  }

  /* heatmap_view: rows with their cells, focus (first highest weight) and top three columns. */
  function heatmapView(translation, title, head) {
    var rows = null, attention = panelAttention(translation, head);
    if (attention) {
      rows = translation.targetTokens.map(function (word, i) {
        var weights = Array.prototype.slice.call(attention[i]);
        var order = weights.map(function (_, j) { return j; });
        order.sort(function (a, b) { return weights[b] - weights[a] || a - b; });   // stable, as sorted()
        return {w: word, weights: weights, focus: order[0], top: order.slice(0, 3),
                cells: weights.map(function (a) { return {a: cellText(a), x: round3(clip01(a))}; })};
      });
    }
    return {title: title, source: translation.sourceTokens.slice(), rows: rows};
  }

  /* The row of French word ``word`` in ``rows`` nearest to position ``near``, or -1. */
  function matchRow(rows, word, near) {
    var best = -1;
    (rows || []).forEach(function (r, i) {
      if (r.w === word && (best < 0 || Math.abs(i - near) < Math.abs(best - near))) best = i;
    });
    return best;
  }

  var uid = 0;

  function mount(rootEl) {
    if (!rootEl || rootEl.getAttribute("data-ac-mounted")) return null;
    var holder = rootEl.querySelector("script.ac-live-config");
    if (!holder || !ns.live || !ns.translator) return null;
    var cfg = JSON.parse(holder.textContent);
    var theme = cfg.theme, base = cfg.base || (ns.live && ns.live.base) || BASE;
    rootEl.setAttribute("data-ac-mounted", "1");
    var id = "ac-explorer-" + (++uid);

    var input = el("textarea", "ac-live-text");
    input.rows = 2;
    input.value = cfg.text || "";
    input.setAttribute("spellcheck", "false");
    function menu(cls, value) {
      var sel = el("select", cls);
      cfg.models.forEach(function (m) {
        var o = el("option", null, m.name);
        o.value = m.name;
        if (m.description) o.title = m.description;
        sel.appendChild(o);
      });
      sel.value = value;
      return sel;
    }
    var menus = [menu("ac-live-model ac-left", cfg.left), menu("ac-live-model ac-right", cfg.right)];
    // each side's attention for a model with heads: their mean (default) or one head of the last layer
    var headsOf = {};
    cfg.models.forEach(function (m) { headsOf[m.name] = m.heads || 0; });
    var headMenus = [el("select", "ac-head-menu ac-left-head"), el("select", "ac-head-menu ac-right-head")];
    var headBoxes = headMenus.map(function (m, p) {
      return el("span", "ac-live-headbox", null,
                labelled(m, (p ? "Right" : "Left") + " attention", id + (p ? "-right-head" : "-left-head")));
    });
    function fillHeads(p) {
      var H = headsOf[menus[p].value] || 0, keep = headMenus[p].value || "mean", sel = headMenus[p];
      while (sel.firstChild) sel.removeChild(sel.firstChild);
      ["mean"].concat(Array.from({length: H}, function (_, i) { return String(i + 1); })).forEach(function (v) {
        var o = el("option", null, ns.live.headLabel(v, H)); o.value = v; sel.appendChild(o);
      });
      sel.value = keep === "mean" || Number(keep) <= H ? keep : "mean";
      headBoxes[p].hidden = H === 0;
      sel.disabled = H === 0;
    }
    var go = el("button", "ac-live-go", "Translate");
    go.type = "button";
    go.setAttribute("aria-label", "Translate the sentence with both models and show their attention");
    var status = el("div", "ac-live-status", cfg.note || "");
    status.setAttribute("role", "status");
    status.setAttribute("aria-live", "polite");
    var error = el("div", "ac-error ac-live-error");
    error.setAttribute("role", "alert");
    error.hidden = true;
    var hint = el("div", "ac-note ac-explorer-hint", cfg.hint || "");
    var panelsEl = el("div", "ac-panels ac-explorer-view");
    panelsEl.hidden = true;

    var state = {run: 0, started: false, panels: [null, null], selected: null, hover: null};

    function showError(message) {
      error.textContent = message;
      error.hidden = !message;
    }

    /* ---- drawing ---- */

    function buildPanel(p, view) {
      var title = el("div", "ac-panel-title", view.title);
      if (!view.rows) {
        return {view: view, el: el("div", "ac-panel", null, [title, el("div", "ac-note", "This model has no attention.")]),
                rows: [], heads: [], table: null, looks: null};
      }
      var heads = view.source.map(function (w) { return el("th", null, w); });
      var thead = el("thead", null, null, [el("tr", null, null, [el("th", null, "")].concat(heads))]);
      var rows = view.rows.map(function (r, i) {
        var word = el("button", "ac-fw", r.w);
        word.type = "button";
        word.setAttribute("aria-pressed", "false");
        word.addEventListener("click", function () { select(p, i, true); });
        word.addEventListener("mouseenter", function () { preview(p, i); });
        word.addEventListener("focus", function () { preview(p, i); });
        word.addEventListener("mouseleave", function () { preview(null); });
        word.addEventListener("blur", function () { preview(null); });
        var cells = r.cells.map(function (c) {
          var td = el("td", c.x > theme.dark ? "ac-cell ac-dark" : "ac-cell", c.a);
          td.style.backgroundColor = shade(theme, c.x);
          return td;
        });
        return el("tr", null, null, [el("th", null, null, [word])].concat(cells));
      });
      var table = el("table", "ac-heat", null, [thead, el("tbody", null, null, rows)]);
      var looks = el("div", "ac-looks");
      looks.hidden = true;
      return {view: view, el: el("div", "ac-panel", null, [title, table, looks]), rows: rows, heads: heads,
              table: table, looks: looks};
    }

    /* The row each panel shows for selection ``s`` ({panel, index}); -1 for none. */
    function rowsFor(s) {
      var out = [-1, -1];
      if (!s || !state.panels[s.panel] || !state.panels[s.panel].view.rows) return out;
      var word = state.panels[s.panel].view.rows[s.index].w;
      state.panels.forEach(function (panel, q) {
        if (!panel || !panel.view.rows) return;
        out[q] = q === s.panel ? s.index : matchRow(panel.view.rows, word, s.index);
      });
      return out;
    }

    function applySelection() {
      var s = state.hover || state.selected;
      var shown = rowsFor(s);
      var word = s && state.panels[s.panel] ? state.panels[s.panel].view.rows[s.index].w : null;
      state.panels.forEach(function (panel, q) {
        if (!panel || !panel.table) return;
        var i = shown[q], focus = i >= 0 ? panel.view.rows[i].focus : -1;
        panel.table.classList.toggle("ac-has-sel", i >= 0);
        panel.rows.forEach(function (tr, k) {
          tr.classList.toggle("ac-sel", k === i);
          var b = tr.querySelector(".ac-fw");
          b.setAttribute("aria-pressed", String(!!state.selected && state.selected.panel === q &&
                                                state.selected.index === k));
        });
        panel.heads.forEach(function (th, j) { th.classList.toggle("ac-focus", j === focus); });
        if (word === null) {
          panel.looks.hidden = true;
          panel.looks.textContent = "";
        } else if (i < 0) {
          panel.looks.hidden = false;
          panel.looks.textContent = "\u00ab" + word + "\u00bb is not in this translation.";
        } else {
          var r = panel.view.rows[i];
          panel.looks.hidden = false;
          panel.looks.textContent = "\u00ab" + r.w + "\u00bb looks at: " + r.top.map(function (j) {
            return panel.view.source[j] + " " + r.cells[j].a;
          }).join(", ");
        }
      });
      rootEl.setAttribute("data-selected", s ? s.panel + ":" + s.index : "");
      rootEl.setAttribute("data-rows", shown.join(","));
    }

    function select(p, i, toggle) {
      var same = state.selected && state.selected.panel === p && state.selected.index === i;
      state.selected = p === null || (toggle && same) ? null : {panel: p, index: i};
      state.hover = null;
      applySelection();
    }
    function preview(p, i) {
      state.hover = p === null ? null : {panel: p, index: i};
      applySelection();
    }

    function draw(translations, names) {
      while (panelsEl.firstChild) panelsEl.removeChild(panelsEl.firstChild);
      state.shown = [translations, names];
      state.panels = translations.map(function (t, p) {
        var panel = buildPanel(p, heatmapView(t, names[p], headMenus[p].disabled ? "mean" : headMenus[p].value));
        panel.translation = t;
        panelsEl.appendChild(panel.el);
        return panel;
      });
      panelsEl.hidden = false;
      var s = state.selected;
      if (s && !(state.panels[s.panel].view.rows && s.index < state.panels[s.panel].view.rows.length)) {
        state.selected = null;
      }
      state.hover = null;
      applySelection();
    }

    /* ---- translating ---- */

    async function translate() {
      var run = ++state.run, text = input.value, names = menus.map(function (m) { return m.value; });
      var sentenceChanged = text !== state.text;
      showError("");
      try {
        ns.translator.checkText(text);   // a clear message before any download
      } catch (e) {
        showError(e.message);
        panelsEl.hidden = true;
        return null;
      }
      state.started = true;
      rootEl.setAttribute("data-busy", "1");
      try {
        var out = [], t0 = performance.now(), loadMs = 0;
        for (var p = 0; p < 2; p++) {
          var loaded = ns.live.models.has(names[p]);
          status.textContent = loaded ? "Translating\u2026" : "Loading the model " + names[p] + "\u2026";
          var t1 = performance.now();
          var model = await ns.live.getModel(names[p], base);
          if (!loaded) loadMs += performance.now() - t1;
          if (run !== state.run) return null;
          // a model with heads records its steps: each step's per-head weights
          out.push(await ns.translator.translate(model, text, {beamSize: 1, record: model.heads > 0}));
          if (run !== state.run) return null;
        }
        if (sentenceChanged) state.selected = null;
        state.text = text;
        draw(out, names);
        var ms = Math.round(performance.now() - t0 - loadMs);
        status.textContent = names.join(" and ") + " \u00b7 greedy \u00b7 translated in " + ms + " ms" +
          (loadMs ? " (models loaded in " + Math.round(loadMs) + " ms)" : "");
        rootEl.setAttribute("data-ready", String(run));
        return out;
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
    menus.forEach(function (m, p) {
      m.addEventListener("change", function () { fillHeads(p); if (state.started) translate(); });
    });
    headMenus.forEach(function (m) {   // the same translations, another head: redrawn, not translated again
      m.addEventListener("change", function () { if (state.shown) draw(state.shown[0], state.shown[1]); });
    });
    fillHeads(0);
    fillHeads(1);
    panelsEl.addEventListener("keydown", function (e) {
      if (e.key === "Escape") select(null);
    });

    var slot = rootEl.querySelector(".ac-live-slot") || rootEl;
    while (slot.firstChild) slot.removeChild(slot.firstChild);
    var textRow = el("div", "ac-live-row", null, labelled(input, "English sentence", id + "-text"));
    var choose = el("div", "ac-controls", null,
      labelled(menus[0], "Left model", id + "-left").concat([headBoxes[0]],
                                                            labelled(menus[1], "Right model", id + "-right"),
                                                            [headBoxes[1], go]));
    [textRow, choose, status, error, hint, panelsEl].forEach(function (n) { slot.appendChild(n); });
    var widget = {root: rootEl, translate: translate, state: state, select: select, preview: preview,
                  rowsFor: function () { return rowsFor(state.hover || state.selected); },
                  controls: {input: input, left: menus[0], right: menus[1], go: go, leftHead: headMenus[0],
                             rightHead: headMenus[1]}};
    instances.push(widget);
    return widget;
  }

  var instances = [];
  ns.explorer = {mount: mount, instances: instances, heatmapView: heatmapView, cellText: cellText,
                 matchRow: matchRow};

  function mountAll() { Array.prototype.forEach.call(document.querySelectorAll(".ac-live-explorer"), mount); }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", mountAll);
  else mountAll();
})(window);
