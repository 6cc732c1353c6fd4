"""The generated blocks of the results page (attention_course.evaluation.report), on fake model
cards, fake training logs and fake seed runs: nothing here decodes the test split or reads the corpus."""
from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import numpy as np
import pytest

from attention_course import pretrained
from attention_course.checkpoint import load_model, save_model
from attention_course.data.vocabulary import Vocabulary
from attention_course.evaluation import report
from attention_course.evaluation.significance import paired_bootstrap, paired_precision_decay
from attention_course.translator import Translator

from helpers_models import SRC_VOCAB, TGT_VOCAB, tiny_config, tiny_model, one_thread  # noqa: F401 (autouse fixture)

ROOT = Path(__file__).resolve().parents[1]


def fake_card(name: str, bleu: float, attention: bool, vs: dict | None = None) -> dict:
    card = {"name": name, "attention": attention, "test_sentences": 1234, "bleu_greedy": bleu - 2, "bleu_beam5": bleu,
            "bleu_signature": "nrefs:var|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0",
            "chrf_beam5": bleu + 20, "perplexity": 3.5, "parameters": 3_400_000,
            "bleu_by_length_beam5": {"1-5": {"bleu": bleu + 5, "sentences": 500}, "6-10": {"bleu": bleu, "sentences": 600},
                                     "11-15": {"bleu": bleu - 10, "sentences": 100}},
            "unk_replacement": {"gain": 3.4 if attention else 0.0}}
    if vs is not None:
        card["paired_bootstrap_beam5"] = report.bootstrap_field(vs, 1234)
    return card


def entry(delta, lo, hi, p=0.001):
    return {"delta": delta, "ci95": [lo, hi], "p_value": p}


CARDS = {
    "seq2seq": fake_card("seq2seq", 32.9, False, {"bahdanau": {"bleu": entry(-10.8, -11.7, -9.9), "chrf": entry(-9.1, -9.8, -8.4)},
                                                  "luong-dot": {"bleu": entry(-11.0, -11.9, -10.1), "chrf": entry(-9.1, -9.9, -8.3)}}),
    "bahdanau": fake_card("bahdanau", 43.7, True, {"seq2seq": {"bleu": entry(10.8, 9.9, 11.7), "chrf": entry(9.1, 8.4, 9.8)},
                                                   "luong-dot": {"bleu": entry(-0.2, -0.9, 0.5, 0.6), "chrf": entry(0.0, -0.5, 0.5, 0.9)}}),
    "luong-dot": fake_card("luong-dot", 43.9, True, {"seq2seq": {"bleu": entry(11.0, 10.1, 11.9), "chrf": entry(9.1, 8.3, 9.9)},
                                                     "bahdanau": {"bleu": entry(0.2, -0.5, 0.9, 0.6), "chrf": entry(0.0, -0.5, 0.5, 0.9)}}),
}
NAMES = list(CARDS)


def test_results_table_shows_every_difference_with_its_interval():
    text = report.results_table(NAMES, CARDS)
    quality = text.split("**Beam-5 BLEU by length")[0].split("Intervals:")[0]
    assert "| Δ BLEU vs `seq2seq` [95 % CI] |" in quality and "| Δ chrF vs `seq2seq` [95 % CI] |" in quality
    rows = {line.split("|")[1].strip(): [c.strip() for c in line.split("|")[2:-1]]
            for line in quality.splitlines() if line.startswith("| `")}
    nb = "\u00a0"   # the interval does not break inside a cell
    assert rows["`bahdanau`"][2] == f"+10.8 [+9.9,{nb}+11.7]" and rows["`bahdanau`"][4] == f"+9.1 [+8.4,{nb}+9.8]"
    assert rows["`luong-dot`"][2] == f"+11.0 [+10.1,{nb}+11.9]"
    assert rows["`seq2seq`"][2] == rows["`seq2seq`"][4] == "*baseline*"
    # the generated sentences: every stated difference comes with its interval
    assert "smallest gain is `bahdanau`'s, +10.8 [+9.9, +11.7] BLEU" in text
    assert "a gap of +0.2 [-0.5, +0.9]; 0 of their 1 pairs have a BLEU interval that excludes 0, where 0.05 would" in text
    assert "1,000 resamples, seed 12345" in text
    for sentence in re.findall(r"[^.]*gap of[^;]*", text):
        assert re.search(r"\[[-+]\d+\.\d, [-+]\d+\.\d\]", sentence), sentence


