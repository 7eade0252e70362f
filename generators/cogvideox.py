"""CogVideoX text-to-video through ``diffusers.CogVideoXPipeline``.

Defaults follow the model cards: 480x720, 49 frames at 8 fps, 50 steps, static guidance 6; CogVideoX-2B
in float16, CogVideoX-5B in bfloat16, each with its checkpoint's own (DDIM) scheduler. Dynamic CFG
(``use_dynamic_cfg=true``) is made for the DPM scheduler (CogVideo's own demo pairs them; under DDIM
diffusers' cosine schedule makes the scale jump between 1 and 7 from step to step), so turning it on
also switches to ``CogVideoXDPMScheduler`` (trailing timesteps); the signature names the scheduler.
"""

from __future__ import annotations

from typing import Any

from vrbench.generator import register_generator

from .diffusers_video import DiffusersVideoGenerator, Dtype, Offload

_COGVIDEOX = dict(steps=50, guidance=6.0, use_dynamic_cfg=False, vae_tiling=False, height=480, width=720,
                  frames=49, fps=8.0, negative_prompt="")


class CogVideoXGenerator(DiffusersVideoGenerator):
    """CogVideoX text-to-video (base of the registered CogVideoX models)."""

    defaults = _COGVIDEOX
    max_sequence_length = 226  # the transformer's text length

    def __init__(
        self,
        model_path: str | None = None,
        revision: str | None = None,
        steps: int | None = None,
        guidance: float | None = None,
        use_dynamic_cfg: bool | None = None,
        vae_tiling: bool | None = None,
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
        self._setup(
            model_path=model_path, revision=revision, dtype=dtype, device=device, offload=offload, batch_size=batch_size,
            steps=steps, guidance=guidance, use_dynamic_cfg=use_dynamic_cfg, vae_tiling=vae_tiling, height=height,
            width=width, frames=frames, fps=fps, negative_prompt=negative_prompt,
        )

    def build_pipeline(self, torch_dtype):
        from diffusers import CogVideoXPipeline

        return CogVideoXPipeline.from_pretrained(self.model_path or self.default_model, torch_dtype=torch_dtype,
                                                 revision=self.revision)

    def configure_pipeline(self, pipe) -> None:
        if self.settings["vae_tiling"]:  # saves memory; tiles are blended, so pixels change slightly
            pipe.vae.enable_tiling()
        if self.settings["use_dynamic_cfg"]:
            from diffusers import CogVideoXDPMScheduler

            pipe.scheduler = CogVideoXDPMScheduler.from_config(pipe.scheduler.config, timestep_spacing="trailing")

    def call_kwargs(self) -> dict[str, Any]:
        return {"use_dynamic_cfg": bool(self.settings["use_dynamic_cfg"])}

    def signature(self) -> dict[str, Any]:
        scheduler = "CogVideoXDPMScheduler (trailing)" if self.settings["use_dynamic_cfg"] else "the checkpoint's"
        return {**super().signature(), "scheduler": scheduler}


@register_generator("cogvideox-2b")
class CogVideoX2B(CogVideoXGenerator):
    """CogVideoX-2B (diffusers), 480x720, 49 frames at 8 fps, float16."""

    default_model = "THUDM/CogVideoX-2b"
    gpu_dtype = "float16"


@register_generator("cogvideox-5b")
class CogVideoX5B(CogVideoXGenerator):
    """CogVideoX-5B (diffusers), 480x720, 49 frames at 8 fps, bfloat16, static guidance 6."""

    default_model = "THUDM/CogVideoX-5b"
