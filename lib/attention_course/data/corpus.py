"""Find, download, verify and read the Tatoeba English–French corpus.

**Where it comes from.** The sentence pairs are from Tatoeba (tatoeba.org), packaged as
``fra-eng.zip`` by manythings.org/anki, and released under CC-BY 2.0 FR (credit "Tatoeba
(tatoeba.org) and manythings.org/anki").  The course pins the release dated 2017-09-29
(:data:`CORPUS_SIZE` bytes, sha256 :data:`CORPUS_SHA256`; ``fra.txt`` holds 142,787
``English<TAB>French`` lines).  manythings.org no longer serves that release, so the first
download source, :data:`CORPUS_URL`, is a byte-identical copy pinned to one commit of the
public GitHub repository genimind/seq2seq (843b8bc).

**Where the code looks.** :func:`locate_corpus` looks, in order:

1. at ``$ATTENTION_COURSE_DATA`` — a zip, a ``.txt`` file, or a folder holding
   ``fra-eng.zip`` or ``fra.txt``;
2. in the cache folder (``$ATTENTION_COURSE_CACHE``, else
   ``$XDG_CACHE_HOME/attention-course``, else ``~/.cache/attention-course``);
3. otherwise it downloads into the cache, trying each source of :func:`corpus_sources` in
   turn: ``$ATTENTION_COURSE_DATA_URL`` (one or more URLs separated by whitespace) if set,
   else :data:`CORPUS_SOURCES` — the pinned GitHub copy, then manythings.org itself (asked
   with a browser-like User-Agent, since it answers other clients with HTTP 406).

**Downloads.** Each source gets one overall deadline (``timeout=``, else
``$ATTENTION_COURSE_DOWNLOAD_TIMEOUT``, else :data:`DEFAULT_DOWNLOAD_TIMEOUT` seconds) that
covers connecting, redirects and every byte, besides a :data:`STALL_TIMEOUT` per read; bodies
over :data:`MAX_DOWNLOAD_BYTES` are refused.  The bytes go to a temporary file in the cache
folder that is renamed onto ``fra-eng.zip`` only once verified (size and sha256 of the pinned
release; with ``ATTENTION_COURSE_ALLOW_UNPINNED=1`` any other file must instead be a readable
zip whose ``fra.txt`` parses into at least one pair); on any failure or interruption the
temporary file is deleted, so the cache never holds a partial or wrong file.  If every source
fails, one :class:`CorpusError` lists each source and what it answered.

**By hand.** Download :data:`CORPUS_URL` with a browser or ``curl -L`` and set
``ATTENTION_COURSE_DATA`` to the file or to the folder holding it.

Any zip :func:`locate_corpus` returns matches the pinned sha256, unless
``ATTENTION_COURSE_ALLOW_UNPINNED=1``: newer upstream releases hold more pairs (and a third
attribution column), so they give a different corpus; the train/dev/test split (see
:mod:`.split`) stays the same for the sentences both releases share.

**Reading.** :func:`read_pairs` skips blank lines and rejects a line that is not
``English<TAB>French`` (with an optional third column).  A line whose English or French side
is empty once normalised (:func:`.text.normalize` drops control and zero-width format
characters) cannot be used: such lines are skipped and counted in one :class:`CorpusWarning`,
but a file with no usable pair at all (empty, blank, or only such lines) raises
:class:`CorpusError`.  Every failure raises :class:`CorpusError`.
"""
from __future__ import annotations

import functools
import hashlib
import http.client
import math
import os
import socket
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import warnings
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

from ..paths import user_cache_dir
from .text import normalize

__all__ = [
    "CORPUS_URL", "CORPUS_SOURCES", "CORPUS_SHA256", "CORPUS_SIZE", "CORPUS_RELEASE",
    "CORPUS_FILENAME", "CORPUS_MEMBER", "UPSTREAM_URL", "ENV_VAR", "CACHE_ENV_VAR",
    "URL_ENV_VAR", "UNPINNED_ENV_VAR", "TIMEOUT_ENV_VAR", "DEFAULT_DOWNLOAD_TIMEOUT",
    "STALL_TIMEOUT", "MAX_DOWNLOAD_BYTES", "USER_AGENT", "BROWSER_USER_AGENT",
    "CorpusError", "CorpusWarning", "CorpusSource", "cache_dir", "corpus_sources",
    "download_timeout", "locate_corpus", "download", "verify_sha256", "read_pairs",
]

