"""Failure analysis (``chapters/08_failures.ipynb``): over-translation, under-translation, the coverage penalty and
exposure bias, measured on the shipped models.

Every count is taken on the decoder's own words, ``Translation.raw_tokens`` (before ``<unk>``
replacement, so models with and without attention are measured alike), with words compared
case-insensitively. A *content word* is a token with a letter or digit that is not ``<unk>``
and not one of the :data:`COMMON` most frequent tokens of the model's vocabulary (its first
entries after the four special ones; the vocabularies are sorted by training frequency).

* **Repeated words** (over-translation, :func:`repeated_words`): a content word that occurs at
  least twice in the output *and* more often than in every reference. Its extra copies,
  ``count in the output - max(1, most in one reference)``, are what is counted.
* **Immediate repeats** (:func:`immediate_repeats`): an output token equal to the token just
  before it (any token but ``<unk>``), unless a reference has that word doubled too.
* **Uncovered source words** (under-translation, :func:`uncovered_words`): a content word of
  the source whose *coverage* ``c_j = Σ_i α_ij``, the attention it received summed over the
  output words (the step that chose ``</s>`` is left out), is below :data:`THRESHOLD`.

The whole test split is too slow to decode in a chapter, so the measurements are made offline,
by one documented command that writes the shipped :data:`RESULTS` file::

    python -m attention_course.evaluation.failures --all

It decodes the test split with beam 5 and α = 1 (the model cards' setting) with every shipped
model, and again with the coverage penalty (:data:`BETAS`) for :data:`COVERAGE_MODELS`; it also
compares teacher-forced and free-running token accuracy on the dev split (exposure bias). It
stores counts per sentence only where they are not 0, sentence indices of the test split in
:func:`~attention_course.data.split.test_set` order, never a sentence. The shipped file took
12 minutes (6.5 minutes of CPU time) with one torch thread on a shared 2-core machine.
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .. import __version__, pretrained
from ..checkpoint import atomic_write_json
from ..data.batching import make_batch
from ..data.corpus import CORPUS_SHA256
from ..data.dataset import encode_pairs, tokenize_pairs
from ..data.split import load_splits
from ..data.text import tokenize
from ..data.vocabulary import SPECIALS, UNK, Vocabulary
from ..search import greedy_search
from .bleu import corpus_bleu
from .split_texts import evaluation_texts, output_sha256, texts_sha256
from .significance import paired_bootstrap, percentile_interval, resample_indices, resampled_sums, sentence_statistics

COMMON = 50                      # the most frequent tokens of a vocabulary are not content words
THRESHOLD = 0.2                  # a content word with coverage below this is uncovered
SEARCH = {"beam_size": 5, "length_penalty": 1.0}
COVERAGE_MODELS = ("bahdanau", "luong-general", "luong-local-p")
BETAS = (0.05, 0.2, 1.0)         # coverage penalties tried besides 0
COVERAGE_BINS = np.round(np.arange(0.0, 1.51, 0.05), 2)   # histogram of c_j; the last bin holds >= 1.5
POSITIONS = 20                   # exposure bias by output position: positions 1 .. POSITIONS
RESULTS = Path(__file__).with_name("failures.json")
COMMAND = "python -m attention_course.evaluation.failures --all"


# --- the definitions -----------------------------------------------------------------------------

def common_words(vocab: Vocabulary, n: int = COMMON) -> frozenset[str]:
    """The ``n`` most frequent tokens of ``vocab`` (after the special ones), lower-cased."""
    return frozenset(t.lower() for t in vocab.itos[len(SPECIALS): len(SPECIALS) + n])


def is_content(token: str, common: frozenset[str]) -> bool:
    """A token with a letter or digit that is neither ``<unk>`` nor a common word."""
    return token != UNK and any(ch.isalnum() for ch in token) and token.lower() not in common


def repeated_words(output: Sequence[str], references: Sequence[Sequence[str]],
                   common: frozenset[str]) -> dict[str, int]:
    """Over-translation: each content word of ``output`` that occurs at least twice and more often
    than in every reference, with its number of extra copies (lower-cased words)."""
    counts = Counter(w.lower() for w in output if is_content(w, common))
    refs = [Counter(w.lower() for w in r) for r in references]
    out = {}
    for word, k in counts.items():
        most = max(r[word] for r in refs)
        if k >= 2 and k > most:
            out[word] = k - max(1, most)
    return out


def immediate_repeats(output: Sequence[str], references: Sequence[Sequence[str]]) -> list[int]:
    """Positions i where ``output[i]`` repeats ``output[i - 1]`` (case ignored, ``<unk>`` never),
    except for a word that some reference doubles as well (French *nous nous*, *vous vous*)."""
    def doubled(tokens):
        low = [w.lower() for w in tokens]
        return {a for a, b in zip(low, low[1:]) if a == b}

    allowed = set().union(*(doubled(r) for r in references))
    low = [w.lower() for w in output]
    return [i for i in range(1, len(low)) if low[i] == low[i - 1] and output[i] != UNK and low[i] not in allowed]


def coverage(attention) -> np.ndarray:
    """``c_j = Σ_i α_ij``: the attention each source word received, summed over the output words
    (rows: output words, columns: source words)."""
    return np.asarray(attention, dtype=np.float64).sum(0)


def uncovered_words(source: Sequence[str], attention, common: frozenset[str],
                    threshold: float = THRESHOLD) -> list[int]:
    """Under-translation: the positions of the source's content words with coverage below ``threshold``."""
    c = coverage(attention)
    if len(c) != len(source):
        raise ValueError(f"attention over {len(c)} source words for a source of {len(source)}")
    return [j for j, (w, cj) in enumerate(zip(source, c)) if is_content(w, common) and cj < threshold]


