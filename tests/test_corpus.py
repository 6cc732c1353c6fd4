"""Locating, downloading, verifying and reading the corpus (with small invented zips)."""
import hashlib
import http.server
import os
import socket
import threading
import zipfile
from pathlib import Path

import pytest

from attention_course.data import corpus
from attention_course.data import CorpusError, download, locate_corpus, read_pairs, verify_sha256

PAIRS = [
    ("The lamp is blue.", "La lampe est bleue."),
    ("I can't find my hat.", "Je ne trouve pas mon chapeau."),
    ("Where's the bakery?", "Où est la boulangerie\u202f?"),
    ("Where's the bakery?", "Où se trouve la boulangerie\u202f?"),
]


def make_zip(path: Path, pairs=PAIRS, columns: int = 2, member: str = "fra.txt") -> Path:
    lines = []
    for en, fr in pairs:
        cols = [en, fr] + (["CC-BY 2.0 (France) Attribution: tatoeba.org #1 (someone)"]
                           if columns == 3 else [])
        lines.append("\t".join(cols))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("_about.txt", "Invented test data.\n")
        zf.writestr(member, "\n".join(lines) + "\n")
    return path


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):
    for var in (corpus.ENV_VAR, corpus.URL_ENV_VAR, corpus.UNPINNED_ENV_VAR):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv(corpus.CACHE_ENV_VAR, str(tmp_path / "cache"))


@pytest.fixture
def small_zip(tmp_path) -> Path:
    return make_zip(tmp_path / "served.zip")


