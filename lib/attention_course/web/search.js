/* attention_course web: greedy and beam search for one sentence, as lib/attention_course/search/.
 *
 * A port of greedy.py and beam.py for a batch of one sentence, with the same per-step record
 * (record.py): the same length limit (2|x| + 10 words, </s> forced at the last step), the same
 * order of candidates, the same length normalisation score / |y|^alpha, and float32 arithmetic
 * where PyTorch adds float32 tensors (Math.fround). Ties: the first index wins where Python's
 * argmax / max() keep the first; a top-k sorts equal values by index (torch.topk leaves their
 * order unspecified, which only matters for exact ties of float32 sums).
 *
 * ``model`` is anything with
 *   encode(ids) -> Promise<{memory, state}>        state: array of Float32Array rows (batch 1)
 *   step(prev, state, memory) -> Promise<{logProbs, state, attention, heads}>
 *       prev: K ids; state: array (one per state tensor) of Float32Array(K * D);
 *       logProbs: Float32Array(K * V); attention: Float32Array(K * S) or null;
 *       heads: Float32Array(K * H * S) or null (a Transformer's last layer, head by head)
 * and ``vocabSize`` (V), ``heads`` (H, 0 without heads). Ids: <pad> 0, <unk> 1, <s> 2, </s> 3.
 * A state's rows are selected by beam parent whatever D is (the Transformer's state is its
 * target prefix, K x (1 + t) float ids, and grows by one column a step).
 */
