"""Shared fixtures for the book: its pages, the built HTML, and pages in headless Chromium.

Fixtures and hooks defined here (append your own below; keep these names stable):

- ``book_root``      the folder holding ``_config.yml`` and ``_toc.yml`` (session).
- ``toc_page``       parametrizes a test over every page in ``_toc.yml`` ("book/intro", ...).
- ``toc_chapter``    parametrizes a test over the ``chapters/`` pages of ``_toc.yml``.
- ``built_book``     builds the book once per session with the command README and CI use,
                     ``jupyter-book build -W -n --keep-going``, in a temporary copy, and returns
                     the ``_build/html`` folder (a ``Path``).
- ``book_url``       ``built_book`` served on 127.0.0.1; the base URL ends with ``/``.
- ``browser_page``   a factory: ``browser_page("chapters/03_bahdanau.html")`` opens a page of
                     the built book in headless Chromium and returns a :class:`BookPage`
                     (``.page`` is the Playwright page; ``.errors`` the JavaScript errors;
                     ``.blocked`` the external requests that were refused).

Pages are read offline: requests for the CDN files the pages load (MathJax 3, require.js, the
Jupyter widgets HTML manager) are answered from local npm packages installed once into
``ATTENTION_COURSE_BROWSER_ASSETS`` (default ``~/.cache/attention-course-browser``); every
other request outside 127.0.0.1 is aborted and recorded in ``BookPage.blocked``.

Environment variables:

- ``ATTENTION_COURSE_BOOK_SRC``   use another book folder (with its own ``_config.yml``,
  ``_toc.yml``, ``book/`` and ``chapters/``) instead of the repository root, e.g. a tiny book
  made to develop these tests.
- ``ATTENTION_COURSE_BOOK_HTML``  reuse an already built ``_build/html`` instead of building.
- ``ATTENTION_COURSE_CHROMIUM``   the Chromium binary (default ``/usr/bin/chromium``).
- ``CI``                          when set, a missing Chromium, Playwright or npm fails the
  browser tests instead of skipping them.
"""

from __future__ import annotations

import functools
import http.server
import json
import mimetypes
import os
import shutil
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
BOOK_ROOT = Path(os.environ.get("ATTENTION_COURSE_BOOK_SRC") or REPO_ROOT).resolve()
BUILD_COMMAND = ["build", "-W", "-n", "--keep-going"]  # jupyter-book build -W -n --keep-going

CHROMIUM = os.environ.get("ATTENTION_COURSE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
ASSETS_DIR = Path(os.environ.get("ATTENTION_COURSE_BROWSER_ASSETS")
                  or Path.home() / ".cache" / "attention-course-browser")
# npm packages that stand in for the CDNs the built pages load from.
NPM_ASSETS = ["mathjax@3", "@jupyter-widgets/html-manager@1.0.6", "requirejs@2.3.6"]
# cdnjs libraries: name in the URL -> (npm package, file inside it for a requested file name)
CDNJS = {"require.js": ("requirejs", {"require.min.js": "require.js", "require.js": "require.js"})}
LOCAL_HOSTS = {"127.0.0.1", "localhost"}


# ---------------------------------------------------------------------------------------------
# The book's pages, from _toc.yml
# ---------------------------------------------------------------------------------------------

def _toc_files(node) -> list[str]:
    files = []
    if isinstance(node, dict):
        for key in ("root", "file"):
            if isinstance(node.get(key), str):
                files.append(node[key])
        for key in ("parts", "chapters", "sections"):
            for child in node.get(key) or []:
                files.extend(_toc_files(child))
    return files


def toc_pages(book_root: Path = BOOK_ROOT) -> list[str]:
    """Every page in ``_toc.yml``, in reading order, without suffix ("chapters/01_seq2seq")."""
    toc = yaml.safe_load((book_root / "_toc.yml").read_text(encoding="utf-8"))
    return [str(Path(f).with_suffix("")) if Path(f).suffix in {".md", ".ipynb"} else f
            for f in _toc_files(toc)]


def page_source(page: str, book_root: Path = BOOK_ROOT) -> Path | None:
    """The source file of a toc page, or None if it does not exist."""
    for suffix in (".ipynb", ".md", ".rst"):
        path = book_root / f"{page}{suffix}"
        if path.is_file():
            return path
    return None


def pytest_generate_tests(metafunc):
    if "toc_page" in metafunc.fixturenames:
        pages = toc_pages()
        metafunc.parametrize("toc_page", pages, ids=pages)
    if "toc_chapter" in metafunc.fixturenames:
        chapters = [p for p in toc_pages() if p.startswith("chapters/")]
        metafunc.parametrize("toc_chapter", chapters, ids=[Path(c).name for c in chapters])


@pytest.fixture(scope="session")
def book_root() -> Path:
    return BOOK_ROOT


# ---------------------------------------------------------------------------------------------
# Building and serving the book
# ---------------------------------------------------------------------------------------------

def _jupyter_book() -> list[str]:
    exe = shutil.which("jupyter-book", path=str(Path(sys.executable).parent)) \
        or shutil.which("jupyter-book")
    if exe:
        return [exe]
    # jupyter_book.cli.main has no `if __name__ == "__main__"`, so `python -m` would do nothing.
    return [sys.executable, "-c",
            "import sys; from jupyter_book.cli.main import main; sys.exit(main())"]


def build_book(src: Path, workdir: Path) -> Path:
    """Copy the book's sources from ``src`` into ``workdir`` and build them there.

    Returns the HTML folder; fails the calling test with the build log on any warning.
    """
    copy = workdir / "book-src"
    ignore = shutil.ignore_patterns("_build", ".ipynb_checkpoints", "__pycache__")
    copy.mkdir(parents=True)
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy2(src / name, copy / name)
    for folder in ("book", "chapters"):
        if (src / folder).is_dir():
            shutil.copytree(src / folder, copy / folder, ignore=ignore)
    cmd = [*_jupyter_book(), *BUILD_COMMAND, str(copy)]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=copy)
    log = proc.stdout + proc.stderr
    (workdir / "build.log").write_text(log, encoding="utf-8")
    if proc.returncode != 0:
        pytest.fail(f"`jupyter-book {' '.join(BUILD_COMMAND)} .` failed "
                    f"(exit {proc.returncode}):\n{log[-6000:]}", pytrace=False)
    return copy / "_build" / "html"


