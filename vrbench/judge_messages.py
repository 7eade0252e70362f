"""Judge prompts: jinja2 templates (their sha256 goes into the judge signature) and chat messages.

One function builds the chat messages every OpenAI-style backend sends (a server through the OpenAI
client, or the offline vLLM engine), so what a judge sees depends only on its settings.
"""

from __future__ import annotations

import base64
import hashlib
import io
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import numpy as np

from .errors import VRBenchError
from .video import SampledFrames

#: how the video travels to an OpenAI-style judge
FramesAs = Literal["images", "video", "mp4", "file"]


def bundled_templates() -> list[str]:
    return sorted(p.name.removesuffix(".jinja") for p in resources.files("vrbench").joinpath("judge_templates").iterdir()
                  if p.name.endswith(".jinja"))


class PromptTemplate:
    """A judge prompt template: a bundled name (``yes_no``) or a path to a ``.jinja`` file."""

    def __init__(self, name_or_path: str = "yes_no"):
        import jinja2

        path = Path(name_or_path)
        if path.suffix == ".jinja" or path.exists():
            if not path.is_file():
                raise VRBenchError(f"judge template {name_or_path}: file not found")
            source = path.read_text(encoding="utf-8")
            self.name = path.stem
        else:
            res = resources.files("vrbench").joinpath("judge_templates").joinpath(f"{name_or_path}.jinja")
            if not res.is_file():
                raise VRBenchError(f"judge template '{name_or_path}': no such bundled template "
                                   f"(bundled: {', '.join(bundled_templates())}; or pass a path to a .jinja file)")
            source = res.read_text(encoding="utf-8")
            self.name = name_or_path
        self.sha256 = hashlib.sha256(source.encode("utf-8")).hexdigest()
        env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=False, autoescape=False)
        try:
            self._template = env.from_string(source)
            # the module gives access to the frame_label macro; rendering it needs every variable defined
            self._module = self._template.make_module(
                {"question": "", "strict": False, "prompt": None, "n_frames": 0, "duration": 0.0, "timestamps": []})
        except (jinja2.TemplateError, TypeError, ValueError) as e:
            raise VRBenchError(f"judge template {name_or_path}: {e}") from None

    def info(self) -> dict[str, str]:
        return {"name": self.name, "sha256": self.sha256}

    def render(self, **variables: Any) -> str:
        return self._template.render(**variables).strip()

    def frame_label(self, t: float) -> str:
        label = getattr(self._module, "frame_label", None)
        return str(label(t)).strip() if label else f"[{t:.1f} s]"


@dataclass
class VideoInput:
    """One video as a judge receives it: sampled frames (or just the file), prepared once for all questions."""

    path: Path
    sha256: str
    frames: SampledFrames | None = None
    jpegs: list[str] = field(default_factory=list)  # base64 JPEG per sampled frame, when the judge sends images

    @property
    def timestamps(self) -> list[float]:
        return self.frames.timestamps if self.frames else []


def encode_jpegs(images: np.ndarray, quality: int = 90) -> list[str]:
    from PIL import Image

    out = []
    for im in images:
        buf = io.BytesIO()
        Image.fromarray(im).save(buf, format="JPEG", quality=quality)
        out.append(base64.b64encode(buf.getvalue()).decode("ascii"))
    return out


def prompt_text(template: PromptTemplate, video: VideoInput, question: str, *, strict: bool, prompt: str | None) -> str:
    frames = video.frames
    return template.render(
        question=question,
        strict=strict,
        prompt=prompt,
        n_frames=len(frames.indices) if frames else 0,
        duration=frames.duration if frames else 0.0,
        timestamps=video.timestamps,
    )


def chat_messages(
    template: PromptTemplate,
    video: VideoInput,
    question: str,
    *,
    strict: bool = False,
    prompt: str | None = None,
    frames_as: FramesAs = "images",
    detail: str | None = None,
) -> list[dict[str, Any]]:
    """OpenAI chat-completions messages: the video first (so 8 questions share a cacheable prefix), then the text.

    ``frames_as``: ``images`` = one ``image_url`` part per sampled frame, each after its timestamp label
    (OpenAI GPT, any VLM server); ``video`` = the sampled frames as one ``data:video/jpeg`` ``video_url``
    (vLLM); ``mp4`` = the whole file as a ``data:video/mp4`` ``video_url`` and ``file`` = a ``file://``
    URL (vLLM decodes and samples; the server needs ``--allowed-local-media-path`` for ``file``).
    """
    parts: list[dict[str, Any]] = []
    if frames_as == "images":
        for t, jpeg in zip(video.timestamps, video.jpegs):
            image_url: dict[str, Any] = {"url": f"data:image/jpeg;base64,{jpeg}"}
            if detail:
                image_url["detail"] = detail
            parts.append({"type": "text", "text": template.frame_label(t)})
            parts.append({"type": "image_url", "image_url": image_url})
    elif frames_as == "video":
        parts.append({"type": "video_url", "video_url": {"url": "data:video/jpeg;base64," + ",".join(video.jpegs)}})
    elif frames_as == "mp4":
        data = base64.b64encode(video.path.read_bytes()).decode("ascii")
        parts.append({"type": "video_url", "video_url": {"url": f"data:video/mp4;base64,{data}"}})
    elif frames_as == "file":
        parts.append({"type": "video_url", "video_url": {"url": video.path.resolve().as_uri()}})
    else:
        raise VRBenchError(f"frames_as: expected images, video, mp4 or file, got {frames_as!r}")
    text = prompt_text(template, video if frames_as in ("images", "video") else VideoInput(video.path, video.sha256), question,
                       strict=strict, prompt=prompt)
    parts.append({"type": "text", "text": text})
    return [{"role": "user", "content": parts}]
