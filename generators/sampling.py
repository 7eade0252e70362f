"""The Lumos-Nexus loop: two denoisers predict, a fusion combines, the LARGE model's scheduler steps.

:func:`bridged_sample` asks the small and the large view (``denoisers.py``) for their predictions at
every step, fuses them (UPFB, ``upfb.py``, or the Direct Add baseline) and steps the large model's
scheduler once with the fused prediction; :func:`sample` is the same loop for one model. Heavy imports
(torch) stay inside functions.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from vrbench.errors import VRBenchError

from .denoisers import Conditioning, Denoiser
from .upfb import UPFBConfig, direct_add, fuse_velocities, temporal_weight

if TYPE_CHECKING:
    import numpy as np
    from torch import Generator as TorchGenerator
    from torch import Tensor

log = logging.getLogger(__name__)



# ---------------------------------------------------------------------------------------- the loop


class Fusion(Protocol):
    """How two guided predictions become one; says which forward passes a step actually needs."""

    def needs(self, step_index: int, num_steps: int) -> tuple[bool, bool]: ...

    def __call__(self, v_small: Tensor | None, v_large: Tensor | None, step_index: int, num_steps: int) -> Tensor: ...


@dataclass(frozen=True)
class UPFBFusion:
    config: UPFBConfig

    def needs(self, step_index, num_steps):
        w = temporal_weight(step_index, num_steps, self.config.gamma_w)
        # w == 1: the large model only enters through RMS and cancels (upfb.fuse_velocities);
        # w == 0 without RMS: the small model has weight 0 everywhere
        return (w != 0.0 or self.config.rms), (w != 1.0)

    def __call__(self, v_small, v_large, step_index, num_steps):
        if v_small is None:
            return v_large
        return fuse_velocities(v_small, v_large, step_index, num_steps, self.config)


@dataclass(frozen=True)
class DirectAddFusion:
    """Paper Table 7's baseline: average the two guided predictions at every step."""

    def needs(self, step_index, num_steps):
        return True, True

    def __call__(self, v_small, v_large, step_index, num_steps):
        return direct_add(v_small, v_large.to(v_small.dtype))


def bridged_steps(
    small: Denoiser,
    large: Denoiser,
    cond_small: Conditioning,
    cond_large: Conditioning,
    latents: Tensor,
    *,
    num_steps: int,
    guidance_small: float,
    guidance_large: float,
    fusion: Fusion,
    generator: TorchGenerator | None = None,
) -> Iterator[Tensor]:
    """The bridged loop one step at a time: yields the latents ``[B, C, T, H, W]`` after each step.

    The last one yielded is the result (decode it with ``large``). Stepping lets a caller show
    previews, stop early, or interleave loops (``benchmarks/upfb_cost.py`` times them side by side).
    """
    stepper = large.new_stepper(num_steps, generator)
    if len(stepper.timesteps) != num_steps:
        raise VRBenchError(f"the large model's scheduler made {len(stepper.timesteps)} timesteps for num_steps={num_steps}; "
                           "UPFB needs one prediction per step (use a first-order-per-step scheduler)")
    z = latents
    for i, t in enumerate(stepper.timesteps):
        need_small, need_large = fusion.needs(i, num_steps)
        v_s = small.guided_velocity(z, t, cond_small, small.guidance_at(guidance_small, t, num_steps)) if need_small else None
        v_l = large.guided_velocity(z, t, cond_large, large.guidance_at(guidance_large, t, num_steps)) if need_large else None
        z = stepper.step(fusion(v_s, v_l, i, num_steps), i, z)
        yield z


def sample_steps(
    denoiser: Denoiser,
    cond: Conditioning,
    latents: Tensor,
    *,
    num_steps: int,
    guidance_scale: float,
    generator: TorchGenerator | None = None,
) -> Iterator[Tensor]:
    """One model alone through the same view, one step at a time (what the bridge reduces to with one model)."""
    stepper = denoiser.new_stepper(num_steps, generator)
    z = latents
    for i, t in enumerate(stepper.timesteps):
        g = denoiser.guidance_at(guidance_scale, t, num_steps)
        z = stepper.step(denoiser.guided_velocity(z, t, cond, g), i, z)
        yield z


def run_steps(steps: Iterator[Tensor], latents: Tensor, *, total: int, desc: str, progress: bool = True) -> Tensor:
    """Drive a step iterator to the end under a progress bar; returns the final latents."""
    from tqdm.auto import tqdm

    z = latents
    for z in tqdm(steps, total=total, desc=desc, disable=not progress, leave=False):  # noqa: B007  (the last one is the result)
        pass
    return z


def bridged_sample(small: Denoiser, large: Denoiser, cond_small: Conditioning, cond_large: Conditioning,
                   latents: Tensor, *, num_steps: int, progress: bool = True, **kwargs) -> Tensor:
    """Denoise ``latents`` with both models (arguments as :func:`bridged_steps`); returns the final latents."""
    steps = bridged_steps(small, large, cond_small, cond_large, latents, num_steps=num_steps, **kwargs)
    return run_steps(steps, latents, total=num_steps, desc="bridged sampling", progress=progress)


def sample(denoiser: Denoiser, cond: Conditioning, latents: Tensor, *, num_steps: int, progress: bool = True,
           **kwargs) -> Tensor:
    """Denoise ``latents`` with one model (arguments as :func:`sample_steps`); returns the final latents."""
    return run_steps(sample_steps(denoiser, cond, latents, num_steps=num_steps, **kwargs), latents,
                     total=num_steps, desc="sampling", progress=progress)


def seeded_generator(seed: int) -> TorchGenerator:
    """A CPU generator: the same seed gives the same initial noise on any device."""
    import torch

    return torch.Generator(device="cpu").manual_seed(int(seed))


def frames_uint8(video: np.ndarray) -> list[np.ndarray]:
    """``(B, F, H, W, 3)`` floats in [0, 1] -> a list of uint8 ``(F, H, W, 3)``."""
    from vrbench.video import as_uint8_frames

    return [as_uint8_frames(v) for v in video]