@dataclass(frozen=True)
class SentenceCounts:
    """The failures found in one translation."""
    repeated: int               # extra copies of repeated words
    immediate: int              # immediate repeats
    uncovered: int | None       # uncovered source words (None: the model has no attention)
    content: int                # content words in the source


def sentence_counts(translation, references: Sequence[str], src_common: frozenset[str],
                    tgt_common: frozenset[str]) -> SentenceCounts:
    """Count the failures of one :class:`~attention_course.translator.Translation` against its
    reference translations (strings, tokenised here like the outputs)."""
    refs = [tokenize(r, "fr") for r in references]
    out, src = translation.raw_tokens, translation.source_tokens
    uncovered = None
    if translation.attention is not None:
        uncovered = len(uncovered_words(src, translation.attention, src_common))
    return SentenceCounts(sum(repeated_words(out, refs, tgt_common).values()), len(immediate_repeats(out, refs)),
                          uncovered, sum(is_content(w, src_common) for w in src))


def count_failures(translator, translations, references: Sequence[Sequence[str]]) -> list[SentenceCounts]:
    """:func:`sentence_counts` of every translation made by ``translator``."""
    src_common, tgt_common = common_words(translator.src_vocab), common_words(translator.tgt_vocab)
    return [sentence_counts(t, r, src_common, tgt_common) for t, r in zip(translations, references)]


# --- rates per 100 sentences, with bootstrap intervals ------------------------------------------

def per_100(counts) -> float:
    """Failures per 100 sentences."""
    c = np.asarray(counts, dtype=np.float64)
    return 100.0 * float(c.sum()) / len(c)


def interval_per_100(counts, draws: np.ndarray | None = None) -> tuple[float, float]:
    """The 95 % bootstrap interval of :func:`per_100`, resampling sentences (``draws``: the
    :func:`~attention_course.evaluation.significance.resample_indices`, by default sacreBLEU's)."""
    c = np.asarray(counts, dtype=np.float64)
    draws = resample_indices(len(c)) if draws is None else draws
    return percentile_interval(100.0 * resampled_sums(c[:, None], draws)[:, 0] / len(c))


