"""Find, download, verify and read the Tatoeba English–French corpus.

The course pins one release: ``fra-eng.zip`` from manythings.org/anki dated
2017-09-29 (sha256 :data:`CORPUS_SHA256`).  :func:`locate_corpus` looks, in order:

1. at ``$ATTENTION_COURSE_DATA`` — a zip, a ``.txt`` file, or a folder holding
   ``fra-eng.zip`` or ``fra.txt``;
2. in the cache folder (``$ATTENTION_COURSE_CACHE``, else
   ``$XDG_CACHE_HOME/attention-course``, else ``~/.cache/attention-course``);
3. otherwise it downloads ``$ATTENTION_COURSE_DATA_URL`` (default :data:`CORPUS_URL`)
   into the cache.

Any zip it returns matches the pinned sha256, unless ``ATTENTION_COURSE_ALLOW_UNPINNED=1``:
newer upstream releases hold more pairs (and a third attribution column), so they give
a different corpus; the train/dev/test split (see :mod:`.split`) stays the same for
the sentences both releases share.  Every failure raises :class:`CorpusError`.
"""
from __future__ import annotations

import functools
import hashlib
import http.client
import os
import tempfile
import urllib.error
import urllib.request
import zipfile
import zlib
from pathlib import Path

__all__ = [
    "CORPUS_URL", "CORPUS_SHA256", "CORPUS_FILENAME", "CORPUS_MEMBER", "ENV_VAR",
    "CACHE_ENV_VAR", "URL_ENV_VAR", "UNPINNED_ENV_VAR", "CorpusError", "cache_dir",
    "locate_corpus", "download", "verify_sha256", "read_pairs",
]

CORPUS_URL = "https://www.manythings.org/anki/fra-eng.zip"
CORPUS_SHA256 = "16c4f7d0df9e7c5e6c54cdb0447f3f4a18a55052ff5e2e0b27dd4a06c0e49d04"
CORPUS_FILENAME = "fra-eng.zip"
CORPUS_MEMBER = "fra.txt"
ENV_VAR = "ATTENTION_COURSE_DATA"
CACHE_ENV_VAR = "ATTENTION_COURSE_CACHE"
URL_ENV_VAR = "ATTENTION_COURSE_DATA_URL"
UNPINNED_ENV_VAR = "ATTENTION_COURSE_ALLOW_UNPINNED"

_CHUNK = 1 << 16
_HOW_TO = (f"set {ENV_VAR} to a folder holding {CORPUS_FILENAME} "
           f"(from {CORPUS_URL}, release 2017-09-29)")


class CorpusError(RuntimeError):
    """The corpus could not be found, downloaded, verified or read; the message says the fix."""