@pytest.fixture(scope="session")
def built_book(tmp_path_factory) -> Path:
    prebuilt = os.environ.get("ATTENTION_COURSE_BOOK_HTML")
    if prebuilt:
        html = Path(prebuilt).resolve()
        assert (html / "index.html").is_file(), f"ATTENTION_COURSE_BOOK_HTML={html}: no index.html"
        return html
    return build_book(BOOK_ROOT, tmp_path_factory.mktemp("book"))


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass


@pytest.fixture(scope="session")
def book_url(built_book):
    handler = functools.partial(_QuietHandler, directory=str(built_book))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


# ---------------------------------------------------------------------------------------------
# Headless Chromium with the CDNs answered locally
# ---------------------------------------------------------------------------------------------

def _missing(reason: str):
    """Skip a browser test for a missing tool, or fail it when running in CI."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set, so browser tests may not be skipped)", pytrace=False)
    pytest.skip(reason)


def ensure_browser_assets(assets_dir: Path = ASSETS_DIR) -> Path:
    """Install the npm packages that stand in for the CDNs, once; return node_modules."""
    modules = assets_dir / "node_modules"

    def installed(spec: str) -> bool:
        name, _, version = spec.rpartition("@")
        try:
            meta = json.loads((modules / name / "package.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return False
        return _version_ok(version, meta.get("version", ""))

    if all(installed(spec) for spec in NPM_ASSETS):
        return modules
    npm = shutil.which("npm")
    if npm is None:
        _missing("npm is not installed: cannot fetch the local copies of MathJax and "
                 "the widget manager that the browser tests serve")
    assets_dir.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(
        [npm, "install", "--prefix", str(assets_dir), "--no-audit", "--no-fund",
         "--ignore-scripts", "--loglevel=error", *NPM_ASSETS],
        capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.fail(f"npm install {' '.join(NPM_ASSETS)} failed:\n{proc.stderr[-3000:]}",
                    pytrace=False)
    return modules


def _version_ok(spec: str, installed: str) -> bool:
    """An exact version must match; a range ("3", "^1.0.1", "~2.3") must share the major."""
    if not spec:
        return True
    if spec[0].isdigit() and spec.count(".") == 2:
        return spec == installed
    major = spec.lstrip("^~=v").split(".")[0]
    return not major.isdigit() or installed.split(".")[0] == major


def _npm_file(modules: Path, spec_and_path: str) -> Path | None:
    """``@scope/name@ver/dist/x.js`` or ``name@ver/x.js`` -> the file in node_modules.

    None when the package is not installed, or installed in a version the URL excludes.
    """
    parts = spec_and_path.lstrip("/").split("/")
    if parts[0].startswith("@"):
        if len(parts) < 2:
            return None
        name_version, scope, rest = parts[1], parts[0] + "/", parts[2:]
    else:
        name_version, scope, rest = parts[0], "", parts[1:]
    name, _, version = name_version.partition("@")
    package = modules / f"{scope}{name}"
    try:
        installed = json.loads((package / "package.json").read_text(encoding="utf-8"))["version"]
    except (OSError, ValueError, KeyError):
        return None
    path = (package / "/".join(rest)).resolve()
    if _version_ok(version, installed) and modules.resolve() in path.parents and path.is_file():
        return path
    return None


def local_asset(modules: Path, url: str) -> Path | None:
    """The local file that answers a CDN URL, or None."""
    parts = urlsplit(url)
    host, path = parts.hostname or "", parts.path
    if host == "cdn.jsdelivr.net" and path.startswith("/npm/"):
        return _npm_file(modules, path[len("/npm/"):])
    if host == "unpkg.com":
        return _npm_file(modules, path)
    if host == "cdnjs.cloudflare.com" and path.startswith("/ajax/libs/"):
        lib, _version, *rest = path[len("/ajax/libs/"):].split("/")
        package, files = CDNJS.get(lib, (None, {}))
        name = "/".join(rest)
        if package and name in files:
            local = modules / package / files[name]
            return local if local.is_file() else None
    return None


@dataclass
class BookPage:
    """A page of the built book open in headless Chromium."""

    page: object  # playwright.sync_api.Page
    url: str
    errors: list[str] = field(default_factory=list)   # page errors and console errors
    blocked: list[str] = field(default_factory=list)  # external requests that were aborted

    def wait_for_mathjax(self, timeout_ms: int = 30_000) -> bool:
        """Wait until MathJax has typeset the page; False if MathJax never started."""
        self.page.wait_for_function(
            "() => document.readyState === 'complete'", timeout=timeout_ms)
        return self.page.evaluate(
            """async () => {
                const mj = window.MathJax;
                if (!mj || !mj.startup || !mj.startup.promise) return false;
                await mj.startup.promise;
                return true;
            }""")

    def problems(self) -> list[str]:
        """JavaScript errors and refused external requests, as readable lines."""
        return [f"JS error: {e}" for e in self.errors] + \
            [f"external request refused: {u}" for u in self.blocked]


@pytest.fixture(scope="session")
def _chromium():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("the Python package playwright is not installed (pip install playwright)")
    if not (Path(CHROMIUM).is_file() and os.access(CHROMIUM, os.X_OK)):
        _missing(f"Chromium not found at {CHROMIUM} (apt-get install chromium, "
                 "or set ATTENTION_COURSE_CHROMIUM)")
    modules = ensure_browser_assets()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                                     args=CHROMIUM_ARGS)
        try:
            yield browser, modules
        finally:
            browser.close()


@pytest.fixture
def browser_page(_chromium, book_url):
    """Factory: ``browser_page("chapters/01_seq2seq.html")`` -> :class:`BookPage`.

    Each call opens the page in a fresh browser context, waits for the network to go idle
    (scripts, widgets and figures loaded) and returns it; contexts close after the test.
    """
    browser, modules = _chromium
    contexts = []

    def open_page(rel_path: str, timeout_ms: int = 60_000) -> BookPage:
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        contexts.append(context)
        url = book_url + rel_path.lstrip("/")
        result = BookPage(page=None, url=url)

        def route(r):
            req_url = r.request.url
            host = urlsplit(req_url).hostname or ""
            if host in LOCAL_HOSTS:
                return r.continue_()
            local = local_asset(modules, req_url)
            if local is None:
                result.blocked.append(req_url)
                return r.abort()
            ctype = mimetypes.guess_type(local.name)[0] or "application/octet-stream"
            if local.suffix == ".js":
                ctype = "application/javascript"
            return r.fulfill(path=str(local), content_type=ctype,
                             headers={"Access-Control-Allow-Origin": "*"})

        context.route("**/*", route)
        page = context.new_page()
        result.page = page
        page.on("pageerror", lambda exc: result.errors.append(
            "\n      ".join((getattr(exc, "stack", None) or str(exc)).splitlines()[:4])))
        page.on("console", lambda msg: result.errors.append(
            f"console.{msg.type}: {msg.text} ({json.dumps(msg.location)})")
            if msg.type == "error" else None)
        response = page.goto(url, wait_until="load", timeout=timeout_ms)
        assert response is not None and response.ok, f"{url}: HTTP {response and response.status}"
        page.wait_for_load_state("networkidle", timeout=timeout_ms)
        return result

    yield open_page
    for context in contexts:
        context.close()


# ---------------------------------------------------------------------------------------------
# Fresh environments (tests/test_environments.py): built in the background while the rest runs
# ---------------------------------------------------------------------------------------------

_ENVIRONMENTS = {"test_colab": "colab", "test_widget_tests_pass": "colab", "test_chapters_pass_nbval": "newest"}


def pytest_collection_modifyitems(session, config, items):
    """Environment tests run last: they wait for the background runs started below."""
    env_items = [i for i in items if i.get_closest_marker("environments")]
    items[:] = [i for i in items if not i.get_closest_marker("environments")] + env_items


def pytest_collection_finish(session):
    wanted = []
    for item in session.items:
        if item.get_closest_marker("environments"):
            for prefix, name in _ENVIRONMENTS.items():
                if item.name.startswith(prefix) and name not in wanted:
                    wanted.append(name)
    if wanted and not session.config.getoption("collectonly"):
        import environments
        session.config._environment_runs = environments.Background(sorted(wanted))


def pytest_unconfigure(config):
    background = getattr(config, "_environment_runs", None)
    if background is not None:
        background.cleanup()


@pytest.fixture(scope="session")
def environment_runs(request):
    return getattr(request.config, "_environment_runs", None)
