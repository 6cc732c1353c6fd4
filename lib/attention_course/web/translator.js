/* attention_course web: the exported models in ONNX Runtime Web, and Translator.translate as
 * in lib/attention_course/translator.py (checks with the same messages, <unk> replacement
 * through attention, French detokenisation) plus decodeView, a port of widgets/data.py.
 *
 * A model folder (written by attention_course.export.onnx) holds encoder.onnx and step.onnx
 * (graphs whose large float32 weights are external data), their weights as float16
 * (*.weights.f16, widened here to float32 before the sessions start), vocab.json and meta.json.
 * ``loadModel(url, ort)`` fetches them; nothing is fetched before.
 */
(function (root) {
  "use strict";

  var ns = root.AttentionCourse = root.AttentionCourse || {};
  var MAX_TOKENS = 100, MAX_BEAM = 20, MAX_LENGTH_PENALTY = 5.0, UNK = "<unk>";

  function pyRepr(value) {
    if (typeof value === "number") {
      if (Number.isInteger(value)) return String(value);
      if (Number.isNaN(value)) return "nan";
      if (!Number.isFinite(value)) return value > 0 ? "inf" : "-inf";
      return String(value);
    }
    if (typeof value === "boolean") return value ? "True" : "False";
    if (value === null || value === undefined) return "None";
    return "'" + String(value) + "'";
  }

  /* translator.check_text: the English tokens, or an Error with Python's message. */
  function checkText(text) {
    if (typeof text !== "string") throw new Error("Please give the English text as a string, not " + typeof text + ".");
    var tokens = ns.text.tokenize(text, "en");
    if (!tokens.length) {
      throw new Error("There is nothing to translate: type an English sentence (the text is empty or only spaces).");
    }
    if (tokens.length > MAX_TOKENS) {
      throw new Error("The text has " + tokens.length + " words and punctuation marks; the models translate at most " +
                      MAX_TOKENS + " at a time (they were trained on single sentences). Split it into sentences.");
    }
    return tokens;
  }

  function checkWhole(name, value, low, high, what) {
    if (typeof value !== "number" || !Number.isInteger(value) || value < low || (high !== null && value > high)) {
      var allowed = high !== null ? "from " + low + " to " + high + (what || "") : "of at least " + low;
      throw new Error(name + " must be a whole number " + allowed + ", got " + pyRepr(value) + ".");
    }
    return value;
  }

  function checkLengthPenalty(x) {
    if (typeof x !== "number" || !(x >= 0 && x <= MAX_LENGTH_PENALTY)) {
      throw new Error("length_penalty must be a number from 0 to " + MAX_LENGTH_PENALTY + " (0: raw log-probability, " +
                      "1: per word), got " + pyRepr(x) + ".");
    }
    return x;
  }

  function argmax(rowValues) {
    var best = 0;
    for (var j = 1; j < rowValues.length; j++) if (rowValues[j] > rowValues[best]) best = j;
    return best;
  }

  function replaceUnknowns(tokens, attention, source) {
    if (!attention) return tokens.slice();
    return tokens.map(function (tok, i) { return tok === UNK ? source[argmax(attention[i])] : tok; });
  }

  /* An exported model run by ONNX Runtime Web (batch of one sentence, K hypotheses). */
  function OrtModel(ort, meta, vocab, encoder, step) {
    this.ort = ort; this.meta = meta; this.name = meta.name;
    this.src = vocab.source; this.tgt = vocab.target;
    this.stoi = new Map(this.src.map(function (t, i) { return [t, i]; }));
    this.encoder = encoder; this.stepper = step;
    this.vocabSize = this.tgt.length;
    this.hasAttention = !!meta.has_attention;
    this.heads = meta.heads || 0;   // a Transformer: the step also gives the last layer's heads
  }

  OrtModel.prototype.encodeTokens = function (tokens) {
    var stoi = this.stoi;
    return tokens.map(function (t) { return stoi.has(t) ? stoi.get(t) : 1; });
  };

  OrtModel.prototype.encode = async function (ids) {
    var ort = this.ort;
    var src = new ort.Tensor("int64", BigInt64Array.from(ids, function (i) { return BigInt(i); }), [1, ids.length]);
    var out = await this.encoder.run({src: src});
    var memory = {};
    this.meta.memory.forEach(function (n) { memory[n] = out[n]; });
    var state = [];
    for (var i = 0; i < this.meta.n_state; i++) state.push(out["state" + i].data);
    return {memory: memory, state: state};
  };

  OrtModel.prototype.step = async function (prev, state, memory) {
    var ort = this.ort, K = prev.length, feeds = {};
    feeds.prev = new ort.Tensor("int64", BigInt64Array.from(prev, function (i) { return BigInt(i); }), [K]);
    state.forEach(function (s, i) { feeds["state" + i] = new ort.Tensor("float32", s, [K, s.length / K]); });
    this.meta.memory.forEach(function (n) { feeds[n] = memory[n]; });
    var out = await this.stepper.run(feeds);
    var newState = [];
    for (var i = 0; i < this.meta.n_state; i++) newState.push(out["new_state" + i].data);
    return {logProbs: out.log_probs.data, state: newState, attention: out.attention ? out.attention.data : null,
            heads: out.heads ? out.heads.data : null};
  };

  OrtModel.prototype.release = function () {
    [this.encoder, this.stepper].forEach(function (s) { try { s.release(); } catch (e) { /* already gone */ } });
  };

  async function fetchOk(url, as) {
    var r = await fetch(url);
    if (!r.ok) throw new Error("could not load " + url + " (HTTP " + r.status + ")");
    return as === "json" ? r.json() : r.arrayBuffer();
  }

  /* float16 bits -> float32, exactly (a table of all 65536 values, built once). */
  var HALF = null;
  function halfTable() {
    if (HALF) return HALF;
    HALF = new Float32Array(65536);
    for (var h = 0; h < 65536; h++) {
      var sign = h & 0x8000 ? -1 : 1, e = (h >> 10) & 0x1f, m = h & 0x3ff;
      HALF[h] = e === 0 ? sign * m * Math.pow(2, -24)
              : e === 31 ? (m ? NaN : sign * Infinity)
              : sign * (1 + m / 1024) * Math.pow(2, e - 15);
    }
    return HALF;
  }

  /* The float32 external data of a graph from its float16 file (see export/onnx.py). */
  function widen(buffer) {
    var half = new Uint16Array(buffer), table = halfTable(), out = new Float32Array(half.length);
    for (var i = 0; i < half.length; i++) out[i] = table[half[i]];
    return new Uint8Array(out.buffer);
  }

  /* Fetch and start a model folder (URL with a trailing slash). */
  async function loadModel(url, ort, sessionOptions) {
    var parts = await Promise.all([fetchOk(url + "meta.json", "json"), fetchOk(url + "vocab.json", "json"),
                                   fetchOk(url + "encoder.onnx"), fetchOk(url + "encoder.weights.f16"),
                                   fetchOk(url + "step.onnx"), fetchOk(url + "step.weights.f16")]);
    var bytes = 0;
    function session(graph, weights, kind) {
      bytes += graph.byteLength + weights.byteLength;
      var opts = Object.assign({executionProviders: ["wasm"], graphOptimizationLevel: "all",
                                externalData: [{path: kind + ".weights", data: widen(weights)}]}, sessionOptions || {});
      return ort.InferenceSession.create(new Uint8Array(graph), opts);
    }
    var encoder = await session(parts[2], parts[3], "encoder");
    var step = await session(parts[4], parts[5], "step");
    var model = new OrtModel(ort, parts[0], parts[1], encoder, step);
    model.bytes = bytes;
    return model;
  }

  function words(itos, ids) { return ids.map(function (i) { return itos[i]; }); }

  /* Translator.translate(text, beam_size, replace_unk, length_penalty, top_k) -> a Translation. */
  async function translate(model, text, options) {
    options = options || {};
    var beamSize = checkWhole("beam_size", options.beamSize === undefined ? 1 : options.beamSize, 1, MAX_BEAM);
    var lengthPenalty = checkLengthPenalty(options.lengthPenalty === undefined ? 1.0 : options.lengthPenalty);
    var topK = checkWhole("top_k", options.topK === undefined ? 5 : options.topK, 1, model.vocabSize,
                          " (the size of the target vocabulary)");
    var replaceUnk = options.replaceUnk === undefined ? true : !!options.replaceUnk;
    var record = options.record === undefined ? true : !!options.record;
    var source = checkText(text);
    var ids = model.encodeTokens(source);
    var r = beamSize === 1
      ? await ns.search.greedySearch(model, ids, {record: record, topK: topK})
      : await ns.search.beamSearch(model, ids, beamSize, lengthPenalty, {record: record, topK: topK});
    var itos = model.tgt;
    var raw = words(itos, r.tokens);
    var attention = r.attention ? r.attention.slice(0, raw.length) : null;
    var tokens = replaceUnk ? replaceUnknowns(raw, attention, source) : raw;
    var steps = r.steps.map(function (s) {
      return {t: s.t, chosen: words(itos, s.chosen),
              hypotheses: s.hypotheses.map(function (h) {
                return {tokens: words(itos, h.tokens), score: h.score, attention: h.attention, heads: h.heads,
                        topK: h.topK.map(function (p) { return [itos[p[0]], p[1]]; })};
              }),
              candidates: s.candidates.map(function (c) {
                return {tokens: words(itos, c.tokens), score: c.score, parent: c.parent, status: c.status};
              })};
    });
    return {text: ns.text.detokenize(tokens, "fr"), sourceTokens: source, targetTokens: tokens, attention: attention,
            steps: steps, score: r.score, rawTokens: raw};
  }

  /* ---- widgets/data.py: a decode as the plain data a step view shows ---- */

  /* Python's f"{x:.{digits}f}": round half to even on the exact binary value. */
  function pyFixed(x, digits) {
    var neg = x < 0 || Object.is(x, -0);
    var exact = Math.abs(x).toFixed(100);   // the double's exact decimal digits (all of them above 2^-48)
    var dot = exact.indexOf(".");
    var kept = exact.slice(0, dot) + exact.slice(dot + 1, dot + 1 + digits);   // digits without the point
    var rest = exact.slice(dot + 1 + digits);
    var lastOdd = Number(kept[kept.length - 1]) % 2 === 1;
    var up = rest[0] > "5" || (rest[0] === "5" && (/[1-9]/.test(rest.slice(1)) || lastOdd));
    var s = (BigInt(kept) + (up ? 1n : 0n)).toString().padStart(digits + 1, "0");
    return (neg ? "-" : "") + (digits ? s.slice(0, s.length - digits) + "." + s.slice(s.length - digits) : s);
  }

  function num(x, digits) {
    if (!Number.isFinite(x)) return x < 0 ? "-inf" : "nan";
    var text = pyFixed(x, digits);
    return text === "-0." + "0".repeat(digits) ? "0." + "0".repeat(digits) : text;
  }

  function pyRound(x, digits) {   // round(x, digits) for display shades and widths
    var m = Math.pow(10, digits);
    return Math.round(x * m) / m;
  }

  function searchLabel(beamSize) { return beamSize === 1 ? "greedy" : "beam " + beamSize; }

  function weightCells(attn) {
    return attn.map(function (a) { return {a: num(a, 2), x: pyRound(Math.min(Math.max(a, 0), 1), 3)}; });
  }

  function stepView(step, n, total, source, beamSize, finalText) {
    var best = step.hypotheses[0], attn = best.attention, src, focus;
    if (attn) {
      src = weightCells(attn);
      focus = argmax(attn);
    } else {
      src = source.map(function () { return {a: "", x: 0.0}; });
      focus = null;
    }
    var next = null, picked = new Set();
    if (beamSize === 1) {
      next = step.chosen.length ? step.chosen[step.chosen.length - 1] : null;
      picked.add(next);
    } else {
      var bestKept = null;   // the best extension of the best hypothesis that the beam keeps
      step.candidates.forEach(function (c) {
        if (c.parent === 0 && c.status !== "pruned") {
          picked.add(c.tokens[c.tokens.length - 1]);
          if (bestKept === null || c.score > bestKept.score) bestKept = c;
        }
      });
      next = bestKept === null ? null : bestKept.tokens[bestKept.tokens.length - 1];
    }
    var topk = best.topK.map(function (p) {
      return {w: p[0], p: num(p[1], 3), pct: pyRound(100 * Math.min(Math.max(p[1], 0), 1), 1), pick: picked.has(p[0])};
    });
    var beams = [], cands = [];
    if (beamSize > 1) {
      beams = step.hypotheses.map(function (h, i) { return {i: i + 1, tokens: h.tokens.slice(), score: num(h.score, 2)}; });
      cands = step.candidates.map(function (c) {
        return {from: c.parent + 1, "new": c.tokens[c.tokens.length - 1], score: num(c.score, 2), status: c.status};
      });
    }
    // a Transformer's last layer, head by head (src and focus above: their mean)
    var heads = best.heads ? best.heads.map(function (w) { return {src: weightCells(w), focus: argmax(w)}; }) : null;
    return {label: "Step " + (n + 1) + " of " + total, src: src, focus: focus, prefix: best.tokens.slice(), next: next,
            topk: topk, beams: beams, cands: cands, done: n === total - 1 ? finalText : null, heads: heads};
  }

  function decodeView(translation, model, beamSize, text) {
    if (!translation.steps.length) throw new Error("this translation has no step record");
    var source = translation.sourceTokens.slice();
    return {input: text === undefined ? source.join(" ") : text, model: model, search: searchLabel(beamSize),
            source: source, output: translation.text,
            steps: translation.steps.map(function (s, n) {
              return stepView(s, n, translation.steps.length, source, beamSize, translation.text);
            })};
  }

  ns.translator = {checkText: checkText, checkWhole: checkWhole, translate: translate, loadModel: loadModel,
                   OrtModel: OrtModel, replaceUnknowns: replaceUnknowns, decodeView: decodeView, num: num,
                   searchLabel: searchLabel, MAX_TOKENS: MAX_TOKENS, MAX_BEAM: MAX_BEAM};
})(typeof window !== "undefined" ? window : globalThis);