CORPUS_SHA256 = "16c4f7d0df9e7c5e6c54cdb0447f3f4a18a55052ff5e2e0b27dd4a06c0e49d04"
CORPUS_SIZE = 2_951_390
CORPUS_RELEASE = "2017-09-29"
CORPUS_FILENAME = "fra-eng.zip"
CORPUS_MEMBER = "fra.txt"
#: The pinned release, byte-identical, at one commit of github.com/genimind/seq2seq.
CORPUS_URL = ("https://github.com/genimind/seq2seq/raw/"
              "843b8bc40396fbea4ac9171097122aacfc8b9660/fra-eng.zip")
#: manythings.org's own address; it now serves a newer, three-column release.
UPSTREAM_URL = "https://www.manythings.org/anki/fra-eng.zip"
ENV_VAR = "ATTENTION_COURSE_DATA"
CACHE_ENV_VAR = "ATTENTION_COURSE_CACHE"
URL_ENV_VAR = "ATTENTION_COURSE_DATA_URL"
UNPINNED_ENV_VAR = "ATTENTION_COURSE_ALLOW_UNPINNED"
TIMEOUT_ENV_VAR = "ATTENTION_COURSE_DOWNLOAD_TIMEOUT"
DEFAULT_DOWNLOAD_TIMEOUT = 120.0  # seconds for one whole download (one source)
STALL_TIMEOUT = 30.0  # seconds without any byte before one read gives up
MAX_DOWNLOAD_BYTES = 100 * 1024 * 1024  # refuse bodies larger than this (the pin is ~3 MB)
USER_AGENT = "attention-course/0.1 (Python urllib)"
#: Sent to manythings.org, which answers HTTP 406 to clients that do not look like a browser.
BROWSER_USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"

_BROWSER_HOSTS = ("manythings.org",)
_MAX_TEXT_BYTES = 1 << 30  # a downloaded zip's fra.txt larger than this is not the corpus
_CHUNK = 1 << 16
_ORIGIN = (f"the Tatoeba English–French pairs from manythings.org/anki, release {CORPUS_RELEASE} "
           f"(CC-BY 2.0 FR; pinned copy: github.com/genimind/seq2seq @ 843b8bc)")
_BY_HAND = (f"download {CORPUS_URL} ({CORPUS_SIZE:,} bytes, release {CORPUS_RELEASE}) with a "
            f"browser or `curl -L`, and set {ENV_VAR} to that file or to the folder holding it")
_HOW_TO = f"to supply the corpus by hand, {_BY_HAND}"


class CorpusError(RuntimeError):
    """The corpus could not be found, downloaded, verified or read; the message says the fix."""


class CorpusWarning(UserWarning):
    """Some lines of the corpus could not be used and were skipped (the message counts them)."""


@dataclass(frozen=True)
class CorpusSource:
    """One address to download the corpus from, and the User-Agent to send there."""

    url: str
    user_agent: str = USER_AGENT
    note: str = ""


#: The default download sources, tried in order (``$ATTENTION_COURSE_DATA_URL`` replaces them).
CORPUS_SOURCES: tuple[CorpusSource, ...] = (
    CorpusSource(CORPUS_URL, USER_AGENT, f"the pinned {CORPUS_RELEASE} release on GitHub"),
    CorpusSource(UPSTREAM_URL, BROWSER_USER_AGENT, "upstream; it now serves a newer release"),
)


def cache_dir() -> Path:
    """The folder where a downloaded corpus is kept (not created here)."""
    return user_cache_dir(CACHE_ENV_VAR, "attention-course")


def _allow_unpinned() -> bool:
    return os.environ.get(UNPINNED_ENV_VAR, "").strip().lower() in {"1", "true", "yes", "on"}


def _user_agent_for(url: str) -> str:
    try:
        host = (urllib.parse.urlsplit(url).hostname or "").lower()
    except ValueError:  # a malformed URL: the download will say so
        return USER_AGENT
    if any(host == h or host.endswith("." + h) for h in _BROWSER_HOSTS):
        return BROWSER_USER_AGENT
    return USER_AGENT


def corpus_sources() -> tuple[CorpusSource, ...]:
    """The sources :func:`locate_corpus` tries, in order: the URLs in ``$ATTENTION_COURSE_DATA_URL``
    (separated by whitespace) if it is set, else :data:`CORPUS_SOURCES`."""
    urls = os.environ.get(URL_ENV_VAR, "").split()
    if urls:
        return tuple(CorpusSource(url, _user_agent_for(url)) for url in urls)
    return tuple(CORPUS_SOURCES)


