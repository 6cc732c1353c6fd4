"""The standalone in-page site (``attention_course.web.write_site``) served on 127.0.0.1, for the
browser tests of the live translator and the attention explorer."""
from __future__ import annotations

import functools
import http.server
import threading
from pathlib import Path

from urllib.parse import urlsplit

from conftest import LOCAL_HOSTS, _missing


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


class SitePage:
    """A page in its own browser context: requests outside 127.0.0.1 are refused and recorded,
    JavaScript errors, console errors and dialogs collected; ready once ``READY`` (a JS function
    body) holds."""

    READY = "() => true"

    def __init__(self, browser, url: str, width: int = 1280):
        self.context = browser.new_context(viewport={"width": width, "height": 900})
        self.errors, self.blocked, self.requests, self.dialogs = [], [], [], []

        def route(r):
            if (urlsplit(r.request.url).hostname or "") in LOCAL_HOSTS:
                self.requests.append(urlsplit(r.request.url).path)
                return r.continue_()
            self.blocked.append(r.request.url)
            return r.abort()

        self.context.route("**/*", route)
        self.page = self.context.new_page()
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))
        response = self.page.goto(url, wait_until="load")
        assert response is not None and response.ok, url
        self.page.wait_for_function(self.READY)
