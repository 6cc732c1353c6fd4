"""How fast the live translator is in the browser (headless Chromium, ONNX Runtime Web).

    python benchmarks/browser_translator.py [--site DIR] [--model bahdanau] [--repeats 5] [--parity]

Writes the site (``attention_course.web.write_site``, standalone page; or serves ``--site``, a
folder it wrote before), serves it on 127.0.0.1 and measures, in fresh browser contexts:

* first translation after a cold page load: from pressing Translate (greedy, the default
  sentence) to the first step on screen, which includes loading ONNX Runtime Web, fetching the
  model and starting its sessions. Budget 3 s.
* one decoding step (``step.onnx`` for K = 1 and K = 5 hypotheses, a 10-word source). Budget 20 ms.
  The recurrent models' step costs the same at every position; the Transformer's runs its
  layers over the whole prefix, so for it (``prefix_state`` in meta.json) the step timed is the
  one after its greedy translation's first 10 words.
* beam 5 on a 10-word sentence: ``translate`` with the step record plus the stepper's view of
  every step, as the stepper does for a new input. Budget 300 ms.
* what the page fetches: nothing of ONNX Runtime or the models before Translate; then ONNX
  Runtime and the chosen model; on switching model, that model.

With ``--parity``, also every shipped model on the sentences of the parity test
(tests/test_browser_translator.py: ours plus corpus test-split sources, which are read, never
printed), greedy and beam 5, to show what that test costs the browser.

Wall-clock and the page's CPU time (Chromium's own count, per process) are both shown: on a
busy machine the wall time also counts waiting for a core. Exits with status 1 if a median is
over its budget in CPU time too, or if the page fetched what it should not. The last lines are
the rows of the README's table ("The translator in the page") for the model measured.
"""
from __future__ import annotations

import argparse
import functools
import http.server
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
SENTENCE = "My sister bought a new blue bicycle for her son."   # 10 words, invented
FIRST_BUDGET_MS, STEP_BUDGET_MS, BEAM_BUDGET_MS = 3000.0, 20.0, 300.0
CHROMIUM = os.environ.get("ATTENTION_COURSE_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002
        pass


def serve(folder: Path) -> str:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(folder)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}/"


class Page:
    """A fresh context (empty cache) on the site; requests outside 127.0.0.1 are refused."""

    def __init__(self, browser, cdp, url: str):
        self.context = browser.new_context()
        self.paths, self.blocked = [], []

        def route(r):
            if urlsplit(r.request.url).hostname in ("127.0.0.1", "localhost"):
                self.paths.append(urlsplit(r.request.url).path)
                return r.continue_()
            self.blocked.append(r.request.url)
            return r.abort()

        self.context.route("**/*", route)
        self.page = self.context.new_page()
        self.cdp = cdp
        self.page.goto(url, wait_until="load")
        self.page.wait_for_function("() => window.AttentionCourse && AttentionCourse.live.instances.length")

    def cpu(self) -> float:
        """CPU seconds of all renderer processes (the page's own process among them)."""
        info = self.cdp.send("SystemInfo.getProcessInfo")["processInfo"]
        return sum(p["cpuTime"] for p in info if p["type"] == "renderer")

    def close(self):
        self.context.close()


def ready(page, timeout_ms: int = 120_000):
    page.wait_for_function("() => { const r = document.querySelector('.ac-live');"
                           " return r.hasAttribute('data-ready') && !r.hasAttribute('data-busy'); }",
                           timeout=timeout_ms)


MEDIANS: dict[str, tuple[float, float]] = {}   # label -> (median wall, median CPU), ms


def median_line(label: str, wall: list[float], cpu: list[float], budget: float) -> bool:
    w, c = statistics.median(wall), statistics.median(cpu)
    MEDIANS[label] = (w, c)
    ok = c <= budget
    print(f"{label:44s} median {w:8.1f} ms wall, {c:8.1f} ms CPU (slowest {max(wall):8.1f} ms wall); "
          f"budget {budget:.0f} ms: {'ok' if ok else 'OVER'}")
    return ok or w <= budget


