"""``videos``: a folder of videos made elsewhere (a closed model, another machine), one file per case.

Files are named by case id: ``ETV-07-s1.mp4`` for seed 1, and ``ETV-07.mp4`` is accepted for seed 0.
Each is decoded and re-encoded by the runner like any generated video (H.264, same fps), so every run
directory holds files the judges read the same way. A missing or unreadable file is reported for its
case; the other cases proceed.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from vrbench.errors import VRBenchError
from vrbench.generator import CaseFailed, GeneratedVideo, GenerationRequest, Generator, register_generator
from vrbench.runstore import video_name

#: no video is longer than this many frames; decoding takes them all
_ALL_FRAMES = 1_000_000


@register_generator("videos")
class VideoFolder(Generator):
    """Videos made elsewhere: --model-path DIR holding <case>.mp4 or <case>-s<seed>.mp4 files."""

    def __init__(self, model_path: str | None = None):
        if not model_path:
            raise VRBenchError("videos: pass the folder with --model-path DIR (files named like ETV-07.mp4 or ETV-07-s0.mp4)")
        self.folder = Path(model_path).expanduser()
        if not self.folder.is_dir():
            raise VRBenchError(f"--model-path {model_path}: no such directory")

    def find(self, case_id: str, seed: int) -> Path | None:
        candidates = [self.folder / video_name(case_id, seed)]
        if seed == 0:
            candidates.append(self.folder / f"{case_id}.mp4")
        return next((p for p in candidates if p.is_file()), None)

    def generate(self, requests: Sequence[GenerationRequest]) -> list[GeneratedVideo]:
        from vrbench.video import sample_frames

        out = []
        for r in requests:
            path = self.find(r.case_id, r.seed)
            if path is None:
                alt = f" or {r.case_id}.mp4" if r.seed == 0 else ""
                raise CaseFailed(f"{self.folder / video_name(r.case_id, r.seed)}{alt}: not found")
            try:
                video = sample_frames(path, num_frames=_ALL_FRAMES)
            except VRBenchError as e:
                raise CaseFailed(str(e)) from None
            if not video.fps > 0:
                raise CaseFailed(f"{path}: no frame rate in the file")
            out.append(GeneratedVideo(video.images, video.fps, info={"source": str(path)}))
        return out

    def signature(self) -> dict[str, Any]:
        return {"folder": str(self.folder.resolve()), "encoding": "decoded and re-encoded as H.264 at the source fps"}