def test_results_tables_stay_narrow():
    """Three tables instead of one of 11 columns: the page's column is 688 px wide, and measured in
    Chromium the quality table with its two interval columns fits with 6 columns (not 7), a table
    of the length buckets with perplexity and parameters (8 columns) did not fit."""
    text = report.results_table(NAMES, CARDS)
    headers = [line for line in text.splitlines() if line.startswith("| Model")]
    assert [line.count("|") - 1 for line in headers] == [6, 5, 4]
    assert "| Model | 1–5 words (500 sentences) | 6–10 words (600 sentences) |" in text


def test_a_card_without_bootstrap_fields_shows_a_dash():
    cards = {n: {k: v for k, v in c.items() if k != "paired_bootstrap_beam5"} for n, c in CARDS.items()}
    text = report.results_table(NAMES, cards)
    assert "| `bahdanau` | 41.7 | 43.7 | – | 63.7 | – |" in text
    assert "Intervals:" not in text


def test_comparisons_are_paired_bootstrap_results_and_mirror_each_other():
    refs = [["le chat dort ."], ["il pleut ce matin .", "ce matin il pleut ."], ["ma soeur lit un livre ."]] * 5
    outputs = {"a": ["le chat dort ."] * 15, "b": [r[0] for r in refs], "c": [r[-1] for r in refs]}
    table = report.comparisons(outputs, refs, n=200)
    direct = paired_bootstrap(outputs["b"], outputs["a"], refs, "bleu", n=200)
    assert table["b"]["a"]["bleu"] == {"delta": round(direct.delta, 2), "ci95": [round(direct.low, 2), round(direct.high, 2)],
                                       "p_value": round(direct.p_value, 4)}
    decay = paired_precision_decay(outputs["b"], outputs["a"], refs, n=200)
    assert decay.delta != 0
    assert table["b"]["a"]["p4_over_p1"] == {"delta": round(decay.delta, 2),
                                             "ci95": [round(decay.low, 2), round(decay.high, 2)],
                                             "p_value": round(decay.p_value, 4)}
    for x in outputs:
        for y in outputs:
            if x != y:
                for metric in ("bleu", "chrf", "p4_over_p1"):
                    e, m = table[x][y][metric], table[y][x][metric]
                    assert e["delta"] == -m["delta"] and e["ci95"] == [-m["ci95"][1], -m["ci95"][0]]


def test_replace_blocks_changes_only_the_marked_blocks():
    text = ("# Title\n\nprose before\n<!-- RESULTS:START -->\nold table\n<!-- RESULTS:END -->\nprose between\n"
            "<!-- SEEDS:START -->\nold seeds\n<!-- SEEDS:END -->\nprose after, untouched: <!-- x -->\n")
    new = report.replace_blocks(text, {"RESULTS": "new table\n", "SEEDS": "new seeds\n"})
    assert new == text.replace("old table", "new table").replace("old seeds", "new seeds")
    with pytest.raises(SystemExit, match="CURVES:START"):
        report.replace_blocks(text, {"CURVES": "x\n"})


def test_write_table_fills_only_the_blocks_the_file_has(tmp_path, monkeypatch):
    monkeypatch.setattr(report, "results_table", lambda names: "RESULTS TABLE\n")
    monkeypatch.setattr(report, "curves_block", lambda names, figure: f"CURVES {figure}\n")
    monkeypatch.setattr(report, "seeds_block", lambda results: "SEEDS\n")
    readme = tmp_path / "README.md"
    readme.write_text("a\n<!-- RESULTS:START -->\nx\n<!-- RESULTS:END -->\nb\n", encoding="utf-8")
    report.write_table(readme, NAMES)
    assert readme.read_text(encoding="utf-8") == "a\n<!-- RESULTS:START -->\nRESULTS TABLE\n<!-- RESULTS:END -->\nb\n"
    page = tmp_path / "book" / "results.md"
    page.parent.mkdir()
    page.write_text("<!-- RESULTS:START --><!-- RESULTS:END -->\n<!-- CURVES:START --><!-- CURVES:END -->\n"
                    "<!-- SEEDS:START --><!-- SEEDS:END -->\n", encoding="utf-8")
    report.write_table(page, NAMES, curves=tmp_path / "book" / "figures" / "c.svg")
    assert "CURVES figures/c.svg" in page.read_text(encoding="utf-8")
    assert "SEEDS" in page.read_text(encoding="utf-8")


