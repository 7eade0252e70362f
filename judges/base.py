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

from vrbench.errors import VRBenchError

from .prompts import PromptTemplate, VideoInput, encode_jpegs


class JudgeError(VRBenchError):
    """A problem no retry can fix (bad key, unknown model, unreachable server): stops the run."""


@dataclass
class Reply:
    """A judge's reply to one question: its text and, where the backend exposes it, P(yes)."""

    text: str | None
    p_yes: float | None = None
    error: str | None = None  # set when no reply came back even after retries
    requests: int = 1  # requests sent for this reply (retries included)


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
        """Cheap checks of the settings (missing model name, URL or key), before any work starts."""

    def load(self) -> None:
        """Import heavy libraries, load weights or open connections; called once before the first ``ask``."""

    def signature(self) -> dict[str, Any]:
        """Every setting that can change an answer: model, revision, template hash, frame sampling, decoding."""
        return {
            "judge": self.registry_name,
            "template": self.template.info(),
            "num_frames": self.num_frames if self.needs_frames else None,
            "max_pixels": self.max_pixels if self.needs_frames else None,
            "show_prompt": self.show_prompt,
        }

    def prepare(self, path: Path, sha256: str) -> VideoInput:
        """Sample and encode a video once for all its questions (runs in a worker thread)."""
        from vrbench.video import sample_frames

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
