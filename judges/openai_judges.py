"""Judges that talk the OpenAI chat-completions protocol: `openai-compatible`, `gpt` and `qwen3-vl`.

One client serves every server case (OpenAI itself, `vllm serve`, any compatible server): an
``AsyncOpenAI`` with its own retries switched off, and ours instead: exponential backoff with full
jitter on 429, 5xx, timeouts, dropped connections and unreadable bodies, honouring ``Retry-After``.
A request that still fails comes back as an error reply (the stage records it as invalid and goes
on); a bad key, unknown model or unreachable server stops the run with one line.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import os
import random
import re
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

from vrbench.answers import p_yes_from_logprobs, parse_yes_no, token_answer
from vrbench.errors import VRBenchError
from vrbench.judge import Judge, JudgeError, Reply, register_judge
from vrbench.judge_messages import FramesAs, VideoInput, chat_messages
from vrbench.options import make_options

log = logging.getLogger(__name__)

MAX_RETRY_AFTER = 120.0  # seconds; a server asking for longer is treated as down for this request


def backoff_delay(attempt: int, retry_after: float | None = None, *, base: float = 0.5, cap: float = 30.0,
                  rng: Callable[[], float] = random.random) -> float:
    """Seconds to wait before retry number ``attempt`` (0-based).

    Full jitter: uniform in [0, min(cap, base * 2**attempt)], so many clients that failed together do
    not retry together. A server's ``Retry-After`` is a floor (never retry sooner than asked).
    """
    delay = rng() * min(cap, base * (2.0 ** attempt))
    if retry_after is not None and retry_after > 0:
        delay = max(delay, min(retry_after, MAX_RETRY_AFTER))
    return delay


def parse_retry_after(headers: Mapping[str, str] | None) -> float | None:
    """Seconds from ``retry-after-ms`` or ``Retry-After`` (seconds or an HTTP date); None when absent or unreadable."""
    if not headers:
        return None
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return max(0.0, float(ms) / 1000.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, parsed.timestamp() - time.time())


def _short(e: BaseException) -> str:
    text = str(e).splitlines()[0] if str(e) else ""
    return f"{type(e).__name__}: {text}"[:300] if text else type(e).__name__


def _error_code(e: Any) -> str | None:
    """The OpenAI error ``code`` (``insufficient_quota``, ``model_not_found``, ...) of an APIStatusError."""
    code = getattr(e, "code", None)
    if code is None and isinstance(getattr(e, "body", None), dict):
        code = e.body.get("code") or (e.body.get("error") or {}).get("code")
    return str(code) if code is not None else None


def _error_message(e: Any) -> str:
    body = getattr(e, "body", None)
    if isinstance(body, dict):
        message = body.get("message") or (body.get("error") or {}).get("message")
        if message:
            return str(message).splitlines()[0][:300]
    return _short(e)


class ChatClient:
    """AsyncOpenAI with the retry policy above. ``complete`` returns (response or _Failure, requests sent).

    A bad key, a model the server does not serve and an exhausted quota raise ``JudgeError`` (no
    request can succeed); a 400 and other client errors come back as a failure at once (retrying the
    same body gets the same answer); 408, 409, 429, 5xx, timeouts and dropped connections are retried.
    """

    def __init__(self, base_url: str | None, api_key: str, *, timeout: float = 120.0, max_retries: int = 6,
                 backoff_base: float = 0.5, backoff_cap: float = 30.0):
        from openai import AsyncOpenAI

        self.base_url = base_url
        self.max_retries = max_retries
        self.backoff_base, self.backoff_cap = backoff_base, backoff_cap
        self.client = AsyncOpenAI(base_url=base_url, api_key=api_key, timeout=timeout, max_retries=0)

    @staticmethod
    def _body(request: dict[str, Any]) -> dict[str, Any]:
        """The JSON body: the request with its ``extra_body`` (vLLM extensions) merged in.

        Posting the body directly skips the SDK's per-request walk over typed parameters, which costs
        milliseconds per request for messages with many image parts and caps throughput at high
        concurrency; our requests are plain JSON already.
        """
        body = {k: v for k, v in request.items() if k != "extra_body"}
        body.update(request.get("extra_body") or {})
        return body

    async def complete(self, request: dict[str, Any]) -> tuple[Any, int]:
        import openai
        from openai.types.chat import ChatCompletion

        where = self.base_url or "the OpenAI API"
        attempt = 0
        while True:
            retry_after = None
            try:
                response = await self.client.post("/chat/completions", cast_to=ChatCompletion, body=self._body(request))
                if not getattr(response, "choices", None):  # a 200 whose body is not a completion
                    raise ValueError("response has no choices (unreadable body)")
                return response, attempt + 1
            except openai.APIStatusError as e:
                status, code = e.status_code, _error_code(e)
                if status in (401, 403, 404) or code == "insufficient_quota":
                    cause = f"HTTP {status}" + (f" {code}" if code else "")
                    raise JudgeError(f"{where}: model {request.get('model')}: {cause}: {_error_message(e)}") from None
                if not (status in (408, 409, 429) or status >= 500):
                    return _Failure(f"HTTP {status}: {_error_message(e)}", f"HTTP {status}"), attempt + 1
                retry_after = parse_retry_after(e.response.headers)
                error, failure = f"HTTP {status}", f"HTTP {status}"
            except (openai.APIConnectionError, openai.APIResponseValidationError, ValueError, json.JSONDecodeError) as e:
                error, failure = _short(e), type(e).__name__  # timeouts and dropped connections are APIConnectionError
            if attempt >= self.max_retries:
                return _Failure(f"{error} (gave up after {attempt + 1} attempts)", failure), attempt + 1
            delay = backoff_delay(attempt, retry_after, base=self.backoff_base, cap=self.backoff_cap)
            log.debug("request failed (%s); retrying in %.2fs", error, delay)
            await asyncio.sleep(delay)
            attempt += 1

    async def aclose(self) -> None:
        await self.client.close()


class _Failure:
    def __init__(self, error: str, failure: str):
        self.error, self.failure = error, failure


def _get(obj: Any, name: str) -> Any:
    """An attribute of an OpenAI object or a key of a plain dict (the offline engine builds dicts)."""
    return obj.get(name) if isinstance(obj, dict) else getattr(obj, name, None)


def _usage(usage: Any) -> dict[str, int] | None:
    if usage is None:
        return None
    out = {k: _get(usage, f"{k}_tokens") for k in ("prompt", "completion")}
    details = _get(usage, "completion_tokens_details")
    reasoning = _get(details, "reasoning_tokens") if details is not None else None
    if reasoning is not None:
        out["reasoning"] = reasoning
    return {k: int(v) for k, v in out.items() if v is not None} or None


def reply_from_response(response: Any, requests: int) -> Reply:
    """Text, first-token P(yes), finish reason and token usage of a chat completion.

    A refusal, a ``content_filter`` stop, an empty reply and a reply cut by the token budget before
    it gave an answer are errors (never answers). P(yes) is read only when the first generated token
    is itself yes or no: for "The answer is no." the first token's yes/no mass says nothing.
    """
    if isinstance(response, _Failure):
        return Reply(None, None, response.error, requests, failure=response.failure)
    choice = response.choices[0]
    message = choice.message
    text, finish = _get(message, "content"), _get(choice, "finish_reason")
    usage = _usage(_get(response, "usage"))
    refusal = _get(message, "refusal")
    error = kind = None
    if refusal:
        error, kind = f"the model refused: {str(refusal)[:200]}", "refusal"
    elif finish == "content_filter":
        error, kind = "the reply was blocked by the server's content filter", "content_filter"
    elif not (text or "").strip():
        if finish == "length":
            spent = f" ({usage['reasoning']} reasoning tokens)" if usage and "reasoning" in usage else ""
            error, kind = f"the token budget ran out before any answer{spent}; raise max_tokens", "length"
        else:
            error, kind = "empty reply", "empty"
    elif finish == "length" and parse_yes_no(text) is None:
        error, kind = "the token budget ran out before the answer; raise max_tokens", "length"
    p_yes = None
    logprobs = _get(choice, "logprobs")
    content = _get(logprobs, "content") if logprobs is not None else None
    if content and error is None:
        first = content[0]
        if token_answer(_get(first, "token") or "") is not None:
            top = [(_get(t, "token"), _get(t, "logprob")) for t in (_get(first, "top_logprobs") or [])]
            p_yes = p_yes_from_logprobs(top or [(_get(first, "token"), _get(first, "logprob"))])
    return Reply(text, p_yes, error, requests, error_kind=kind, finish_reason=finish, usage=usage)


def _http_json(url: str, api_key: str | None, timeout: float, body: dict | None = None) -> tuple[int, Any]:
    """(status, parsed JSON or None) of a GET (or a POST with ``body``); connection problems raise OSError."""
    headers = {"Content-Type": "application/json"}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data, headers, method="POST" if body is not None else "GET")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as r:
            status, raw = r.status, r.read()
    except urllib.error.HTTPError as e:
        status, raw = e.code, e.read()
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, None


def _unreachable(url: str, e: BaseException) -> JudgeError:
    return JudgeError(f"judge server {url} cannot be reached ({getattr(e, 'reason', e)}); is it running? check --judge-url")


def _server_message(payload: Any) -> str:
    if isinstance(payload, dict):
        inner = payload.get("error")
        err = inner if isinstance(inner, dict) else payload
        return " ".join(str(err.get("message") or "").split())[:300]  # one line, whatever the server sent
    return ""


def check_server(url: str, model: str, api_key: str | None, *, timeout: float = 15.0) -> dict[str, Any]:
    """Preflight for a chat server: it answers, accepts the key and serves ``model``; returns its model card.

    One line (``JudgeError``) naming the URL and the cause otherwise. A server without ``/models``
    (some proxies) passes on to the first real request, which the judge stage checks as well.
    """
    models_url = url.rstrip("/") + "/models"
    try:
        status, payload = _http_json(models_url, api_key, timeout)
    except (urllib.error.URLError, OSError) as e:
        raise _unreachable(url, e) from None
    if status in (401, 403):
        raise JudgeError(f"judge server {url} refused the API key (HTTP {status}: {_server_message(payload)})")
    if status == 404 or not isinstance(payload, dict) or not isinstance(payload.get("data"), list):
        log.info("%s has no model list (HTTP %s); the first request will tell whether it serves %s", models_url, status, model)
        return {}
    if status != 200:
        raise JudgeError(f"judge server {url}: GET /models answered HTTP {status}: {_server_message(payload)}")
    cards = {str(m.get("id")): m for m in payload["data"] if isinstance(m, dict)}
    if model not in cards:
        served = ", ".join(sorted(cards)[:10]) or "none"
        raise JudgeError(f"judge server {url} does not serve model '{model}' (it serves: {served}); "
                         "pass --judge-arg model=NAME as the server knows it")
    return cards[model]


# -- options ---------------------------------------------------------------------------------------
# The three judges below take their options (``--judge-arg key=value``) from these dataclasses: the
# options every chat judge has are annotated once, in ChatOptions; each judge's class adds its own
# and changes defaults (a field declared again keeps its place and takes the new type and default).

@dataclass(kw_only=True)
class ChatOptions:
    """Options of every OpenAI-protocol judge."""

    model: str = ""
    url: str | None = None
    api_key_env: str | None = None  # the NAME of the environment variable holding the key, never the key
    num_frames: int = 16
    max_pixels: int | None = 448 * 448
    template: str = "yes_no"
    show_prompt: bool = False
    temperature: float = 0.0
    max_tokens: int | None = None
    top_logprobs: int = 20
    timeout: float = 120.0
    max_retries: int = 6


@dataclass(kw_only=True)
class OpenAICompatibleOptions(ChatOptions):
    """``openai-compatible``: any server, frames as images by default."""

    frames_as: FramesAs = "images"
    detail: str | None = None
    max_tokens: int = 16
    logprobs: bool = True


@dataclass(kw_only=True)
class GPTOptions(ChatOptions):
    """``gpt``: the OpenAI API; always images; max_tokens and logprobs default by model (None)."""

    model: str = "gpt-4.1"
    api_key_env: str = "OPENAI_API_KEY"
    max_pixels: int | None = 512 * 512
    detail: Literal["low", "high", "auto"] = "low"
    logprobs: bool | None = None
    reasoning_effort: str | None = None


@dataclass(kw_only=True)
class Qwen3VLOptions(ChatOptions):
    """``qwen3-vl``: vLLM, a server or the offline engine (whose engine arguments come last)."""

    model: str = "Qwen/Qwen3-VL-30B-A3B-Instruct"
    revision: str | None = None
    api_key_env: str | None = "VLLM_API_KEY"
    frames_as: FramesAs = "images"
    trust_request_mm_kwargs: bool = False
    constrain: Literal["tokens", "choice", "none"] | None = None
    thinking: bool | None = None
    timeout: float = 300.0
    dtype: str = "auto"
    tensor_parallel_size: int = 1
    max_model_len: int = 32768
    gpu_memory_utilization: float = 0.9


@register_judge("openai-compatible")
class OpenAICompatibleJudge(Judge):
    """Any OpenAI-compatible chat server (--judge-url URL --judge-arg model=NAME); frames as images by default.

    No API key is sent unless ``api_key_env`` names an environment variable that holds one: a key
    meant for one provider never goes to an arbitrary URL.
    """

    Options: ClassVar[type[ChatOptions]] = OpenAICompatibleOptions
    #: where the server is, how long to wait and how often to retry, and which variable holds the key
    #: change no answer (the server's reported model is recorded in run.json beside the signature)
    options_not_in_signature = frozenset({"url", "api_key_env", "timeout", "max_retries"})

    def __init__(self, **options: Any):
        o = make_options(type(self), options, owner=f"judge {self.registry_name or type(self).__name__}")
        super().__init__(num_frames=o.num_frames, max_pixels=o.max_pixels, template=o.template, show_prompt=o.show_prompt)
        frames_as: FramesAs = getattr(o, "frames_as", "images")
        if frames_as not in ("images", "video", "mp4", "file"):
            raise VRBenchError(f"{self.registry_name} option frames_as: expected images, video, mp4 or file, got {frames_as!r}")
        self.options = o
        self.model, self.url, self.api_key_env = o.model, o.url, o.api_key_env
        self.frames_as, self.detail = frames_as, getattr(o, "detail", None)
        # None (gpt, qwen3-vl): the subclass resolves them from the model after this
        self.temperature, self.max_tokens = o.temperature, o.max_tokens
        self.logprobs, self.top_logprobs = getattr(o, "logprobs", True), o.top_logprobs
        self.timeout, self.max_retries = o.timeout, o.max_retries
        self.needs_frames = frames_as in ("images", "video")
        self.needs_jpegs = self.needs_frames
        self.backend: Any = None
        self._server: dict[str, Any] = {}

    # -- requests -------------------------------------------------------------------------------
    def sampling(self) -> dict[str, Any]:
        """Decoding settings sent with every question (OpenAI names; vLLM extras go under extra_body)."""
        params: dict[str, Any] = {"temperature": self.temperature, "max_tokens": self.max_tokens}
        if self.logprobs:
            params.update(logprobs=True, top_logprobs=self.top_logprobs)
        return params

    def video_extras(self, video: VideoInput) -> dict[str, Any]:
        """Per-video request fields (vLLM's media kwargs); none by default."""
        return {}

    def build_request(self, video: VideoInput, question: str, *, prompt: str | None, strict: bool) -> dict[str, Any]:
        messages = chat_messages(self.template, video, question, strict=strict, prompt=prompt if self.show_prompt else None,
                                 frames_as=self.frames_as, detail=self.detail)
        request = {"model": self.model, "messages": messages, **self.sampling()}
        extras = self.video_extras(video)
        if extras:
            request["extra_body"] = {**(request.get("extra_body") or {}), **extras}
        return request

    def signature(self) -> dict[str, Any]:
        sampling = self.sampling()
        return {**super().signature(), "model": self.model, "frames_as": self.frames_as, "detail": self.detail,
                **{k: v for k, v in sampling.items() if k != "extra_body"}, "extra_body": sampling.get("extra_body")}

    # -- lifecycle ------------------------------------------------------------------------------
    def api_key(self) -> str:
        key = os.environ.get(self.api_key_env) if self.api_key_env else None
        if self.api_key_env and not key:
            raise VRBenchError(f"{self.registry_name}: api_key_env={self.api_key_env} but that environment variable is not set")
        return key or "EMPTY"  # local servers accept any key

    def check(self) -> None:
        name = self.registry_name
        if not self.url:
            raise VRBenchError(f"{name}: no server URL; pass --judge-url http://HOST:PORT/v1")
        if not self.model:
            raise VRBenchError(f"{name}: no model name; pass --judge-arg model=NAME (as the server knows it)")
        self.api_key()

    def endpoint(self) -> str:
        return self.url or "https://api.openai.com/v1"

    def load(self) -> None:
        card = check_server(self.endpoint(), self.model, self.api_key(), timeout=min(self.timeout, 30.0))
        self._server = {"model": card.get("id"), "owned_by": card.get("owned_by"), "max_model_len": card.get("max_model_len")}
        self.backend = ChatClient(self.url, self.api_key(), timeout=self.timeout, max_retries=self.max_retries)

    def server_info(self) -> dict[str, Any]:
        return {k: v for k, v in self._server.items() if v is not None}

    async def ask(self, video: VideoInput, question: str, *, prompt: str | None = None, strict: bool = False) -> Reply:
        response, requests = await self.backend.complete(self.build_request(video, question, prompt=prompt, strict=strict))
        return reply_from_response(response, requests)

    async def aclose(self) -> None:
        if self.backend is not None:
            await self.backend.aclose()


_REASONING_MODEL = re.compile(r"^(o\d|gpt-5)")


@register_judge("gpt")
class GPTJudge(OpenAICompatibleJudge):
    """OpenAI GPT through the OpenAI API (key from OPENAI_API_KEY); frames as image_url parts.

    Reasoning models (o-series, gpt-5*) take no temperature and no logprobs (the API answers 400), so
    they give hard answers only; their hidden reasoning counts against ``max_completion_tokens``, so
    they get a budget of 4096 tokens by default and the reasoning tokens they spent are recorded.
    """

    Options = GPTOptions

    def __init__(self, **options: Any):
        super().__init__(**options)
        self.reasoning = bool(_REASONING_MODEL.match(self.model))
        if self.reasoning and self.logprobs:
            raise VRBenchError(f"gpt judge: {self.model} is a reasoning model and returns no logprobs; drop logprobs=true")
        if self.max_tokens is None:
            self.max_tokens = 4096 if self.reasoning else 16
        if self.logprobs is None:
            self.logprobs = not self.reasoning
        self.reasoning_effort = self.options.reasoning_effort

    def sampling(self) -> dict[str, Any]:
        params: dict[str, Any] = {"max_completion_tokens": self.max_tokens}
        if not self.reasoning:
            params["temperature"] = self.temperature
        if self.logprobs:
            params.update(logprobs=True, top_logprobs=min(self.top_logprobs, 20))
        if self.reasoning_effort:
            params["reasoning_effort"] = self.reasoning_effort
        return params

    def api_key(self) -> str:
        key = os.environ.get(self.api_key_env)
        if not key:
            raise VRBenchError(f"gpt judge: set the {self.api_key_env} environment variable to your OpenAI API key")
        return key

    def check(self) -> None:
        self.api_key()


YES_NO_WORDS = ("yes", "Yes", "YES", "no", "No", "NO")

#: the oldest vLLM the qwen3-vl judge accepts (as the ``vllm`` extra: Qwen3-VL, ``structured_outputs``); tested on 0.32
MIN_VLLM_VERSION = (0, 12, 0)
THINKING_BUDGET = 4096  # tokens for a thinking model's reasoning plus its answer


def _version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(x) for x in re.findall(r"\d+", version.split("+")[0])[:3])


