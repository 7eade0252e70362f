"""The local web server behind `vrbench label`: one page, a small JSON API, and the videos.

It listens on 127.0.0.1 only and answers only requests addressed to it by that name (a page on another
site cannot reach it through DNS rebinding), and answers are POSTed as JSON (a form on another site
cannot post JSON without the browser asking first). Videos are streamed with HTTP range requests, so
the page can seek and loop without downloading the file again. Nothing it sends names a run or a model.

  GET  /                 the page
  GET  /api/item/<i>     video i of the plan: prompt, questions, this annotator's answers, progress
  POST /api/answer       {"index": i, "question": "Q3", "answer": "yes" | "no" | "cant-tell"}
  POST /api/undo         withdraw the latest answer; returns {"index", "question"} or null
  GET  /video/<i>        the mp4 (Range supported)
"""

from __future__ import annotations

import json
import logging
import re
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources

from .errors import VRBenchError
from .label import LabelSession

log = logging.getLogger(__name__)

_RANGE = re.compile(r"bytes=(\d*)-(\d*)$")
_CHUNK = 1 << 16


def page_html() -> bytes:
    return (resources.files("vrbench") / "label_page" / "index.html").read_bytes()


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """(first, last) byte of a single ``Range: bytes=a-b`` header within a file of ``size`` bytes; None
    means the whole file; raises ValueError for a range that cannot be satisfied."""
    if not header:
        return None
    m = _RANGE.match(header.strip())
    if not m or (not m.group(1) and not m.group(2)):
        return None  # a form we do not serve (several ranges, other units): send the whole file, as RFC 9110 allows
    if not m.group(1):  # bytes=-N: the last N bytes
        n = int(m.group(2))
        if n == 0:
            raise ValueError("empty suffix range")
        return max(0, size - n), size - 1
    first = int(m.group(1))
    last = min(int(m.group(2)), size - 1) if m.group(2) else size - 1
    if first >= size or last < first:
        raise ValueError(f"range {header!r} outside a file of {size} bytes")
    return first, last


class LabelServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, session: LabelSession, port: int = 0, host: str = "127.0.0.1"):
        self.session = session
        self.host = host
        self.page = page_html()
        super().__init__((host, port), _Handler)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.server_address[1]}/"


class _Handler(BaseHTTPRequestHandler):
    server: LabelServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):
        log.debug("%s %s", self.address_string(), format % args)

    # --- plumbing ---

    def _allowed_host(self) -> bool:
        port = self.server.server_address[1]
        return self.headers.get("Host", "") in (f"127.0.0.1:{port}", f"localhost:{port}")

    def _send(self, status: int, body: bytes, content_type: str, headers: dict | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, obj, status: int = HTTPStatus.OK) -> None:
        self._send(status, json.dumps(obj).encode("utf-8"), "application/json")

    def _error(self, status: int, message: str) -> None:
        self._json({"error": message}, status)

    def _index(self, path: str, prefix: str) -> int | None:
        rest = path[len(prefix):]
        return int(rest) if rest.isdigit() else None

    # --- requests ---

    def do_GET(self):
        if not self._allowed_host():
            return self._error(HTTPStatus.FORBIDDEN, "requests must be addressed to 127.0.0.1 or localhost")
        path = self.path.split("?", 1)[0]
        try:
            if path == "/":
                return self._send(HTTPStatus.OK, self.server.page, "text/html; charset=utf-8")
            if path.startswith("/api/item/") and (i := self._index(path, "/api/item/")) is not None:
                return self._json(self.server.session.item(i))
            if path == "/api/progress":
                return self._json(self.server.session.progress())
            if path.startswith("/video/") and (i := self._index(path, "/video/")) is not None:
                return self._video(i)
        except VRBenchError as e:
            return self._error(HTTPStatus.NOT_FOUND, str(e))
        return self._error(HTTPStatus.NOT_FOUND, f"no such page: {path}")

    do_HEAD = do_GET

    def do_POST(self):
        if not self._allowed_host():
            return self._error(HTTPStatus.FORBIDDEN, "requests must be addressed to 127.0.0.1 or localhost")
        if self.headers.get("Content-Type", "").split(";")[0].strip() != "application/json":
            return self._error(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "expected a JSON body (Content-Type: application/json)")
        try:
            length = int(self.headers.get("Content-Length", "0"))
            body = json.loads(self.rfile.read(length) or b"{}") if 0 <= length <= 1 << 16 else None
        except (ValueError, json.JSONDecodeError):
            body = None
        if not isinstance(body, dict):
            return self._error(HTTPStatus.BAD_REQUEST, "expected a JSON object")
        session = self.server.session
        try:
            if self.path == "/api/answer":
                index = body.get("index")
                if not isinstance(index, int) or isinstance(index, bool):
                    raise VRBenchError(f"index: expected a number, got {index!r}")
                return self._json(session.answer(index, str(body.get("question")), str(body.get("answer"))))
            if self.path == "/api/undo":
                return self._json(session.undo())
        except VRBenchError as e:
            return self._error(HTTPStatus.BAD_REQUEST, str(e))
        return self._error(HTTPStatus.NOT_FOUND, f"no such action: {self.path}")

    def _video(self, index: int) -> None:
        path = self.server.session.video_path(index)
        size = path.stat().st_size
        try:
            wanted = byte_range(self.headers.get("Range"), size)
        except ValueError:
            return self._send(HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE, b"", "video/mp4", {"Content-Range": f"bytes */{size}"})
        first, last = wanted if wanted else (0, size - 1)
        self.send_response(HTTPStatus.PARTIAL_CONTENT if wanted else HTTPStatus.OK)
        self.send_header("Content-Type", "video/mp4")
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Length", str(last - first + 1))
        self.send_header("Cache-Control", "no-store")
        if wanted:
            self.send_header("Content-Range", f"bytes {first}-{last}/{size}")
        self.end_headers()
        if self.command == "HEAD":
            return
        with open(path, "rb") as f:
            f.seek(first)
            left = last - first + 1
            while left > 0:
                chunk = f.read(min(_CHUNK, left))
                if not chunk:
                    break
                try:
                    self.wfile.write(chunk)
                except (BrokenPipeError, ConnectionResetError):  # the browser moved on (seeked, next video)
                    return
                left -= len(chunk)