def cache_dir() -> Path:
    """The folder where a downloaded corpus is kept (not created here)."""
    if os.environ.get(CACHE_ENV_VAR):
        return Path(os.environ[CACHE_ENV_VAR]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "attention-course"


def _allow_unpinned() -> bool:
    return os.environ.get(UNPINNED_ENV_VAR, "").strip().lower() in {"1", "true", "yes", "on"}


@functools.lru_cache(maxsize=32)
def _sha256_cached(path: str, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _sha256(path: Path) -> str:
    try:
        st = path.stat()
        return _sha256_cached(str(path.resolve()), st.st_size, st.st_mtime_ns)
    except OSError as exc:
        raise CorpusError(f"cannot read {path}: {exc}; {_HOW_TO}") from exc


def verify_sha256(path: str | os.PathLike[str], expected: str) -> str:
    """Return the sha256 of ``path``; raise :class:`CorpusError` if it is not ``expected``.

    Digests are cached in-process, keyed by path, size and modification time.
    """
    path = Path(path)
    actual = _sha256(path)
    if actual != expected.strip().lower():
        raise CorpusError(
            f"{path} has sha256 {actual}, expected {expected}: it is corrupt or another release. "
            f"Delete {path} and retry, or {_HOW_TO}.")
    return actual


def _zip_problem(path: Path) -> str | None:
    """A description of what is wrong with the zip at ``path``, or None if it reads cleanly."""
    try:
        with zipfile.ZipFile(path) as zf:
            bad = zf.testzip()
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError) as exc:
        return f"not a readable zip (truncated or corrupt: {exc})"
    return f"corrupt zip (bad CRC in member {bad})" if bad else None


def _check_zip(path: Path, *, where: str) -> Path:
    """Check a zip against the pin (or, when unpinned releases are allowed, only its integrity)."""
    if _sha256(path) == CORPUS_SHA256:
        return path
    problem = _zip_problem(path)
    if problem:
        raise CorpusError(f"{path} ({where}) is {problem}. Delete {path} and retry, or {_HOW_TO}.")
    if _allow_unpinned():
        return path
    raise CorpusError(
        f"{path} ({where}) has sha256 {_sha256(path)}, not the pinned {CORPUS_SHA256} "
        f"(the 2017-09-29 release). Newer releases give a different corpus; to use it anyway set "
        f"{UNPINNED_ENV_VAR}=1, otherwise delete {path} and retry, or {_HOW_TO}.")


def _resolve(path: Path, *, where: str) -> Path:
    """Turn a zip, a .txt file or a folder holding one into the corpus file's path."""
    if path.is_dir():
        for name in (CORPUS_FILENAME, CORPUS_MEMBER):
            if (path / name).is_file():
                return path / name
        raise CorpusError(f"{where}: folder {path} holds neither {CORPUS_FILENAME} nor "
                          f"{CORPUS_MEMBER}; {_HOW_TO}.")
    if path.is_file():
        if path.suffix.lower() in {".zip", ".txt"}:
            return path
        raise CorpusError(f"{where}: {path} is neither a .zip nor a .txt file; {_HOW_TO}.")
    raise CorpusError(f"{where}: {path} does not exist; {_HOW_TO}.")


def locate_corpus(download: bool = True) -> Path:
    """Return the path of the corpus (a zip or a ``fra.txt``), downloading it if allowed."""
    env = os.environ.get(ENV_VAR)
    if env:
        where = f"{ENV_VAR}={env}"
        path = _resolve(Path(env).expanduser(), where=where)
        return _check_zip(path, where=where) if path.suffix.lower() == ".zip" else path
    cached = cache_dir() / CORPUS_FILENAME
    if cached.is_file():
        return _check_zip(cached, where="cached copy")
    if not download:
        raise CorpusError(f"no corpus found: {ENV_VAR} is not set and {cached} does not exist; "
                          f"{_HOW_TO}, or allow the download.")
    url = os.environ.get(URL_ENV_VAR) or CORPUS_URL
    return _download(url, cached, None if _allow_unpinned() else CORPUS_SHA256)


def download(url: str, dest: str | os.PathLike[str], sha256: str | None,
             timeout: float = 30) -> Path:
    """Download ``url`` to ``dest`` atomically, checking its size and sha256 (``None``: unchecked).

    The bytes go to a temporary file beside ``dest`` that is renamed onto ``dest`` only once
    complete and verified; on any failure it is deleted and :class:`CorpusError` is raised.
    """
    dest = Path(dest)
    fix = f"or download {url} yourself and set {ENV_VAR} to the folder holding it"
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=dest.name + ".", suffix=".part", dir=dest.parent)
    except OSError as exc:
        raise CorpusError(f"cannot write into {dest.parent} ({exc}): set {CACHE_ENV_VAR} to a "
                          f"writable folder, {fix}.") from exc
    tmp = Path(tmp_name)
    try:
        digest, received, expected = hashlib.sha256(), 0, None
        request = urllib.request.Request(url, headers={"User-Agent": "attention-course/0.1"})
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(request, timeout=timeout) as resp:
            length = resp.headers.get("Content-Length", "")
            expected = int(length) if length.strip().isdigit() else None
            with _progress(expected, dest.name) as bar:
                while chunk := resp.read(_CHUNK):
                    out.write(chunk)
                    digest.update(chunk)
                    received += len(chunk)
                    bar.update(len(chunk))
        if expected is not None and received != expected:
            raise CorpusError(f"download of {url} was truncated: got {received} of {expected} "
                              f"bytes. Retry later, {fix}.")
        actual = digest.hexdigest()
        if sha256 is not None and actual != sha256.strip().lower():
            raise CorpusError(
                f"{url} has sha256 {actual}, not the expected {sha256}: the server may now host "
                f"a newer release. Set {UNPINNED_ENV_VAR}=1 to accept it, "
                f"{fix}.")
        os.chmod(tmp, 0o644)
        os.replace(tmp, dest)
        return dest
    except CorpusError:
        raise
    except http.client.IncompleteRead as exc:
        raise CorpusError(f"download of {url} was truncated: the connection closed after "
                          f"{len(exc.partial)} bytes of a chunk. Retry later, {fix}.") from exc
    except urllib.error.HTTPError as exc:
        raise CorpusError(f"{url} answered HTTP {exc.code} ({exc.reason}); set {URL_ENV_VAR} to "
                          f"a working address, {fix}.") from exc
    except urllib.error.URLError as exc:
        raise CorpusError(f"cannot reach {url} ({exc.reason}); are you offline? Connect and "
                          f"retry, {fix}.") from exc
    except (http.client.HTTPException, TimeoutError, OSError) as exc:
        raise CorpusError(f"download of {url} failed ({type(exc).__name__}: {exc}); the file is "
                          f"incomplete. Retry, {fix}.") from exc
    finally:
        tmp.unlink(missing_ok=True)


