"""A real HTTP server on 127.0.0.1 that speaks enough of the OpenAI chat-completions protocol for tests.

It answers ``POST /v1/chat/completions`` (with first-token ``logprobs`` when asked), vLLM's
``POST /tokenize`` and ``GET /version``, and ``GET /v1/models``, and can be told to misbehave: a
fixed latency, and a plan of faults handed to the next requests in arrival order (``429`` with
``Retry-After``, ``500``, a dropped connection, a garbage body, a stall longer than the client's
timeout, a reply cut by the token budget, a content filter, a refusal, an exhausted quota). It
counts every request, so tests can assert how many were sent.

Where the real servers are strict, so is the stub; the shapes below were checked against the
OpenAI error bodies quoted in public bug reports (openai-python's ``_exceptions.py`` maps the
statuses) and against vLLM 0.32's OpenAI server source:
- a model it does not serve: 404 ``model_not_found``, "The model `x` does not exist or you do not
  have access to it.";
- a reasoning model (o-series, gpt-5*): 400 ``unsupported_parameter`` for ``max_tokens`` (use
  ``max_completion_tokens``), ``logprobs``, ``top_logprobs`` and ``top_p``; 400 ``unsupported_value``
  for a ``temperature`` other than 1; its hidden reasoning is billed as ``reasoning_tokens``, and a
  budget too small for it ends with ``finish_reason: "length"`` and empty content;
- an exhausted quota: 429 ``insufficient_quota`` (retrying cannot help), unlike 429 ``rate_limit_exceeded``;
- as vLLM without ``--trust-request-mm-kwargs``: 400 for per-request ``mm_processor_kwargs`` or
  ``media_io_kwargs``.

    with StubServer(latency=0.05) as server:
        client = AsyncOpenAI(base_url=server.url, api_key="x")
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable

FAULTS = ("ok", "429", "500", "503", "401", "400", "drop", "garbage", "stall", "unreadable", "length", "content_filter",
          "refusal", "quota", "think", "empty")
MODELS = ("stub-vlm", "gpt-4.1", "o4-mini", "gpt-5", "Qwen/Qwen3-VL-30B-A3B-Instruct")
REASONING = re.compile(r"^(o\d|gpt-5)")


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
                 faults: list[str] | None = None, retry_after: str = "1", stall: float = 5.0,
                 models: tuple[str, ...] = MODELS, vllm_version: str | None = "0.32.0",
                 trust_request_mm_kwargs: bool = False, hang_after: int | None = None):
        self.latency = latency
        self.models = models
        self.vllm_version = vllm_version  # None: no /version route (not a vLLM server)
        self.trust_request_mm_kwargs = trust_request_mm_kwargs
        self.hang_after = hang_after  # answer this many chat requests, then never answer again
        self.answered = 0
        self.answer = answer or (lambda question, body: default_answer(question))
        self.faults = list(faults or [])
        self.retry_after = retry_after
        self.stall = stall
        self.counts: Counter[str] = Counter()  # path -> requests; "faults:<kind>" -> faults served
        self.bodies: list[dict] = []
        self.auth: list[str] = []  # the Authorization header of each chat request
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
            fault = self.faults.pop(0) if self.faults else None
            return None if fault == "ok" else fault  # "ok": answer this one normally

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
                    self._json(200, {"object": "list", "data": [{"id": m, "object": "model", "owned_by": "stub"}
                                                                for m in stub.models]})
                elif self.path == "/version" and stub.vllm_version:
                    self._json(200, {"version": stub.vllm_version})
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
                    stub.auth.append(self.headers.get("Authorization", ""))
                    stub.in_flight += 1
                    stub.max_in_flight = max(stub.max_in_flight, stub.in_flight)
                try:
                    self._chat(body)
                finally:
                    with stub._lock:
                        stub.in_flight -= 1

            def _invalid(self, message: str, param: str, code: str, status: int = 400):
                return self._json(status, {"error": {"message": message, "type": "invalid_request_error",
                                                     "param": param, "code": code}})

            def _refuse_request(self, body: dict) -> bool:
                """The real servers' 4xx answers for requests they do not take; True when one was sent."""
                model = body.get("model")
                if model not in stub.models:
                    self._invalid(f"The model `{model}` does not exist or you do not have access to it.", None,
                                  "model_not_found", 404)
                    return True
                if REASONING.match(model):
                    if "max_tokens" in body:
                        self._invalid("Unsupported parameter: 'max_tokens' is not supported with this model. "
                                      "Use 'max_completion_tokens' instead.", "max_tokens", "unsupported_parameter")
                        return True
                    if body.get("temperature", 1) != 1:
                        self._invalid(f"Unsupported value: 'temperature' does not support {body['temperature']} with this "
                                      "model. Only the default (1) value is supported.", "temperature", "unsupported_value")
                        return True
                    for param in ("logprobs", "top_logprobs", "top_p"):
                        if param in body:
                            self._invalid(f"Unsupported parameter: '{param}' is not supported with this model.", param,
                                          "unsupported_parameter")
                            return True
                if not stub.trust_request_mm_kwargs and (body.get("mm_processor_kwargs") or body.get("media_io_kwargs")):
                    self._json(400, {"error": {"message": "Per-request mm_processor_kwargs are disabled by default; "
                                                          "start the server with --trust-request-mm-kwargs",
                                               "type": "BadRequestError", "param": None, "code": 400}})
                    return True
                return False

            def _chat(self, body: dict):
                if stub.latency:
                    time.sleep(stub.latency)
                with stub._lock:
                    hang = stub.hang_after is not None and stub.answered >= stub.hang_after
                    stub.answered += not hang
                if hang:  # a server that stopped answering: the client sees nothing until it gives up
                    time.sleep(3600)
                if self._refuse_request(body):
                    return None
                fault = stub._next_fault()
                if fault:
                    with stub._lock:
                        stub.counts[f"faults:{fault}"] += 1
                if fault == "429":
                    return self._json(429, {"error": {"message": "rate limited", "type": "rate_limit"}}, {"Retry-After": stub.retry_after})
                if fault == "401":
                    return self._invalid("Incorrect API key provided: sk-te****cret. You can find your API key at "
                                         "https://platform.openai.com/account/api-keys.", None, "invalid_api_key", 401)
                if fault == "400":
                    return self._invalid("Invalid request", None, None)
                if fault == "quota":
                    return self._json(429, {"error": {"message": "You exceeded your current quota, please check your plan "
                                                                 "and billing details.", "type": "insufficient_quota",
                                                      "param": None, "code": "insufficient_quota"}})
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
                if fault == "think":
                    answer = "<think>The square moves right, so... </think>\n" + answer
                budget = body.get("max_completion_tokens") or body.get("max_tokens") or 16
                reasoning = budget if fault == "length" else (120 if REASONING.match(body["model"]) else None)
                message = {"role": "assistant", "content": answer, "refusal": None}
                finish = "length" if (body.get("allowed_token_ids") and budget == 1) else "stop"
                if fault == "length":  # all of the budget went to hidden reasoning
                    message["content"], finish = "", "length"
                elif fault == "content_filter":
                    message["content"], finish = None, "content_filter"
                elif fault == "empty":
                    message["content"] = ""
                elif fault == "refusal":
                    message["content"], message["refusal"] = None, "I'm sorry, I can't help with that."
                choice = {"index": 0, "message": message, "finish_reason": finish, "logprobs": None}
                usage = {"prompt_tokens": 10, "completion_tokens": (reasoning or 0) + 1, "total_tokens": 11 + (reasoning or 0)}
                if reasoning is not None:
                    usage["completion_tokens_details"] = {"reasoning_tokens": reasoning}
                if body.get("logprobs") and message["content"]:
                    first = re.split(r"(\W)", answer)[0] or answer[:1]
                    p = 0.9 if first.lower() in ("yes", "no") else 0.02
                    top = [{"token": first, "logprob": _log(p), "bytes": None},
                           {"token": "No" if first.lower() == "yes" else "Yes", "logprob": _log(0.08), "bytes": None},
                           {"token": "I", "logprob": _log(0.02 if p == 0.9 else 0.9), "bytes": None}]
                    choice["logprobs"] = {"content": [{"token": first, "logprob": top[0]["logprob"], "bytes": None,
                                                       "top_logprobs": top[: body.get("top_logprobs") or 1]}]}
                self._json(200, {"id": "chatcmpl-stub", "object": "chat.completion", "created": int(time.time()),
                                 "model": body.get("model", "stub-vlm"), "choices": [choice], "usage": usage})

        return Handler


class _Server(ThreadingHTTPServer):
    request_queue_size = 256  # the default backlog (5) drops connections when 32 clients connect at once


def _log(p: float) -> float:
    import math

    return math.log(p)


def images_of(body: dict) -> list:
    """The frames a chat request carries as ``data:image/jpeg;base64`` parts, decoded (uint8 H x W x 3), in order."""
    import base64
    import io

    import numpy as np
    from PIL import Image

    out = []
    for message in body["messages"]:
        content = message["content"]
        for part in content if isinstance(content, list) else []:
            url = (part.get("image_url") or {}).get("url", "") if part.get("type") == "image_url" else ""
            if url.startswith("data:image/"):
                data = base64.b64decode(url.split(",", 1)[1])
                out.append(np.asarray(Image.open(io.BytesIO(data)).convert("RGB")))
    return out
