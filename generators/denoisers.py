"""Denoiser views: a diffusers video pipeline seen as one guided prediction per step.

A :class:`Denoiser` is a thin view of a pipeline: ``encode`` a prompt once, give a classifier-free-guided
prediction for a latent at a timestep, make a fresh scheduler (wrapped in a stepper), and ``decode``
latents with the pipeline's VAE. Latents are always ``[B, C, T, H, W]`` here; views of models with another
layout (CogVideoX) permute inside. :func:`check_homogeneous` compares two views' VAE and noise-schedule
parameters, since bridging is only meaningful in one latent space.

This is the "model" part of the Lumos-Nexus bridge (like diffusers' models); the re-parameterisation maths
is in ``parameterisation.py``, the loop and the fusions in ``sampling.py``. Heavy imports stay inside functions.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from vrbench.errors import VRBenchError

if TYPE_CHECKING:
    import numpy as np
    from torch import Tensor

log = logging.getLogger(__name__)


@dataclass
class Conditioning:
    """A prompt encoded once for one model: conditional and unconditional (negative) context."""

    cond: Tensor
    uncond: Tensor


# ------------------------------------------------------------------------------------------ steppers


class Stepper(Protocol):
    timesteps: Tensor

    def step(self, prediction: Tensor, index: int, latents: Tensor) -> Tensor: ...


class _PlainStepper:
    """Schedulers with diffusers' usual ``step(model_output, t, sample)`` (UniPC, DDIM, flow-matching Euler).

    ``frames_first`` steps in CogVideoX's ``[B, F, C, H, W]`` layout, so that any noise a stochastic
    scheduler draws is laid out exactly as in CogVideoXPipeline; ``dtype`` casts the stepped latents, as
    CogVideoXPipeline casts them to its text embeddings' dtype after every step.
    """

    def __init__(self, scheduler, num_steps: int, device, extra: dict[str, Any] | None = None, frames_first: bool = False,
                 dtype=None):
        scheduler.set_timesteps(num_steps, device=device)
        if hasattr(scheduler, "set_begin_index"):
            scheduler.set_begin_index(0)
        self.scheduler, self.timesteps, self.extra = scheduler, scheduler.timesteps, extra or {}
        self.frames_first, self.dtype = frames_first, dtype

    def step(self, prediction, index, latents):
        if self.frames_first:
            out = self._step(prediction.transpose(1, 2), index, latents.transpose(1, 2)).transpose(1, 2)
        else:
            out = self._step(prediction, index, latents)
        return out if self.dtype is None else out.to(self.dtype)

    def _step(self, prediction, index, latents):
        return self.scheduler.step(prediction, self.timesteps[index], latents, **self.extra, return_dict=False)[0]


class _CogVideoXDPMStepper(_PlainStepper):
    """CogVideoX's DPM-Solver++ carries the previous x0 estimate and needs the previous timestep."""

    old_x0 = None

    def _step(self, prediction, index, latents):
        t = self.timesteps[index]
        back = self.timesteps[index - 1] if index > 0 else None
        latents, self.old_x0 = self.scheduler.step(prediction, self.old_x0, t, back, latents, **self.extra, return_dict=False)
        return latents


# ---------------------------------------------------------------------------------------- denoisers


