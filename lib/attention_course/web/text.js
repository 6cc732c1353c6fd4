/* attention_course web: normalize, tokenize and detokenize, as lib/attention_course/data/text.py.
 *
 * A line-by-line port: tests/test_browser_translator.py checks that tokenize(text, "en") gives
 * exactly the tokens of attention_course.data.tokenize on hundreds of sentences and hostile
 * inputs. Python's \w (str.isalnum() or "_") is [\p{L}\p{N}_], its \d is \p{Nd}, its
 * str.isspace() is the SPACES set below; strings are walked by code point, as Python does.
 * Only English is tokenized here (the page reads English); detokenize does both languages.
 */
(function (root) {
  "use strict";

  var TRANSLATE = {
    "\u2019": "'", "\u2018": "'", "\u201b": "'", "\u02bc": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"',
    "\u2010": "-", "\u2011": "-"
  };
  var TRANSLATE_RE = /[\u2019\u2018\u201b\u02bc\u201c\u201d\u201e\u201f\u2010\u2011]/g;
  // Python's str.isspace() (and str.split()), Unicode 14.
  var SPACES = "\t\n\u000b\u000c\r\u001c\u001d\u001e\u001f \u0085\u00a0\u1680\u2000\u2001\u2002\u2003" +
               "\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000";
  var SPLIT_RE = new RegExp("[" + SPACES + "]+", "u");
  var REMOVED_RE = /^[\p{Cc}\p{Cf}\p{Cs}]$/u;   // control, format, surrogate

  function normalize(text) {
    text = String(text).replace(TRANSLATE_RE, function (c) { return TRANSLATE[c]; });
    var kept = [];
    for (var ch of text) {   // by code point: a valid pair is one character, a lone surrogate one too
      if (REMOVED_RE.test(ch) && SPACES.indexOf(ch) < 0) continue;
      kept.push(ch);
    }
    return kept.join("").split(SPLIT_RE).filter(function (w) { return w.length > 0; }).join(" ")
      .normalize("NFC");
  }

  var W = "[\\p{L}\\p{N}_]";          // Python \w
  var LETTER = "[\\p{L}\\p{Nl}\\p{No}]";   // Python [^\W\d_]
  var TOKEN_EN = new RegExp(
    "(\\.{2,}|\u2026)" +                                            // ellipsis
    "|(\\p{Nd}+(?:[.,]\\p{Nd}+|:\\p{Nd}\\p{Nd}(?!\\p{Nd}))+)" +     // number: 3.5  1,000  12:45
    "|((?<!" + W + ")(?:" + LETTER + "\\.){2,})" +                  // acronym: U.S.  p.m.
    "|(" + W + "+(?:-" + W + "+)*)" +                               // word
    "|((?<=" + W + ")'" + W + "+)" +                                // clitic
    "|([^ ])",                                                      // other (after normalize, ' ' is the only space)
    "gu");

  function chars(s) { return Array.from(s); }

  function tokenize(text, lang) {
    if (lang !== "en") throw new Error("tokenize: only English (\"en\") is supported in the browser");
    var tokens = [];
    var norm = normalize(text);
    TOKEN_EN.lastIndex = 0;
    var m;
    while ((m = TOKEN_EN.exec(norm)) !== null) tokens.push(m[0]);
    for (var i = 1; i < tokens.length; i++) {   // "don" "'t" -> "do" "n't"
      var prev = chars(tokens[i - 1]), tok = tokens[i];
      if (tok.toLowerCase() === "'t" && prev.length > 1 && (prev[prev.length - 1] === "n" || prev[prev.length - 1] === "N")) {
        tokens[i - 1] = prev.slice(0, -1).join("");
        tokens[i] = prev[prev.length - 1] + tok;
      }
    }
    return tokens;
  }

  var ALNUM_RE = /^[\p{L}\p{N}]$/u;   // Python str.isalnum() of one character
  var NO_SPACE_BEFORE = [".", ",", ")", "]", "}", "...", "\u2026"];
  var NO_SPACE_BEFORE_EN = ["!", "?", ";", ":", "%", "\u203d"];
  var NO_SPACE_AFTER = ["(", "[", "{"];
  var NO_SPACE_AFTER_EN = ["$", "\u00a3", "\u20ac", "#"];

  function isClitic(tok) {
    var c = chars(tok);
    return (c.length > 1 && c[0] === "'" && ALNUM_RE.test(c[1])) || tok.toLowerCase() === "n't";
  }

  function isDots(tok) { return chars(tok).length > 1 && /^\.+$/.test(tok); }

  function isElided(tok) {
    var c = chars(tok);
    return c.length > 1 && c[c.length - 1] === "'" && ALNUM_RE.test(c[c.length - 2]);
  }

  function detokenize(tokens, lang) {
    lang = lang === undefined ? "fr" : lang;
    if (lang !== "en" && lang !== "fr") throw new Error("lang must be one of ('en', 'fr'), not " + JSON.stringify(lang));
    var en = lang === "en";
    var noBefore = NO_SPACE_BEFORE.concat(en ? NO_SPACE_BEFORE_EN : []);
    var noAfter = NO_SPACE_AFTER.concat(en ? NO_SPACE_AFTER_EN : []);
    var out = [], glueNext = true, openQuote = {'"': false, "'": false};
    tokens.forEach(function (tok) {
      if (!tok) return;
      var glue = glueNext, glueAfter = false;
      var last = out.length ? chars(out[out.length - 1]) : [];
      if (en && tok === "'" && !openQuote[tok] && out.length && (last[last.length - 1] === "s" || last[last.length - 1] === "S")) {
        glue = true;   // plural possessive: "my parents' advice"
      } else if (tok === '"' || tok === "'") {
        if (openQuote[tok]) glue = true; else glueAfter = true;
        openQuote[tok] = !openQuote[tok];
      } else if (noBefore.indexOf(tok) >= 0 || isDots(tok) || isClitic(tok)) {
        glue = true;
      }
      if (noAfter.indexOf(tok) >= 0 || isElided(tok)) glueAfter = true;
      if (out.length && !glue) out.push(" ");
      out.push(tok);
      glueNext = glueAfter;
    });
    return out.join("");
  }

  var ns = root.AttentionCourse = root.AttentionCourse || {};
  ns.text = {normalize: normalize, tokenize: tokenize, detokenize: detokenize};
})(typeof window !== "undefined" ? window : globalThis);
