"""The Colab setup cell: installs from git in Colab, does nothing elsewhere, stops loudly on failure."""

from __future__ import annotations

import subprocess
import sys
import types
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "book"))
import colab_setup  # noqa: E402


@pytest.fixture
def in_colab(monkeypatch):
    colab = types.ModuleType("google.colab")
    colab.output = types.SimpleNamespace(enable_custom_widget_manager=lambda: None)
    monkeypatch.setitem(sys.modules, "google", types.ModuleType("google"))
    monkeypatch.setitem(sys.modules, "google.colab", colab)
    calls = []

    def fake_run(cmd, **kwargs):
        calls.append(cmd)
        return subprocess.CompletedProcess(cmd, fake_run.returncode, "", fake_run.stderr)
    fake_run.returncode, fake_run.stderr = 0, ""
    monkeypatch.setattr(subprocess, "run", fake_run)
    return fake_run, calls


def test_outside_colab_the_cell_does_nothing(monkeypatch):
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: pytest.fail("ran pip outside Colab"))
    exec(colab_setup.setup_cell_source(), {})


def test_in_colab_the_cell_installs_the_package_from_the_repository(in_colab):
    fake_run, calls = in_colab
    exec(colab_setup.setup_cell_source(), {})
    url, branch = colab_setup.repository()
    assert calls == [[sys.executable, "-m", "pip", "install", "-q",
                      f"attention-course @ git+{url}@{branch}"]]


def test_a_failed_install_stops_the_notebook_with_pips_message(in_colab):
    fake_run, _ = in_colab
    fake_run.returncode, fake_run.stderr = 1, "ERROR: could not reach the repository (fake)"
    with pytest.raises(RuntimeError, match="(?s)Installing the course package failed.*could not reach"):
        exec(colab_setup.setup_cell_source(), {})


def test_the_setup_cell_is_hidden_in_the_online_book():
    import nbformat
    for nb_path in sorted((Path(colab_setup.ROOT) / "chapters").glob("*.ipynb")):
        first = nbformat.read(nb_path, as_version=4).cells[0]
        assert colab_setup.is_setup_cell(first), nb_path.name
        assert colab_setup.HIDE_TAG in first.metadata.get("tags", []), nb_path.name


def test_the_import_cell_is_folded_in_the_online_book():
    import nbformat
    for nb_path in sorted((Path(colab_setup.ROOT) / "chapters").glob("*.ipynb")):
        nb = nbformat.read(nb_path, as_version=4)
        assert not colab_setup.fold_imports(nb), f"{nb_path.name}: run python book/colab_setup.py"