class Denoiser:
    """A denoiser view of a diffusers video pipeline (see module docstring). Subclasses per family."""

    def __init__(self, pipe, *, device: str = "cpu", batch_cfg: bool = True):
        self.pipe, self.device, self.batch_cfg = pipe, device, batch_cfg

    # what a subclass provides
    def encode(self, prompt: str, negative_prompt: str = "") -> Conditioning:
        raise NotImplementedError

    def guided_velocity(self, latents: Tensor, t: Tensor, cond: Conditioning, guidance_scale: float) -> Tensor:
        """The CFG-guided prediction ``u + g * (k - u)`` for latents ``[B, C, T, H, W]`` at timestep ``t``."""
        raise NotImplementedError

    def guidance_at(self, guidance_scale: float, t: Tensor, num_steps: int) -> float:
        """The CFG scale this model uses at timestep ``t`` of a ``num_steps`` loop (static by default)."""
        return guidance_scale

    def prepare_latents(self, batch: int, height: int, width: int, num_frames: int, generator) -> Tensor:
        raise NotImplementedError

    def decode(self, latents: Tensor) -> np.ndarray:
        """Frames as float in [0, 1], ``(B, F, H, W, 3)``."""
        raise NotImplementedError

    def new_stepper(self, num_steps: int, generator) -> Stepper:
        """A fresh copy of this model's scheduler with ``num_steps`` timesteps set."""
        scheduler = type(self.pipe.scheduler).from_config(self.pipe.scheduler.config)
        return _PlainStepper(scheduler, num_steps, self.device)

    def latent_space(self) -> dict[str, Any]:
        """What defines this model's latent space, for :func:`check_homogeneous`."""
        vae, sched = self.pipe.vae, self.pipe.scheduler
        out: dict[str, Any] = {"vae.class": type(vae).__name__}
        for key in ("z_dim", "latent_channels", "latents_mean", "latents_std", "scaling_factor", "shift_factor", "patch_size"):
            if key in vae.config:
                value = vae.config[key]
                out[f"vae.{key}"] = list(value) if isinstance(value, (list, tuple)) else value
        out["vae.spatial_compression"] = self.pipe.vae_scale_factor_spatial
        out["vae.temporal_compression"] = self.pipe.vae_scale_factor_temporal
        out.update(schedule_parameters(sched))
        return out


def schedule_parameters(scheduler) -> dict[str, Any]:
    """The scheduler settings that fix how a latent at timestep t is read (not how steps are spaced).

    Flow matching: ``z_t = (1 - t/N) x + (t/N) eps`` whatever the shift, so only the kind and N matter.
    Discrete variance-preserving schedules: the betas and their transforms fix ``alpha_bar(t)``.
    """
    cfg = scheduler.config
    flow = cfg.get("prediction_type") == "flow_prediction" or cfg.get("use_flow_sigmas") or "FlowMatch" in type(scheduler).__name__
    out: dict[str, Any] = {"scheduler.kind": "flow" if flow else "vp", "scheduler.num_train_timesteps": cfg.get("num_train_timesteps")}
    if not flow:
        out["scheduler.prediction_type"] = cfg.get("prediction_type")
        for key in ("beta_start", "beta_end", "beta_schedule", "trained_betas", "snr_shift_scale", "rescale_betas_zero_snr"):
            if key in cfg:
                out[f"scheduler.{key}"] = cfg[key]
    return out


#: latent-space keys that :class:`Reparameterised` converts explicitly (VP schedules and latent scale)
VP_CONVERTIBLE = frozenset(
    {"vae.scaling_factor", "scheduler.beta_start", "scheduler.beta_end", "scheduler.beta_schedule",
     "scheduler.trained_betas", "scheduler.snr_shift_scale", "scheduler.rescale_betas_zero_snr"}
)


def check_homogeneous(small: dict[str, Any], large: dict[str, Any], *, convertible: frozenset[str] = frozenset(),
                      allow: bool = False) -> list[str]:
    """The keys on which two latent spaces differ; a VRBenchError naming them unless ``allow``.

    ``convertible`` keys may differ because the caller converts between them explicitly.
    """
    differing = sorted(k for k in set(small) | set(large) if small.get(k) != large.get(k))
    blocking = [k for k in differing if k not in convertible]
    if blocking and not allow:
        detail = "; ".join(f"{k}: small={small.get(k)!r} large={large.get(k)!r}" for k in blocking)
        raise VRBenchError(
            f"cannot bridge: the two models do not share a latent space ({detail}); "
            "pass --gen-arg allow_heterogeneous=true to bridge anyway (experiments only)"
        )
    if blocking:
        log.warning("bridging heterogeneous latent spaces (allowed by allow_heterogeneous): %s", ", ".join(blocking))
    return differing


