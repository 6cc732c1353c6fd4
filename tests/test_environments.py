"""The course works where its readers are: in Colab and with the newest versions it allows.

The environments are built by ``tests/environments.py`` in a background thread that
``conftest.py`` starts right after collection (these tests run last and only wait for it).
They need the package registry (pip) and the corpus on disk; without them they skip, except
in CI, where they fail.
"""

from __future__ import annotations

import os
import re

import pytest

import environments

pytestmark = pytest.mark.environments


def _run(background, name):
    if background is None:
        pytest.skip("the environment runs were not started")
    run = background.result(name)
    if run.error and "corpus" in run.error and not os.environ.get("CI"):
        pytest.skip(run.error)
    assert run.error is None, run.summary()
    return run


def _ok(run, step_name):
    step = run.get(step_name)
    assert step is not None, run.summary()
    assert step.returncode == 0, f"{run.summary()}\n--- {step_name} ---\n{step.output[-6000:]}"
    return step


def test_colab_installs_from_git_and_runs_every_chapter(environment_runs):
    """Every chapter, top to bottom, in Colab's versions; the setup cell installs from git."""
    run = _run(environment_runs, "colab")
    _ok(run, "install Colab's versions")
    chapters = _ok(run, "chapters")
    ran = re.findall(r"^(\d\d_\w+)\s+[\d.]+ s\s*$", chapters.output, flags=re.M)
    from conftest import toc_pages
    assert len(ran) == len([p for p in toc_pages() if p.startswith("chapters/")]), chapters.output
    assert "0 failed" in chapters.output, chapters.output
    installed = _ok(run, "installed package").output
    # The package came from the git install into the venv, not from this checkout's lib/.
    assert "/venv/lib/" in installed and "site-packages/attention_course" in installed, installed
    assert " 7.7.1 7.34.0" in installed, installed
    # What a Colab install downloads: a partial clone, the files of one commit (no old weights).
    size = int(_ok(run, "partial clone").output.split()[-1])
    assert size < 90e6, f"the Colab install downloads {size / 1e6:.0f} MB"
    _ok(run, "colab install")
    # The corpus came from the stand-in mirror into the cache, verified there.
    assert list((run.root / "cache").rglob("fra-eng.zip")), "the corpus was not downloaded"


def test_widget_tests_pass_with_colabs_ipywidgets(environment_runs):
    run = _run(environment_runs, "colab")
    step = _ok(run, "widget tests")
    assert re.search(r"\d+ passed", step.output), step.output[-2000:]


def test_chapters_pass_nbval_with_the_newest_allowed_versions(environment_runs):
    """nbval over every chapter after `pip install --upgrade --upgrade-strategy eager -r requirements.txt`."""
    run = _run(environment_runs, "newest")
    _ok(run, "upgrade")
    versions = _ok(run, "versions").output
    assert re.search(r"^pygments==", versions, flags=re.M | re.I), versions
    step = _ok(run, "nbval")
    assert re.search(r"\d+ passed", step.output) and " failed" not in step.output, step.output[-4000:]