LOGS = {
    "flat": {"epochs": [{"dev_bleu": v} for v in [10, 15, 18, 20, 21, 21.5, 22, 22.5, 23, 23.2,
                                                    23.3, 23.4, 23.5, 23.6, 23.7, 23.9, 23.8, 23.9, 23.8, 23.9]]},
    "rising": {"epochs": [{"dev_bleu": 10 + 1.0 * k} for k in range(19)] + [{"dev_bleu": 27.6}]},
}


def test_curve_summary_gives_last_epoch_gain_and_trend():
    rows = {r["name"]: r for r in report.curve_summary(list(LOGS), LOGS)}
    assert rows["flat"]["last_gain"] == pytest.approx(0.1) and rows["flat"]["verdict"] == "flat"
    assert rows["rising"]["last_gain"] == pytest.approx(-0.4) and rows["rising"]["verdict"] == "rising"
    assert rows["rising"]["slope_last"] == pytest.approx(np.polyfit(range(5), [25, 26, 27, 28, 27.6], 1)[0])
    block = report.curves_block(list(LOGS), LOGS)
    assert "```{figure} figures/learning_curves.svg" in block
    assert "| `flat` | 23.9 | +0.10 |" in block and "| `rising` | 27.6 | -0.40 |" in block
    assert "1 of the 2 curves are still rising and 1 are flat" in block


def test_learning_curves_figure_has_title_units_and_a_legend_beside_the_data(tmp_path):
    fig = report.learning_curves_figure(list(LOGS), LOGS)
    ax = fig.axes[0]
    assert ax.get_title() and "(" in ax.get_xlabel() and "points" in ax.get_ylabel()
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    legend = fig.legends[0].get_window_extent(renderer)
    assert [t.get_text() for t in fig.legends[0].get_texts()] == list(LOGS)
    assert not legend.overlaps(ax.get_window_extent(renderer))   # outside the axes: it covers no data
    for line in ax.get_lines():
        for x, y in ax.transData.transform(line.get_xydata()):
            assert not legend.contains(x, y)
    one, two = tmp_path / "a.svg", tmp_path / "b.svg"
    report.write_curves(one, list(LOGS), LOGS)
    report.write_curves(two, list(LOGS), LOGS)
    assert one.read_bytes() == two.read_bytes()          # reproducible: no date, fixed ids
    assert one.read_text().lstrip().startswith("<?xml")


def run_dir(tmp_path, name: str, seed: int, variant: str, **train_changes):
    """A fake training run: a tiny model exported like `python -m attention_course.train` does,
    with the shipped config's run settings and another seed."""
    src = Vocabulary(["<pad>", "<unk>", "<s>", "</s>"] + [f"en{i}" for i in range(SRC_VOCAB - 4)])
    tgt = Vocabulary(["<pad>", "<unk>", "<s>", "</s>"] + [f"fr{i}" for i in range(TGT_VOCAB - 4)])
    run = copy.deepcopy(pretrained.config(name)["run"])
    run["train"]["seed"] = seed
    run["train"].update(train_changes)
    out = tmp_path / f"{name}-{seed}"
    d = save_model(out / "model", tiny_model(variant, seed=seed), tiny_config(variant), src, tgt, name,
                   extra={"run": run})
    (d / "train_log.json").write_text(json.dumps({"epochs": [{"dev_bleu": 1.0}] * 20}), encoding="utf-8")
    return out


