"""Fresh environments for tests/test_environments.py: a simulated Colab, the newest versions.

Each environment is a brand-new virtual environment in a temporary folder, built with pip from
the package registry (as a reader's machine or Colab would), in which the chapters then run.
Building and running them takes minutes but mostly waits on one core, so ``conftest.py`` starts
:func:`run_all` in a background thread as soon as collection has chosen an environment test, and
the tests (moved to the end of the session) only wait for its results: the rest of the suite
runs meanwhile on the other core.

- **Colab** (:func:`colab`): Colab's versions (Python here is 3.11, Colab's 3.13: this machine has
  no CPU torch for 3.13; torch 2.13.0 CPU stands in for Colab's 2.11), a fake ``google.colab``
  imported at start-up like Colab's kernel does, and git told to fetch the repository's GitHub
  address from this checkout (``url.<file>.insteadOf``): so each chapter's unchanged setup cell
  installs the package from a ``git+`` URL exactly as in Colab. No corpus on disk: it is reachable
  only by download from a server on 127.0.0.1 standing in for the mirror
  (``ATTENTION_COURSE_DATA_URL``). Every chapter then runs top to bottom with nbclient
  (``benchmarks/run_chapters.py``), and the widget tests run against ipywidgets 7.7.1.
- **Newest** (:func:`newest`): ``pip install --upgrade --upgrade-strategy eager -r requirements.txt``
  and nbval over every chapter: stored outputs must not depend on which allowed version renders them,
  nor on the caller's thread counts or hash seed (the run sets others than the main suite's).
"""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT / "book"))
from colab_setup import repository  # noqa: E402  (the address the setup cells install from)

# Colab's versions (its published package list, Aug 2026; see shared notes). torch: the stand-in.
COLAB_PACKAGES = [
    "torch==2.13.0", "ipywidgets==7.7.1", "ipython==7.34.0", "ipykernel==6.17.1",
    "matplotlib==3.10.*", "nbclient", "nbformat", "pyyaml", "pytest",
]
STEP_TIMEOUT_S = 1800


@dataclass
class Step:
    name: str
    command: list[str]
    returncode: int | None = None
    seconds: float = 0.0
    output: str = ""


@dataclass
class Run:
    """One environment: the steps that built it and ran the chapters in it."""
    name: str
    steps: list[Step] = field(default_factory=list)
    error: str | None = None
    root: Path | None = None

    def step(self, name: str, command: list[str], env: dict, cwd: Path = REPO_ROOT) -> Step:
        start = time.perf_counter()
        proc = subprocess.run(command, cwd=cwd, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, timeout=STEP_TIMEOUT_S)
        s = Step(name, command, proc.returncode, time.perf_counter() - start, proc.stdout)
        self.steps.append(s)
        return s

    def get(self, name: str) -> Step | None:
        return next((s for s in self.steps if s.name == name), None)

    def summary(self) -> str:
        lines = [f"{self.name}: " + (self.error or "")]
        for s in self.steps:
            lines.append(f"  {s.name}: exit {s.returncode} in {s.seconds:.0f} s")
        return "\n".join(lines)


def corpus_zip() -> Path | None:
    """The pinned corpus on this machine (``ATTENTION_COURSE_DATA`` or ``../shared/data``)."""
    candidates = []
    if os.environ.get("ATTENTION_COURSE_DATA"):
        d = Path(os.environ["ATTENTION_COURSE_DATA"])
        candidates += [d, d / "fra-eng.zip"]
    candidates.append(REPO_ROOT.parent / "shared" / "data" / "fra-eng.zip")
    return next((p for p in candidates if p.is_file() and p.suffix == ".zip"), None)


def _clean_env(**extra: str) -> dict:
    """The environment for a fresh venv: nothing from the developer's Python or Jupyter set-up."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PYTHON", "VIRTUAL_ENV", "JUPYTER", "ATTENTION_COURSE", "PYTEST"))}
    env.update(PYTHONHASHSEED="0", PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_PROGRESS_BAR="off")
    env.update(extra)
    return env


def _venv(root: Path, run: Run, env: dict) -> Path | None:
    s = run.step("venv", [sys.executable, "-m", "venv", str(root / "venv")], env)
    return None if s.returncode else root / "venv" / "bin"


def _serve(directory: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Quiet, directory=str(directory)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


FAKE_COLAB = '''"""Stands in for Colab's google.colab: present in sys.modules, as in Colab's kernel."""
'''
FAKE_OUTPUT = '''def enable_custom_widget_manager():
    """Colab's switch for third-party widgets; nothing to do outside Colab."""
