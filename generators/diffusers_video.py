"""What every adapter built on a diffusers text-to-video pipeline shares.

A family (Wan, CogVideoX) subclasses :class:`DiffusersVideoGenerator`, says how to build its pipeline
(``build_pipeline``) and which extra call arguments it needs (``call_kwargs``); a registered model is a
further subclass holding that model's defaults (Hub id, steps, guidance, size, frames, fps, dtype).
Settings left as ``None`` take the model's default, so ``signature()`` always lists concrete values.

Device and dtype are options: ``device=auto`` is ``cuda:$LOCAL_RANK`` when CUDA is present (so each
``torchrun`` rank uses its own GPU) and ``cpu`` otherwise; ``dtype=auto`` is the model's own dtype on
a GPU and float32 on the CPU. CPU and GPU run the same code.
"""

from __future__ import annotations

import gc
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal

from vrbench.errors import VRBenchError
from vrbench.generator import GeneratedVideo, GenerationRequest, Generator
from vrbench.video import as_uint8_frames

log = logging.getLogger(__name__)

Dtype = Literal["auto", "bfloat16", "float16", "float32"]
Offload = Literal["none", "model", "sequential"]

#: Every video's starting noise comes from its own CPU generator, so a (case, seed) pair gives the same
#: noise on any device and in any batch.
SEED_POLICY = "torch.Generator('cpu').manual_seed(seed), one per video"


def resolve_device(device: str) -> str:
    """``auto`` -> ``cuda:$LOCAL_RANK`` when CUDA is available, else ``cpu``; anything else is checked."""
    import torch

    if device == "auto":
        if torch.cuda.is_available():
            return f"cuda:{int(os.environ.get('LOCAL_RANK', '0') or 0)}"
        return "cpu"
    try:
        dev = torch.device(device)
    except (RuntimeError, ValueError):
        raise VRBenchError(f"option device: expected auto, cpu, cuda or cuda:N, got {device!r}") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise VRBenchError(f"option device: {device} requested but CUDA is not available on this machine")
    return str(dev)


def resolve_dtype(dtype: str, device: str, gpu_default: str) -> str:
    """The dtype name to load weights in: ``auto`` is ``gpu_default`` on a GPU and float32 on the CPU."""
    if dtype == "auto":
        return gpu_default if device.startswith("cuda") else "float32"
    return dtype