_download = download  # ``locate_corpus`` has a parameter named ``download``


class _NoBar:
    def __enter__(self) -> "_NoBar":
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def update(self, n: int) -> None:
        return None


def _progress(total: int | None, name: str):  # -> context manager with .update(n)
    try:
        from tqdm.auto import tqdm
    except ImportError:  # tqdm is optional
        return _NoBar()
    return tqdm(total=total, unit="B", unit_scale=True, desc=name, disable=None, leave=False)


def _member(zf: zipfile.ZipFile, path: Path) -> str:
    names = zf.namelist()
    if CORPUS_MEMBER in names:
        return CORPUS_MEMBER
    texts = [n for n in names if n.endswith(".txt") and not Path(n).name.startswith("_")]
    if len(texts) == 1:
        return texts[0]
    raise CorpusError(f"{path} should hold {CORPUS_MEMBER} (or a single .txt file) but holds "
                      f"{names}; {_HOW_TO}.")


def _read_text(path: Path) -> str:
    try:
        if path.suffix.lower() == ".zip":
            with zipfile.ZipFile(path) as zf:
                data = zf.read(_member(zf, path))
        else:
            data = path.read_bytes()
        return data.decode("utf-8-sig")
    except CorpusError:
        raise
    except UnicodeDecodeError as exc:
        raise CorpusError(f"{path} is not UTF-8 text ({exc}); {_HOW_TO}.") from exc
    except (zipfile.BadZipFile, zlib.error, EOFError, ValueError) as exc:
        raise CorpusError(f"{path} is not a readable zip (truncated or corrupt: {exc}). "
                          f"Delete {path} and retry, or {_HOW_TO}.") from exc
    except OSError as exc:
        raise CorpusError(f"cannot read {path} ({exc}); {_HOW_TO}.") from exc


@functools.lru_cache(maxsize=4)
def _parse(path: str, size: int, mtime_ns: int) -> tuple[tuple[str, str], ...]:
    pairs = []
    for number, line in enumerate(_read_text(Path(path)).split("\n"), start=1):
        line = line.rstrip("\r")
        if not line.strip():
            continue
        cols = line.split("\t")
        if len(cols) not in (2, 3) or not cols[0].strip() or not cols[1].strip():
            raise CorpusError(f"{path}, line {number}: expected 'English<TAB>French' with an "
                              f"optional third column, got {line[:80]!r}; {_HOW_TO}.")
        pairs.append((cols[0], cols[1]))
    return tuple(pairs)


def read_pairs(path: str | os.PathLike[str] | None = None) -> list[tuple[str, str]]:
    """Raw ``(english, french)`` pairs, in file order, from a zip, a ``.txt`` or a folder.

    ``path=None`` uses :func:`locate_corpus`.  An explicit zip is not checked against the pin.
    Parsed files are cached in-process (keyed by resolved path, size and mtime).
    """
    if path is None:
        file = locate_corpus()
    else:
        file = _resolve(Path(path).expanduser(), where="read_pairs")
    try:
        st = file.stat()
    except OSError as exc:
        raise CorpusError(f"cannot read {file} ({exc}); {_HOW_TO}.") from exc
    return list(_parse(str(file.resolve()), st.st_size, st.st_mtime_ns))