def paired_difference_per_100(a, b, draws: np.ndarray | None = None) -> tuple[float, float, float]:
    """``per_100(a) - per_100(b)`` for two systems on the same sentences, and its paired 95 %
    bootstrap interval (each resample draws the same sentences for both)."""
    d = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    return (per_100(d), *interval_per_100(d, draws))


def sparse(values: Sequence[int | None]) -> dict[str, int]:
    """``{sentence index: value}`` for the values that are not 0 (for the results file)."""
    return {str(i): int(v) for i, v in enumerate(values) if v}


def dense(stored: dict[str, int], n: int) -> np.ndarray:
    """The inverse of :func:`sparse`: one value per sentence."""
    out = np.zeros(n, dtype=np.int64)
    for i, v in stored.items():
        out[int(i)] = v
    return out


def load_results(path: Path | str = RESULTS) -> dict:
    """The shipped results of ``python -m attention_course.evaluation.failures --all``."""
    return json.loads(Path(path).read_text(encoding="utf-8"))


# --- exposure bias -------------------------------------------------------------------------------

@dataclass(frozen=True)
class TokenAccuracy:
    """Per pair and reference position (``</s>`` included): does the model's word match the
    reference's, when fed the reference prefix (teacher-forced) or its own output (free-running)?"""
    teacher_forced: np.ndarray   # pairs x positions, bool
    free_running: np.ndarray     # pairs x positions, bool
    mask: np.ndarray             # pairs x positions: the reference has this position

    def accuracy(self, which: str) -> float:
        return float(getattr(self, which)[self.mask].mean())

    def by_position(self, which: str, positions: int = POSITIONS) -> np.ndarray:
        hits, mask = getattr(self, which)[:, :positions], self.mask[:, :positions]
        return hits.sum(0) / np.maximum(mask.sum(0), 1)


@torch.no_grad()
def token_accuracy(translator, pairs: Sequence[tuple[str, str]], batch_size: int = 100) -> TokenAccuracy:
    """Teacher-forced and free-running (greedy) token accuracy of ``translator`` on ``(english,
    french)`` pairs: position i of the reference (``</s>`` included) is a hit when the model's
    most probable word given the reference prefix (teacher-forced), or the i-th word of its own
    greedy output (free-running), is the reference's word."""
    model = translator.model.eval()
    ids = encode_pairs(tokenize_pairs(pairs), translator.src_vocab, translator.tgt_vocab)
    if len(ids) != len(pairs):
        raise ValueError("every pair needs words on both sides")
    width = max(len(t) for _, t in ids) + 1
    tf = np.zeros((len(ids), width), dtype=bool)
    fr = np.zeros((len(ids), width), dtype=bool)
    mask = np.zeros((len(ids), width), dtype=bool)
    order = sorted(range(len(ids)), key=lambda i: (len(ids[i][0]), len(ids[i][1])))
    for k in range(0, len(order), batch_size):
        rows = order[k: k + batch_size]
        batch = make_batch([ids[i][0] for i in rows], [ids[i][1] for i in rows])
        logits, _ = model(batch.src, batch.src_lengths, batch.tgt_in)
        predicted = logits.argmax(-1)
        free = greedy_search(model, batch.src, batch.src_lengths)
        for r, i in enumerate(rows):
            gold = batch.tgt_out[r, : len(ids[i][1]) + 1].tolist()          # the reference and </s>
            mine = free[r].tokens + [Vocabulary.eos_index]
            n = len(gold)
            mask[i, :n] = True
            tf[i, :n] = (predicted[r, :n] == batch.tgt_out[r, :n]).numpy()
            fr[i, :n] = [p < len(mine) and mine[p] == g for p, g in enumerate(gold)]
    return TokenAccuracy(tf, fr, mask)


