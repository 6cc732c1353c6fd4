"""Regenerate every shipped model's ``metrics.json`` (its model card) and the results tables.

``python -m attention_course.evaluation.report [NAMES] [--table book/results.md]``

Every number comes from decoding the multi-reference test split with the shipped
weights; none is typed by hand.

* ``report [NAMES]`` decodes the test split (greedy and beam 5) with each model (all shipped
  without NAMES), rewrites their cards, then the paired-bootstrap comparisons of every card.
  The beam-5 outputs are kept in ``--hyps DIR`` (default ``$ATTENTION_COURSE_CACHE/hypotheses``)
  so that the comparisons never decode twice.
* ``report --bootstrap-only`` recomputes only the cards' ``paired_bootstrap_beam5`` fields from
  the kept outputs (a model whose kept outputs are missing, or do not match its card, is decoded
  with beam 5 again and must reproduce the card's output hash).
* ``report --table FILE`` rewrites the generated blocks of FILE from the cards (no decoding):
  the results tables between ``<!-- RESULTS:START -->`` and ``<!-- RESULTS:END -->`` (required),
  and, where FILE has their markers, the learning-curve summary (``CURVES``) and the seed
  variation (``SEEDS``).
* ``report --curves book/figures/learning_curves.svg`` draws the dev-BLEU learning curves of
  the shipped training logs.
* ``report --seeds RUN_DIR ...`` evaluates extra training runs of the shipped configs that
  differ only by their seed (``python -m attention_course.train CONFIG --out RUN_DIR``) and
  records their test BLEU (and, with attention, chapter 4's mean attention entropy) in
  ``--seed-results`` (default ``scripts/seeds/test_bleu.json``), which ``--table`` summarises as
  mean ± sd per model. A shipped model's checkpoint folder can be recorded the same way (its
  BLEU in the summary stays its card's; its entropy joins the other seeds').
"""
from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import torch

from .. import __version__, pretrained
from ..checkpoint import atomic_write_json, load_model, read_json, record_sha256
from ..data.batching import bucket_batches
from ..data.corpus import CORPUS_SHA256, cache_dir
from ..data.dataset import encode_pairs, tokenize_pairs
from ..data.split import load_splits
from ..data.text import detokenize
from .attention_experiments import entropy_sample, sentence_entropies
from .bleu import bleu_by_length, corpus_bleu, corpus_chrf
from .perplexity import perplexity
from .significance import RESAMPLES, SEED, corpus_statistic, paired_bootstrap, sentence_statistics
from .split_texts import evaluation_texts as _test_data    # a name of report's own: tests replace it
from .split_texts import output_sha256
from .split_texts import texts_sha256 as _test_sha256

BASELINE = "seq2seq"                       # the Δ columns compare every model with it
NO_ATTENTION = ("seq2seq-init", "seq2seq", "seq2seq-uni", "seq2seq-reverse")
SEED_MODELS = ("seq2seq", "bahdanau", "luong-general")
SEED_RESULTS = Path("scripts") / "seeds" / "test_bleu.json"
CURVES_FIGURE = Path("book") / "figures" / "learning_curves.svg"
BLOCKS = ("RESULTS", "CURVES", "SEEDS")
# the paired-bootstrap comparisons each card holds: its key -> significance.corpus_statistic's name
COMPARED = {"bleu": "bleu", "chrf": "chrf", "p4_over_p1": "p4/p1"}
RISING = 0.1        # BLEU per epoch: a least-squares slope over the last 5 epochs at least this is "rising"
LAST_EPOCHS = 5

# --- decoding the test split ---------------------------------------------------------------------

def evaluate(name: str, hyps_dir: Path | None = None) -> dict:
    """Decode the test split with the shipped ``name`` and return its model card (the beam-5
    outputs are also kept in ``hyps_dir`` for :func:`update_comparisons`)."""
    tr = pretrained.load(name)
    sources, refs = _test_data()
    t0 = time.perf_counter()
    greedy = tr.translate_batch(sources, beam_size=1)
    beam = tr.translate_batch(sources, beam_size=5)
    seconds = time.perf_counter() - t0
    beam_text = [t.text for t in beam]
    # The baseline leaves every <unk> in the output; corpus_bleu reads each as one word that matches
    # no reference (evaluation.bleu.one_word_unk), so the gain is what the copied words are worth.
    no_unk = [detokenize(t.raw_tokens, "fr") for t in beam]
    bleu_greedy, bleu_beam = corpus_bleu([t.text for t in greedy], refs), corpus_bleu(beam_text, refs)
    bleu_no_unk = corpus_bleu(no_unk, refs)
    pairs = encode_pairs(tokenize_pairs(load_splits()["test"]), tr.src_vocab, tr.tgt_vocab)
    log = pretrained.training_log(name)
    config = pretrained.config(name)
    n_unk = sum(t.raw_tokens.count("<unk>") for t in beam)
    if hyps_dir is not None:
        _save_outputs(hyps_dir, name, beam_text, _test_sha256(sources, refs))
    return {
        "name": name,
        "attention": bool(tr.has_attention),
        "test_sentences": len(sources),
        "test_references": sum(len(r) for r in refs),
        "bleu_greedy": round(bleu_greedy.score, 2),
        "bleu_beam5": round(bleu_beam.score, 2),
        "bleu_signature": bleu_beam.signature,
        "bleu_beam5_full": str(bleu_beam),
        "chrf_beam5": round(corpus_chrf(beam_text, refs).score, 2),
        "perplexity": round(perplexity(tr.model, bucket_batches(pairs, 100)), 3),
        "bleu_by_length_beam5": bleu_by_length(sources, beam_text, refs),
        "unk_replacement": {"unk_tokens_in_beam5_output": n_unk, "baseline": "placeholder",
                            "bleu_beam5_without": round(bleu_no_unk.score, 2),
                            "bleu_beam5_with": round(bleu_beam.score, 2),
                            "gain": round(bleu_beam.score - bleu_no_unk.score, 2)},
        "beam5_output_sha256": output_sha256(beam_text),
        "parameters": sum(p.numel() for p in tr.model.parameters()),
        "weights_dtype": config.get("dtype"),
        "training": {"epochs": len(log["epochs"]), "device": log.get("device"),
                     "train_seconds": round(log["train_seconds"], 1), "wall_seconds": round(log.get("wall_seconds", 0), 1),
                     "tokens_per_second": log["tokens_per_second"], "steps": log.get("steps"),
                     "dev_bleu_by_epoch": [e["dev_bleu"] for e in log["epochs"]]},
        "evaluation": {"decode_seconds_greedy_plus_beam5": round(seconds, 1), "machine": platform.machine(),
                       "torch_threads": torch.get_num_threads()},
        "corpus_sha256": CORPUS_SHA256,
        "package_version": __version__,
    }