@register_judge("qwen3-vl")
class Qwen3VLJudge(OpenAICompatibleJudge):
    """Qwen3-VL (default Qwen/Qwen3-VL-30B-A3B-Instruct) through vLLM: a server (--judge-url) or the offline engine.

    The video travels as the judge's own sampled frames, one image part each after its timestamp
    (``frames_as=images``, the default: a stock ``vllm serve`` accepts it, and the server, the
    offline engine and the prompt text all see the same frames). ``video`` sends those frames as one
    video part (fewer tokens: Qwen3-VL merges frame pairs), ``mp4``/``file`` send the file and let the
    server sample it with its own processor settings. vLLM refuses per-request media settings unless
    started with ``--trust-request-mm-kwargs``; set ``trust_request_mm_kwargs=true`` only then, and
    ``video`` parts carry their true fps and frame indices, ``mp4``/``file`` our ``num_frames``.

    Answers are constrained where vLLM allows: ``constrain=tokens`` (default) limits the single
    generated token to yes/no token ids (``allowed_token_ids``, ids from the server's ``/tokenize``)
    and reads P(yes) from the raw first-token logprobs; ``constrain=choice`` uses structured outputs;
    ``constrain=none`` leaves the reply free for the parser. Thinking variants (``*-Thinking``, or
    ``thinking=true``) reason before answering: no constraint, a budget of 4096 tokens, and only the
    text after the reasoning is read.
    """

    Options = Qwen3VLOptions
    #: besides the server's address, timeout, retries and key: the offline engine's parallelism and memory
    #: settings (how the model is spread and how much it may hold, not what it answers)
    options_not_in_signature = OpenAICompatibleJudge.options_not_in_signature | {
        "tensor_parallel_size", "max_model_len", "gpu_memory_utilization"}

    def __init__(self, **options: Any):
        super().__init__(**options)
        o = self.options
        self.thinking = ("thinking" in self.model.lower()) if o.thinking is None else o.thinking
        if self.thinking and o.constrain not in (None, "none"):
            raise VRBenchError(f"qwen3-vl: {self.model} thinks before it answers; constrain={o.constrain} would cut its "
                               "reasoning (use constrain=none, the default for thinking models)")
        constrain = o.constrain or ("none" if self.thinking else "tokens")
        if constrain not in ("tokens", "choice", "none"):
            raise VRBenchError(f"qwen3-vl option constrain: expected tokens, choice or none, got {constrain!r}")
        if self.max_tokens is None:
            self.max_tokens = THINKING_BUDGET if self.thinking else (1 if constrain == "tokens" else 16)
        self.revision, self.constrain, self.trust_request_mm_kwargs = o.revision, constrain, o.trust_request_mm_kwargs
        self.dtype = o.dtype
        self.engine_args = {"dtype": o.dtype, "tensor_parallel_size": o.tensor_parallel_size,
                            "max_model_len": o.max_model_len, "gpu_memory_utilization": o.gpu_memory_utilization}
        self.yes_no_token_ids: list[int] = []
        if self.url is None and self.frames_as in ("mp4", "file"):
            raise VRBenchError("qwen3-vl: the offline engine takes frames (frames_as=images or video), not files")

    def api_key(self) -> str:
        """The key in ``api_key_env`` (VLLM_API_KEY: what `vllm serve --api-key` checks), if set; a local
        server without one accepts any."""
        return (os.environ.get(self.api_key_env) if self.api_key_env else None) or "EMPTY"

    def sampling(self) -> dict[str, Any]:
        params = super().sampling()
        extra: dict[str, Any] = {}
        if self.constrain == "tokens":
            extra["allowed_token_ids"] = self.yes_no_token_ids
        elif self.constrain == "choice":
            extra["structured_outputs"] = {"choice": ["yes", "no"]}
        if self.trust_request_mm_kwargs and self.url and self.frames_as in ("mp4", "file"):
            # the server decodes the file: its video loader samples our number of uniformly spaced frames
            # (the loader's own setting; asking the HF processor to sample again fails on vLLM 0.32)
            extra["media_io_kwargs"] = {"video": {"num_frames": self.num_frames}}
        if extra:
            params["extra_body"] = extra
        return params

    def video_extras(self, video: VideoInput) -> dict[str, Any]:
        if self.trust_request_mm_kwargs and self.url and self.frames_as == "video" and video.frames is not None:
            f = video.frames  # without these vLLM takes the frames for 1 fps, indices 0..N-1
            return {"media_io_kwargs": {"video": {"fps": f.fps, "frames_indices": list(f.indices),
                                                  "total_num_frames": f.total_frames, "duration": f.duration}}}
        return {}

    def signature(self) -> dict[str, Any]:
        sig = super().signature()
        sig.update(revision=self.revision, constrain=self.constrain, thinking=self.thinking)
        if sig.get("extra_body"):
            sig["extra_body"] = {k: v for k, v in sig["extra_body"].items() if k != "allowed_token_ids"} or None
        if self.frames_as in ("mp4", "file"):  # the server picks the frames: say whose settings they are
            sig["server_sampling"] = (f"{self.num_frames} frames via media_io_kwargs" if self.trust_request_mm_kwargs
                                      else "the server's processor defaults")
        if self.frames_as == "video":
            sig["video_metadata"] = "true fps and indices" if self.trust_request_mm_kwargs and self.url else "server default (1 fps)"
        if self.url is None:
            sig["engine"] = "vllm-offline"
            sig["dtype"] = resolve_dtype(self.model, self.revision, self.dtype)
        else:
            sig.pop("dtype", None)  # an offline engine's setting: the server has its own
        return sig

    def check(self) -> None:
        if not self.url:
            from .vllm_offline import offline_available

            reason = offline_available()
            if reason:
                raise VRBenchError(f"qwen3-vl: no --judge-url given and the offline vLLM engine is unavailable ({reason}); "
                                   f"start `vllm serve {self.model}` and pass --judge-url http://HOST:8000/v1")

    def endpoint(self) -> str:
        return self.url or f"offline vLLM engine ({self.model})"

    async def ask(self, video: VideoInput, question: str, *, prompt: str | None = None, strict: bool = False) -> Reply:
        request = self.build_request(video, question, prompt=prompt, strict=strict)
        if self.url:
            response, requests = await self.backend.complete(request)
        else:
            response, requests = await self.backend.complete_video(request, video)
        return reply_from_response(response, requests)

    def load(self) -> None:
        if self.url:
            root = self.url.rstrip("/").removesuffix("/v1")
            version = _server_version(root, self.api_key())
            if version is not None and _version_tuple(version) < MIN_VLLM_VERSION:
                raise JudgeError(f"judge server {self.url} runs vLLM {version}; qwen3-vl needs vLLM >= "
                                 f"{'.'.join(map(str, MIN_VLLM_VERSION))}")
            super().load()
            self._server["vllm_version"] = version
            if self.constrain == "tokens":
                self.yes_no_token_ids = _server_token_ids(self.url, self.model, YES_NO_WORDS, self.api_key())
            return
        from .vllm_offline import OfflineVLLM

        self.check()
        self.backend = OfflineVLLM(self.model, revision=self.revision, **self.engine_args)
        self._server = {"model": self.model, "engine": "vllm-offline", **self.backend.info()}
        if self.constrain == "tokens":
            self.yes_no_token_ids = self.backend.token_ids(YES_NO_WORDS)