def accuracy_difference(acc: TokenAccuracy, draws: np.ndarray | None = None) -> tuple[float, float, float]:
    """Teacher-forced minus free-running accuracy, with a 95 % bootstrap interval over pairs."""
    stats = np.stack([(acc.teacher_forced & acc.mask).sum(1), (acc.free_running & acc.mask).sum(1),
                      acc.mask.sum(1)], 1).astype(np.float64)
    draws = resample_indices(len(stats)) if draws is None else draws
    sums = resampled_sums(stats, draws)
    low, high = percentile_interval((sums[:, 0] - sums[:, 1]) / sums[:, 2])
    return acc.accuracy("teacher_forced") - acc.accuracy("free_running"), low, high


# --- the offline run -----------------------------------------------------------------------------

def _round(x: float, digits: int = 2) -> float:
    return round(float(x), digits) + 0.0


def _rate(counts, draws) -> dict:
    low, high = interval_per_100(counts, draws)
    return {"per_100": _round(per_100(counts)), "ci95": [_round(low), _round(high)],
            "sentences_with": int(np.count_nonzero(counts))}


def decode_run(name: str, sources: list[str], references: list[list[str]], beta: float = 0.0) -> tuple[dict, list[str]]:
    """Decode the test split with ``name`` (beam 5, α = 1, coverage penalty ``beta``) and measure
    its failures; returns the stored record and the output texts."""
    tr = pretrained.load(name)
    t0 = time.perf_counter()
    translations = tr.translate_batch(sources, coverage_penalty=beta, **SEARCH)
    seconds = time.perf_counter() - t0
    texts = [t.text for t in translations]
    counts = count_failures(tr, translations, references)
    draws = resample_indices(len(sources))
    rep, imm = [c.repeated for c in counts], [c.immediate for c in counts]
    bleu = corpus_bleu(texts, references)
    run = {"beta": beta, "bleu": _round(bleu.score), "length_ratio_all": _round(bleu.sys_len / bleu.ref_len, 3),
           "output_sha256": output_sha256(texts),
           "decode_seconds": _round(seconds, 1), "repeated": _rate(rep, draws), "immediate": _rate(imm, draws),
           "per_sentence": {"repeated": sparse(rep), "immediate": sparse(imm)}}
    if tr.has_attention:
        unc = [c.uncovered for c in counts]
        run["uncovered"] = _rate(unc, draws)
        run["uncovered"]["content_words"] = int(sum(c.content for c in counts))
        run["per_sentence"]["uncovered"] = sparse(unc)
        src_common = common_words(tr.src_vocab)
        values = np.concatenate([coverage(t.attention)[[is_content(w, src_common) for w in t.source_tokens]]
                                 for t in translations])
        hist, _ = np.histogram(np.minimum(values, COVERAGE_BINS[-1]), bins=np.append(COVERAGE_BINS, np.inf))
        run["coverage_histogram"] = {"bins": COVERAGE_BINS.tolist(), "counts": hist.tolist()}
        row_sums = np.concatenate([np.asarray(t.attention).sum(1) for t in translations])
        run["attention_row_sum_median"] = _round(np.median(row_sums), 3)
        run["length_ratio"] = flagged_length_ratio(texts, references, np.array(unc) > 0, draws)
    return run, texts


def flagged_length_ratio(texts: list[str], references: list[list[str]], flagged: np.ndarray,
                         draws: np.ndarray) -> dict:
    """Output length over reference length (sacreBLEU's, as in BLEU's brevity penalty) for the
    sentences with an uncovered word and for the others, and the 95 % interval of the difference."""
    stats = sentence_statistics(texts, references)[:, :2]                  # output, reference length
    parts = np.concatenate([stats * flagged[:, None], stats * ~flagged[:, None]], 1)
    whole = parts.sum(0)
    out = {"flagged_sentences": int(flagged.sum()), "flagged": None, "rest": _round(whole[2] / whole[3], 3),
           "difference_ci95": None}
    if flagged.any():
        sums = resampled_sums(parts, draws)
        sums = sums[(sums[:, 1] > 0) & (sums[:, 3] > 0)]    # resamples that drew sentences of both kinds
        low, high = percentile_interval(sums[:, 0] / sums[:, 1] - sums[:, 2] / sums[:, 3])
        out |= {"flagged": _round(whole[0] / whole[1], 3), "difference_ci95": [_round(low, 3), _round(high, 3)]}
    return out


