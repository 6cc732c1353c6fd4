"""The standalone in-page site (``attention_course.web.write_site``) served on 127.0.0.1, for the
browser tests of the live translator and the attention explorer."""
from __future__ import annotations

import functools
import http.server
import threading
from pathlib import Path

from conftest import _missing


def write_standalone_site(out: Path) -> Path:
    """The site in ``out``; the test is skipped (failed in CI) without ONNX Runtime Web."""
    from attention_course.web import WebAssetsError, write_site
    try:
        write_site(out, standalone=True)
    except WebAssetsError as e:
        _missing(f"ONNX Runtime Web is not available: {e}")
    return out


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002
        pass


def serve(folder: Path):
    """(server, its URL): ``folder`` served on 127.0.0.1 in a background thread."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(folder)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/"


def serving(folder: Path):
    """A fixture body: yields the URL of ``folder`` served, and stops the server afterwards."""
    server, url = serve(folder)
    yield url
    server.shutdown()
    server.server_close()