def _ms(x: float) -> str:
    return f"{x:.1f}" if x < 10 else f"{x:.0f}"


def readme_rows(model: str) -> list[str]:
    """The README table's rows for ``model`` (named in each row unless it is bahdanau's table)."""
    first, k1, k5, beam = (MEDIANS[k] for k in ("first translation after a cold page load", "one decoding step, K = 1",
                                                 "one decoding step, K = 5",
                                                 "beam 5 on a 10-word sentence (with record)"))
    who = "" if model == "bahdanau" else f"`{model}`: "
    return [f"| {who}first translation after a cold page load (runtime and model fetched) | {first[0] / 1000:.2f} s | "
            f"{first[1] / 1000:.2f} s | {FIRST_BUDGET_MS / 1000:.0f} s |",
            f"| {who}one decoding step, 1 / 5 hypotheses | {_ms(k1[0])} / {_ms(k5[0])} ms | {_ms(k1[1])} / "
            f"{_ms(k5[1])} ms | {STEP_BUDGET_MS:.0f} ms |",
            f"| {who}beam 5 on a 10-word sentence, with the stepper's record | {_ms(beam[0])} ms | {_ms(beam[1])} ms | "
            f"{BEAM_BUDGET_MS:.0f} ms |"]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--site", type=Path, help="a folder write_site(standalone=True) wrote (default: write one)")
    parser.add_argument("--model", default="bahdanau")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--parity", action="store_true", help="also time the parity test's translations")
    args = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright

    from attention_course import pretrained

    site, temporary = args.site, None
    if site is None:
        from attention_course.web import write_site
        temporary = tempfile.TemporaryDirectory(prefix="ac-live-")   # removed at exit
        site = Path(temporary.name)
        start = time.perf_counter()
        write_site(site, standalone=True)
        print(f"site written to {site} in {time.perf_counter() - start:.1f} s")
    url = serve(site)
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; Chromium {CHROMIUM}")
    ok = True
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        cdp = browser.new_browser_cdp_session()

        # 1. cold page, first translation; and what it fetches
        wall, cpu = [], []
        for i in range(args.repeats):
            p = Page(browser, cdp, url)
            p.page.wait_for_load_state("networkidle")
            early = [x for x in p.paths if "/models/" in x or "/ort/" in x]
            if early:
                print(f"FETCHED BEFORE TRANSLATE: {early}")
                ok = False
            p.page.select_option(".ac-live-model", args.model)
            c0, t0 = p.cpu(), time.perf_counter()
            p.page.click(".ac-live-go")
            ready(p.page)
            wall.append(1000 * (time.perf_counter() - t0))
            cpu.append(1000 * (p.cpu() - c0))
            models = sorted({x.split("/models/")[1].split("/")[0] for x in p.paths if "/models/" in x})
            if i == 0:
                status = p.page.inner_text(".ac-live-status")
                print(f"first page: fetched models {models}; the page says: {status}")
                other = next(n for n in pretrained.available() if n != args.model)
                p.page.select_option(".ac-live-model", other)
                p.page.wait_for_function("(n) => document.querySelector('.ac-meta') && "
                                         "document.querySelector('.ac-meta').textContent.startsWith(n)", arg=other)
                ready(p.page)
                after = sorted({x.split("/models/")[1].split("/")[0] for x in p.paths if "/models/" in x})
                print(f"after switching to {other}: fetched models {after}")
                if models != [args.model] or after != sorted([args.model, other]):
                    ok = False
            if p.blocked:
                print(f"REQUESTS OUTSIDE THE SITE: {p.blocked}")
                ok = False
            p.close()
        ok &= median_line("first translation after a cold page load", wall, cpu, FIRST_BUDGET_MS)

        # 2. one step, 3. beam 5 on a 10-word sentence (warm page)
        p = Page(browser, cdp, url)
        p.page.evaluate("(n) => AttentionCourse.live.getModel(n)", args.model)
        # the state and previous word of the step timed: the first step, or for a model whose
        # state is its prefix (the Transformer) the step after the first 10 words of its translation
        start_js = """async (m, text, K) => {
                const ids = m.encodeTokens(AttentionCourse.text.tokenize(text, "en"));
                const enc = await m.encode(ids);
                let state = enc.state, prev = 2;
                if (m.meta.prefix_state) {
                  const words = (await AttentionCourse.search.greedySearch(m, ids, {})).tokens.slice(0, 10);
                  state = [Float32Array.from([0, 2].concat(words.slice(0, -1)))];
                  prev = words[words.length - 1];
                }
                return {memory: enc.memory, prev: Array(K).fill(prev),
                        state: state.map(s => { const o = new Float32Array(s.length * K);
                                                for (let k = 0; k < K; k++) o.set(s, k * s.length); return o; })};
            }"""
        for K in (1, 5):
            p.page.evaluate("""async ([name, text, K]) => {
                const m = await AttentionCourse.live.getModel(name);
                window.__acStep = await (START)(m, text, K);
            }""".replace("START", start_js), [args.model, SENTENCE, K])
            walls = p.page.evaluate("""async (name) => {
                const m = await AttentionCourse.live.getModel(name), s = window.__acStep, out = [];
                for (let i = 0; i < 5; i++) await m.step(s.prev, s.state, s.memory);
                for (let i = 0; i < 60; i++) { const t = performance.now(); await m.step(s.prev, s.state, s.memory);
                                               out.push(performance.now() - t); }
                return out;
            }""", args.model)
            c0 = p.cpu()
            p.page.evaluate("""async (name) => {
                const m = await AttentionCourse.live.getModel(name), s = window.__acStep;
                for (let i = 0; i < 60; i++) await m.step(s.prev, s.state, s.memory);
            }""", args.model)
            per_step_cpu = 1000 * (p.cpu() - c0) / 60
            ok &= median_line(f"one decoding step, K = {K}", walls, [per_step_cpu] * len(walls), STEP_BUDGET_MS)
        wall, cpu = [], []
        for _ in range(max(args.repeats, 5)):
            c0 = p.cpu()
            wall.append(p.page.evaluate("""async ([name, text]) => {
                const m = await AttentionCourse.live.getModel(name), t = performance.now();
                const tr = await AttentionCourse.translator.translate(m, text, {beamSize: 5});
                AttentionCourse.translator.decodeView(tr, name, 5, text);
                return performance.now() - t;
            }""", [args.model, SENTENCE]))
            cpu.append(1000 * (p.cpu() - c0))
        ok &= median_line("beam 5 on a 10-word sentence (with record)", wall, cpu, BEAM_BUDGET_MS)
        p.close()

        if args.parity:
            sys.path.insert(0, str(ROOT / "tests"))
            from helpers_translator_sentences import INVENTED, corpus_sources
            sentences = INVENTED + corpus_sources(200)
            p = Page(browser, cdp, url)
            c0, t0 = p.cpu(), time.perf_counter()
            n = p.page.evaluate("""async ([names, texts]) => {
                let n = 0;
                for (const name of names) {
                  const m = await AttentionCourse.live.getModel(name);
                  for (const t of texts) for (const b of [1, 5]) {
                    await AttentionCourse.translator.translate(m, t, {beamSize: b, record: false}); n++;
                  }
                }
                return n;
            }""", [pretrained.available(), sentences])
            print(f"parity set: {n} translations ({len(sentences)} sentences x {len(pretrained.available())} models "
                  f"x greedy and beam 5) in "
                  f"{time.perf_counter() - t0:.1f} s wall, {p.cpu() - c0:.1f} s of renderer CPU")
            p.close()
        browser.close()
    print(f"load average {os.getloadavg()[0]:.1f} at the end")
    print("rows of the README's table:")
    print("\n".join(readme_rows(args.model)))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