def exposure_run(name: str, pairs: list[tuple[str, str]]) -> dict:
    t0 = time.perf_counter()
    acc = token_accuracy(pretrained.load(name), pairs)
    delta, low, high = accuracy_difference(acc)
    return {"pairs": len(pairs), "tokens": int(acc.mask.sum()),
            "teacher_forced": _round(acc.accuracy("teacher_forced"), 4),
            "free_running": _round(acc.accuracy("free_running"), 4),
            "difference": {"value": _round(delta, 4), "ci95": [_round(low, 4), _round(high, 4)]},
            "by_position": {"teacher_forced": [_round(x, 4) for x in acc.by_position("teacher_forced")],
                            "free_running": [_round(x, 4) for x in acc.by_position("free_running")],
                            "pairs": [int(x) for x in acc.mask[:, :POSITIONS].sum(0)]},
            "seconds": _round(time.perf_counter() - t0, 1)}


def baseline_run(name: str, sources: list[str], references: list[list[str]]) -> tuple[dict, list[str]]:
    """:func:`decode_run` at β = 0, with the model card's BLEU beside it (the same decode)."""
    run, texts = decode_run(name, sources, references)
    run["bleu_card"] = pretrained.metrics(name).get("bleu_beam5")
    print(f"{name}: β = 0, {run['decode_seconds']:.0f} s, BLEU {run['bleu']} (card {run['bleu_card']})", flush=True)
    return run, texts


def coverage_runs(name: str, sources: list[str], references: list[list[str]], baseline_texts: list[str],
                  betas: Sequence[float]) -> dict:
    """:func:`decode_run` with each coverage penalty β, each compared with the β = 0 outputs."""
    runs = {}
    for beta in betas:
        run, texts = decode_run(name, sources, references, beta)
        run["bleu_vs_beta0"] = paired_bootstrap(texts, baseline_texts, references).as_dict()
        runs[f"{beta:g}"] = run
        print(f"{name}: β = {beta:g}, {run['decode_seconds']:.0f} s, BLEU {run['bleu']}", flush=True)
    return runs


def run_all(names: Sequence[str], coverage_models: Sequence[str], betas: Sequence[float], out: Path,
            threads: int = 1) -> dict:
    """Everything the chapter loads, written to ``out``."""
    torch.set_num_threads(threads)
    start = time.perf_counter()
    sources, references = evaluation_texts()
    test_sha = texts_sha256(sources, references)
    dev = load_splits()["dev"]
    result = {
        "what": "failure analysis of the shipped models on the test split (beam 5, α = 1) and exposure bias "
                "on the dev split; counts per 100 test sentences with 95 % bootstrap intervals (sentences "
                "resampled, sacreBLEU's 1000 draws); per_sentence: counts of the sentences where they are not 0, "
                "by index in test_set('test') order",
        "command": COMMAND,
        "definitions": {"common_words": COMMON, "uncovered_below": THRESHOLD, "search": SEARCH,
                        "tokens": "raw_tokens (before <unk> replacement), compared lower-cased"},
        "test_sentences": len(sources), "dev_pairs": len(dev),
        "test_sha256": test_sha,
        "runs": {}, "coverage_penalty": {}, "exposure_bias": {},
        "torch_threads": torch.get_num_threads(), "machine": platform.machine(),
        "corpus_sha256": CORPUS_SHA256, "package_version": __version__, "seconds": {},
    }
    t0 = time.perf_counter()
    baseline_texts = {}
    for name in names:
        result["runs"][name], baseline_texts[name] = baseline_run(name, sources, references)
    result["seconds"]["baseline"] = _round(time.perf_counter() - t0, 1)
    t0 = time.perf_counter()
    for name in coverage_models:
        if name not in baseline_texts:
            _, baseline_texts[name] = decode_run(name, sources, references)
        result["coverage_penalty"][name] = coverage_runs(name, sources, references, baseline_texts[name], betas)
    result["seconds"]["coverage_penalty"] = _round(time.perf_counter() - t0, 1)
    t0 = time.perf_counter()
    for name in names:
        result["exposure_bias"][name] = exposure_run(name, dev)
        print(f"{name}: exposure bias, {result['exposure_bias'][name]['seconds']:.0f} s", flush=True)
    result["seconds"]["exposure_bias"] = _round(time.perf_counter() - t0, 1)
    result["seconds"]["total"] = _round(time.perf_counter() - start, 1)
    atomic_write_json(out, result)
    return result