def test_seed_variation_from_fake_runs(tmp_path, monkeypatch):
    sources = ["en1 en2 en3 .", "en4 en5 .", "en6 en7 en8 en9 ."]
    refs = [["fr1 fr2 fr3 ."], ["fr4 fr5 .", "fr5 fr4 ."], ["fr6 fr7 ."]]
    monkeypatch.setattr(report, "_test_data", lambda: (sources, refs))
    runs = [run_dir(tmp_path, "seq2seq", 7, "context-every-step"), run_dir(tmp_path, "seq2seq", 8, "context-every-step"),
            run_dir(tmp_path, "bahdanau", 7, "bahdanau"), run_dir(tmp_path, "bahdanau", 9, "bahdanau", lr=0.01)]
    results = tmp_path / "seeds" / "test_bleu.json"
    data = report.record_seed_runs(runs, results)
    assert [(r["name"], r["seed"]) for r in data["runs"]] == [("bahdanau", 7), ("bahdanau", 9), ("seq2seq", 7), ("seq2seq", 8)]
    by = {(r["name"], r["seed"]): r for r in data["runs"]}
    assert by[("bahdanau", 9)]["differs_from_shipped"] == ["train.lr"] and by[("seq2seq", 7)]["differs_from_shipped"] == []
    assert report.record_seed_runs(runs[:1], results)["runs"] == data["runs"]     # merged, not duplicated
    # the attention entropy of chapter 4, for the model with attention only, recomputed by hand: greedy
    # translations of all three sentences (fewer than the sample size), each row normalised, -Σ a log a
    assert "attention_entropy" not in by[("seq2seq", 7)] and by[("bahdanau", 7)]["entropy_sentences"] == 3
    model, _, sv, tv = load_model(runs[2] / "model")
    rows = [t.attention / t.attention.sum(1, keepdims=True)
            for t in Translator(model, sv, tv).translate_batch(sources)]
    by_hand = sum(float(-(a * np.log(a)).sum()) for a in rows) / sum(len(a) for a in rows)
    assert by[("bahdanau", 7)]["attention_entropy"] == round(by_hand, 3)

    # the summary, with fake BLEU values so the arithmetic is visible
    for r in data["runs"]:
        r["bleu_beam5"] = {("seq2seq", 7): 31.0, ("seq2seq", 8): 34.0, ("bahdanau", 7): 44.0, ("bahdanau", 9): 1.0}[(r["name"], r["seed"])]
    results.write_text(json.dumps(data), encoding="utf-8")
    shipped = {"seq2seq": (1234, 32.5), "bahdanau": (1234, 43.0), "luong-general": (1234, 44.5)}
    summary = {s["name"]: s for s in report.seed_summary(data["runs"], shipped)}
    assert summary["seq2seq"]["seeds"] == [7, 8, 1234] and summary["seq2seq"]["mean"] == pytest.approx(32.5)
    assert summary["seq2seq"]["sd"] == pytest.approx(1.5)
    assert summary["bahdanau"]["bleu"] == [44.0, 43.0]       # the lr=0.01 run is left out
    assert summary["luong-general"]["seeds"] == [1234] and np.isnan(summary["luong-general"]["sd"])
    intervals = {("bahdanau", "seq2seq"): {"delta": 10.5, "ci95": [9.6, 11.4]}}
    block = report.seeds_block(results, shipped, intervals=intervals)
    assert "| `seq2seq` | 3 (7, 8, 1234) | 32.50 ± 1.50 | 31.00 – 34.00 |" in block
    assert "| `bahdanau` | 2 (7, 1234) | 43.50 ± 0.71 |" in block
    assert "| `luong-general` | 1 (1234) | 44.50 ± – |" in block
    assert "`bahdanau` seed 9: train.lr" in block
    # every seed of bahdanau (44, 43) against every seed of seq2seq (31, 34, 32.5): 13, 10, 11.5, 12, 9, 10.5;
    # luong-general has one seed and no line
    assert ("- `bahdanau` − `seq2seq`: +11.00 BLEU between the means; over the 6 pairs of seeds from +9.00 to "
            "+13.00 (6 of 6 above 0); the shipped pair: +10.5 [+9.6, +11.4].") in block
    assert "(0.71 to 1.50 BLEU here)" in block and "`luong-general` −" not in block and "− `luong-general`" not in block
    # only bahdanau seed 7 has an entropy that counts (seed 9 changed lr): one row, no difference
    assert f"| `bahdanau` | 1 (7) | {by[('bahdanau', 7)]['attention_entropy']:.3f} ± – |" in block
    assert "nats between" not in block

    # the entropy table and differences, with fake entropies: bahdanau seeds 7 and 1234 (recorded from
    # a checkpoint folder like a run), luong-general seeds 1, 2, 1234; the lr=0.01 run is left out
    extra = [{"name": "bahdanau", "seed": 1234, "bleu_beam5": 43.0, "differs_from_shipped": [], "attention_entropy": 1.5,
              "entropy_sentences": 3}] + [
             {"name": "luong-general", "seed": k, "bleu_beam5": 44.0, "differs_from_shipped": [],
              "attention_entropy": e, "entropy_sentences": 3} for k, e in ((1, 0.8), (2, 0.9), (1234, 1.0))]
    for r in data["runs"]:
        r["attention_entropy"] = {("bahdanau", 7): 1.3, ("bahdanau", 9): 9.0}.get((r["name"], r["seed"]))
        if r["attention_entropy"] is None:
            del r["attention_entropy"]
    results.write_text(json.dumps({"runs": data["runs"] + extra}), encoding="utf-8")
    block = report.seeds_block(results, shipped, intervals=intervals)
    assert "| `bahdanau` | 2 (7, 1234) | 1.400 ± 0.141 | 1.300 – 1.500 |" in block
    assert "| `luong-general` | 3 (1, 2, 1234) | 0.900 ± 0.100 | 0.800 – 1.000 |" in block
    assert "sample of 3 test sentences" in block
    # 1.3 and 1.5 against 0.8, 0.9, 1.0: from +0.3 to +0.7, all 6 above 0
    assert ("- `bahdanau` − `luong-general`: +0.500 nats between the means; over the 6 pairs of seeds from +0.300 "
            "to +0.700 (6 of 6 above 0).") in block
    # BLEU of the shipped seed comes from its card (44.5), not from the checkpoint folder's record
    assert "| `luong-general` | 3 (1, 2, 1234) | 44.17 ± 0.29 |" in block