def resolve_dtype(model: str, revision: str | None, dtype: str) -> str:
    """The dtype a local model runs in: ``dtype`` unless "auto", then the one in its config.json.

    Read from the config (a small file), never by loading weights; "auto" only when no config can be read.
    """
    if dtype != "auto":
        return dtype
    path = Path(model) / "config.json"
    try:
        if not path.is_file():
            from huggingface_hub import hf_hub_download

            path = Path(hf_hub_download(model, "config.json", revision=revision))
        config = json.loads(path.read_text(encoding="utf-8"))
    except Exception:  # offline without a cached config: the engine still resolves it; say so
        return "auto"
    found = config.get("dtype") or config.get("torch_dtype") or (config.get("text_config") or {}).get("dtype") \
        or (config.get("text_config") or {}).get("torch_dtype")
    return str(found) if found else "auto"


def _server_version(root: str, api_key: str) -> str | None:
    """vLLM's version from ``GET /version`` (None when the server does not say: not vLLM, or a proxy)."""
    try:
        status, payload = _http_json(f"{root}/version", api_key, 15.0)
    except (urllib.error.URLError, OSError) as e:
        raise _unreachable(root, e) from None
    if status == 200 and isinstance(payload, dict) and isinstance(payload.get("version"), str):
        return payload["version"]
    return None


def _server_token_ids(url: str, model: str, words: tuple[str, ...], api_key: str) -> list[int]:
    """Single-token ids of ``words`` from vLLM's ``/tokenize`` endpoint (beside ``/v1``)."""
    root = url.rstrip("/").removesuffix("/v1")
    ids: set[int] = set()
    for word in words:
        try:
            status, payload = _http_json(f"{root}/tokenize", api_key, 30.0,
                                         {"model": model, "prompt": word, "add_special_tokens": False})
            if status != 200:
                raise ValueError(f"HTTP {status}")
            tokens = payload["tokens"]
        except (urllib.error.URLError, OSError, KeyError, TypeError, ValueError) as e:
            raise JudgeError(f"qwen3-vl: cannot read token ids from {root}/tokenize ({_short(e)}); "
                             "is it a vLLM server? Otherwise pass --judge-arg constrain=choice or constrain=none") from None
        if len(tokens) == 1:
            ids.add(int(tokens[0]))
    if not ids:
        raise JudgeError(f"qwen3-vl: none of {', '.join(words)} is a single token for {model}; pass --judge-arg constrain=choice")
    return sorted(ids)
