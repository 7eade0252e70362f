"""The judge interface every judge implements.

A judge answers one yes/no question about one video. Its constructor is cheap (no heavy imports, no
weights, no connections); ``load()`` does that once. ``prepare()`` turns a video file into what the
judge sends (frames sampled once per video, for all its questions); ``ask()`` answers one question
and is a coroutine, so the judge stage can keep many requests in flight. The stage, not the judge,
parses answers, retries unreadable ones, caches, and writes ``judgments/<judge>.jsonl``.
"""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from .errors import VRBenchError
from .judge_messages import PromptTemplate, VideoInput, encode_jpegs
from .options import option_values
from .registry import Registry


def check_judge(judge: Any, name: str) -> None:
    """Refuse, in one line, a judge the judge stage cannot drive: one whose ``__init__`` skipped
    ``Judge.__init__``, whose ``ask`` is not an ``async def``, or (a plugin that does not subclass
    ``Judge``) that lacks a method or attribute the stage uses."""
    cls = type(judge)
    where = f"judge '{name}' ({cls.__module__}.{cls.__qualname__})"
    if isinstance(judge, Judge):
        if not getattr(judge, "_judge_initialised", False):
            raise VRBenchError(f"{where}: its __init__ must call super().__init__() (Judge.__init__ sets num_frames, "
                               "max_pixels, template and show_prompt, which the judge stage reads)")
        if getattr(cls, "ask", None) is Judge.ask:
            raise VRBenchError(f"{where}: it does not define ask(); write `async def ask(self, video, question, *, "
                               "prompt=None, strict=False) -> Reply`")
    else:
        missing = [m for m in _STAGE_USES if not hasattr(judge, m)]
        if missing:
            raise VRBenchError(f"{where}: has no {', '.join(missing)}, which the judge stage uses; "
                               "subclass vrbench.judge.Judge, which defines them all")
    if not inspect.iscoroutinefunction(getattr(judge, "ask", None)):
        raise VRBenchError(f"{where}: ask must be a coroutine (`async def ask(...)`), since the judge stage awaits "
                           "it; run blocking work inside it with `await asyncio.to_thread(...)`")


#: what the judge stage reads of a judge (a plugin that does not subclass Judge must have all of it)
_STAGE_USES = ("check", "load", "signature", "prepare", "ask", "aclose", "endpoint", "server_info", "show_prompt",
               "max_concurrency")

#: every judge: the modules of ``vrbench.judges`` (the repo's ``judges/``) and entry points
JUDGES: Registry = Registry("judge", "vrbench.judges", builtin_package="vrbench.judges", check=check_judge)
register_judge = JUDGES.register
get_judge = JUDGES.get

#: option names that hold a secret: never part of a signature (so never in run.json or the cache),
#: whatever a judge declares; pass secrets through the environment instead (``api_key_env``)
SECRET_OPTION = re.compile(r"(^|_)(api_?key|key|secret|password|passwd|token|credentials?)$", re.IGNORECASE)


class JudgeError(VRBenchError):
    """A problem no retry can fix (bad key, unknown model, unreachable server): stops the run."""


#: the frame sampling, resizing and JPEG encoding vrbench itself does before a judge sees a video;
#: bump it whenever any of them changes, so cached answers from the old frames are never reused
FRAME_PROTOCOL = "uniform-centre/bicubic-max-pixels/jpeg-q90/v2"


@dataclass
class Reply:
    """A judge's reply to one question: its text and, where the backend exposes it, P(yes).

    ``error`` is set when there is no answer to keep: no reply came back even after retries
    (``error_kind`` "request"), or the reply itself is unusable: cut by the token budget ("length"),
    blocked ("content_filter"), refused ("refusal") or empty ("empty"). Such replies are recorded as
    error rows and never cached. ``failure`` names the kind of request failure (an HTTP status or an
    exception class), so the stage can stop after many failures of one kind in a row.
    """

    text: str | None
    p_yes: float | None = None
    error: str | None = None
    requests: int = 1  # requests sent for this reply (retries included)
    error_kind: str | None = None
    failure: str | None = None
    finish_reason: str | None = None
    usage: dict[str, int] | None = None  # prompt, completion and reasoning tokens, where the server says

    def __post_init__(self) -> None:
        if self.error is not None and self.error_kind is None:
            self.error_kind = "request"