@pytest.fixture
def server(small_zip):
    """A local HTTP server: /corpus.zip, /truncated.zip (short body), anything else 404."""
    body = small_zip.read_bytes()
    hits = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            hits.append(self.path)
            if self.path == "/corpus.zip":
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            elif self.path == "/truncated.zip":
                self.send_response(200)
                self.send_header("Content-Length", str(len(body) + 5000))
                self.end_headers()
                self.wfile.write(body[: len(body) // 2])
                self.close_connection = True
            else:
                self.send_error(404)

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    httpd.hits = hits
    httpd.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def test_download_writes_verified_file(server, small_zip, tmp_path):
    dest = tmp_path / "out" / "fra-eng.zip"
    assert download(server.url + "/corpus.zip", dest, sha256(small_zip)) == dest
    assert sha256(dest) == sha256(small_zip)
    assert os.listdir(dest.parent) == ["fra-eng.zip"]
    assert read_pairs(dest) == PAIRS


def test_download_wrong_checksum_leaves_nothing(server, tmp_path):
    dest = tmp_path / "out" / "fra-eng.zip"
    with pytest.raises(CorpusError, match="sha256"):
        download(server.url + "/corpus.zip", dest, "0" * 64)
    assert os.listdir(dest.parent) == []


def test_download_keeps_existing_file_on_failure(server, tmp_path):
    dest = tmp_path / "out" / "fra-eng.zip"
    dest.parent.mkdir()
    dest.write_bytes(b"previous")
    with pytest.raises(CorpusError):
        download(server.url + "/corpus.zip", dest, "0" * 64)
    assert dest.read_bytes() == b"previous"
    assert os.listdir(dest.parent) == ["fra-eng.zip"]


@pytest.mark.parametrize("checked", [True, False])
def test_download_truncated_leaves_nothing(server, small_zip, tmp_path, checked):
    dest = tmp_path / "out" / "fra-eng.zip"
    with pytest.raises(CorpusError, match="truncated") as info:
        download(server.url + "/truncated.zip", dest, sha256(small_zip) if checked else None)
    assert "/truncated.zip" in str(info.value)
    assert os.listdir(dest.parent) == []


def test_download_http_error(server, tmp_path):
    dest = tmp_path / "out" / "fra-eng.zip"
    with pytest.raises(CorpusError, match="HTTP 404"):
        download(server.url + "/missing.zip", dest, "0" * 64)
    assert os.listdir(dest.parent) == []


def test_download_offline(tmp_path):
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    dest = tmp_path / "out" / "fra-eng.zip"
    url = f"http://127.0.0.1:{port}/fra-eng.zip"
    with pytest.raises(CorpusError, match="offline") as info:
        download(url, dest, "0" * 64, timeout=5)
    assert url in str(info.value) and corpus.ENV_VAR in str(info.value)
    assert os.listdir(dest.parent) == []


def test_locate_downloads_once_then_uses_cache(server, small_zip, tmp_path, monkeypatch):
    monkeypatch.setattr(corpus, "CORPUS_SHA256", sha256(small_zip))
    monkeypatch.setattr(corpus, "CORPUS_SIZE", small_zip.stat().st_size)
    monkeypatch.setenv(corpus.URL_ENV_VAR, server.url + "/corpus.zip")
    with pytest.raises(CorpusError, match=corpus.ENV_VAR):
        locate_corpus(download=False)
    assert server.hits == []
    first = locate_corpus()
    assert first == tmp_path / "cache" / "fra-eng.zip" and sha256(first) == sha256(small_zip)
    assert locate_corpus() == first and locate_corpus(download=False) == first
    assert server.hits == ["/corpus.zip"]
    assert read_pairs() == PAIRS


def test_locate_rejects_a_corrupt_cached_zip(small_zip, tmp_path, monkeypatch):
    monkeypatch.setattr(corpus, "CORPUS_SHA256", sha256(small_zip))
    cached = tmp_path / "cache" / "fra-eng.zip"
    cached.parent.mkdir()
    cached.write_bytes(small_zip.read_bytes()[:-40])
    with pytest.raises(CorpusError, match="truncated or corrupt") as info:
        locate_corpus()
    assert f"Delete {cached}" in str(info.value)


def test_locate_from_env_folder_zip_and_txt(small_zip, tmp_path, monkeypatch):
    monkeypatch.setattr(corpus, "CORPUS_SHA256", sha256(small_zip))
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "fra-eng.zip").write_bytes(small_zip.read_bytes())
    monkeypatch.setenv(corpus.ENV_VAR, str(folder))
    assert locate_corpus(download=False) == folder / "fra-eng.zip"
    monkeypatch.setenv(corpus.ENV_VAR, str(small_zip))
    assert locate_corpus(download=False) == small_zip
    text = tmp_path / "fra.txt"
    text.write_text("Hi.\tSalut.\n", encoding="utf-8")
    monkeypatch.setenv(corpus.ENV_VAR, str(text))
    assert locate_corpus(download=False) == text
    monkeypatch.setenv(corpus.ENV_VAR, str(tmp_path))  # a folder holding fra.txt
    assert locate_corpus(download=False) == text
    assert read_pairs() == [("Hi.", "Salut.")]


@pytest.mark.parametrize("target", ["missing", "empty-folder", "other-file"])
def test_locate_env_pointing_to_nothing_usable(target, tmp_path, monkeypatch):
    path = tmp_path / target
    if target == "empty-folder":
        path.mkdir()
    elif target == "other-file":
        path = tmp_path / "notes.csv"
        path.write_text("x")
    monkeypatch.setenv(corpus.ENV_VAR, str(path))
    with pytest.raises(CorpusError, match=corpus.ENV_VAR) as info:
        locate_corpus()
    assert str(path) in str(info.value)


def test_unpinned_zip_needs_opt_in(small_zip, monkeypatch):
    monkeypatch.setenv(corpus.ENV_VAR, str(small_zip))  # its sha256 is not CORPUS_SHA256
    with pytest.raises(CorpusError, match=corpus.UNPINNED_ENV_VAR):
        locate_corpus()
    monkeypatch.setenv(corpus.UNPINNED_ENV_VAR, "1")
    assert locate_corpus() == small_zip


def test_truncated_zip_via_env_is_rejected_even_when_unpinned(small_zip, tmp_path, monkeypatch):
    broken = tmp_path / "fra-eng.zip"
    broken.write_bytes(small_zip.read_bytes()[: small_zip.stat().st_size // 2])
    monkeypatch.setenv(corpus.ENV_VAR, str(broken))
    monkeypatch.setenv(corpus.UNPINNED_ENV_VAR, "1")
    with pytest.raises(CorpusError, match="truncated or corrupt"):
        locate_corpus()


def test_verify_sha256(small_zip):
    assert verify_sha256(small_zip, sha256(small_zip).upper()) == sha256(small_zip)
    with pytest.raises(CorpusError, match=str(small_zip)):
        verify_sha256(small_zip, "f" * 64)


@pytest.mark.parametrize("columns", [2, 3])
def test_read_pairs_accepts_two_and_three_columns(columns, tmp_path):
    assert read_pairs(make_zip(tmp_path / "c.zip", columns=columns)) == PAIRS
    text = tmp_path / "fra.txt"
    rows = ["\t".join([en, fr] + ["attribution"] * (columns - 2)) for en, fr in PAIRS]
    text.write_text("\n\n".join(rows) + "\r\n\n", encoding="utf-8")  # blank lines are skipped
    assert read_pairs(text) == PAIRS


def test_read_pairs_finds_the_single_text_member(tmp_path):
    assert read_pairs(make_zip(tmp_path / "x.zip", member="corpus/deu.txt")) == PAIRS


def test_read_pairs_malformed_line_names_line_number(tmp_path):
    text = tmp_path / "fra.txt"
    text.write_text("Hi.\tSalut.\n\nno tab here\n", encoding="utf-8")
    with pytest.raises(CorpusError, match="line 3"):
        read_pairs(text)


def test_read_pairs_truncated_zip(small_zip, tmp_path):
    broken = tmp_path / "broken.zip"
    broken.write_bytes(small_zip.read_bytes()[: small_zip.stat().st_size // 2])
    with pytest.raises(CorpusError, match="broken.zip"):
        read_pairs(broken)


def test_read_pairs_is_cached_but_returns_fresh_lists(small_zip):
    first = read_pairs(small_zip)
    first.clear()
    assert read_pairs(small_zip) == PAIRS


# --- empty and unusable corpora ------------------------------------------------------------

ZW = "\u200b\u200d\ufeff"  # zero-width space, zero-width joiner, BOM: normalize() drops them


@pytest.mark.parametrize("content", ["", "\n\n", "\ufeff", "  \r\n\u3000\n"])
def test_read_pairs_rejects_an_empty_or_blank_file(content, tmp_path):
    text = tmp_path / "fra.txt"
    text.write_text(content, encoding="utf-8")
    with pytest.raises(CorpusError, match="holds no sentence pairs: it is empty or blank") as info:
        read_pairs(text)
    assert str(text) in str(info.value) and corpus.ENV_VAR in str(info.value)
    with pytest.raises(CorpusError, match="no sentence pairs"):
        read_pairs(make_zip(tmp_path / "empty.zip", pairs=[]))


def test_an_empty_corpus_fails_before_training_would(tmp_path):
    from attention_course.data import load_splits
    text = tmp_path / "fra.txt"
    text.write_text("\n", encoding="utf-8")
    with pytest.raises(CorpusError, match="no sentence pairs"):
        load_splits(text)


def test_read_pairs_rejects_a_corpus_without_any_usable_line(tmp_path):
    text = tmp_path / "fra.txt"
    text.write_text(f"{ZW}\tBonjour.\n\u200b\tSalut.\nHi.\t{ZW} \u00a0\n", encoding="utf-8")
    with pytest.raises(CorpusError, match=r"no usable pair: all 3 of its lines .* lines 1, 2, 3;"):
        read_pairs(text)


def test_read_pairs_skips_and_counts_unusable_lines(tmp_path):
    text = tmp_path / "fra.txt"
    rows = [f"{ZW}\tBonjour.", "\t".join(PAIRS[0]), "Hello.\t", "\t".join(PAIRS[1]),
            f"{ZW}{ZW}"]  # the last line is blank once normalised: skipped silently
    text.write_text("\n".join(rows) + "\n", encoding="utf-8")
    with pytest.warns(corpus.CorpusWarning, match=r"skipped 2 of 4 lines .* lines 1, 3$"):
        assert read_pairs(text) == PAIRS[:2]