(function (root) {
  "use strict";

  var BOS = 2, EOS = 3, NEG_INF = -Infinity;
  var f32 = Math.fround;

  function maxLength(srcLen, a, b) { return Math.trunc(f32(srcLen * a)) + b; }   // (len.float() * a).long() + b

  /* The k largest of values[offset .. offset+n), as [index, value] sorted by value (then index). */
  function topK(values, k, offset, n) {
    offset = offset || 0;
    n = n === undefined ? values.length - offset : n;
    k = Math.min(k, n);
    var idx = new Int32Array(k), val = new Float64Array(k), size = 0;
    for (var i = 0; i < n; i++) {
      var v = values[offset + i];
      if (size === k) {
        if (!(v > val[k - 1])) continue;   // equal values keep the earlier index
        size--;
      }
      var j = size;
      while (j > 0 && v > val[j - 1]) { idx[j] = idx[j - 1]; val[j] = val[j - 1]; j--; }
      idx[j] = i; val[j] = v; size++;
    }
    var out = [];
    for (var r = 0; r < size; r++) out.push([idx[r], val[r]]);
    return out;
  }

  /* record.top_k_list: the k most probable words and their probabilities exp(log p), float32. */
  function topKList(logProbs, k, offset, V) {
    return topK(logProbs, k, offset, V).map(function (p) { return [p[0], f32(Math.exp(p[1]))]; });
  }

  function forceEos(logProbs, offset, V) {
    for (var w = 0; w < V; w++) if (w !== EOS) logProbs[offset + w] = NEG_INF;
  }

  function row(arr, k, width) { return arr ? Array.prototype.slice.call(arr, k * width, (k + 1) * width) : null; }

  /* Hypothesis k's weights of each of H heads (heads: K x H x S, or null): H arrays of S. */
  function headRows(heads, k, H, S) {
    if (!heads) return null;
    var out = [];
    for (var h = 0; h < H; h++) out.push(row(heads, k * H + h, S));
    return out;
  }

  function selectRows(state, rows, width) {
    return state.map(function (s) {
      var d = s.length / width | 0, out = new Float32Array(rows.length * d);
      rows.forEach(function (r, i) { out.set(s.subarray(r * d, (r + 1) * d), i * d); });
      return out;
    });
  }

  async function greedySearch(model, ids, opts) {
    opts = opts || {};
    var record = !!opts.record, k = opts.topK || 5, S = ids.length, V = model.vocabSize;
    var enc = await model.encode(ids);
    var memory = enc.memory, state = enc.state;
    var limit = maxLength(S, opts.maxLenA || 2.0, opts.maxLenB === undefined ? 10 : opts.maxLenB);
    var prev = BOS, tokens = [], attn = [], headsSeen = [], seen = [], score = 0, H = model.heads || 0;
    for (var t = 0; t < limit; t++) {
      var out = await model.step([prev], state, memory);
      var lp = out.logProbs;
      state = out.state;
      if (limit <= t + 1) forceEos(lp, 0, V);
      var best = 0;
      for (var w = 1; w < V; w++) if (lp[w] > lp[best]) best = w;   // torch max: the first maximum
      prev = best;
      score = f32(score + lp[best]);
      tokens.push(best);
      attn.push(out.attention ? Array.from(out.attention.subarray(0, S)) : null);
      if (record) headsSeen.push(headRows(out.heads, 0, H, S));
      if (record) seen.push(lp);
      if (best === EOS) break;
    }
    var n = tokens.indexOf(EOS) >= 0 ? tokens.indexOf(EOS) + 1 : tokens.length;
    var hasAttn = attn[0] !== null;
    var weights = hasAttn ? attn.slice(0, n) : null;
    var steps = [];
    for (var u = 0; u < (seen.length ? n : 0); u++) {
      var s = 0;
      for (var v = 0; v < u; v++) s = f32(s + seen[v][tokens[v]]);
      steps.push({t: u, hypotheses: [{tokens: tokens.slice(0, u), score: s, attention: hasAttn ? weights[u] : null,
                                      heads: headsSeen[u], topK: topKList(seen[u], k, 0, V)}],
                  chosen: tokens.slice(0, u + 1), candidates: []});
    }
    return {tokens: tokens[n - 1] === EOS ? tokens.slice(0, n - 1) : tokens.slice(0, n), score: score,
            attention: weights, steps: steps};
  }

  /* (scores[:, None] + lp).view(-1).topk(2K) for one sentence: float32 sums, the 2K largest
     (equal sums by index). A hypothesis whose score is -inf only adds -inf candidates, which
     fill the list (by index) only when fewer than 2K candidates are finite. */
  function beamTop(scores, lp, cand, K, V) {
    var top = [], want = 2 * K;
    for (var k = 0; k < K; k++) {
      var sk = scores[k], base = k * V;
      if (sk === NEG_INF) continue;
      for (var w = 0; w < V; w++) cand[base + w] = f32(sk + lp[base + w]);
      var rowTop = topK(cand, want, base, V);   // the row's best 2K contain all of its candidates in the 2K best
      for (var r = 0; r < rowTop.length; r++) top.push([base + rowTop[r][0], rowTop[r][1]]);
    }
    top.sort(function (a, b) { return b[1] - a[1] || a[0] - b[0]; });
    var finite = top.filter(function (p) { return p[1] > NEG_INF; }).slice(0, want);
    if (finite.length < want) {   // pad with -inf candidates, lowest index first
      var used = new Set(finite.map(function (p) { return p[0]; }));
      for (var i = 0; i < K * V && finite.length < want; i++) if (!used.has(i)) finite.push([i, NEG_INF]);
    }
    return finite;
  }

  function normalised(score, length, alpha) { return score / Math.pow(length, alpha); }

  async function beamSearch(model, ids, beamSize, lengthPenalty, opts) {
    opts = opts || {};
    var K = beamSize, alphaLp = lengthPenalty === undefined ? 1.0 : lengthPenalty;
    if (!(K >= 1)) throw new Error("beam_size must be at least 1, got " + K);
    var record = !!opts.record, topk = opts.topK || 5, S = ids.length, V = model.vocabSize;
    var enc = await model.encode(ids);
    var memory = enc.memory;
    var zeros = []; for (var z = 0; z < K; z++) zeros.push(0);
    var state = selectRows(enc.state, zeros, 1);
    var limit = maxLength(S, opts.maxLenA || 2.0, opts.maxLenB === undefined ? 10 : opts.maxLenB);
    var scores = new Float32Array(K).fill(NEG_INF); scores[0] = 0;
    var prev = zeros.map(function () { return BOS; });
    var hist = zeros.map(function () { return []; });
    var attnHist = null;
    var finished = [], steps = [];
    var cand = new Float32Array(K * V);
    for (var t = 0; t < limit; t++) {
      var out = await model.step(prev, state, memory);
      var lp = out.logProbs, alpha = out.attention;
      var last = limit <= t + 1;
      if (last) for (var k0 = 0; k0 < K; k0++) forceEos(lp, k0 * V, V);
      var top = beamTop(scores, lp, cand, K, V);
      var topScores = top.map(function (p) { return p[1]; });
      var parent = top.map(function (p) { return p[0] / V | 0; });
      var word = top.map(function (p) { return p[0] % V; });
      var alive = word.map(function (w, r) { return w !== EOS && isFinite(topScores[r]); });
      var rank = 0;
      var keep = alive.map(function (a) { if (a) rank++; return a && rank <= K; });
      var keepIdx = [];
      keep.forEach(function (kp, r) { if (kp) keepIdx.push(r); });
      if (keepIdx.length !== K) {   // fewer than K alive (at the length limit): pad with the others, in order
        for (var r0 = 0; r0 < keep.length && keepIdx.length < K; r0++) if (!keep[r0]) keepIdx.push(r0);
        keepIdx = keepIdx.slice(0, K);
      }
      var newParent = keepIdx.map(function (r) { return parent[r]; });
      var newAttn = null;
      if (alpha) {
        newAttn = newParent.map(function (p) {
          return (attnHist ? attnHist[p] : []).concat([row(alpha, p, S)]);
        });
      }
      for (var r1 = 0; r1 < K; r1++) {   // </s> among the K best -> finished
        if (word[r1] === EOS && topScores[r1] > NEG_INF) {
          var p = parent[r1];
          var a = alpha ? (attnHist ? attnHist[p] : []).concat([row(alpha, p, S)]) : null;
          var toks = hist[p].slice();
          finished.push([normalised(topScores[r1], toks.length + 1, alphaLp), toks, topScores[r1], a]);
        }
      }
      if (record) {
        steps.push(beamRecord(t, K, V, S, hist, scores, alpha, lp, topScores, parent, word, keep, topk,
                              out.heads, model.heads || 0));
      }
      var done = finished.length >= K || last;
      scores = Float32Array.from(keepIdx.map(function (r) { return topScores[r]; }));
      prev = keepIdx.map(function (r) { return word[r]; });
      hist = newParent.map(function (p, i) { return hist[p].concat([prev[i]]); });
      attnHist = newAttn;
      state = selectRows(out.state, newParent, K);
      if (done) break;
    }
    var best = finished[0];
    for (var f = 1; f < finished.length; f++) if (finished[f][0] > best[0]) best = finished[f];   // max(): the first
    return {tokens: best[1], score: best[2], attention: best[3], steps: steps};
  }

  function beamRecord(t, K, V, S, hist, scores, alpha, lp, topScores, parent, word, keep, topk, heads, H) {
    var hyps = [];
    for (var k = 0; k < K; k++) {
      if (isFinite(scores[k])) {
        hyps.push({tokens: hist[k].slice(), score: scores[k], attention: alpha ? row(alpha, k, S) : null,
                   heads: headRows(heads, k, H, S), topK: topKList(lp, topk, k * V, V)});
      }
    }
    var cands = [];
    for (var r = 0; r < word.length; r++) {
      if (!isFinite(topScores[r])) continue;
      var p = parent[r];
      var status = keep[r] ? "alive" : (word[r] === EOS && r < K ? "finished" : "pruned");
      cands.push({tokens: hist[p].concat([word[r]]), score: topScores[r], parent: p, status: status});
    }
    var bestAlive = [];
    for (var c = 0; c < cands.length; c++) if (cands[c].status === "alive") { bestAlive = cands[c].tokens; break; }
    return {t: t, hypotheses: hyps, chosen: bestAlive, candidates: cands};
  }

  var ns = root.AttentionCourse = root.AttentionCourse || {};
  ns.search = {greedySearch: greedySearch, beamSearch: beamSearch, topK: topK, topKList: topKList,
               maxLength: maxLength, BOS: BOS, EOS: EOS};
})(typeof window !== "undefined" ? window : globalThis);