def default_hyps_dir() -> Path:
    return cache_dir() / "hypotheses"


def _model_sha256(name: str) -> str:
    return pretrained.config(name).get("sha256", {}).get("model.safetensors", "")


def _save_outputs(hyps_dir: Path, name: str, beam_text: list[str], test_sha: str) -> None:
    hyps_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_json(hyps_dir / f"{name}.json", {
        "name": name, "model_sha256": _model_sha256(name), "test_sha256": test_sha,
        "beam5_output_sha256": output_sha256(beam_text), "beam5": beam_text})


def _matches_card(texts: list[str], card: dict, refs: list[list[str]]) -> bool:
    """Are these the beam-5 outputs the card was computed from? (Its output hash; a card written
    before the hash was recorded: its beam-5 BLEU, to the 2 decimals it keeps.)"""
    if "beam5_output_sha256" in card:
        return output_sha256(texts) == card["beam5_output_sha256"]
    return len(texts) == len(refs) and round(corpus_bleu(texts, refs).score, 2) == card["bleu_beam5"]


def beam_outputs(name: str, hyps_dir: Path, sources: list[str], refs: list[list[str]]) -> list[str]:
    """The beam-5 test outputs behind ``name``'s card: the kept ones when they match the card
    (same weights, same test split, same outputs), else decoded again, which must match it."""
    card, test_sha = pretrained.metrics(name), _test_sha256(sources, refs)
    path = hyps_dir / f"{name}.json"
    if path.is_file():
        try:
            kept = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            kept = {}
        texts = kept.get("beam5")
        if (isinstance(texts, list) and kept.get("model_sha256") == _model_sha256(name)
                and kept.get("test_sha256") == test_sha and _matches_card(texts, card, refs)):
            return texts
    print(f"{name}: decoding the test split with beam 5 (no kept outputs match its card)", flush=True)
    texts = [t.text for t in pretrained.load(name).translate_batch(sources, beam_size=5)]
    if not _matches_card(texts, card, refs):
        raise SystemExit(f"{name}: the beam-5 outputs decoded now differ from those its card was computed from; "
                         f"regenerate the card first: python -m attention_course.evaluation.report {name}")
    _save_outputs(hyps_dir, name, texts, test_sha)
    return texts


def comparisons(outputs: Mapping[str, list[str]], refs: list[list[str]], n: int = RESAMPLES,
                seed: int | None = SEED) -> dict[str, dict[str, dict[str, dict]]]:
    """``{a: {b: {"bleu": {...}, "chrf": {...}, "p4_over_p1": {...}}}}``: paired bootstrap of
    score(a) − score(b) for every ordered pair of systems, for BLEU, chrF and the share of its
    1-gram precision a system keeps at 4-grams (:func:`.significance.precision_decay`, in %).
    Each unordered pair is resampled once; b − a mirrors a − b."""
    names = list(outputs)
    out: dict[str, dict] = {a: {} for a in names}
    for key, statistic in COMPARED.items():
        metric, _ = corpus_statistic(statistic)
        stats = {a: sentence_statistics(outputs[a], refs, metric) for a in names}
        for i, a in enumerate(names):
            for b in names[i + 1:]:
                r = paired_bootstrap(outputs[a], outputs[b], refs, statistic, n, seed, stats_a=stats[a], stats_b=stats[b])
                d = r.as_dict()
                out[a].setdefault(b, {})[key] = {"delta": d["delta"], "ci95": d["ci95"], "p_value": d["p_value"]}
                out[b].setdefault(a, {})[key] = {"delta": round(-r.delta, 2) + 0.0,
                                                    "ci95": [round(-r.high, 2) + 0.0, round(-r.low, 2) + 0.0],
                                                    "p_value": d["p_value"]}
    return out


