"""The README's quick start, .ci/run and the GitHub workflow say the same thing."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def readme_commands() -> list[str]:
    """The two commands of the README's quick start (the non-comment lines of its first block)."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"## Quick start.*?```bash\n(.*?)```", text, flags=re.S).group(1)
    return [line.strip() for line in block.splitlines() if line.strip() and not line.startswith("#")]


def test_the_quick_start_is_two_commands_install_from_the_lock_then_pytest():
    install, test = readme_commands()
    assert install == "pip install -r requirements.lock && jupyter-book build -W -n --keep-going ."
    assert test == "python -m pytest"


def test_ci_runs_the_readmes_commands_in_a_new_venv():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    install, test = readme_commands()
    assert re.search(rf"^\s*{re.escape(install)}\s*$", ci, flags=re.M)
    assert re.search(rf"^{re.escape(test)}\s*$", ci, flags=re.M)
    assert "python3 -m venv" in ci and 'source "$work/venv/bin/activate"' in ci
    assert "--system-site-packages" not in ci  # nothing installed earlier may be seen
    # The venv is made before anything is installed.
    assert ci.index("-m venv") < ci.index("pip install")


def test_the_lock_pins_every_package_exactly():
    lines = [l.split("#")[0].strip() for l in (ROOT / "requirements.lock").read_text().splitlines()]
    pins = [l for l in lines if l and not l.startswith("-")]
    assert len(pins) > 100 and all(re.fullmatch(r"[A-Za-z0-9._-]+(\[[\w,]+\])?==[\w.+!-]+( ; .*)?", p)
                                   for p in pins), [p for p in pins if "==" not in p]
    names = {p.split("==")[0].lower() for p in pins}
    assert {"torch", "pygments", "jupyter-book", "nbval", "ipywidgets", "matplotlib"} <= names
    assert "regenerate with: bash scripts/lock.sh" in (ROOT / "requirements.lock").read_text()


def test_the_workflow_runs_ci_locked_and_newest_weekly_and_on_pull_requests():
    wf = yaml.safe_load((ROOT / ".github" / "workflows" / "tests.yml").read_text(encoding="utf-8"))
    on = wf.get("on") or wf.get(True)  # YAML 1.1 reads the key `on` as True
    assert "pull_request" in on and on["schedule"][0]["cron"]
    job = wf["jobs"]["test"]
    assert job["strategy"]["matrix"]["env"] == ["locked", "newest"]
    assert "newest" in job["continue-on-error"] and "locked" not in job["continue-on-error"]
    runs = [s.get("run", "") for s in job["steps"]]
    assert any(r.startswith("bash .ci/run") and "--newest" in r for r in runs)


def test_shipped_weights_stay_within_their_budget():
    """What every install downloads: all weights in the package, at most 80 MB together."""
    lib = ROOT / "lib" / "attention_course"
    total = sum(p.stat().st_size for p in lib.rglob("*.safetensors"))
    assert 0 < total <= 80e6, f"{total / 1e6:.1f} MB of weights"