'''


def colab(root: Path) -> Run:
    run = Run("colab", root=root)
    corpus = corpus_zip()
    if corpus is None:
        run.error = "no corpus on this machine to serve as the mirror"
        return run
    mirror = root / "mirror"
    mirror.mkdir()
    shutil.copy(corpus, mirror / "fra-eng.zip")
    server, base = _serve(mirror)
    # A bare copy of this repository that, like GitHub, serves partial clones (pip asks for
    # --filter=blob:none: only the files of the commit it installs, no superseded weights).
    url, branch = repository()
    served = root / "repository.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(REPO_ROOT), str(served)], check=True)
    subprocess.run(["git", "-C", str(served), "config", "uploadpack.allowFilter", "true"], check=True)
    gitconfig = root / "gitconfig"
    gitconfig.write_text(f'[url "file://{served}"]\n\tinsteadOf = {url}\n', encoding="utf-8")
    try:
        env = _clean_env(GIT_CONFIG_GLOBAL=str(gitconfig), GIT_CONFIG_NOSYSTEM="1",
                         JUPYTER_DATA_DIR=str(root / "jupyter"), HOME=str(root / "home"),
                         ATTENTION_COURSE_DATA_URL=f"{base}/fra-eng.zip",
                         ATTENTION_COURSE_CACHE=str(root / "cache"),
                         MPLBACKEND="module://matplotlib_inline.backend_inline")
        (root / "home").mkdir()
        bin_dir = _venv(root, run, env)
        if bin_dir is None:
            return run
        env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
        if run.step("install Colab's versions",
                    [str(bin_dir / "python"), "-m", "pip", "install", "-q", *COLAB_PACKAGES],
                    env).returncode:
            return run
        # What the setup cell downloads and how long its install takes (measured, printed).
        run.step("partial clone", ["bash", "-c", f"git clone -q --filter=blob:none {url} clone && "
                                   "du -sb clone/.git | cut -f1"], env, cwd=root)
        run.step("colab install", [str(bin_dir / "python"), "-m", "pip", "install", "-q",
                                   f"attention-course @ git+{url}@{branch}"], env, cwd=root)
        site = Path(subprocess.check_output(
            [str(bin_dir / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            text=True, env=env).strip())
        (site / "google" / "colab").mkdir(parents=True)
        (site / "google" / "colab" / "__init__.py").write_text(FAKE_COLAB, encoding="utf-8")
        (site / "google" / "colab" / "output.py").write_text(FAKE_OUTPUT, encoding="utf-8")
        (site / "colab_kernel.pth").write_text("import google.colab\n", encoding="utf-8")
        run.step("chapters", [str(bin_dir / "python"), str(REPO_ROOT / "benchmarks" / "run_chapters.py"),
                              "--slowest", "5"], env)
        run.step("installed package",
                 [str(bin_dir / "python"), "-c",
                  "import attention_course, ipywidgets, IPython; print(attention_course.__file__, "
                  "ipywidgets.__version__, IPython.__version__)"], env, cwd=root)
        run.step("widget tests", [str(bin_dir / "python"), "-m", "pytest", "-q", "-o", "addopts=",
                                  "-p", "no:cacheprovider", "-m", "widgets and not browser",
                                  "tests/test_widgets.py"], env)
    finally:
        server.shutdown()
    return run


def newest(root: Path) -> Run:
    run = Run("newest", root=root)
    corpus = corpus_zip()
    if corpus is None:
        run.error = "no corpus on this machine"
        return run
    env = _clean_env(JUPYTER_DATA_DIR=str(root / "jupyter"), ATTENTION_COURSE_DATA=str(corpus),
                     ATTENTION_COURSE_CACHE=str(root / "cache"))
    bin_dir = _venv(root, run, env)
    if bin_dir is None:
        return run
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    py = str(bin_dir / "python")
    if run.step("install", [py, "-m", "pip", "install", "-q", "torch==2.13.0"], env).returncode:
        return run
    # Into a copy of the repository: `-e .` must not re-point the developer's editable install.
    src = root / "src"
    shutil.copytree(REPO_ROOT, src, ignore=shutil.ignore_patterns(
        ".git", "_build", "node_modules", ".venv*", "*.egg-info", "__pycache__", ".cache", "runs"))
    if run.step("upgrade", [py, "-m", "pip", "install", "-q", "--upgrade", "--upgrade-strategy",
                            "eager", "-r", "requirements.txt"], env, cwd=src).returncode:
        return run
    run.step("versions", [py, "-m", "pip", "freeze"], env, cwd=root)
    # Also the repeatability check: the chapters fix their own seeds and thread counts
    # (setup_notebook), so a caller with other thread counts and another hash seed gets the
    # stored outputs too.
    run.step("nbval", [py, "-m", "pytest", "-q", "chapters"],
             dict(env, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONHASHSEED="12345"), cwd=src)
    return run


def run_all(base: Path, which: list[str]) -> dict[str, Run]:
    """Build and run the environments named in ``which``, one after the other."""
    results: dict[str, Run] = {}
    for name in which:
        root = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=base))
        try:
            results[name] = {"colab": colab, "newest": newest}[name](root)
        except Exception as exc:  # reported by the test, never lost in the thread
            results[name] = Run(name, error=f"{type(exc).__name__}: {exc}", root=root)
    return results


class Background:
    """:func:`run_all` in a thread; :meth:`result` waits for it."""

    def __init__(self, which: list[str]):
        self.base = Path(tempfile.mkdtemp(prefix="environments-"))
        self.results: dict[str, Run] = {}
        self.thread = threading.Thread(target=self._target, args=(which,), daemon=True)
        self.thread.start()

    def _target(self, which: list[str]) -> None:
        self.results = run_all(self.base, which)

    def result(self, name: str, timeout: float = 3 * STEP_TIMEOUT_S) -> Run:
        self.thread.join(timeout)
        return self.results.get(name) or Run(name, error="did not finish")

    def cleanup(self) -> None:
        if not self.thread.is_alive():
            shutil.rmtree(self.base, ignore_errors=True)
