"""Wan2.1 / Wan2.2 text-to-video through ``diffusers.WanPipeline``.

Defaults follow the model cards and the Wan team's configs: 480x832, 81 frames at 16 fps, CFG 5 and 50
steps for Wan2.1 (the Lumos-Nexus paper's setting); Wan2.2-T2V-A14B has two experts switched at
``boundary_ratio`` 0.875 with guidance 4 (high noise) / 3 (low noise) and 40 steps; Wan2.2-TI2V-5B has
its own 48-channel VAE, 704x1280, 121 frames at 24 fps. The flow shift is always set explicitly on the
UniPC scheduler rather than trusting the checkpoint's scheduler config: for Wan2.1, 3.0 at 480p and
5.0 at 720p and above, as its model cards say. The VAE runs in float32.
"""

from __future__ import annotations

from typing import Any

from vrbench.errors import VRBenchError
from vrbench.generator import register_generator

from .diffusers_video import DiffusersVideoGenerator, Dtype, Offload

#: The Wan team's default negative prompt (``sample_neg_prompt`` in their configs).
WAN_NEGATIVE_PROMPT = (
    "色调艳丽，过曝，静态，细节模糊不清，字幕，风格，作品，画作，画面，静止，整体发灰，最差质量，低质量，"
    "JPEG压缩残留，丑陋的，残缺的，多余的手指，画得不好的手部，画得不好的脸部，畸形的，毁容的，形态畸形的肢体，"
    "手指融合，静止不动的画面，杂乱的背景，三条腿，背景人很多，倒着走"
)

_WAN21 = dict(steps=50, guidance=5.0, guidance_2=None, flow_shift=3.0, height=480, width=832, frames=81, fps=16.0,
              negative_prompt=WAN_NEGATIVE_PROMPT)


class WanGenerator(DiffusersVideoGenerator):
    """Wan text-to-video (base of the registered Wan models)."""

    defaults = _WAN21
    #: two experts (Wan2.2-A14B): ``guidance_2`` applies to the low-noise one
    two_stage = False
    #: the default flow shift from 720p up (Wan2.1's model cards: 3.0 at 480p, 5.0 at 720p); None: one shift
    flow_shift_720p: float | None = 5.0

    def __init__(
        self,
        model_path: str | None = None,
        revision: str | None = None,
        steps: int | None = None,
        guidance: float | None = None,
        guidance_2: float | None = None,
        flow_shift: float | None = None,
        height: int | None = None,
        width: int | None = None,
        frames: int | None = None,
        fps: float | None = None,
        negative_prompt: str | None = None,
        dtype: Dtype = "auto",
        device: str = "auto",
        offload: Offload = "none",
        batch_size: int = 1,
    ):
        if guidance_2 is not None and not self.two_stage:
            raise VRBenchError(f"{self.registry_name} option guidance_2: only two-expert models (wan2.2-t2v-a14b) have a second guidance scale")
        self._setup(
            model_path=model_path, revision=revision, dtype=dtype, device=device, offload=offload, batch_size=batch_size,
            steps=steps, guidance=guidance, guidance_2=guidance_2, flow_shift=flow_shift, height=height, width=width,
            frames=frames, fps=fps, negative_prompt=negative_prompt,
        )
        if not self.two_stage:
            self.settings.pop("guidance_2")
        s = self.settings
        if flow_shift is None and self.flow_shift_720p is not None and min(s["height"], s["width"]) >= 720:
            s["flow_shift"] = self.flow_shift_720p

    def build_pipeline(self, torch_dtype):
        import torch
        from diffusers import AutoencoderKLWan, WanPipeline

        model = self.model_path or self.default_model
        # Wan's VAE loses detail in half precision; the model card loads it in float32.
        vae = AutoencoderKLWan.from_pretrained(model, subfolder="vae", torch_dtype=torch.float32, revision=self.revision)
        return WanPipeline.from_pretrained(model, vae=vae, torch_dtype=torch_dtype, revision=self.revision)

    def configure_pipeline(self, pipe) -> None:
        from diffusers import UniPCMultistepScheduler

        pipe.scheduler = UniPCMultistepScheduler.from_config(
            pipe.scheduler.config, prediction_type="flow_prediction", use_flow_sigmas=True,
            flow_shift=float(self.settings["flow_shift"]),
        )

    def call_kwargs(self) -> dict[str, Any]:
        return {"guidance_scale_2": self.settings["guidance_2"]} if self.two_stage else {}

    def signature(self) -> dict[str, Any]:
        return {**super().signature(), "vae_dtype": "float32"}


@register_generator("wan2.1-t2v-1.3b")
class Wan21T2V1B(WanGenerator):
    """Wan2.1-T2V-1.3B (diffusers), 480x832, 81 frames at 16 fps."""

    default_model = "Wan-AI/Wan2.1-T2V-1.3B-Diffusers"


@register_generator("wan2.1-t2v-14b")
class Wan21T2V14B(WanGenerator):
    """Wan2.1-T2V-14B (diffusers), 480x832, 81 frames at 16 fps."""

    default_model = "Wan-AI/Wan2.1-T2V-14B-Diffusers"


@register_generator("wan2.2-t2v-a14b")
class Wan22T2VA14B(WanGenerator):
    """Wan2.2-T2V-A14B (diffusers): two 14B experts, 480x832, 81 frames at 16 fps."""

    default_model = "Wan-AI/Wan2.2-T2V-A14B-Diffusers"
    defaults = {**_WAN21, "steps": 40, "guidance": 4.0, "guidance_2": 3.0, "flow_shift": 12.0}
    two_stage = True
    flow_shift_720p = None


@register_generator("wan2.2-ti2v-5b")
class Wan22TI2V5B(WanGenerator):
    """Wan2.2-TI2V-5B (diffusers), text-to-video at 704x1280, 121 frames at 24 fps."""

    default_model = "Wan-AI/Wan2.2-TI2V-5B-Diffusers"
    defaults = {**_WAN21, "flow_shift": 5.0, "height": 704, "width": 1280, "frames": 121, "fps": 24.0}
    size_multiple = 32  # 16x VAE x 2x2 patches
    flow_shift_720p = None