class WanDenoiser(Denoiser):
    """A view of ``diffusers.WanPipeline`` (Wan2.1 and the two-expert Wan2.2-T2V-A14B).

    With two experts (``boundary_ratio``), ``transformer`` takes timesteps ``>= boundary`` with
    ``guidance_scale`` and ``transformer_2`` the rest with ``guidance_scale_2``, as WanPipeline does.
    """

    def __init__(self, pipe, *, device: str = "cpu", batch_cfg: bool = True, max_sequence_length: int = 512,
                 guidance_scale_2: float | None = None):
        super().__init__(pipe, device=device, batch_cfg=batch_cfg)
        if pipe.config.get("expand_timesteps"):
            raise VRBenchError("bridging Wan2.2-TI2V (expand_timesteps) is not supported: its VAE differs from Wan2.1's anyway")
        self.max_sequence_length = max_sequence_length
        self.guidance_scale_2 = guidance_scale_2
        ratio = pipe.config.get("boundary_ratio")
        self.boundary = None if ratio is None else ratio * pipe.scheduler.config.num_train_timesteps

    @property
    def _dtype(self):
        model = self.pipe.transformer if self.pipe.transformer is not None else self.pipe.transformer_2
        return model.dtype

    def encode(self, prompt, negative_prompt=""):
        import torch

        with torch.no_grad():
            cond, uncond = self.pipe.encode_prompt(
                prompt=prompt, negative_prompt=negative_prompt, do_classifier_free_guidance=True,
                num_videos_per_prompt=1, max_sequence_length=self.max_sequence_length, device=self.device,
            )
        return Conditioning(cond.to(self._dtype), uncond.to(self._dtype))

    def prepare_latents(self, batch, height, width, num_frames, generator):
        import torch

        channels = (self.pipe.transformer or self.pipe.transformer_2).config.in_channels
        return self.pipe.prepare_latents(batch, channels, height, width, num_frames, torch.float32, self.device, generator)

    def _expert(self, t, guidance_scale):
        if self.boundary is None or t >= self.boundary:
            return self.pipe.transformer, guidance_scale
        g2 = guidance_scale if self.guidance_scale_2 is None else self.guidance_scale_2
        return self.pipe.transformer_2, g2

    def guided_velocity(self, latents, t, cond, guidance_scale):
        import torch

        model, g = self._expert(t, guidance_scale)
        x = latents.to(model.dtype)
        b = x.shape[0]
        with torch.no_grad():
            if self.batch_cfg and cond.cond.shape == cond.uncond.shape:
                out = model(hidden_states=torch.cat([x, x]), timestep=t.expand(2 * b),
                            encoder_hidden_states=torch.cat([cond.cond, cond.uncond]), return_dict=False)[0]
                k, u = out.chunk(2)
            else:
                k = model(hidden_states=x, timestep=t.expand(b), encoder_hidden_states=cond.cond, return_dict=False)[0]
                u = model(hidden_states=x, timestep=t.expand(b), encoder_hidden_states=cond.uncond, return_dict=False)[0]
        return u + g * (k - u)

    def decode(self, latents):
        import torch

        vae = self.pipe.vae
        z = latents.to(vae.device, vae.dtype)
        shape = (1, vae.config.z_dim, 1, 1, 1)
        mean = torch.tensor(vae.config.latents_mean).view(shape).to(z.device, z.dtype)
        std = torch.tensor(vae.config.latents_std).view(shape).to(z.device, z.dtype)
        with torch.no_grad():
            video = vae.decode(z * std + mean, return_dict=False)[0]
        return self.pipe.video_processor.postprocess_video(video, output_type="np")


