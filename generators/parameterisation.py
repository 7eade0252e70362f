"""Explicit VP re-parameterisation: bridging two models that share VAE weights but not latent scaling or
noise schedule (CogVideoX-2B and -5B).

:class:`VPParameterisation` describes a discrete variance-preserving schedule with v-prediction in a scaled
VAE latent; :func:`map_latent` maps a timestep of one onto the other; :class:`Reparameterised` wraps a
denoiser so that it reads and returns the other model's latents and predictions. Pure maths plus one
wrapper; heavy imports stay inside functions.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from vrbench.errors import VRBenchError

from .denoisers import Denoiser

if TYPE_CHECKING:
    from torch import Tensor

log = logging.getLogger(__name__)



# ------------------------------------------------------------------ explicit CogVideoX re-parameterisation


@dataclass(frozen=True)
class VPParameterisation:
    """A discrete variance-preserving schedule with v-prediction, in a VAE latent scaled by ``scaling_factor``.

    A model with this parameterisation sees ``z = a(t) * s * x + b(t) * eps`` where ``x`` is the raw VAE
    latent, ``s`` its ``scaling_factor``, ``a = sqrt(alpha_bar)``, ``b = sqrt(1 - alpha_bar)``, and
    predicts ``v = a * eps - b * s * x``. ``alpha_bar`` is read off the scheduler (so snr shifts and
    zero-terminal-SNR rescaling are included) and linearly interpolated between integer timesteps.
    """

    alphas_cumprod: tuple[float, ...]
    scaling_factor: float

    @classmethod
    def of(cls, pipe) -> VPParameterisation:
        sched = pipe.scheduler
        if sched.config.get("prediction_type") != "v_prediction":
            raise VRBenchError(f"re-parameterisation supports v_prediction schedulers, got {sched.config.get('prediction_type')!r}")
        return cls(tuple(float(a) for a in sched.alphas_cumprod.double().tolist()), float(pipe.vae.config.scaling_factor))

    def alpha_bar(self, t: float) -> float:
        n = len(self.alphas_cumprod)
        t = min(max(float(t), 0.0), n - 1.0)
        lo = int(math.floor(t))
        hi = min(lo + 1, n - 1)
        return self.alphas_cumprod[lo] + (t - lo) * (self.alphas_cumprod[hi] - self.alphas_cumprod[lo])

    def timestep(self, alpha_bar: float) -> float:
        """The (fractional) timestep with this ``alpha_bar``; alpha_bar decreases with t."""
        acp = self.alphas_cumprod
        if alpha_bar >= acp[0]:
            return 0.0
        if alpha_bar <= acp[-1]:
            return float(len(acp) - 1)
        lo, hi = 0, len(acp) - 1  # acp[lo] > alpha_bar >= acp[hi]
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if acp[mid] > alpha_bar:
                lo = mid
            else:
                hi = mid
        t = lo + (acp[lo] - alpha_bar) / (acp[lo] - acp[hi])
        return float(round(t)) if abs(t - round(t)) < 1e-6 else t  # exact integers stay exact


@dataclass(frozen=True)
class LatentMap:
    """How one VP parameterisation's state maps onto another's at one moment: ``z_dst = z_src / c``.

    ``t_dst`` is what the destination model is told; where the state lies beyond the destination's
    table (less noisy than its first timestep, or noisier than its last) it is clamped to the end,
    while the latent and prediction conversions stay exact.
    """

    t_src: float
    t_dst: float
    a_src: float
    b_src: float
    a_dst: float
    b_dst: float
    c: float
    ratio: float  # s_dst / s_src

    def inverse(self) -> LatentMap:
        """The exact way back (not re-read from the tables, so clamping cannot break the round trip)."""
        return LatentMap(self.t_dst, self.t_src, self.a_dst, self.b_dst, self.a_src, self.b_src, 1.0 / self.c, 1.0 / self.ratio)


def map_latent(t_src: float, src: VPParameterisation, dst: VPParameterisation) -> LatentMap:
    """Where a ``src`` state at ``t_src`` lies in ``dst``'s parameterisation.

    ``z = a_s * s_s * x + b_s * eps = (a_s * s_s / s_d) * (s_d * x) + b_s * eps``; dividing by
    ``c = sqrt((a_s s_s / s_d)^2 + b_s^2)`` makes it a ``dst`` state with ``a_d^2 + b_d^2 = 1``.
    """
    ab = src.alpha_bar(t_src)
    a_s, b_s = math.sqrt(ab), math.sqrt(1.0 - ab)
    big_a = a_s * src.scaling_factor / dst.scaling_factor
    c = math.hypot(big_a, b_s)
    a_d, b_d = big_a / c, b_s / c
    return LatentMap(float(t_src), dst.timestep(a_d * a_d), a_s, b_s, a_d, b_d, c, dst.scaling_factor / src.scaling_factor)


def convert_latent(z: Tensor, m: LatentMap) -> Tensor:
    return z / m.c


def convert_prediction(v: Tensor, z_src: Tensor, m: LatentMap) -> Tensor:
    """A ``src`` v-prediction at state ``z_src`` as the ``dst`` v-prediction at ``z_src / c``.

    Through the clean latent and the noise: ``s_s x = a z - b v``, ``eps = b z + a v``; then
    ``v_dst = a_d * eps - b_d * (s_d / s_s) * (s_s x)``.
    """
    x0 = m.a_src * z_src - m.b_src * v
    eps = m.b_src * z_src + m.a_src * v
    return m.a_dst * eps - m.b_dst * m.ratio * x0


class Reparameterised(Denoiser):
    """A denoiser seen through another model's latent scaling and noise schedule (CogVideoX-2B inside a 5B loop).

    The loop speaks the ``outer`` parameterisation; each call maps the latent and timestep into the
    inner model's, asks it, and maps its prediction back. With equal parameterisations it is the identity.
    """

    def __init__(self, inner: Denoiser, inner_param: VPParameterisation, outer_param: VPParameterisation):
        super().__init__(inner.pipe, device=inner.device, batch_cfg=inner.batch_cfg)
        self.inner, self.inner_param, self.outer_param = inner, inner_param, outer_param

    def encode(self, prompt, negative_prompt=""):
        return self.inner.encode(prompt, negative_prompt)

    def guidance_at(self, guidance_scale, t, num_steps):
        # the loop's timestep, not the mapped one: at step i the inner model alone would be at the same
        # timestep of its own (equally spaced) schedule
        return self.inner.guidance_at(guidance_scale, t, num_steps)

    def guided_velocity(self, latents, t, cond, guidance_scale):
        import torch

        to_inner = map_latent(float(t), self.outer_param, self.inner_param)
        t_inner = torch.tensor(to_inner.t_dst, device=latents.device)
        t_inner = t_inner.to(t.dtype) if float(to_inner.t_dst).is_integer() else t_inner.float()
        z_inner = convert_latent(latents.float(), to_inner)
        v_inner = self.inner.guided_velocity(z_inner, t_inner, cond, guidance_scale).float()
        return convert_prediction(v_inner, z_inner, to_inner.inverse())

    def latent_space(self):
        return self.inner.latent_space()


