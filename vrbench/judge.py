"""The judge interface every judge implements.

A judge answers one yes/no question about one video. Its constructor is cheap (no heavy imports, no
weights, no connections); ``load()`` does that once. ``prepare()`` turns a video file into what the
judge sends (frames sampled once per video, for all its questions); ``ask()`` answers one question
and is a coroutine, so the judge stage can keep many requests in flight. The stage, not the judge,
parses answers, retries unreadable ones, caches, and writes ``judgments/<judge>.jsonl``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from .errors import VRBenchError
from .judge_messages import PromptTemplate, VideoInput, encode_jpegs
from .registry import Registry

#: every judge: the modules of ``vrbench.judges`` (the repo's ``judges/``) and entry points
JUDGES: Registry = Registry("judge", "vrbench.judges", builtin_package="vrbench.judges")
register_judge = JUDGES.register
get_judge = JUDGES.get


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


class Judge:
    """Base class for judges (see the module docstring).

    Subclasses list their options as keyword arguments of ``__init__`` with type annotations, which
    is what ``--judge-arg key=value`` parses. ``num_frames``, ``max_pixels`` and ``template`` are
    common to all and part of the signature.
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

    def __init__(self, *, num_frames: int = 16, max_pixels: int | None = 448 * 448, template: str = "yes_no",
                 show_prompt: bool = False):
        if num_frames < 1:
            raise VRBenchError(f"{self.registry_name or type(self).__name__} option num_frames: expected >= 1, got {num_frames}")
        self.num_frames = num_frames
        self.max_pixels = max_pixels
        self.template = PromptTemplate(template)
        self.show_prompt = show_prompt

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

    def signature(self) -> dict[str, Any]:
        """Every setting that can change an answer: model, revision, template hash, frame sampling, decoding."""
        return {
            "judge": self.registry_name,
            "template": self.template.info(),
            "frames": FRAME_PROTOCOL if self.needs_frames else None,
            "num_frames": self.num_frames if self.needs_frames else None,
            "max_pixels": self.max_pixels if self.needs_frames else None,
            "show_prompt": self.show_prompt,
        }

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