def download_timeout(timeout: float | None = None) -> float:
    """The overall deadline (seconds) of one download: ``timeout`` if given, else
    ``$ATTENTION_COURSE_DOWNLOAD_TIMEOUT``, else :data:`DEFAULT_DOWNLOAD_TIMEOUT`."""
    where = "timeout"
    if timeout is None:
        raw = os.environ.get(TIMEOUT_ENV_VAR, "").strip()
        if not raw:
            return DEFAULT_DOWNLOAD_TIMEOUT
        where = f"{TIMEOUT_ENV_VAR}={raw!r}"
        try:
            timeout = float(raw)
        except ValueError:
            timeout = math.nan
    if not (isinstance(timeout, (int, float)) and math.isfinite(timeout) and timeout > 0):
        raise CorpusError(f"{where} is not a number of seconds greater than 0 "
                          f"(default {DEFAULT_DOWNLOAD_TIMEOUT:g}).")
    return float(timeout)


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
        raise CorpusError(f"cannot read {path}: {exc}; {_HOW_TO}.") from exc


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
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError,
            NotImplementedError, RuntimeError) as exc:
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
        f"(the {CORPUS_RELEASE} release). Newer releases give a different corpus; to use it anyway "
        f"set {UNPINNED_ENV_VAR}=1, otherwise delete {path} and retry, or {_HOW_TO}.")


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


def locate_corpus(download: bool = True, *, timeout: float | None = None) -> Path:
    """Return the path of the corpus (a zip or a ``fra.txt``), downloading it if allowed.

    ``timeout`` is the overall deadline of each download attempt (see :func:`download_timeout`).
    """
    env = os.environ.get(ENV_VAR)
    if env:
        where = f"{ENV_VAR}={env}"
        path = _resolve(Path(env).expanduser(), where=where)
        return _check_zip(path, where=where) if path.suffix.lower() == ".zip" else path
    cached = cache_dir() / CORPUS_FILENAME
    if cached.is_file():
        return _check_zip(cached, where="cached copy")
    if not download:
        raise CorpusError(f"no corpus found: {ENV_VAR} is not set and {cached} does not exist. "
                          f"The corpus is {_ORIGIN}; {_HOW_TO}, or allow the download.")
    return _download_any(corpus_sources(), cached, timeout=download_timeout(timeout))


# --- downloading ---------------------------------------------------------------------------


class _Failed(Exception):
    """One source failed; ``str()`` is a short reason (no advice)."""

    def __init__(self, reason: str, *, mismatch: bool = False):
        super().__init__(reason)
        self.mismatch = mismatch  # the server answered, but with another file or release