def dynamic_cfg_scale(guidance_scale: float, t, num_steps: int) -> float:
    """CogVideoXPipeline's ``use_dynamic_cfg`` scale, exactly as diffusers computes it.

    Quirks kept on purpose, so that a view matches the pipeline: it reads the timestep value ``t``
    (0..999), not the step index, so the cosine argument is huge and the scale jumps within
    ``[1, 1 + g]`` from step to step rather than rising smoothly.
    """
    t = float(t)
    return 1 + guidance_scale * ((1 - math.cos(math.pi * ((num_steps - t) / num_steps) ** 5.0)) / 2)


class CogVideoXDenoiser(Denoiser):
    """A view of ``diffusers.CogVideoXPipeline`` (2B and 5B): v-prediction, latents ``[B, F, C, H, W]`` inside.

    ``dynamic_cfg`` follows the pipeline's ``use_dynamic_cfg=True`` (:func:`dynamic_cfg_scale`).
    """

    def __init__(self, pipe, *, device: str = "cpu", batch_cfg: bool = True, max_sequence_length: int = 226,
                 dynamic_cfg: bool = False):
        super().__init__(pipe, device=device, batch_cfg=batch_cfg)
        self.max_sequence_length = max_sequence_length
        self.dynamic_cfg = dynamic_cfg
        self._generator = None

    def guidance_at(self, guidance_scale, t, num_steps):
        return dynamic_cfg_scale(guidance_scale, t, num_steps) if self.dynamic_cfg else guidance_scale

    def encode(self, prompt, negative_prompt=""):
        import torch

        with torch.no_grad():
            cond, uncond = self.pipe.encode_prompt(
                prompt=prompt, negative_prompt=negative_prompt, do_classifier_free_guidance=True,
                num_videos_per_prompt=1, max_sequence_length=self.max_sequence_length, device=self.device,
            )
        dtype = self.pipe.transformer.dtype
        return Conditioning(cond.to(dtype), uncond.to(dtype))

    def prepare_latents(self, batch, height, width, num_frames, generator):
        channels = self.pipe.transformer.config.in_channels
        z = self.pipe.prepare_latents(batch, channels, num_frames, height, width, self.pipe.transformer.dtype, self.device, generator)
        return z.transpose(1, 2)

    def guided_velocity(self, latents, t, cond, guidance_scale):
        import torch

        pipe = self.pipe
        x = latents.transpose(1, 2).to(pipe.transformer.dtype)  # -> [B, F, C, H, W]
        _, frames, _, h, w = x.shape
        rotary = None
        if pipe.transformer.config.use_rotary_positional_embeddings:
            s = pipe.vae_scale_factor_spatial
            rotary = pipe._prepare_rotary_positional_embeddings(h * s, w * s, frames, x.device)

        def forward(hidden, context):
            return pipe.transformer(hidden_states=pipe.scheduler.scale_model_input(hidden, t), encoder_hidden_states=context,
                                    timestep=t.expand(hidden.shape[0]), image_rotary_emb=rotary, return_dict=False)[0].float()

        with torch.no_grad():
            if self.batch_cfg:  # uncond first, as CogVideoXPipeline batches it
                u, k = forward(torch.cat([x, x]), torch.cat([cond.uncond, cond.cond])).chunk(2)
            else:  # two passes of batch b: less memory, same result up to float noise
                u, k = forward(x, cond.uncond), forward(x, cond.cond)
        return (u + guidance_scale * (k - u)).transpose(1, 2)

    def new_stepper(self, num_steps, generator):
        from diffusers import CogVideoXDPMScheduler

        scheduler = type(self.pipe.scheduler).from_config(self.pipe.scheduler.config)
        extra = self.pipe.prepare_extra_step_kwargs(generator, 0.0)
        cls = _CogVideoXDPMStepper if isinstance(scheduler, CogVideoXDPMScheduler) else _PlainStepper
        return cls(scheduler, num_steps, self.device, extra, frames_first=True, dtype=self.pipe.transformer.dtype)

    def decode(self, latents):
        import torch

        with torch.no_grad():
            video = self.pipe.decode_latents(latents.transpose(1, 2).to(self.pipe.vae.dtype))
        return self.pipe.video_processor.postprocess_video(video=video, output_type="np")


