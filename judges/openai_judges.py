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
from typing import Any, Callable, Literal, Mapping

from vrbench.errors import VRBenchError

from . import register_judge
from .base import Judge, JudgeError, Reply
from .parsing import p_yes_from_logprobs
from .prompts import FramesAs, VideoInput, chat_messages

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


class ChatClient:
    """AsyncOpenAI with the retry policy above. ``complete`` returns (response, requests sent)."""

    def __init__(self, base_url: str | None, api_key: str, *, timeout: float = 120.0, max_retries: int = 6,
                 backoff_base: float = 0.5, backoff_cap: float = 30.0):
        from openai import AsyncOpenAI

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

        attempt = 0
        while True:
            retry_after = None
            try:
                response = await self.client.post("/chat/completions", cast_to=ChatCompletion, body=self._body(request))
                if not getattr(response, "choices", None):  # a 200 whose body is not a completion
                    raise ValueError("response has no choices (unreadable body)")
                return response, attempt + 1
            except (openai.AuthenticationError, openai.PermissionDeniedError, openai.NotFoundError) as e:
                raise JudgeError(f"{request.get('model')}: {_short(e)}") from None
            except openai.APIStatusError as e:
                if not (e.status_code in (408, 409, 429) or e.status_code >= 500):
                    return _Failure(f"HTTP {e.status_code}: {_short(e)}"), attempt + 1
                retry_after = parse_retry_after(e.response.headers)
                error = f"HTTP {e.status_code}"
            except (openai.APIConnectionError, openai.APIResponseValidationError, ValueError, json.JSONDecodeError) as e:
                error = _short(e)  # timeouts and dropped connections are APIConnectionError
            if attempt >= self.max_retries:
                return _Failure(f"{error} (gave up after {attempt + 1} attempts)"), attempt + 1
            delay = backoff_delay(attempt, retry_after, base=self.backoff_base, cap=self.backoff_cap)
            log.debug("request failed (%s); retrying in %.2fs", error, delay)
            await asyncio.sleep(delay)
            attempt += 1

    async def aclose(self) -> None:
        await self.client.close()


class _Failure:
    def __init__(self, error: str):
        self.error = error


def reply_from_response(response: Any, requests: int) -> Reply:
    """Text and first-token P(yes) of a chat completion (works for OpenAI objects and plain dicts)."""
    if isinstance(response, _Failure):
        return Reply(None, None, response.error, requests)
    choice = response.choices[0]
    text = choice.message.content
    p_yes = None
    logprobs = getattr(choice, "logprobs", None)
    content = getattr(logprobs, "content", None) if logprobs is not None else None
    if content:
        first = content[0]
        top = [(t.token, t.logprob) for t in (first.top_logprobs or [])] or [(first.token, first.logprob)]
        p_yes = p_yes_from_logprobs(top)
    return Reply(text, p_yes, None if text is not None else "empty reply", requests)


@register_judge("openai-compatible")
class OpenAICompatibleJudge(Judge):
    """Any OpenAI-compatible chat server (--judge-url URL --judge-arg model=NAME); frames as images by default."""

    #: settings of this class that go into requests; subclasses add theirs
    def __init__(self, *, model: str = "", url: str | None = None, api_key_env: str = "OPENAI_API_KEY",
                 num_frames: int = 16, max_pixels: int | None = 448 * 448, template: str = "yes_no",
                 show_prompt: bool = False, frames_as: FramesAs = "images", detail: str | None = None,
                 temperature: float = 0.0, max_tokens: int = 16, logprobs: bool = True, top_logprobs: int = 20,
                 timeout: float = 120.0, max_retries: int = 6):
        super().__init__(num_frames=num_frames, max_pixels=max_pixels, template=template, show_prompt=show_prompt)
        self.model, self.url, self.api_key_env = model, url, api_key_env
        self.frames_as, self.detail = frames_as, detail
        self.temperature, self.max_tokens = temperature, max_tokens
        self.logprobs, self.top_logprobs = logprobs, top_logprobs
        self.timeout, self.max_retries = timeout, max_retries
        self.needs_frames = frames_as in ("images", "video")
        self.needs_jpegs = self.needs_frames
        self.backend: Any = None

    # -- requests -------------------------------------------------------------------------------
    def sampling(self) -> dict[str, Any]:
        """Decoding settings sent with every question (OpenAI names; vLLM extras go under extra_body)."""
        params: dict[str, Any] = {"temperature": self.temperature, "max_tokens": self.max_tokens}
        if self.logprobs:
            params.update(logprobs=True, top_logprobs=self.top_logprobs)
        return params

    def build_request(self, video: VideoInput, question: str, *, prompt: str | None, strict: bool) -> dict[str, Any]:
        messages = chat_messages(self.template, video, question, strict=strict, prompt=prompt if self.show_prompt else None,
                                 frames_as=self.frames_as, detail=self.detail)
        return {"model": self.model, "messages": messages, **self.sampling()}

    def signature(self) -> dict[str, Any]:
        return {**super().signature(), "model": self.model, "frames_as": self.frames_as, "detail": self.detail,
                **{k: v for k, v in self.sampling().items() if k != "extra_body"},
                "extra_body": self.sampling().get("extra_body")}

    # -- lifecycle ------------------------------------------------------------------------------
    def api_key(self) -> str:
        return os.environ.get(self.api_key_env) or "EMPTY"  # local servers accept any key

    def check(self) -> None:
        name = self.registry_name
        if not self.url:
            raise VRBenchError(f"{name}: no server URL; pass --judge-url http://HOST:PORT/v1")
        if not self.model:
            raise VRBenchError(f"{name}: no model name; pass --judge-arg model=NAME (as the server knows it)")

    def load(self) -> None:
        self.backend = ChatClient(self.url, self.api_key(), timeout=self.timeout, max_retries=self.max_retries)

    async def ask(self, video: VideoInput, question: str, *, prompt: str | None = None, strict: bool = False) -> Reply:
        response, requests = await self.backend.complete(self.build_request(video, question, prompt=prompt, strict=strict))
        return reply_from_response(response, requests)

    async def aclose(self) -> None:
        if self.backend is not None:
            await self.backend.aclose()