class DiffusersVideoGenerator(Generator):
    """Base for text-to-video adapters over a diffusers pipeline (not registered itself)."""

    requires = ("torch", "diffusers", "transformers")

    #: Hub id used when no ``model_path`` is given
    default_model: ClassVar[str] = ""
    #: default settings: steps, guidance, height, width, frames, fps, negative_prompt, plus family extras
    defaults: ClassVar[dict[str, Any]] = {}
    #: dtype on a GPU when ``dtype=auto``
    gpu_dtype: ClassVar[str] = "bfloat16"
    #: text length the pipeline encodes; passed explicitly (encode_prompt and __call__ disagree otherwise)
    max_sequence_length: ClassVar[int] = 512
    #: height and width must be multiples of this (VAE spatial factor x patch size)
    size_multiple: int = 16  # an instance may change it (tiny Wan2.2-TI2V)
    #: frame counts must be ``k * temporal_factor + 1``
    temporal_factor: ClassVar[int] = 4

    pipe: Any = None

    def _setup(self, *, model_path: str | None, revision: str | None, dtype: str, device: str, offload: str,
               batch_size: int, **settings: Any) -> None:
        """Store options, filling ``None`` from the model's defaults, and check them (no imports, no weights)."""
        name = self.registry_name or type(self).__name__
        self.model_path = model_path
        self.revision = revision
        self.dtype_option, self.device_option, self.offload = dtype, device, offload
        self.settings: dict[str, Any] = {k: (self.defaults.get(k) if v is None else v) for k, v in settings.items()}
        s = self.settings
        problems = []
        if batch_size < 1:
            problems.append(f"batch_size must be >= 1, got {batch_size}")
        if s["steps"] is not None and s["steps"] < 1:
            problems.append(f"steps must be >= 1, got {s['steps']}")
        for key in ("height", "width"):
            if s[key] is not None and (s[key] < self.size_multiple or s[key] % self.size_multiple):
                problems.append(f"{key} must be a positive multiple of {self.size_multiple}, got {s[key]}")
        if s["frames"] is not None and (s["frames"] < 1 or (s["frames"] - 1) % self.temporal_factor):
            problems.append(f"frames must be {self.temporal_factor}k+1 (e.g. {self.defaults.get('frames')}), got {s['frames']}")
        if s["fps"] is not None and not s["fps"] > 0:
            problems.append(f"fps must be > 0, got {s['fps']}")
        if problems:
            raise VRBenchError(f"{name} option " + "; ".join(problems))
        self.batch_size = batch_size
        if model_path is not None:
            self._check_local_path(model_path)

    @staticmethod
    def _check_local_path(model_path: str) -> None:
        """A path that looks local must be a diffusers folder; anything else is taken as a Hub id."""
        path = Path(model_path).expanduser()
        looks_local = path.exists() or model_path.startswith(("/", ".", "~")) or model_path.count("/") > 1
        if not looks_local:
            return
        if not path.is_dir():
            raise VRBenchError(f"--model-path {model_path}: no such directory")
        if not (path / "model_index.json").is_file():
            raise VRBenchError(f"--model-path {model_path}: not a diffusers model folder (no model_index.json)")

    # --- what subclasses provide -------------------------------------------------------------------

    def build_pipeline(self, torch_dtype):
        """Return the diffusers pipeline with weights in ``torch_dtype`` (not yet on the device)."""
        raise NotImplementedError

    def configure_pipeline(self, pipe) -> None:
        """Apply settings that live on the pipeline (e.g. the scheduler's flow shift)."""

    def call_kwargs(self) -> dict[str, Any]:
        """Extra keyword arguments for ``pipe(...)``."""
        return {}

    def model_signature(self) -> dict[str, Any]:
        """Which weights: Hub id or local path, and revision."""
        return {"model": self.model_path or self.default_model, "revision": self.revision}

    # --- the Generator interface -------------------------------------------------------------------

    @property
    def device(self) -> str:
        return resolve_device(self.device_option)

    @property
    def dtype(self) -> str:
        return resolve_dtype(self.dtype_option, self.device, self.gpu_dtype)

    def signature(self) -> dict[str, Any]:
        return {
            **self.model_signature(),
            **self.settings,
            "dtype": self.dtype,
            "batch_size": self.batch_size,  # videos batched together can differ slightly from one at a time
            "max_sequence_length": self.max_sequence_length,
            "seed_policy": SEED_POLICY,
        }

    def load(self) -> None:
        import torch

        if self.pipe is not None:
            return
        device, dtype = self.device, self.dtype
        if self.offload != "none" and not device.startswith("cuda"):
            raise VRBenchError(f"{self.registry_name} option offload={self.offload} needs a CUDA device (device is {device})")
        log.info("loading %s (%s) in %s on %s", self.registry_name, self.model_signature()["model"], dtype, device)
        try:
            pipe = self.build_pipeline(getattr(torch, dtype))
        except (OSError, ValueError) as e:  # missing files, no network, gated repo, wrong folder
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            where = self.model_signature()["model"]
            raise VRBenchError(
                f"{self.registry_name}: cannot load weights from '{where}' ({first}); "
                "pass --model-path DIR with a local diffusers copy, or check the Hub id and your network"
            ) from None
        self.configure_pipeline(pipe)
        if self.offload == "model":
            pipe.enable_model_cpu_offload(device=device)
        elif self.offload == "sequential":
            pipe.enable_sequential_cpu_offload(device=device)
        else:
            pipe.to(device)
        # The runner shows a bar per video; the per-step bar only with -v (it helps with minutes-long videos).
        pipe.set_progress_bar_config(leave=False, desc="denoising", disable=not log.isEnabledFor(logging.INFO))
        self.pipe = pipe

    def generate(self, requests: Sequence[GenerationRequest]) -> list[GeneratedVideo]:
        import torch

        if self.pipe is None:
            self.load()
        s = self.settings
        n = len(requests)
        negative = s.get("negative_prompt") or ""
        out = self.pipe(
            prompt=[r.prompt for r in requests],
            negative_prompt=[negative] * n,
            height=s["height"],
            width=s["width"],
            num_frames=s["frames"],
            num_inference_steps=s["steps"],
            guidance_scale=s["guidance"],
            generator=[torch.Generator("cpu").manual_seed(r.seed) for r in requests],
            max_sequence_length=self.max_sequence_length,
            output_type="np",
            **self.call_kwargs(),
        )
        return [GeneratedVideo(as_uint8_frames(frames), float(s["fps"])) for frames in out.frames]

    def close(self) -> None:
        if self.pipe is None:
            return
        self.pipe = None
        gc.collect()
        try:
            import torch

            if torch.cuda.is_available():
                torch.cuda.empty_cache()
        except ImportError:
            pass


def check_video_options(name: str, steps: int, height: int, width: int, frames: int, fps: float, min_steps: int = 1) -> None:
    """One line naming every bad video option of generator ``name`` (sizes the Wan/CogVideoX VAEs accept)."""
    problems = []
    if steps < min_steps:
        problems.append(f"steps must be >= {min_steps}, got {steps}")
    for key, value in (("height", height), ("width", width)):
        if value < 16 or value % 16:
            problems.append(f"{key} must be a positive multiple of 16, got {value}")
    if frames < 1 or (frames - 1) % 4:
        problems.append(f"frames must be 4k+1 (e.g. 81), got {frames}")
    if not fps > 0:
        problems.append(f"fps must be > 0, got {fps}")
    if problems:
        raise VRBenchError(f"{name} option " + "; ".join(problems))