def bootstrap_field(vs: dict, sentences: int, n: int = RESAMPLES, seed: int | None = SEED) -> dict:
    return {"what": "beam-5 score of this model minus that of the other, on the same test sentences; "
                    "ci95: 95 % percentile interval of the paired bootstrap (test sentences resampled "
                    "with replacement, both systems scored on each resample with sacreBLEU's statistics); "
                    "p4_over_p1: 4-gram precision / 1-gram precision of the BLEU statistics, in %",
            "resamples": n, "seed": seed, "sentences": sentences, "vs": vs}


def update_comparisons(names: list[str], hyps_dir: Path) -> None:
    """Add every card's ``paired_bootstrap_beam5`` (vs every other model) from the kept outputs."""
    sources, refs = _test_data()
    outputs = {n: beam_outputs(n, hyps_dir, sources, refs) for n in names}
    table = comparisons(outputs, refs)
    for n in names:
        card = pretrained.metrics(n)
        if "attention" not in card:   # a card written before the field existed
            card["attention"] = bool(pretrained.load(n).has_attention)
        card["beam5_output_sha256"] = output_sha256(outputs[n])
        card["paired_bootstrap_beam5"] = bootstrap_field(table[n], len(sources))
        write_card(n, card)


def write_card(name: str, card: dict) -> None:
    atomic_write_json(pretrained.checkpoint_dir(name) / "metrics.json", card)
    record_sha256(pretrained.checkpoint_dir(name), "metrics.json")   # load_model verifies it


# --- the results tables --------------------------------------------------------------------------

def _ci(entry: dict | None, nbsp: bool = False) -> str:
    """``+10.8 [+9.8, +11.7]``; with ``nbsp`` the interval cannot break inside (a table cell then
    wraps into two lines, the difference and its interval)."""
    if not entry:
        return "–"
    lo, hi = entry["ci95"]
    return f"{entry['delta']:+.1f} [{lo:+.1f},{chr(0xA0) if nbsp else ' '}{hi:+.1f}]"


def _vs(card: dict, other: str, metric: str) -> dict | None:
    return card.get("paired_bootstrap_beam5", {}).get("vs", {}).get(other, {}).get(metric)


def _table(rows: list[tuple]) -> list[str]:
    lines = ["| " + " | ".join(r) + " |" for r in rows]
    lines.insert(1, "|" + "---|" * len(rows[0]))
    return lines


def _has_attention(name: str, card: dict) -> bool:
    return bool(card.get("attention", name not in NO_ATTENTION))


BUCKETS = ("1-5", "6-10", "11-15", "16+")


def results_table(names: list[str], cards: Mapping[str, dict] | None = None, baseline: str = BASELINE) -> str:
    """The RESULTS block: three tables narrow enough for the book's 688 px column (quality with the
    paired-bootstrap Δ vs ``baseline``; BLEU by source length; perplexity, ``<unk>`` gain and size)
    and generated sentences on the differences, each with its 95 % interval."""
    cards = {n: (cards[n] if cards is not None else pretrained.metrics(n)) for n in names}
    first = cards[names[0]]
    counts = {k: first["bleu_by_length_beam5"].get(k, {}).get("sentences") for k in BUCKETS}
    quality = [("Model", "BLEU greedy", "BLEU beam 5", f"Δ BLEU vs `{baseline}` [95 % CI]", "chrF",
                f"Δ chrF vs `{baseline}` [95 % CI]")]
    by_length = [("Model", *(f"{k.replace('-', '–')} words" + (f" ({counts[k]:,} sentences)" if counts[k] else "")
                             for k in BUCKETS))]
    model = [("Model", "Perplexity", "`<unk>` replacement gain (BLEU)", "Parameters")]
    for n in names:
        m = cards[n]
        base = "*baseline*" if n == baseline else None
        quality.append((f"`{n}`", f"{m['bleu_greedy']:.1f}", f"{m['bleu_beam5']:.1f}",
                        base or _ci(_vs(m, baseline, "bleu"), True), f"{m['chrf_beam5']:.1f}",
                        base or _ci(_vs(m, baseline, "chrf"), True)))
        b = m["bleu_by_length_beam5"]
        by_length.append((f"`{n}`", *(f"{b[k]['bleu']:.1f}" if k in b else "–" for k in BUCKETS)))
        unk = m["unk_replacement"]
        # Cards made before the placeholder baseline measured a scoring artefact: not shown.
        gain = f"{unk['gain']:+.1f}" if unk.get("baseline") == "placeholder" else "–"
        model.append((f"`{n}`", f"{m['perplexity']:.2f}", gain,
                      f"{m['parameters'] / 1e6:.2f} M"))
    boot = next((c["paired_bootstrap_beam5"] for c in cards.values() if "paired_bootstrap_beam5" in c), None)
    out = ["**Quality.** Beam 5 unless the column says greedy; Δ is the model's beam-5 score minus "
           f"`{baseline}`'s on the same test sentences.", "", *_table(quality), ""]
    if boot:
        out += [f"Intervals: 95 % percentile interval of a paired bootstrap over the {boot['sentences']:,} test "
                f"sentences ({boot['resamples']:,} resamples, seed {boot['seed']}; both models scored on the same "
                "resampled sentences with sacreBLEU's sufficient statistics). "
                + " ".join(_difference_sentences(names, cards, baseline)), ""]
    out += ["**Beam-5 BLEU by length of the English source.**", "", *_table(by_length), "",
            "**Perplexity, `<unk>` replacement and size.**", "", *_table(model), "",
            "`<unk>` replacement gain: beam-5 BLEU with each `<unk>` replaced by the source word it "
            "attends to most, minus BLEU of the raw output, where each `<unk>` counts as one wrong word; "
            "`–` where the card predates that baseline (its old number counted `<unk>` as three tokens, "
            "see chapter 05).", "",
            f"sacreBLEU signature: `{first['bleu_signature']}`. Test split: {first['test_sentences']:,} English "
            "sentences, every French translation a reference."]
    return "\n".join(out) + "\n"