_REASONING_MODEL = re.compile(r"^(o\d|gpt-5)")


@register_judge("gpt")
class GPTJudge(OpenAICompatibleJudge):
    """OpenAI GPT through the OpenAI API (key from OPENAI_API_KEY); frames as image_url parts."""

    def __init__(self, *, model: str = "gpt-4.1", url: str | None = None, api_key_env: str = "OPENAI_API_KEY",
                 num_frames: int = 16, max_pixels: int | None = 512 * 512, template: str = "yes_no",
                 show_prompt: bool = False, detail: Literal["low", "high", "auto"] = "low",
                 temperature: float = 0.0, max_tokens: int | None = None, logprobs: bool | None = None,
                 top_logprobs: int = 20, reasoning_effort: str | None = None, timeout: float = 120.0,
                 max_retries: int = 6):
        # Reasoning models (o-series, gpt-5) take no temperature and return no logprobs: hard answers only,
        # and their hidden reasoning counts against the completion budget.
        self.reasoning = bool(_REASONING_MODEL.match(model))
        super().__init__(model=model, url=url, api_key_env=api_key_env, num_frames=num_frames, max_pixels=max_pixels,
                         template=template, show_prompt=show_prompt, frames_as="images", detail=detail,
                         temperature=temperature,
                         max_tokens=max_tokens if max_tokens is not None else (2048 if self.reasoning else 16),
                         logprobs=(not self.reasoning) if logprobs is None else logprobs,
                         top_logprobs=top_logprobs, timeout=timeout, max_retries=max_retries)
        self.reasoning_effort = reasoning_effort

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

    def load(self) -> None:
        self.backend = ChatClient(self.url, self.api_key(), timeout=self.timeout, max_retries=self.max_retries)


YES_NO_WORDS = ("yes", "Yes", "YES", "no", "No", "NO")


