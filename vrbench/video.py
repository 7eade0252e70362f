"""Video files: writing generated frames as H.264 mp4 (PyAV) and sampling frames for judges (decord).

Both generation and judging go through here, so there is one place that knows about codecs,
pixel formats and frame timestamps.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from .errors import VRBenchError
from .files import atomic_output

log = logging.getLogger(__name__)


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def as_uint8_frames(frames) -> np.ndarray:
    """Validate and convert frames to uint8 (T, H, W, 3); floats are taken to be in [0, 1]."""
    arr = np.asarray(frames)
    if arr.ndim != 4 or arr.shape[-1] != 3 or arr.shape[0] < 1:
        raise ValueError(f"expected frames of shape (T, H, W, 3), got {arr.shape}")
    if arr.dtype != np.uint8:
        if not np.issubdtype(arr.dtype, np.floating):
            raise ValueError(f"expected uint8 or float frames, got {arr.dtype}")
        arr = (np.clip(arr, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    return arr


def write_video(path: str | Path, frames, fps: float, crf: int = 18) -> Path:
    """Write frames as an H.264 (yuv420p) mp4, atomically: a temporary file renamed into place.

    yuv420p needs even sizes, so an odd height or width is padded by one edge row/column.
    """
    import av  # PyAV: heavy import kept local

    path = Path(path)
    arr = as_uint8_frames(frames)
    pad_h, pad_w = arr.shape[1] % 2, arr.shape[2] % 2
    if pad_h or pad_w:
        arr = np.pad(arr, ((0, 0), (0, pad_h), (0, pad_w), (0, 0)), mode="edge")
    rate = Fraction(fps).limit_denominator(1001)
    with atomic_output(path, suffix=".mp4") as tmp, av.open(str(tmp), mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=rate)
        stream.width, stream.height = arr.shape[2], arr.shape[1]
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": str(crf), "preset": "medium"}
        for frame in arr:
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


@dataclass
class SampledFrames:
    """Frames sampled from a video for a judge, with where they came from."""

    images: np.ndarray  # uint8 (N, H, W, 3)
    timestamps: list[float]  # seconds from the start, one per image
    indices: list[int]  # frame indices in the source video
    fps: float
    total_frames: int

    @property
    def duration(self) -> float:
        return self.total_frames / self.fps if self.fps else 0.0


def uniform_indices(total: int, n: int) -> list[int]:
    """``n`` frame indices spread evenly over ``total`` frames (centre of n equal segments)."""
    if total <= 0:
        return []
    n = min(n, total)
    return [min(total - 1, int((i + 0.5) * total / n)) for i in range(n)]


def _resize_to_max_pixels(images: np.ndarray, max_pixels: int | None) -> np.ndarray:
    if not max_pixels:
        return images
    h, w = images.shape[1:3]
    if h * w <= max_pixels:
        return images
    from PIL import Image

    scale = (max_pixels / (h * w)) ** 0.5
    size = (max(1, int(w * scale)), max(1, int(h * scale)))
    return np.stack([np.asarray(Image.fromarray(im).resize(size, Image.Resampling.BICUBIC)) for im in images])


def sample_frames(path: str | Path, num_frames: int = 16, max_pixels: int | None = None) -> SampledFrames:
    """Decode only ``num_frames`` uniformly spaced frames (decord; PyAV where decord has no wheel).

    ``max_pixels`` caps height x width per frame, keeping the aspect ratio.
    """
    path = Path(path)
    if not path.is_file():
        raise VRBenchError(f"{path}: video not found")
    if num_frames < 1:
        raise VRBenchError(f"num_frames must be >= 1, got {num_frames}")
    try:
        import decord
    except ImportError:
        decord = None
    try:
        if decord is not None:
            import av

            # a file FFmpeg cannot open makes decord print its own error line first; PyAV fails quietly,
            # so the one line below is the only report
            with av.open(str(path)):
                pass
            try:
                reader = decord.VideoReader(str(path), ctx=decord.cpu(0))
                total, fps = len(reader), float(reader.get_avg_fps())
                idx = uniform_indices(total, num_frames)
                images = reader.get_batch(idx).asnumpy()
            except Exception as e:  # decord fails on some files FFmpeg reads (e.g. H.264 16 or 48 pixels wide)
                log.debug("%s: decord failed (%s); decoding with PyAV", path, e)
                images, idx, fps, total = _sample_with_pyav(path, num_frames)
        else:
            images, idx, fps, total = _sample_with_pyav(path, num_frames)
    except VRBenchError:
        raise
    except Exception as e:  # decord raises its own DECORDError on corrupt files
        raise VRBenchError(f"{path}: cannot decode video ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else 'no detail'})") from None
    if total == 0 or len(images) == 0:
        raise VRBenchError(f"{path}: video has no frames")
    images = _resize_to_max_pixels(images, max_pixels)
    return SampledFrames(images, [i / fps if fps else 0.0 for i in idx], list(idx), fps, total)


def _sample_with_pyav(path: Path, num_frames: int):
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        fps = float(stream.average_rate or 0) or 1.0
        total = stream.frames or 0
        if total == 0:  # container without a frame count: count by demuxing packets (cheap, no decoding)
            total = sum(1 for p in container.demux(stream) if p.size)
            container.seek(0)
        wanted = uniform_indices(total, num_frames)
        picked, want = [], set(wanted)
        for i, frame in enumerate(container.decode(stream)):
            if i in want:
                picked.append(frame.to_ndarray(format="rgb24"))
            if i >= wanted[-1]:
                break
    return np.stack(picked), wanted[: len(picked)], fps, total


def probe_video(path: str | Path) -> dict:
    """Check that ``path`` is a video before its bytes go anywhere: a container with a video stream
    that has frames; its info, or a one-line error naming the path (a text file, an image, ...)."""
    import av

    path = Path(path)
    try:
        with av.open(str(path)) as container:
            streams = container.streams.video
            fmt = container.format.name or ""
            if not streams or fmt in ("image2", "png_pipe", "jpeg_pipe", "webp_pipe", "gif", "tty", "txt"):
                raise VRBenchError(f"{path}: not a video (format {fmt or 'unknown'}, {len(streams)} video streams)")
            s = streams[0]
            frames = s.frames or sum(1 for p in container.demux(s) if p.size)
    except VRBenchError:
        raise
    except FileNotFoundError:
        raise VRBenchError(f"{path}: video not found") from None
    except Exception as e:
        raise VRBenchError(f"{path}: not a readable video ({type(e).__name__})") from None
    if not frames:
        raise VRBenchError(f"{path}: video has no frames")
    return {"frames": frames, "fps": float(s.average_rate or 0), "width": s.width, "height": s.height, "format": fmt}


def video_info(path: str | Path) -> dict:
    """Frame count, fps, width and height of a video (no decoding)."""
    import av

    try:
        with av.open(str(path)) as container:
            s = container.streams.video[0]
            return {"frames": s.frames, "fps": float(s.average_rate or 0), "width": s.width, "height": s.height}
    except Exception as e:
        raise VRBenchError(f"{path}: cannot read video ({type(e).__name__})") from None