def test_seed_differences_are_oriented_and_count_every_pair_of_seeds():
    summary = [{"name": "a", "bleu": [30.0, 32.0, 31.0], "mean": 31.0},
               {"name": "b", "bleu": [31.5, 32.5], "mean": 32.0},
               {"name": "c", "bleu": [40.0], "mean": 40.0}]
    (d,) = report.seed_differences(summary)
    # b is ahead on average, so it comes first; 31.5 and 32.5 against 30, 32, 31
    assert (d["a"], d["b"], d["delta"]) == ("b", "a", 1.0)
    assert (d["low"], d["high"], d["above"], d["pairs"]) == (-0.5, 2.5, 5, 6)


def test_seed_section_without_runs_says_how_to_make_them(tmp_path):
    block = report.seeds_block(tmp_path / "missing.json", {"seq2seq": (1234, 32.5)})
    assert "No extra seed runs" in block and "--seeds" in block and "|" not in block


def test_kept_outputs_are_used_only_when_they_match_the_card(tmp_path, monkeypatch):
    texts = ["un .", "deux ."]
    card = {"beam5_output_sha256": report.output_sha256(texts), "bleu_beam5": 50.0}
    monkeypatch.setattr(pretrained, "metrics", lambda name: card)
    monkeypatch.setattr(pretrained, "config", lambda name: {"sha256": {"model.safetensors": "abc"}})
    sources, refs = ["one .", "two ."], [["un ."], ["deux ."]]
    report._save_outputs(tmp_path, "m", texts, report._test_sha256(sources, refs))

    class Decoded:
        def __init__(self, text):
            self.text = text

    class FakeTranslator:
        calls = 0

        def translate_batch(self, sources, beam_size):
            FakeTranslator.calls += 1
            return [Decoded("trois .") for _ in sources]

    monkeypatch.setattr(pretrained, "load", lambda name: FakeTranslator())
    assert report.beam_outputs("m", tmp_path, sources, refs) == texts and FakeTranslator.calls == 0
    card["beam5_output_sha256"] = "0" * 64          # kept outputs no longer match: decode, which differs too
    with pytest.raises(SystemExit, match="regenerate the card"):
        report.beam_outputs("m", tmp_path, sources, refs)
    assert FakeTranslator.calls == 1


