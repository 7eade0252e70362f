"""A real HTTP server on 127.0.0.1 that speaks enough of the OpenAI chat-completions protocol for tests.

It answers ``POST /v1/chat/completions`` (with first-token ``logprobs`` when asked), vLLM's
``POST /tokenize`` and ``GET /v1/models``, and can be told to misbehave: a fixed latency, and a plan
of faults handed to the next requests in arrival order (``429`` with ``Retry-After``, ``500``, a
dropped connection, a garbage body, a stall longer than the client's timeout). It counts every
request, so tests can assert how many were sent.

    with StubServer(latency=0.05) as server:
        client = AsyncOpenAI(base_url=server.url, api_key="x")
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable

FAULTS = ("429", "500", "503", "401", "drop", "garbage", "stall", "unreadable")


def default_answer(question_text: str) -> str:
    """A fixed answer per question text, so reruns and retries agree."""
    return "Yes." if hashlib.sha256(question_text.encode()).digest()[0] % 2 == 0 else "No."


def last_text(body: dict) -> str:
    content = body["messages"][-1]["content"]
    if isinstance(content, str):
        return content
    return "\n".join(p.get("text", "") for p in content if p.get("type") == "text")


def question_of(text: str) -> str:
    for line in text.splitlines():
        if line.startswith("Question:"):
            return line.removeprefix("Question:").strip()
    return text


class StubServer:
    def __init__(self, latency: float = 0.0, answer: Callable[[str, dict], str] | None = None,
                 faults: list[str] | None = None, retry_after: str = "1", stall: float = 5.0):
        self.latency = latency
        self.answer = answer or (lambda question, body: default_answer(question))
        self.faults = list(faults or [])
        self.retry_after = retry_after
        self.stall = stall
        self.counts: Counter[str] = Counter()  # path -> requests; "faults:<kind>" -> faults served
        self.bodies: list[dict] = []
        self.arrivals: list[float] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        self._server = _Server(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    @property
    def chat_requests(self) -> int:
        return self.counts["/v1/chat/completions"]

    def __enter__(self) -> "StubServer":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _next_fault(self) -> str | None:
        with self._lock:
            return self.faults.pop(0) if self.faults else None

    def _handler(self):
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, like a real server
            disable_nagle_algorithm = True  # headers and body go out as separate writes; no 40 ms Nagle stall

            def log_message(self, *args):  # quiet
                pass

            def _send(self, status: int, payload: bytes, headers: dict | None = None, ctype="application/json"):
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(payload)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(payload)

            def _json(self, status: int, obj: dict, headers: dict | None = None):
                self._send(status, json.dumps(obj).encode(), headers)

            def do_GET(self):
                with stub._lock:
                    stub.counts[self.path] += 1
                if self.path == "/v1/models":
                    self._json(200, {"object": "list", "data": [{"id": "stub-vlm", "object": "model"}]})
                else:
                    self._json(404, {"error": {"message": "not found"}})

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                with stub._lock:
                    stub.counts[self.path] += 1
                    stub.arrivals.append(time.perf_counter())
                if self.path == "/tokenize":
                    word = body.get("prompt", "")
                    return self._json(200, {"tokens": [1000 + sum(map(ord, word))], "count": 1})
                if self.path != "/v1/chat/completions":
                    return self._json(404, {"error": {"message": f"no route {self.path}"}})
                with stub._lock:
                    stub.bodies.append(body)
                    stub.in_flight += 1
                    stub.max_in_flight = max(stub.max_in_flight, stub.in_flight)
                try:
                    self._chat(body)
                finally:
                    with stub._lock:
                        stub.in_flight -= 1

            def _chat(self, body: dict):
                if stub.latency:
                    time.sleep(stub.latency)
                fault = stub._next_fault()
                if fault:
                    with stub._lock:
                        stub.counts[f"faults:{fault}"] += 1
                if fault == "429":
                    return self._json(429, {"error": {"message": "rate limited", "type": "rate_limit"}}, {"Retry-After": stub.retry_after})
                if fault == "401":
                    return self._json(401, {"error": {"message": "Incorrect API key provided", "code": "invalid_api_key"}})
                if fault in ("500", "503"):
                    return self._json(int(fault), {"error": {"message": "server error"}})
                if fault == "drop":
                    self.close_connection = True
                    self.connection.close()
                    return None
                if fault == "garbage":
                    return self._send(200, b"<html>this is not json", ctype="application/json")
                if fault == "stall":
                    time.sleep(stub.stall)
                text = last_text(body)
                question = question_of(text)
                answer = "I cannot tell from these frames." if fault == "unreadable" else stub.answer(question, body)
                if body.get("structured_outputs", {}).get("choice") or body.get("allowed_token_ids"):
                    answer = "yes" if answer.lower().startswith("yes") else "no"
                message = {"role": "assistant", "content": answer}
                choice = {"index": 0, "message": message, "finish_reason": "stop", "logprobs": None}
                if body.get("logprobs"):
                    first = answer.split()[0].strip(".,") if answer.split() else ""
                    p = 0.9 if first.lower() in ("yes", "no") else 0.02
                    top = [{"token": first, "logprob": _log(p), "bytes": None},
                           {"token": "No" if first.lower() == "yes" else "Yes", "logprob": _log(0.08), "bytes": None},
                           {"token": "I", "logprob": _log(0.02 if p == 0.9 else 0.9), "bytes": None}]
                    choice["logprobs"] = {"content": [{"token": first, "logprob": top[0]["logprob"], "bytes": None,
                                                       "top_logprobs": top[: body.get("top_logprobs") or 1]}]}
                self._json(200, {"id": "chatcmpl-stub", "object": "chat.completion", "created": int(time.time()),
                                 "model": body.get("model", "stub-vlm"), "choices": [choice],
                                 "usage": {"prompt_tokens": 10, "completion_tokens": 1, "total_tokens": 11}})

        return Handler


class _Server(ThreadingHTTPServer):
    request_queue_size = 256  # the default backlog (5) drops connections when 32 clients connect at once


def _log(p: float) -> float:
    import math

    return math.log(p)