def _difference_sentences(names: list[str], cards: Mapping[str, dict], baseline: str) -> list[str]:
    """The differences the page states, each with its interval, generated from the cards."""
    out = []
    attn = [n for n in names if _has_attention(n, cards[n])]
    vs_base = [(n, _vs(cards[n], baseline, "bleu")) for n in attn]
    vs_base = [(n, e) for n, e in vs_base if e]
    if vs_base:
        n_min, e_min = min(vs_base, key=lambda x: x[1]["delta"])
        n_low, e_low = min(vs_base, key=lambda x: x[1]["ci95"][0])
        verdict = "above 0" if e_low["ci95"][0] > 0 else "not all above 0"
        out.append(f"Every model with attention is ahead of `{baseline}`: the smallest gain is `{n_min}`'s, "
                   f"{_ci(e_min)} BLEU, and the lowest interval end is {e_low['ci95'][0]:+.1f} (`{n_low}`), {verdict}.")
    if "seq2seq-reverse" in cards and "seq2seq-uni" in cards:
        rev, bi = _vs(cards["seq2seq-reverse"], "seq2seq-uni", "bleu"), _vs(cards["seq2seq"], "seq2seq-uni", "bleu")
        if rev and bi:
            out.append(f"Without attention, reading the source backwards changes BLEU by {_ci(rev)} "
                       f"(`seq2seq-reverse` − `seq2seq-uni`, the same model reading forwards), and a "
                       f"bidirectional encoder of the same summary size by {_ci(bi)} (`seq2seq` − `seq2seq-uni`).")
    pairs = [(a, b, _vs(cards[a], b, "bleu")) for i, a in enumerate(attn) for b in attn[i + 1:]]
    pairs = [(a, b, e) for a, b, e in pairs if e]
    if len(attn) > 1 and pairs:
        hi = max(attn, key=lambda n: cards[n]["bleu_beam5"])
        lo = min(attn, key=lambda n: cards[n]["bleu_beam5"])
        clear = [(a, b, e) if e["delta"] >= 0 else (b, a, _vs(cards[b], a, "bleu")) for a, b, e in pairs
                 if e["ci95"][0] > 0 or e["ci95"][1] < 0]
        gap = _vs(cards[hi], lo, "bleu")
        named = "; ".join(f"`{a}` − `{b}`: {_ci(e)}" for a, b, e in clear if e)
        out.append(f"Among the {len(attn)} models with attention, beam-5 BLEU goes from {cards[lo]['bleu_beam5']:.1f} "
                   f"(`{lo}`) to {cards[hi]['bleu_beam5']:.1f} (`{hi}`), a gap of {_ci(gap)}; "
                   f"{len(clear)} of their {len(pairs)} pairs {'has' if len(clear) == 1 else 'have'} a BLEU interval "
                   f"that excludes 0{f' ({named})' if clear and len(clear) <= 3 else ''}, where "
                   f"{0.05 * len(pairs):.2g} would be expected by chance alone if all {len(attn)} were equally good. "
                   "Each card (`pretrained.metrics(name)[\"paired_bootstrap_beam5\"]`) holds the Δ BLEU, Δ chrF "
                   "and Δ p4/p1 (how much faster n-gram precision falls, chapter 2) with their intervals against "
                   "every other model. These intervals measure how much the test "
                   "sentences decide a difference, not how much another training seed would change it "
                   "(see *Seed variation* on the results page, `book/results.md`).")
    return out


# --- learning curves -----------------------------------------------------------------------------

def _dev_curves(names: list[str], logs: Mapping[str, dict] | None = None) -> dict[str, list[float]]:
    logs = {n: (logs[n] if logs is not None else pretrained.training_log(n)) for n in names}
    return {n: [float(e["dev_bleu"]) for e in logs[n]["epochs"]] for n in names}


def _slope(values: Sequence[float]) -> float:
    """Least-squares slope of ``values`` against 1, 2, 3, ..."""
    k = len(values)
    xs = range(k)
    mx, my = (k - 1) / 2, sum(values) / k
    return sum((x - mx) * (y - my) for x, y in zip(xs, values)) / sum((x - mx) ** 2 for x in xs)