def _plain(value: Any) -> Any:
    """An option value as JSON has it (the signature goes into run.json and the cache key)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return str(value)  # a Path, an enum: its text


class Judge:
    """Base class for judges (see the module docstring).

    What a judge author must know (``JUDGES.create`` refuses a judge that breaks the first two):

    - ``__init__`` must call ``super().__init__(num_frames=..., max_pixels=..., template=...,
      show_prompt=...)``: it sets what the judge stage reads.
    - ``ask`` must be a coroutine (``async def``): the stage awaits many at once. Blocking work
      (a local model) goes into ``await asyncio.to_thread(...)``.
    - Options are the keyword arguments of ``__init__`` with type annotations (what ``--judge-arg
      key=value`` parses and checks), or the fields of a dataclass named by the class attribute
      ``Options`` (see ``vrbench.options``). ``num_frames``, ``max_pixels``, ``template`` and
      ``show_prompt`` are common to all.
    - Every option is part of ``signature()``, and so of the judge cache's key and of run.json,
      automatically: a cached answer is reused only under the same value of every option. List in
      ``options_not_in_signature`` the options that cannot change an answer (where the server is, a
      timeout, retries, the name of the variable holding a key); each is then free to change
      between runs without re-asking anything. Options named like a secret (``api_key``, ``token``,
      ``password``, ...) are never in it; better, take no secret as an option at all, only the
      name of an environment variable holding it. Override ``signature()`` (extending
      ``super().signature()``) to add what options do not say: a resolved model revision or dtype,
      a template hash, a protocol version.
    """

    registry_name: ClassVar[str] = ""
    #: optional packages the judge imports, checked (without importing) before it is made
    requires: ClassVar[tuple[str, ...]] = ()
    requires_extra: ClassVar[str] = "gen"
    #: the most questions this judge can usefully work on at once (None: whatever --concurrency says)
    max_concurrency: ClassVar[int | None] = None
    #: the judge needs decoded frames (False when a server decodes the file itself)
    needs_frames: bool = True
    #: the judge sends frames as base64 JPEGs
    needs_jpegs: bool = True
    #: options that cannot change an answer, left out of the signature (see the class docstring)
    options_not_in_signature: ClassVar[frozenset[str]] = frozenset()
    _made_with: tuple[tuple[Any, ...], dict[str, Any]]  # the constructor's arguments, kept by __new__

    def __new__(cls, *args: Any, **kwargs: Any):
        # keep the options as the judge was made with, so that signature() can list every one of them,
        # however the subclass stores (or renames, or resolves) them
        self = super().__new__(cls)
        self._made_with = (args, kwargs)
        return self

    def __init__(self, *, num_frames: int = 16, max_pixels: int | None = 448 * 448, template: str = "yes_no",
                 show_prompt: bool = False):
        if num_frames < 1:
            raise VRBenchError(f"{self.registry_name or type(self).__name__} option num_frames: expected >= 1, got {num_frames}")
        self.num_frames = num_frames
        self.max_pixels = max_pixels
        self.template = PromptTemplate(template)
        self.show_prompt = show_prompt
        self._judge_initialised = True

    def check(self) -> None:
        """Cheap checks of the settings (missing model name, URL or key), before any work starts: no
        server contact, no weights."""

    def load(self) -> None:
        """Import heavy libraries, load weights or open connections, and check that the judge can
        answer (a server judge: the server answers and serves the model); called once, only when a
        question is not in the cache. Raises ``JudgeError`` with one line when the judge cannot work."""

    def endpoint(self) -> str:
        """Where the answers come from, for messages: a server URL or a local model."""
        return self.registry_name

    def server_info(self) -> dict[str, Any]:
        """What the judge learned while loading (the server's model and version): recorded in run.json,
        never in the signature, since it is not a setting."""
        return {}

    def option_values(self) -> dict[str, Any]:
        """Every option of this judge with its value (the one given, else the default)."""
        args, kwargs = getattr(self, "_made_with", ((), {}))
        return option_values(type(self), args, kwargs)

    def signature(self) -> dict[str, Any]:
        """Every setting that can change an answer: every option but those in ``options_not_in_signature``
        (and secrets), then the template's hash and the frame protocol; subclasses add what they resolve
        (model revision, dtype, decoding)."""
        sig: dict[str, Any] = {
            "judge": self.registry_name,
            "template": self.template.info(),
            "frames": FRAME_PROTOCOL if self.needs_frames else None,
            "num_frames": self.num_frames if self.needs_frames else None,
            "max_pixels": self.max_pixels if self.needs_frames else None,
            "show_prompt": self.show_prompt,
        }
        for name, value in self.option_values().items():
            if name not in self.options_not_in_signature and not SECRET_OPTION.search(name):
                sig.setdefault(name, _plain(value))
        return sig

    def prepare(self, path: Path, sha256: str) -> VideoInput:
        """Sample and encode a video once for all its questions (runs in a worker thread)."""
        from .video import sample_frames

        video = VideoInput(Path(path), sha256)
        if self.needs_frames:
            video.frames = sample_frames(path, self.num_frames, self.max_pixels)
            if self.needs_jpegs:
                video.jpegs = encode_jpegs(video.frames.images)
        return video

    async def ask(self, video: VideoInput, question: str, *, prompt: str | None = None, strict: bool = False) -> Reply:
        """Answer one question about ``video``; ``strict`` asks for a bare yes/no (the retry after an unreadable reply)."""
        raise NotImplementedError

    async def aclose(self) -> None:
        """Close connections and release memory (optional)."""