def test_the_table_command_reads_the_shipped_cards_and_decodes_nothing(tmp_path, monkeypatch):
    def no_decoding(*args, **kwargs):
        raise AssertionError("--table must not decode")
    monkeypatch.setattr(report, "evaluate", no_decoding)
    monkeypatch.setattr(report, "update_comparisons", no_decoding)
    readme = tmp_path / "README.md"
    readme.write_text("intro\n<!-- RESULTS:START -->\n<!-- RESULTS:END -->\noutro\n", encoding="utf-8")
    assert report.main(["--table", str(readme)]) == 0
    text = readme.read_text(encoding="utf-8")
    assert text.startswith("intro\n<!-- RESULTS:START -->\n**Quality.**") and text.endswith("<!-- RESULTS:END -->\noutro\n")
    assert all(f"| `{n}` |" in text for n in pretrained.available())


def test_pairs_clear_of_zero_are_named_with_their_interval():
    cards = copy.deepcopy(CARDS)
    cards["luong-dot"]["paired_bootstrap_beam5"]["vs"]["bahdanau"]["bleu"] = entry(0.9, 0.1, 1.7, 0.03)
    cards["bahdanau"]["paired_bootstrap_beam5"]["vs"]["luong-dot"]["bleu"] = entry(-0.9, -1.7, -0.1, 0.03)
    text = report.results_table(NAMES, cards)
    assert "1 of their 1 pairs has a BLEU interval that excludes 0 (`luong-dot` − `bahdanau`: +0.9 [+0.1, +1.7])" in text


def test_the_reversal_difference_is_stated_with_its_interval_when_both_models_are_there():
    cards = copy.deepcopy(CARDS)
    assert "reading the source backwards" not in report.results_table(NAMES, cards)
    cards["seq2seq-uni"] = fake_card("seq2seq-uni", 30.0, False,
                                     {"seq2seq": {"bleu": entry(-2.9, -3.5, -2.3), "chrf": entry(-2, -3, -1)}})
    cards["seq2seq-reverse"] = fake_card("seq2seq-reverse", 31.5, False,
                                         {"seq2seq-uni": {"bleu": entry(1.5, 0.8, 2.2), "chrf": entry(1, 0, 2)}})
    cards["seq2seq"]["paired_bootstrap_beam5"]["vs"]["seq2seq-uni"] = {"bleu": entry(2.9, 2.3, 3.5),
                                                                        "chrf": entry(2, 1, 3)}
    text = report.results_table(list(cards), cards)
    assert ("reading the source backwards changes BLEU by +1.5 [+0.8, +2.2] (`seq2seq-reverse` − `seq2seq-uni`"
            in text)
    assert "bidirectional encoder of the same summary size by +2.9 [+2.3, +3.5]" in text
    # no attention: neither counts among the models with attention
    assert "Among the 2 models with attention" in text


def test_eleven_learning_curves_are_told_apart():
    logs = {f"m{i}": {"epochs": [{"dev_bleu": float(i + e)} for e in range(20)]} for i in range(11)}
    ax = report.learning_curves_figure(list(logs), logs).axes[0]
    styles = {(str(line.get_color()), line.get_marker()) for line in ax.get_lines()}
    assert len(styles) == 11


@pytest.mark.parametrize("page", ["book/results.md", "README.md"])
def test_the_committed_tables_are_what_report_writes_from_the_cards_and_the_seed_runs(page, tmp_path):
    """A card or the seed results changed without ``report --table`` being run again fails here:
    the generated blocks of the committed page are rewritten from them and must not change."""
    committed = (ROOT / page).read_text(encoding="utf-8")
    copy_ = tmp_path / page
    copy_.parent.mkdir(parents=True, exist_ok=True)
    copy_.write_text(committed, encoding="utf-8")
    report.write_table(copy_, pretrained.available(), ROOT / report.SEED_RESULTS, tmp_path / report.CURVES_FIGURE)
    assert copy_.read_text(encoding="utf-8") == committed, \
        f"regenerate with: python -m attention_course.evaluation.report --table {page}"