def curve_summary(names: list[str], logs: Mapping[str, dict] | None = None, last: int = LAST_EPOCHS,
                  rising: float = RISING) -> list[dict]:
    """Per model: final dev BLEU, gain in the last epoch, slope over the last ``last`` epochs and
    over epochs 6–10, and whether the curve is still rising at the end (slope ≥ ``rising``)."""
    out = []
    for n, c in _dev_curves(names, logs).items():
        k = len(c)
        slope = _slope(c[-last:]) if k >= 2 else 0.0
        early = _slope(c[5:10]) if k >= 10 else None
        verdict = "rising" if slope >= rising else "falling" if slope <= -rising else "flat"
        out.append({"name": n, "epochs": k, "final": c[-1], "last_gain": c[-1] - c[-2] if k >= 2 else None,
                    "slope_last": slope, "slope_6_10": early, "verdict": verdict})
    return out


def curves_block(names: list[str], logs: Mapping[str, dict] | None = None, figure: str = "figures/learning_curves.svg"
                 ) -> str:
    rows = curve_summary(names, logs)
    k = rows[0]["epochs"]
    first = k - LAST_EPOCHS + 1
    table = [("Model", f"Dev BLEU, epoch {k}", f"Gain in epoch {k}", f"Slope, epochs {first}–{k}",
              "Slope, epochs 6–10", f"At epoch {k}")]
    for r in rows:
        table.append((f"`{r['name']}`", f"{r['final']:.1f}", f"{r['last_gain']:+.2f}", f"{r['slope_last']:+.2f}",
                      "–" if r["slope_6_10"] is None else f"{r['slope_6_10']:+.2f}", r["verdict"]))
    gains = [r["last_gain"] for r in rows]
    count = {v: sum(r["verdict"] == v for r in rows) for v in ("rising", "flat", "falling")}
    late = [r["slope_last"] for r in rows]
    early = [r["slope_6_10"] for r in rows if r["slope_6_10"] is not None]
    steps = [b - a for c in _dev_curves(names, logs).values() for a, b in zip(c[-LAST_EPOCHS:], c[-LAST_EPOCHS + 1:])]
    noise = statistics.pstdev(steps) if len(steps) > 1 else math.nan
    up = sum(g > 0 for g in gains)
    text = (f"In epoch {k}, {up} of the {len(rows)} models gained dev BLEU and {len(rows) - up} lost some "
            f"(from {min(gains):+.2f} to {max(gains):+.2f}); over epochs {first}–{k} the epoch-to-epoch changes of all "
            f"models have a standard deviation of {noise:.2f} BLEU, so a single epoch's gain says little. The trend "
            f"is the slope of a least-squares line through the last {LAST_EPOCHS} epochs (BLEU per epoch; *rising*: "
            f"at least {RISING:+.1f}, *flat*: between {-RISING:+.1f} and {RISING:+.1f}). At epoch {k}, "
            f"{count['rising']} of the {len(rows)} curves are still rising and {count['flat']} are flat"
            + (f", {count['falling']} falling" if count["falling"] else "")
            + f"; their slopes, {min(late):+.2f} to {max(late):+.2f} BLEU per epoch")
    if early:
        text += f", are far below those of epochs 6–10 ({min(early):+.2f} to {max(early):+.2f})"
    text += "."
    if count["rising"]:
        rising = [f"`{r['name']}`" for r in rows if r["verdict"] == "rising"]
        text += (f" Training longer would likely still add a little to {', '.join(rising)} "
                 f"(a slope of {max(late):+.2f} is {LAST_EPOCHS * max(late):.1f} BLEU over {LAST_EPOCHS} more epochs "
                 "if it held).")
    alt = ("Development-set BLEU after each of the " + str(k) + " training epochs for the "
           + str(len(rows)) + " shipped models.")
    return "\n".join([f"```{{figure}} {figure}", ":name: learning-curves", f":alt: {alt}", ":width: 100%", "",
                      f"Dev BLEU after every epoch (sacreBLEU, greedy search, development split), from each model's "
                      f"`train_log.json`. Regenerate with `python -m attention_course.evaluation.report --curves "
                      f"{CURVES_FIGURE.as_posix()}`.", "```", "", *_table(table), "", text, ""])