def add_runs(names: Sequence[str], out: Path, threads: int = 1) -> dict:
    """Decode ``names`` again and put their results into the existing results file ``out`` (a model
    shipped, or scored anew, after the ``--all`` run): the same measurements as :func:`run_all`
    makes for them, the coverage-penalty runs too where a name is in :data:`COVERAGE_MODELS`. The
    other models' results are kept; runs and exposure bias stay in the course's order."""
    torch.set_num_threads(threads)
    result = load_results(out)
    sources, references = evaluation_texts()
    test_sha = texts_sha256(sources, references)
    if result["test_sha256"] != test_sha or result["corpus_sha256"] != CORPUS_SHA256:
        raise ValueError(f"{out} was measured on another test split: run --all")
    dev = load_splits()["dev"]
    start = time.perf_counter()
    for name in names:
        result["runs"][name], texts = baseline_run(name, sources, references)
        if name in COVERAGE_MODELS:
            result["coverage_penalty"][name] = coverage_runs(name, sources, references, texts, BETAS)
        result["exposure_bias"][name] = exposure_run(name, dev)
    order = {n: i for i, n in enumerate(pretrained.NAMES)}
    for key in ("runs", "exposure_bias", "coverage_penalty"):
        result[key] = dict(sorted(result[key].items(), key=lambda kv: order.get(kv[0], len(order))))
    result.setdefault("added", []).append({"command": f"{COMMAND.replace('--all', '--add')} {' '.join(names)}",
                                           "seconds": _round(time.perf_counter() - start, 1),
                                           "torch_threads": torch.get_num_threads(),
                                           "package_version": __version__})
    atomic_write_json(out, result)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Measure the failures of the shipped models "
                                                 "(chapters/08_failures.ipynb).")
    parser.add_argument("--all", action="store_true", help="every shipped model, the coverage penalty runs "
                        "and exposure bias (what the chapter loads)")
    parser.add_argument("--models", nargs="+", help="only these models (a quick look; the chapter needs --all)")
    parser.add_argument("--add", nargs="+", metavar="NAME", help="decode these models again and put them into "
                        "the existing results file, keeping the others' results")
    parser.add_argument("--out", type=Path, default=RESULTS, help=f"results file (default: {RESULTS})")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1, as the model cards)")
    args = parser.parse_args(argv)
    if args.add:
        for name in args.add:
            pretrained.config(name)                     # an unknown name stops here, before any work
        add_runs(args.add, args.out, args.threads)
        print(f"added {', '.join(args.add)} to {args.out}")
        return 0
    if not args.all and not args.models:
        parser.error("give --all, --models NAME ... or --add NAME ...")
    names = pretrained.available() if args.all else args.models
    coverage_models = [n for n in COVERAGE_MODELS if n in names]
    result = run_all(names, coverage_models, BETAS, args.out, args.threads)
    print(f"wrote {args.out} in {result['seconds']['total']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())


__all__ = ["COMMON", "THRESHOLD", "SEARCH", "COVERAGE_MODELS", "BETAS", "RESULTS", "COMMAND", "common_words",
           "is_content", "repeated_words", "immediate_repeats", "coverage", "uncovered_words", "SentenceCounts",
           "sentence_counts", "count_failures", "per_100", "interval_per_100", "paired_difference_per_100", "sparse",
           "dense", "load_results", "TokenAccuracy", "token_accuracy", "accuracy_difference", "run_all", "add_runs",
           "main"]
