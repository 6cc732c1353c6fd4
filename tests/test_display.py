"""show_source: the chapters' listings are the same HTML whatever Pygments release renders them."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from attention_course.display import Source, highlight_python, show_source

REPO = Path(__file__).resolve().parents[1]
# The oldest release requirements.txt's dependencies allowed when this was written, and the
# release that changed its HTML escaping (2.21); the newest allowed one is checked too.
PYGMENTS = ["2.17.2", "2.21.0", None]


def test_escaping_is_ours():
    html = highlight_python('x = "a < b & c > d"  # it\'s\n')
    assert '<span class="s">"a &lt; b &amp; c &gt; d"</span>' in html
    assert "&quot;" not in html and "&#39;" not in html and "&#x27;" not in html
    assert '<span class="c"># it\'s</span>' in html


def test_user_code_cannot_become_markup():
    html = highlight_python('s = "</pre><script>alert(1)</script>"\n')
    body = html.split('<pre class="ac-src">', 1)[1]
    assert "<script>" not in body and "</pre><" not in body.removesuffix("</pre>")


def test_classes_are_coarse_and_runs_merged():
    html = highlight_python("def f(x):\n    return len(x)  # n\n")
    assert '<span class="k">def</span> <span class="f">f</span>(x):' in html
    assert '<span class="k">return</span> <span class="b">len</span>(x)  <span class="c"># n</span>' in html


def test_show_source_displays_html_and_plain_text():
    src = show_source(highlight_python)
    assert isinstance(src, Source)
    assert repr(src).startswith("def highlight_python(code: str) -> str:")
    assert src._repr_html_() == highlight_python(src.code)
    cut = show_source(show_source, "lines = inspect", "lines = lines")
    assert repr(cut).splitlines()[0] == "lines = inspect.getsource(obj).splitlines()"
    with pytest.raises(ValueError, match="not in the source"):
        show_source(show_source, "no such line")


SCRIPT = r"""
import hashlib, pathlib, sys
sys.path.insert(0, sys.argv[1])
import pygments
from attention_course.display import highlight_python
h = hashlib.sha256()
for p in sorted(pathlib.Path(sys.argv[2]).rglob("*.py")):
    h.update(highlight_python(p.read_text(encoding="utf-8")).encode())
print(pygments.__version__, h.hexdigest())
"""


def _pygments_dir(version: str | None, tmp_path_factory) -> Path:
    target = tmp_path_factory.mktemp(f"pygments-{version or 'newest'}")
    spec = f"pygments=={version}" if version else "pygments"
    proc = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--upgrade",
                           "--target", str(target), spec], capture_output=True, text=True)
    if proc.returncode != 0:
        if os.environ.get("CI"):
            pytest.fail(f"pip could not install {spec}: {proc.stderr[-2000:]}")
        pytest.skip(f"pip could not install {spec}")
    return target


def test_same_html_with_every_allowed_pygments(tmp_path_factory):
    """Every module of the package, highlighted by each release: one hash for all."""
    lib = REPO / "lib"
    seen = {}
    for version in PYGMENTS:
        target = _pygments_dir(version, tmp_path_factory)
        env = {**os.environ, "PYTHONPATH": f"{target}{os.pathsep}{lib}"}
        out = subprocess.run([sys.executable, "-c", SCRIPT, str(lib), str(lib / "attention_course")],
                             capture_output=True, text=True, env=env, check=True).stdout.split()
        seen[out[0]] = out[1]
    assert {"2.17.2", "2.21.0"} <= set(seen), seen  # really different releases (newest may be 2.21)
    assert len(set(seen.values())) == 1, seen