def learning_curves_figure(names: list[str], logs: Mapping[str, dict] | None = None):
    """A matplotlib Figure of the dev-BLEU learning curves (legend outside the axes)."""
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    curves = _dev_curves(names, logs)
    fig = Figure(figsize=(8.2, 4.6), layout="constrained")   # no pyplot: the global backend is left alone
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    colours = (*matplotlib.colormaps["tab10"].colors, "black")   # eleven models: ten colours and black
    markers = "os^Dv<>Pp*X"
    for i, (n, c) in enumerate(curves.items()):
        ax.plot(range(1, len(c) + 1), c, label=n, color=colours[i % len(colours)], marker=markers[i % len(markers)],
                markersize=3.5, linewidth=1.4, linestyle="--" if n in NO_ATTENTION else "-")
    k = max(len(c) for c in curves.values())
    ax.set_xlim(0.5, k + 0.5)
    ax.set_xticks(range(1, k + 1, 1 if k <= 20 else max(1, k // 10)))
    ax.set_xlabel("Epoch (passes over the training split)")
    ax.set_ylabel("Dev BLEU (sacreBLEU, points)")
    ax.set_title("Learning curves: development-set BLEU after each epoch")
    ax.grid(True, alpha=0.3)
    fig.legend(loc="outside right upper", title="Model (dashed: no attention)", fontsize=8, title_fontsize=8)
    return fig


def write_curves(path: Path, names: list[str], logs: Mapping[str, dict] | None = None) -> None:
    import matplotlib
    path.parent.mkdir(parents=True, exist_ok=True)
    fig = learning_curves_figure(names, logs)
    with matplotlib.rc_context({"svg.hashsalt": "attention-course", "svg.fonttype": "path"}):
        fig.savefig(path, format="svg", metadata={"Date": None, "Creator": None})


# --- seed variation ------------------------------------------------------------------------------

def _run_model_dir(run_dir: Path) -> Path:
    run_dir = Path(run_dir)
    return run_dir / "model" if (run_dir / "model" / "config.json").is_file() else run_dir


_MAY_DIFFER = {("train", "seed"), ("train", "threads"), ("train", "checkpoint_every"), ("description",)}


def _differences(a, b, path=()) -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for k in sorted(set(a) | set(b)):
            if (*path, k) not in _MAY_DIFFER:
                out += _differences(a.get(k), b.get(k), (*path, k))
        return out
    return [] if a == b else [".".join(path)]


def evaluate_run(run_dir: Path) -> dict:
    """Test BLEU (beam 5) and chrF of one training run's exported model (``RUN_DIR`` or ``RUN_DIR/model``)."""
    d = _run_model_dir(run_dir)
    model, config, src_vocab, tgt_vocab = load_model(d)
    from ..translator import Translator
    name = config.get("name") or config.get("run", {}).get("name")
    run = config.get("run", {})
    shipped = pretrained.config(name)["run"] if name in pretrained.available() else None
    tr = Translator(model, src_vocab, tgt_vocab, name=name)
    sources, refs = _test_data()
    beam = [t.text for t in tr.translate_batch(sources, beam_size=5)]
    log = read_json(d / "train_log.json", "the training log") if (d / "train_log.json").is_file() else {}
    entropy = {}
    if tr.has_attention:   # chapter 4's measure: greedy translations of its sample of test sentences
        sample = entropy_sample(sources)
        entropy = {"attention_entropy": round(sentence_entropies(tr.translate_batch(sample)).mean, 3),
                   "entropy_sentences": len(sample)}
    return {"name": name, "seed": run.get("train", {}).get("seed"), "run_dir": str(run_dir),
            "epochs": len(log.get("epochs", [])) or None,
            "bleu_beam5": round(corpus_bleu(beam, refs).score, 2), "chrf_beam5": round(corpus_chrf(beam, refs).score, 2),
            **entropy,
            "model_sha256": config.get("sha256", {}).get("model.safetensors"),
            "differs_from_shipped": _differences(run, shipped) if shipped is not None else ["no shipped model"],
            "test_sentences": len(sources), "corpus_sha256": CORPUS_SHA256, "package_version": __version__}


def record_seed_runs(run_dirs: list[Path], results: Path) -> dict:
    """Evaluate the runs and merge them into the results file (one entry per model and seed)."""
    data = json.loads(results.read_text(encoding="utf-8")) if results.is_file() else {}
    runs = {(r["name"], r["seed"]): r for r in data.get("runs", [])}
    for d in run_dirs:
        r = evaluate_run(d)
        runs[(r["name"], r["seed"])] = r
        print(f"{r['name']} seed {r['seed']}: BLEU {r['bleu_beam5']:.2f} beam 5"
              + (f" (differs from the shipped config in {', '.join(r['differs_from_shipped'])})"
                 if r["differs_from_shipped"] else ""), flush=True)
    data = {"what": "test BLEU / chrF (beam 5) of extra training runs that differ from the shipped configs only "
                    "by their seed, and for models with attention chapter 4's mean attention entropy (nats; greedy, "
                    "its entropy_sample of the test sentences), also of the shipped models recorded from their "
                    "checkpoint folders; written by python -m attention_course.evaluation.report --seeds RUN_DIR ...",
            "runs": sorted(runs.values(), key=lambda r: (r["name"], r["seed"]))}
    results.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(results, data)
    return data


def _counted(runs: list[dict], name: str) -> list[dict]:
    """``name``'s runs that count as seeds: those whose settings differ from the shipped config in nothing else."""
    return [r for r in runs if r.get("name") == name and not r.get("differs_from_shipped")]


def _over_seeds(name: str, by_seed: Mapping[int, float], key: str) -> dict:
    """``name``'s values (under ``key``) in seed order, their mean and sample sd (nan where undefined)."""
    seeds = sorted(by_seed)
    values = [by_seed[s] for s in seeds]
    return {"name": name, "seeds": seeds, key: values, "mean": statistics.fmean(values) if values else math.nan,
            "sd": statistics.stdev(values) if len(values) > 1 else math.nan}


def seed_summary(runs: list[dict], shipped: Mapping[str, tuple[int, float]], models: Sequence[str] = SEED_MODELS
                 ) -> list[dict]:
    """Per model: the test BLEU of every seed (the shipped model's seed included, from its card;
    runs whose settings differ from the shipped config beyond the seed are left out), mean and
    sample standard deviation."""
    out = []
    for name in models:
        scores = {r["seed"]: r["bleu_beam5"] for r in _counted(runs, name)}
        if name in shipped:
            seed, bleu = shipped[name]
            scores[seed] = bleu          # the card's, also where the checkpoint folder was recorded as a run
        out.append(_over_seeds(name, scores, "bleu"))
    return out


def seed_entropies(runs: list[dict], models: Sequence[str] = SEED_MODELS) -> list[dict]:
    """Per model with recorded attention entropies (chapter 4's measure; the shipped seed counts
    when its checkpoint folder was recorded like a run): the entropy of every seed, mean and sd."""
    by_model = {name: {r["seed"]: r["attention_entropy"] for r in _counted(runs, name) if "attention_entropy" in r}
                for name in models}
    return [_over_seeds(name, by_seed, "values") for name, by_seed in by_model.items() if by_seed]


def seed_differences(summary: list[dict], key: str = "bleu") -> list[dict]:
    """For every pair of models with at least two seeds each, in ``summary``'s order and oriented
    so that the mean difference is ≥ 0: the difference of the means, and over every seed of one
    model against every seed of the other the lowest and highest difference and how many are > 0
    (``key``: the list of per-seed values in each entry)."""
    have = [s for s in summary if len(s[key]) > 1]
    out = []
    for i, x in enumerate(have):
        for y in have[i + 1:]:
            a, b = (x, y) if x["mean"] >= y["mean"] else (y, x)
            diffs = [p - q for p in a[key] for q in b[key]]
            out.append({"a": a["name"], "b": b["name"], "delta": a["mean"] - b["mean"],
                        "low": min(diffs), "high": max(diffs), "above": sum(d > 0 for d in diffs), "pairs": len(diffs)})
    return out


def shipped_seeds(models: Sequence[str] = SEED_MODELS) -> dict[str, tuple[int, float]]:
    """``{name: (seed, test BLEU beam 5)}`` of the shipped models (seed from the config, BLEU from the card)."""
    return {n: (pretrained.config(n)["run"]["train"]["seed"], pretrained.metrics(n)["bleu_beam5"])
            for n in models if n in pretrained.available()}


def shipped_intervals(models: Sequence[str] = SEED_MODELS) -> dict[tuple[str, str], dict]:
    """``{(a, b): Δ BLEU with its 95 % interval}`` of the shipped models, from a's card."""
    cards = {n: pretrained.metrics(n) for n in models if n in pretrained.available()}
    return {(a, b): e for a in cards for b in cards if a != b and (e := _vs(cards[a], b, "bleu"))}


def _seed_rows(what: str, summary: list[dict], key: str, digits: int) -> list[tuple]:
    """The table of a seed summary: a row per model with values (seeds, mean ± sd, range)."""
    rows = [("Model", "Seeds", f"{what}, mean ± sd", "Lowest – highest")]
    for s in summary:
        if s[key]:
            sd = "–" if math.isnan(s["sd"]) else f"{s['sd']:.{digits}f}"
            rows.append((f"`{s['name']}`", f"{len(s['seeds'])} ({', '.join(map(str, s['seeds']))})",
                         f"{s['mean']:.{digits}f} ± {sd}", f"{min(s[key]):.{digits}f} – {max(s[key]):.{digits}f}"))
    return rows


def _difference_line(d: dict, unit: str, digits: int) -> str:
    """A :func:`seed_differences` entry as a list item (without its final full stop)."""
    return (f"- `{d['a']}` − `{d['b']}`: {d['delta']:+.{digits}f} {unit} between the means; over the "
            f"{d['pairs']} pairs of seeds from {d['low']:+.{digits}f} to {d['high']:+.{digits}f} "
            f"({d['above']} of {d['pairs']} above 0)")


def seeds_block(results: Path | None, shipped: Mapping[str, tuple[int, float]] | None = None,
                models: Sequence[str] = SEED_MODELS,
                intervals: Mapping[tuple[str, str], dict] | None = None) -> str:
    """The SEEDS block: mean ± sd of test BLEU over seeds, from the results file if it has runs,
    and every difference between the models over their seeds next to the shipped pair's
    paired-bootstrap interval (``intervals``, default from the cards)."""
    data = json.loads(results.read_text(encoding="utf-8")) if results is not None and results.is_file() else {}
    runs = data.get("runs", [])
    shipped = shipped_seeds(models) if shipped is None else shipped
    how = ("Extra runs are trained with `python -m attention_course.train CONFIG --out DIR` from a copy of a "
           "shipped config whose `train.seed` alone is changed, then evaluated with "
           "`python -m attention_course.evaluation.report --seeds DIR ...`, which records their test BLEU in "
           f"`{SEED_RESULTS.as_posix()}`.")
    if not any(r.get("name") in models for r in runs):
        return ("No extra seed runs have been recorded yet: each model above was trained once, with seed "
                f"{next(iter(shipped.values()))[0] if shipped else 1234}. " + how + " This section then gives, for "
                + ", ".join(f"`{m}`" for m in models) + ", the mean ± standard deviation of test BLEU over the seeds.\n")
    summary = seed_summary(runs, shipped, models)
    rows = _seed_rows("Test BLEU beam 5", summary, "bleu", 2)
    left_out = [r for r in runs if r.get("name") in models and r.get("differs_from_shipped")]
    text = ("Test BLEU (beam 5) of the same config trained with different seeds, the shipped model's seed "
            "included; sd is the sample standard deviation over the seeds.")
    if left_out:
        text += (f" Left out: {len(left_out)} run(s) whose settings differ from the shipped config beyond the seed ("
                 + "; ".join(f"`{r['name']}` seed {r['seed']}: {', '.join(r['differs_from_shipped'])}" for r in left_out)
                 + ").")
    out = [*_table(rows), "", text + " " + how, ""]
    diffs = seed_differences(summary)
    if diffs:
        intervals = shipped_intervals(models) if intervals is None else intervals
        sds = [s["sd"] for s in summary if len(s["bleu"]) > 1]
        out += ["The differences between the models over their seeds (every seed of one against every seed of the "
                "other), beside the paired-bootstrap interval of the shipped pair, which measures how much the test "
                "sentences decide a difference, not how much the seed does. The seed-to-seed sd "
                f"({min(sds):.2f} to {max(sds):.2f} BLEU here) is the part those intervals leave out.", ""]
        for d in diffs:
            e = intervals.get((d["a"], d["b"]))
            out.append(_difference_line(d, "BLEU", 2) + (f"; the shipped pair: {_ci(e)}" if e else "") + ".")
        out.append("")
    entropies = seed_entropies(runs, models)
    if entropies:
        n = {r["entropy_sentences"] for r in runs if "attention_entropy" in r}
        rows = _seed_rows("Attention entropy, nats", entropies, "values", 3)
        out += ["The same seeds' attention: the mean entropy per output word of chapter 4 (greedy translations of "
                f"its random sample of {' or '.join(map(str, sorted(n)))} test sentences; the shipped seed is recorded "
                "from its checkpoint folder, `report --seeds lib/attention_course/checkpoints/NAME`). Chapter 4's "
                "intervals of entropy differences cover the choice of sentences; this is how much the seed moves "
                "each model's entropy.", "", *_table(rows), ""]
        out += [_difference_line(d, "nats", 3) + "." for d in seed_differences(entropies, "values")]
        out.append("")
    return "\n".join(out)


# --- writing the blocks --------------------------------------------------------------------------

def replace_blocks(text: str, blocks: Mapping[str, str], path: str = "the file") -> str:
    """``text`` with the content between each ``<!-- NAME:START -->`` / ``<!-- NAME:END -->`` pair
    replaced; only those blocks change, everything else is kept byte for byte."""
    for name, content in blocks.items():
        start, end = f"<!-- {name}:START -->", f"<!-- {name}:END -->"
        if text.count(start) != 1 or text.count(end) != 1 or text.index(start) > text.index(end):
            raise SystemExit(f"{path} needs the markers {start} and {end}, once each and in this order")
        head, rest = text.split(start, 1)
        text = head + start + "\n" + content + end + rest.split(end, 1)[1]
    return text


def write_table(path: Path, names: list[str], seed_results: Path | None = None, curves: Path | None = None) -> None:
    text = path.read_text(encoding="utf-8")
    blocks = {"RESULTS": results_table(names)}
    if "<!-- CURVES:START -->" in text:
        figure = Path(os.path.relpath(curves or CURVES_FIGURE, path.parent)).as_posix()
        blocks["CURVES"] = curves_block(names, figure=figure)
    if "<!-- SEEDS:START -->" in text:
        blocks["SEEDS"] = seeds_block(seed_results)
    new = replace_blocks(text, blocks, str(path))
    if new != text:
        path.write_text(new, encoding="utf-8")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m attention_course.evaluation.report",
                                description=__doc__.splitlines()[0])
    p.add_argument("names", nargs="*")
    p.add_argument("--table", action="append", default=[],
                   help="rewrite the generated blocks of this file (RESULTS, and CURVES / SEEDS where it has their "
                        "markers); may be given more than once")
    p.add_argument("--curves", help="draw the dev-BLEU learning curves into this SVG file")
    p.add_argument("--bootstrap-only", action="store_true",
                   help="recompute only the paired-bootstrap fields of the cards, from the kept beam-5 outputs")
    p.add_argument("--hyps", type=Path, help="folder for the kept beam-5 outputs (default: $ATTENTION_COURSE_CACHE/hypotheses)")
    p.add_argument("--seeds", nargs="+", type=Path, metavar="RUN_DIR",
                   help="evaluate these training runs (other seeds of shipped configs) into --seed-results")
    p.add_argument("--seed-results", type=Path, default=SEED_RESULTS)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    names = args.names or pretrained.available()
    hyps_dir = args.hyps or default_hyps_dir()
    only_output = bool(args.table or args.curves or args.seeds) and not args.names
    t0 = time.perf_counter()
    if args.seeds:
        record_seed_runs(args.seeds, args.seed_results)
    if args.bootstrap_only:
        update_comparisons(pretrained.available(), hyps_dir)
        print(f"paired bootstrap fields of {len(pretrained.available())} cards rewritten", flush=True)
    elif not only_output:
        for n in names:
            m = evaluate(n, hyps_dir)
            write_card(n, m)
            print(f"{n}: BLEU {m['bleu_greedy']:.1f} greedy, {m['bleu_beam5']:.1f} beam 5", flush=True)
        update_comparisons(pretrained.available(), hyps_dir)
    if args.curves:
        write_curves(Path(args.curves), pretrained.available())
    for table in args.table:
        write_table(Path(table), pretrained.available(), args.seed_results,
                    Path(args.curves) if args.curves else None)
    print(f"done in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