@register_judge("qwen3-vl")
class Qwen3VLJudge(OpenAICompatibleJudge):
    """Qwen3-VL (default Qwen/Qwen3-VL-30B-A3B-Instruct) through vLLM: a server (--judge-url) or the offline engine (GPU).

    Answers are constrained where vLLM allows: ``constrain=tokens`` (default) limits the first token
    to yes/no token ids (``allowed_token_ids``, ids from the server's ``/tokenize``) and reads P(yes)
    from the raw first-token logprobs, which still show a refusal as low yes+no mass;
    ``constrain=choice`` uses structured outputs (its logprobs are renormalised);
    ``constrain=none`` leaves the reply free for the parser.
    """

    def __init__(self, *, model: str = "Qwen/Qwen3-VL-30B-A3B-Instruct", revision: str | None = None,
                 url: str | None = None, api_key_env: str = "VLLM_API_KEY", num_frames: int = 16,
                 max_pixels: int | None = 448 * 448, template: str = "yes_no", show_prompt: bool = False,
                 frames_as: FramesAs = "mp4", constrain: Literal["tokens", "choice", "none"] = "tokens",
                 temperature: float = 0.0, max_tokens: int = 16, top_logprobs: int = 20, timeout: float = 300.0,
                 max_retries: int = 6, tensor_parallel_size: int = 1, max_model_len: int = 32768,
                 gpu_memory_utilization: float = 0.9):
        super().__init__(model=model, url=url, api_key_env=api_key_env, num_frames=num_frames, max_pixels=max_pixels,
                         template=template, show_prompt=show_prompt, frames_as=frames_as, temperature=temperature,
                         max_tokens=max_tokens, logprobs=True, top_logprobs=top_logprobs, timeout=timeout,
                         max_retries=max_retries)
        self.revision, self.constrain = revision, constrain
        self.engine_args = {"tensor_parallel_size": tensor_parallel_size, "max_model_len": max_model_len,
                            "gpu_memory_utilization": gpu_memory_utilization}
        self.yes_no_token_ids: list[int] = []
        if url is None:  # the offline engine gets our frames and their metadata, never a file to decode
            self.frames_as, self.needs_frames, self.needs_jpegs = "video", True, False

    def sampling(self) -> dict[str, Any]:
        params = super().sampling()
        extra: dict[str, Any] = {}
        if self.frames_as in ("mp4", "file") and self.url:
            # vLLM decodes the file; ask its Qwen3-VL processor for our number of uniformly spaced frames
            extra["mm_processor_kwargs"] = {"num_frames": self.num_frames, "do_sample_frames": True}
        if self.constrain == "tokens":
            params["max_tokens"] = 1
            extra["allowed_token_ids"] = self.yes_no_token_ids
        elif self.constrain == "choice":
            extra["structured_outputs"] = {"choice": ["yes", "no"]}
        if extra:
            params["extra_body"] = extra
        return params

    def signature(self) -> dict[str, Any]:
        sig = super().signature()
        sig.update(revision=self.revision, constrain=self.constrain)
        if sig.get("extra_body"):
            sig["extra_body"] = {k: v for k, v in sig["extra_body"].items() if k != "allowed_token_ids"}
        if self.url is None:
            sig["frames_as"] = "offline-frames"
        return sig

    def check(self) -> None:
        if not self.url:
            from .vllm_offline import offline_available

            reason = offline_available()
            if reason:
                raise VRBenchError(f"qwen3-vl: no --judge-url given and the offline vLLM engine is unavailable ({reason}); "
                                   f"start `vllm serve {self.model}` and pass --judge-url http://HOST:8000/v1")

    async def ask(self, video: VideoInput, question: str, *, prompt: str | None = None, strict: bool = False) -> Reply:
        request = self.build_request(video, question, prompt=prompt, strict=strict)
        if self.url:
            response, requests = await self.backend.complete(request)
        else:
            response, requests = await self.backend.complete_video(request, video)
        return reply_from_response(response, requests)

    def load(self) -> None:
        if self.url:
            self.backend = ChatClient(self.url, self.api_key(), timeout=self.timeout, max_retries=self.max_retries)
            if self.constrain == "tokens":
                self.yes_no_token_ids = _server_token_ids(self.url, self.model, YES_NO_WORDS, self.api_key())
            return
        from .vllm_offline import OfflineVLLM

        self.check()
        self.backend = OfflineVLLM(self.model, revision=self.revision, **self.engine_args)
        if self.constrain == "tokens":
            self.yes_no_token_ids = self.backend.token_ids(YES_NO_WORDS)


def _server_token_ids(url: str, model: str, words: tuple[str, ...], api_key: str) -> list[int]:
    """Single-token ids of ``words`` from vLLM's ``/tokenize`` endpoint (beside ``/v1``)."""
    root = url.rstrip("/").removesuffix("/v1")
    ids: set[int] = set()
    for word in words:
        body = json.dumps({"model": model, "prompt": word, "add_special_tokens": False}).encode()
        req = urllib.request.Request(f"{root}/tokenize", body, {"Content-Type": "application/json",
                                                               "Authorization": f"Bearer {api_key}"})
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                tokens = json.loads(r.read())["tokens"]
        except (urllib.error.URLError, OSError, KeyError, ValueError) as e:
            raise JudgeError(f"qwen3-vl: cannot read token ids from {root}/tokenize ({_short(e)}); "
                             "is it a vLLM server? Otherwise pass --judge-arg constrain=choice or constrain=none") from None
        if len(tokens) == 1:
            ids.add(int(tokens[0]))
    if not ids:
        raise JudgeError(f"qwen3-vl: none of {', '.join(words)} is a single token for {model}; pass --judge-arg constrain=choice")
    return sorted(ids)