class _Deadline:
    """A watchdog: at the deadline it shuts down every socket opened for the download, which
    wakes any blocked connect/read at once (a per-read socket timeout alone would let a server
    that trickles one byte at a time go on for ever)."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.end = time.monotonic() + seconds
        self.expired = False
        self._socks: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def __enter__(self) -> "_Deadline":
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._timer.cancel()

    def passed(self) -> bool:
        return self.expired or time.monotonic() >= self.end

    def track(self, sock: socket.socket) -> socket.socket:
        with self._lock:
            self._socks.append(sock)
            if self.expired:
                self._shutdown(sock)
        return sock

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            for sock in self._socks:
                self._shutdown(sock)

    @staticmethod
    def _shutdown(sock: socket.socket) -> None:
        try:  # the plain socket method, also for an SSL socket: it acts on the descriptor
            socket.socket.shutdown(sock, socket.SHUT_RDWR)
        except (OSError, ValueError):
            pass  # already closed, or detached when wrapped in TLS (the wrapper is tracked too)


def _tracked(base: type, deadline: _Deadline) -> type:
    class Tracked(base):  # type: ignore[misc, valid-type]
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            create = getattr(self, "_create_connection", None)
            if create is not None:  # track the raw socket from the start (TLS handshake included)
                self._create_connection = lambda *a, **k: deadline.track(create(*a, **k))

        def connect(self):
            super().connect()
            deadline.track(self.sock)

    return Tracked


class _HTTPHandler(urllib.request.HTTPHandler):
    def __init__(self, deadline: _Deadline):
        super().__init__()
        self._deadline = deadline

    def http_open(self, req):
        return self.do_open(_tracked(http.client.HTTPConnection, self._deadline), req)


class _HTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, deadline: _Deadline):
        super().__init__()
        self._deadline = deadline

    def https_open(self, req):
        return self.do_open(_tracked(http.client.HTTPSConnection, self._deadline), req,
                            context=self._context)


def _is_tls_error(reason: object) -> bool:
    try:
        import ssl
    except ImportError:  # Python built without ssl: https sources cannot work at all
        return False
    return isinstance(reason, (ssl.SSLError, ssl.CertificateError))


def _length(resp) -> int | None:
    value = (resp.headers.get("Content-Length") or "").strip()
    return int(value) if value.isdigit() else None


def _fetch(url: str, out, *, user_agent: str, deadline: _Deadline, size: int | None,
           max_bytes: int, name: str) -> tuple[str, int]:
    """Stream ``url`` into the open file ``out``; return (sha256 hex, bytes) or raise _Failed."""
    opener = urllib.request.build_opener(_HTTPHandler(deadline), _HTTPSHandler(deadline))
    digest, received, length, complete = hashlib.sha256(), 0, None, False
    late = (f"no complete answer within the {deadline.seconds:g} s deadline (set "
            f"{TIMEOUT_ENV_VAR} or pass timeout= to allow longer)")
    try:
        request = urllib.request.Request(url, headers={"User-Agent": user_agent, "Accept": "*/*"})
        with opener.open(request, timeout=min(STALL_TIMEOUT, deadline.seconds)) as resp:
            length = _length(resp)
            if length is not None and length > max_bytes:
                raise _Failed(f"announces {length:,} bytes, more than the {max_bytes:,}-byte limit")
            if length is not None and size is not None and length != size:
                raise _Failed(f"announces {length:,} bytes, not the {size:,} of the expected file "
                              f"(another file or release)", mismatch=True)
            read = getattr(resp, "read1", resp.read)
            with _progress(length, name) as bar:
                while not deadline.passed():
                    chunk = read(_CHUNK)
                    if not chunk:  # the end, unless the watchdog closed the connection
                        complete = not deadline.expired or received == length
                        break
                    received += len(chunk)
                    if received > max_bytes:
                        raise _Failed(f"sent more than the {max_bytes:,}-byte limit")
                    if size is not None and received > size:
                        raise _Failed(f"sent more than the {size:,} bytes of the expected file "
                                      f"(another file or release)", mismatch=True)
                    try:
                        out.write(chunk)
                    except OSError as exc:
                        raise CorpusError(f"cannot write the download into {Path(out.name).parent} "
                                          f"({exc}): set {CACHE_ENV_VAR} to a folder with space, "
                                          f"or {_HOW_TO}.") from exc
                    digest.update(chunk)
                    bar.update(len(chunk))
    except (_Failed, CorpusError):
        raise
    except urllib.error.HTTPError as exc:
        exc.close()  # its body (an error page) is not needed
        if deadline.passed():
            raise _Failed(late) from exc
        if 300 <= exc.code < 400:
            raise _Failed(f"a redirect loop or too many redirects (HTTP {exc.code})") from exc
        why = ": the server refuses this client" if exc.code == 406 else ""
        raise _Failed(f"HTTP {exc.code} ({exc.reason}){why}") from exc
    except urllib.error.URLError as exc:
        if deadline.passed():
            raise _Failed(late) from exc
        if "unknown url type" in str(exc.reason):
            raise _Failed(f"not a usable URL ({exc.reason})") from exc
        if _is_tls_error(exc.reason):
            raise _Failed(f"the secure (TLS) connection failed ({exc.reason})") from exc
        raise _Failed(f"cannot connect ({exc.reason}): offline, or the host is down or "
                      f"unreachable") from exc
    except (http.client.HTTPException, OSError, ValueError) as exc:
        if deadline.passed():
            raise _Failed(late) from exc
        if isinstance(exc, TimeoutError):
            raise _Failed(f"the connection stalled (no data for {STALL_TIMEOUT:g} s)") from exc
        if isinstance(exc, http.client.IncompleteRead):
            raise _Failed(f"truncated: the connection closed inside a chunk after {received:,} "
                          f"bytes") from exc
        if isinstance(exc, (http.client.RemoteDisconnected, ConnectionError)):
            raise _Failed(f"the server closed the connection ({type(exc).__name__}: {exc}) after "
                          f"{received:,} bytes") from exc
        if isinstance(exc, ValueError) and not received:
            raise _Failed(f"not a usable URL ({exc})") from exc
        after = f" after {received:,} bytes" if received else ""
        raise _Failed(f"{type(exc).__name__}: {exc}{after}") from exc
    if not complete:
        raise _Failed(late)
    if length is not None and received != length:
        raise _Failed(f"truncated: the connection closed after {received:,} of the {length:,} "
                      f"bytes announced")
    return digest.hexdigest(), received


def _corpus_zip_problem(path: Path) -> str | None:
    """Why the file at ``path`` is not a usable corpus zip, or None if it is one."""
    try:
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
            if CORPUS_MEMBER not in names:
                return f"a zip without {CORPUS_MEMBER} (it holds {names[:5]})"
            if zf.getinfo(CORPUS_MEMBER).file_size > _MAX_TEXT_BYTES:
                return f"a zip whose {CORPUS_MEMBER} is larger than {_MAX_TEXT_BYTES:,} bytes"
            bad = zf.testzip()
            if bad:
                return f"a corrupt zip (bad CRC in member {bad})"
            data = zf.read(CORPUS_MEMBER)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError,
            NotImplementedError, RuntimeError) as exc:
        return f"not a readable zip ({exc}): an error page, a truncated body or another file"
    try:
        _parse_text(data.decode("utf-8-sig"), CORPUS_MEMBER)
    except UnicodeDecodeError as exc:
        return f"a zip whose {CORPUS_MEMBER} is not UTF-8 text ({exc})"
    except _Failed as exc:
        return f"a zip whose {exc}"
    return None


def _download_one(source: CorpusSource, dest: Path, sha256: str | None, *, size: int | None,
                  seconds: float, max_bytes: int) -> Path:
    """Download one source to ``dest`` through a temporary file; raise _Failed (source's fault)
    or CorpusError (a local problem)."""
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=dest.name + ".", suffix=".part", dir=dest.parent)
    except OSError as exc:
        raise CorpusError(f"cannot write into {dest.parent} ({exc}): set {CACHE_ENV_VAR} to a "
                          f"writable folder, or {_HOW_TO}.") from exc
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out, _Deadline(seconds) as deadline:
            actual, received = _fetch(source.url, out, user_agent=source.user_agent,
                                      deadline=deadline, size=size, max_bytes=max_bytes,
                                      name=dest.name)
        if size is not None and received != size:
            raise _Failed(f"{received:,} bytes, not the {size:,} of the expected file",
                          mismatch=True)
        if sha256 is not None and actual != sha256.strip().lower():
            raise _Failed(f"sha256 {actual} ({received:,} bytes), not the expected "
                          f"{sha256.strip().lower()}: another file or release", mismatch=True)
        if sha256 is None and actual != CORPUS_SHA256:
            problem = _corpus_zip_problem(tmp)
            if problem:
                raise _Failed(f"{received:,} bytes that are {problem}")
        os.chmod(tmp, 0o644)
        os.replace(tmp, dest)
        return dest
    finally:
        tmp.unlink(missing_ok=True)


def download(url: str, dest: str | os.PathLike[str], sha256: str | None,
             timeout: float | None = None, *, size: int | None = None,
             user_agent: str | None = None, max_bytes: int | None = None) -> Path:
    """Download ``url`` to ``dest`` atomically and verify it; raise :class:`CorpusError` on failure.

    ``sha256`` (and ``size``, if given) must match; with ``sha256=None`` the file must instead
    be a readable zip whose ``fra.txt`` parses into at least one pair.  ``timeout`` is one
    overall deadline in seconds for the whole download, redirects included (default:
    :func:`download_timeout`); ``max_bytes`` caps the body (default :data:`MAX_DOWNLOAD_BYTES`);
    ``user_agent`` defaults to a browser-like one for manythings.org and :data:`USER_AGENT`
    otherwise.  The bytes go to a temporary file beside ``dest`` that is renamed onto ``dest``
    only once complete and verified; on any failure or interruption it is deleted.
    """
    dest = Path(dest)
    source = CorpusSource(url, user_agent or _user_agent_for(url))
    try:
        return _download_one(source, dest, sha256, size=size, seconds=download_timeout(timeout),
                             max_bytes=MAX_DOWNLOAD_BYTES if max_bytes is None else max_bytes)
    except _Failed as exc:
        raise CorpusError(f"download of {url} failed: {exc}. Nothing was left in {dest.parent}. "
                          f"Retry later, or supply the corpus by hand: {_BY_HAND}.") from exc


_download = download  # ``locate_corpus`` has a parameter named ``download``


def _download_any(sources: tuple[CorpusSource, ...], dest: Path, *, timeout: float) -> Path:
    """Try each source in turn; the first that gives a verified corpus wins."""
    pinned = not _allow_unpinned()
    sha256, size = (CORPUS_SHA256, CORPUS_SIZE) if pinned else (None, None)
    failures: list[str] = []
    mismatch = False
    for number, source in enumerate(sources, start=1):
        try:
            return _download_one(source, dest, sha256, size=size, seconds=timeout,
                                 max_bytes=MAX_DOWNLOAD_BYTES)
        except _Failed as exc:
            note = f" ({source.note})" if source.note else ""
            failures.append(f"  {number}. {source.url}{note} — {exc}")
            mismatch = mismatch or exc.mismatch
    tried = "\n".join(failures) or "  (none: the list of sources is empty)"
    unpinned = (f"\nIf a source serves another release (manythings.org now serves a newer, "
                f"three-column one), it is accepted only with {UNPINNED_ENV_VAR}=1, which gives a "
                f"different corpus." if pinned and mismatch else "")
    raise CorpusError(
        f"could not download the corpus: every source failed, and nothing was left in "
        f"{dest.parent}.\nSources tried ({URL_ENV_VAR} replaces them; URLs separated by "
        f"spaces):\n{tried}{unpinned}\nThe corpus is {_ORIGIN}, sha256 {CORPUS_SHA256}. "
        f"Retry later, or supply the corpus by hand: {_BY_HAND}.")


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


# --- reading --------------------------------------------------------------------------------


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


def _empty(text: str) -> bool:
    """True if ``normalize(text)`` is empty (only spaces, control or zero-width characters)."""
    return not (text.isprintable() and text.strip()) and not normalize(text)


def _lines(numbers: list[int], total: int) -> str:
    shown = ", ".join(map(str, numbers[:5]))
    return f"line {shown}" if total == 1 else f"lines {shown}{', ...' if total > 5 else ''}"


def _parse_text(text: str, where: str) -> tuple[tuple[tuple[str, str], ...], int, list[int]]:
    """(pairs, number of unusable lines skipped, their first line numbers); raise _Failed."""
    pairs: list[tuple[str, str]] = []
    skipped: list[int] = []
    n_skipped = 0
    for number, line in enumerate(text.split("\n"), start=1):
        line = line.rstrip("\r")
        cols = line.split("\t")
        if len(cols) == 1 and _empty(line):
            continue  # a blank line
        if len(cols) not in (2, 3):
            raise _Failed(f"{where}, line {number}: expected 'English<TAB>French' with an "
                          f"optional third column, got {line[:80]!r}")
        if _empty(cols[0]) or _empty(cols[1]):
            n_skipped += 1
            if len(skipped) < 5:
                skipped.append(number)
            continue
        pairs.append((cols[0], cols[1]))
    if not pairs:
        if n_skipped:
            raise _Failed(f"{where} has no usable pair: all {n_skipped:,} of its lines have an "
                          f"empty English or French side once normalised (only spaces, control "
                          f"or zero-width characters), e.g. {_lines(skipped, n_skipped)}")
        raise _Failed(f"{where} holds no sentence pairs: it is empty or blank")
    return tuple(pairs), n_skipped, skipped


@functools.lru_cache(maxsize=4)
def _parse(path: str, size: int, mtime_ns: int):
    try:
        return _parse_text(_read_text(Path(path)), path)
    except _Failed as exc:
        raise CorpusError(f"{exc}; {_HOW_TO}.") from None


def read_pairs(path: str | os.PathLike[str] | None = None) -> list[tuple[str, str]]:
    """Raw ``(english, french)`` pairs, in file order, from a zip, a ``.txt`` or a folder.

    ``path=None`` uses :func:`locate_corpus`.  An explicit zip is not checked against the pin.
    Blank lines are skipped; a line that is not ``English<TAB>French[<TAB>attribution]`` raises
    :class:`CorpusError`, as does a file without any usable pair.  Lines whose English or French
    side is empty once normalised are skipped, with one :class:`CorpusWarning` counting them.
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
    pairs, n_skipped, skipped = _parse(str(file.resolve()), st.st_size, st.st_mtime_ns)
    if n_skipped:
        warnings.warn(f"{file}: skipped {n_skipped:,} of {n_skipped + len(pairs):,} lines whose "
                      f"English or French side is empty once normalised (only spaces, control or "
                      f"zero-width characters): {_lines(skipped, n_skipped)}",
                      CorpusWarning, stacklevel=2)
    return list(pairs)
