"""The in-browser translator: the shipped models run in the page with ONNX Runtime Web.

:func:`write_site` puts everything the live stepper needs into one folder (the book copies it
to ``_build/html/_static/ac-live/``):

* ``text.js``, ``search.js``, ``translator.js``, ``stepper.js``, ``explorer.js`` (this package's
  ports of ``data/text.py``, ``search/``, ``translator.py`` and ``widgets/data.py``, plus the
  stepper and the attention explorer, which runs on the stepper's model loading),
  ``stepper.css`` and the widgets' ``widgets.css``;
* ``models/<name>/`` for every model: ``encoder.onnx`` and ``step.onnx`` with their float16
  weights (``*.weights.f16``), ``vocab.json`` and ``meta.json``
  (:mod:`attention_course.export.onnx`), and ``models.json`` listing them;
* ``ort/``: ONNX Runtime Web (``ort.wasm.min.js`` and its WebAssembly), vendored from the npm
  package installed once into :func:`assets_dir` (``$ATTENTION_COURSE_WEB_ASSETS``, default
  ``~/.cache/attention-course-web``) and checked against the hashes below. No CDN is used.

:func:`live_html` is the markup of one stepper (the ``live-translator`` directive writes it),
:func:`live_explorer_html` that of one attention explorer (the ``attention-explorer`` directive).
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from importlib import resources
from pathlib import Path

from ..paths import user_cache_dir

__all__ = ["ORT_VERSION", "ORT_FILES", "JS_FILES", "CSS_FILES", "assets_dir", "ensure_onnxruntime_web",
           "write_site", "live_html", "live_explorer_html", "standalone_page", "description", "DEFAULT_TEXT",
           "EXPLORER_MODELS", "WebAssetsError", "safe_json", "attention_heads"]

ORT_VERSION = "1.31.1"
# The files of onnxruntime-web the page loads, and their sha256 (npm's onnxruntime-web@ORT_VERSION).
ORT_FILES = {
    "ort.wasm.min.js": "b8a78c408c40da65fdc8ba0846f7b2948e92a4c6d6b23cc8e4165e428ad95443",
    "ort-wasm-simd-threaded.mjs": "30ed0b5cd1182ede931fea448afb567d4dc705ec957af09f108a2be5f770dac3",
    "ort-wasm-simd-threaded.wasm": "4b884c203b0fa48d057be3332c65513ff85aa3c5bddd6946acc0fab7ecda001d",
}
JS_FILES = ("text.js", "search.js", "translator.js", "stepper.js", "explorer.js")   # in loading order
CSS_FILES = ("stepper.css",)
DEFAULT_TEXT = "I like red cars."
NOTE = "The model runs in this page (ONNX Runtime Web); its weights (about 7 MB) load when you press Translate."
EXPLORER_MODELS = ("bahdanau", "luong-dot")
EXPLORER_NOTE = ("Both models run in this page (ONNX Runtime Web); their weights (about 7 MB each) load when you "
                 "press Translate.")
EXPLORER_HINT = ("Point at or click a French word (a row): its row stands out, the English word it attends to "
                 "most is marked, and the other model's panel shows the same French word.")


def safe_json(data) -> str:
    """JSON that is safe inside ``<script>``: ASCII only, with ``<``, ``>``, ``&`` written as
    ``\\u003c``, ``\\u003e``, ``\\u0026``, so that no string can close the element."""
    text = json.dumps(data, ensure_ascii=True, separators=(",", ":"), allow_nan=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


class WebAssetsError(RuntimeError):
    """ONNX Runtime Web could not be installed or is not the expected release."""


def assets_dir() -> Path:
    """Where npm installs onnxruntime-web once: ``$ATTENTION_COURSE_WEB_ASSETS`` or
    ``$XDG_CACHE_HOME/attention-course-web`` (``~/.cache/attention-course-web``)."""
    return user_cache_dir("ATTENTION_COURSE_WEB_ASSETS", "attention-course-web")


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _dist(folder: Path) -> Path:
    return folder / "node_modules" / "onnxruntime-web" / "dist"


def _check(dist: Path) -> str | None:
    """None if every file is there with its hash, else what is wrong."""
    for name, digest in ORT_FILES.items():
        f = dist / name
        if not f.is_file():
            return f"{f} is missing"
        if _sha256(f) != digest:
            return f"{f} is not the file of onnxruntime-web {ORT_VERSION} (sha256 differs)"
    return None


def ensure_onnxruntime_web(folder: str | os.PathLike | None = None, log=None) -> Path:
    """The ``dist`` folder of onnxruntime-web :data:`ORT_VERSION`, installed with npm into
    ``folder`` (default :func:`assets_dir`) if it is not there yet; every file is hash-checked."""
    folder = Path(folder) if folder is not None else assets_dir()
    dist = _dist(folder)
    if _check(dist) is None:
        return dist
    npm = shutil.which("npm")
    if npm is None:
        raise WebAssetsError(f"npm is needed once to install onnxruntime-web {ORT_VERSION} into {folder} "
                             "(or set ATTENTION_COURSE_WEB_ASSETS to a folder where it is installed)")
    if log:
        log(f"installing onnxruntime-web {ORT_VERSION} into {folder}")
    folder.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run([npm, "install", "--prefix", str(folder), "--no-audit", "--no-fund", "--ignore-scripts",
                           "--loglevel=error", f"onnxruntime-web@{ORT_VERSION}"], capture_output=True, text=True)
    if proc.returncode != 0:
        raise WebAssetsError(f"npm install onnxruntime-web@{ORT_VERSION} failed:\n{proc.stderr[-2000:]}")
    problem = _check(dist)
    if problem:
        raise WebAssetsError(problem)
    return dist


def _package_file(*parts: str) -> Path:
    return Path(str(resources.files("attention_course").joinpath(*parts)))


def description(name: str) -> str:
    """The one-line description of a shipped model (from its training config in ``configs/``)."""
    try:
        return json.loads(_package_file("configs", f"{name}.json").read_text(encoding="utf-8")).get("description", "")
    except (OSError, ValueError):
        return ""


def attention_heads(name: str) -> int:
    """How many attention heads the shipped model ``name`` has in its last decoder layer (the
    heads the stepper can show one by one): its configuration's ``heads`` for a Transformer,
    0 for the recurrent models."""
    from .. import pretrained
    from ..models.seq2seq import ModelConfig

    cfg = ModelConfig.from_dict(pretrained.config(name)["model"])
    return cfg.heads if cfg.decoder == "transformer" else 0


def write_site(out_dir: str | os.PathLike, names=None, cache_dir: str | os.PathLike | None = None,
               ort_dir: str | os.PathLike | None = None, log=None, standalone: bool = False) -> dict:
    """Write the scripts, styles, ONNX Runtime Web and the exported models into ``out_dir``
    (with ``standalone``, also an ``index.html`` holding one stepper and an ``explorer.html``
    holding one attention explorer, to try them or test them
    without the book: ``python -m http.server -d out_dir``). Returns the contents of ``models.json``."""
    from ..export import onnx as export

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for name in JS_FILES + CSS_FILES:
        shutil.copyfile(_package_file("web", name), out / name)
    shutil.copyfile(_package_file("widgets", "widgets.css"), out / "widgets.css")
    dist = ensure_onnxruntime_web(ort_dir, log=log)
    (out / "ort").mkdir(exist_ok=True)
    for name in ORT_FILES:
        shutil.copyfile(dist / name, out / "ort" / name)
    (out / "ort" / "NOTICE.txt").write_text(
        f"onnxruntime-web {ORT_VERSION} (https://github.com/microsoft/onnxruntime), MIT License,\n"
        "Copyright (c) Microsoft Corporation. Copied from the npm package by attention_course.web.write_site.\n",
        encoding="utf-8")
    names = list(names or export.exportable_models())
    folders = export.export_models(out / "models", names,
                                   cache_dir=export.default_cache_dir() if cache_dir is None else cache_dir, log=log)
    listing = {"models": [{"name": n, "description": description(n),
                           "bytes": sum((folders[n] / f).stat().st_size for f in export.MODEL_FILES)}
                          for n in names],
               "ort": ORT_VERSION}
    (out / "models.json").write_text(json.dumps(listing, indent=1), encoding="utf-8")
    if standalone:
        (out / "index.html").write_text(standalone_page(names), encoding="utf-8")
        (out / "explorer.html").write_text(standalone_page(names, explorer=True), encoding="utf-8")
    return listing


def standalone_page(models: list[str] | None = None, explorer: bool = False, **settings) -> str:
    """A whole HTML page with one stepper (or, with ``explorer``, one attention explorer),
    loading the files :func:`write_site` writes beside it."""
    css = "".join(f'<link rel="stylesheet" href="{name}">' for name in ("widgets.css",) + CSS_FILES)
    js = "".join(f'<script src="{name}"></script>' for name in JS_FILES)
    title = "Attention explorer" if explorer else "Live translator"
    body = live_explorer_html(models, **settings) if explorer else live_html(models, **settings)
    return ('<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<title>Attention, step by step: {title.lower()}</title><link rel="icon" href="data:,">{css}</head>'
            f'<body><main><h1>{title}</h1>{body}</main>{js}</body></html>')


def _check_models(models: list[str] | None, what: str) -> list[str]:
    from ..export.onnx import exportable_models

    names = list(models or exportable_models())
    if not names:
        raise ValueError(f"the live {what} needs at least one model")
    unknown = [n for n in names if n not in exportable_models()]
    if unknown:
        raise ValueError(f"model {unknown[0]!r} cannot run in the page; choose among: {', '.join(exportable_models())}")
    return names


def live_explorer_html(models: list[str] | None = None, left: str | None = None, right: str | None = None,
                       text: str | None = None, base: str | None = None) -> str:
    """The markup of one live attention explorer: an empty container that ``explorer.js``
    fills, with its settings as JSON (escaped for a ``<script>`` element). ``models``: what the
    two menus offer (default: every model that runs in the page); ``left`` and ``right``: the
    models shown at first (default :data:`EXPLORER_MODELS`); ``text``: the sentence in the box."""
    from ..widgets.examples import EXAMPLES
    from ..widgets.render import theme

    names = _check_models(models, "attention explorer")
    left = left or (EXPLORER_MODELS[0] if EXPLORER_MODELS[0] in names else names[0])
    right = right or (EXPLORER_MODELS[1] if EXPLORER_MODELS[1] in names else names[-1])
    for side, model in (("left", left), ("right", right)):
        if model not in names:
            raise ValueError(f"{side} model {model!r} is not among the explorer's models {names}")
    config = {"models": [{"name": n, "description": description(n), "heads": attention_heads(n)} for n in names],
              "left": left,
              "right": right, "text": str(EXAMPLES[1] if text is None else text), "theme": theme(),
              "note": EXPLORER_NOTE, "hint": EXPLORER_HINT}
    if base is not None:
        config["base"] = str(base)
    return ('<div class="ac-widget ac-live-explorer">'
            f'<script type="application/json" class="ac-live-config">{safe_json(config)}</script>'
            '<div class="ac-live-slot"><p class="ac-note">The attention explorer needs JavaScript: '
            'it runs the models in this page.</p></div></div>')


def _check_head(head, model: str) -> str | int:
    if head is None or head == "mean":
        return "mean"
    n = attention_heads(model)
    if not n:
        raise ValueError(f"head {head!r}: model {model!r} has no attention heads (only a Transformer has; "
                         "leave the head out or give 'mean')")
    if isinstance(head, str) and head.strip().isdigit():
        head = int(head)
    if isinstance(head, bool) or not isinstance(head, int) or not 1 <= head <= n:
        raise ValueError(f"head must be 'mean' or a whole number from 1 to {n} (the heads of {model}), got {head!r}")
    return head


def live_html(models: list[str] | None = None, model: str | None = None, text: str = DEFAULT_TEXT,
              beam: int = 1, top_k: int = 5, base: str | None = None, interval_ms: int = 900,
              head: str | int | None = None) -> str:
    """The markup of one live stepper: an empty container that ``stepper.js`` fills, with its
    settings as JSON (escaped for a ``<script>`` element) and a line for readers without
    JavaScript. ``base`` is the URL of the folder :func:`write_site` wrote (default: the folder
    ``stepper.js`` was loaded from). ``head``: for a model with attention heads (the
    Transformer), the attention shown at first: ``"mean"`` (default, the mean over the last
    layer's heads, as ``Translation.attention``) or one head of the last layer, 1 to
    :func:`attention_heads`; the reader can change it with the stepper's "Attention" menu."""
    from ..translator import check_beam
    from ..widgets.render import theme

    names = _check_models(models, "stepper")
    model = model or ("bahdanau" if "bahdanau" in names else names[0])
    if model not in names:
        raise ValueError(f"model {model!r} is not among the stepper's models {names}")
    config = {"models": [{"name": n, "description": description(n), "heads": attention_heads(n)} for n in names],
              "model": model, "text": str(text), "beam": check_beam(beam), "top_k": int(top_k),
              "interval": int(interval_ms), "theme": theme(), "note": NOTE, "head": _check_head(head, model)}
    if base is not None:
        config["base"] = str(base)
    return ('<div class="ac-widget ac-live">'
            f'<script type="application/json" class="ac-live-config">{safe_json(config)}</script>'
            '<div class="ac-live-slot"><p class="ac-note">The live translator needs JavaScript: '
            'it runs the models in this page.</p></div></div>')
