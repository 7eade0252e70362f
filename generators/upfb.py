"""UPFB (Unified Progressive Frequency Bridging), the Lumos-Nexus sampler's fusion rule, as pure functions.

Everything here follows ``shared/spec/UPFB.md`` (which settles the paper's ambiguities): ``i = 0`` is
the NOISIEST step and ``w_0 = 1`` (all small model); CFG is applied by the caller in the standard form;
the low-pass is a Gaussian in the frequency domain over the latent's (T, H, W) dims; the two RMS steps
run in Algorithm 1's order. The sampling loop that calls these lives in ``sampling.py``.

Only torch is needed, and it is imported lazily so the CLI can import this module cheaply.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from vrbench.errors import VRBenchError

if TYPE_CHECKING:
    from torch import Tensor

#: guards the two RMS divisions; computed in float32 (UPFB.md step 3)
EPS = 1e-12
#: the filter dims UPFB.md allows: the full (T, H, W) Gaussian, or (H, W) only
ALL_DIMS = (-3, -2, -1)


@dataclass(frozen=True)
class UPFBConfig:
    """UPFB hyperparameters; the defaults are the paper's (Sec. 4.1)."""

    gamma_w: float = 0.3  # handoff sharpness: smaller hands over to the large model sooner
    sigma_min: float = 0.35  # low-pass bandwidth at the last step (narrow)
    sigma_max: float = 0.70  # low-pass bandwidth at the first step (wide)
    gamma_hf: float = 0.7  # damping of the small model's high frequencies (paper: 0.5 to 0.8)
    rms: bool = True  # RMS pre-alignment and re-balancing (off reproduces Table 5)
    dims: tuple[int, ...] = ALL_DIMS  # latent dims the low-pass acts on: (T, H, W) or (H, W)

    def __post_init__(self) -> None:
        object.__setattr__(self, "dims", tuple(int(d) for d in self.dims))
        problems = []
        if not self.gamma_w > 0:
            problems.append(f"gamma_w must be > 0, got {self.gamma_w}")
        if not 0 < self.sigma_min <= self.sigma_max:
            problems.append(f"need 0 < sigma_min <= sigma_max, got sigma_min={self.sigma_min}, sigma_max={self.sigma_max}")
        if not 0 <= self.gamma_hf <= 1:
            problems.append(f"gamma_hf must be in [0, 1] (paper: 0.5 to 0.8), got {self.gamma_hf}")
        if not self.dims or len(set(self.dims)) != len(self.dims) or not set(self.dims) <= set(ALL_DIMS):
            problems.append(f"dims must be distinct entries of -3,-2,-1 (T, H, W), got {','.join(map(str, self.dims)) or 'none'}")
        if problems:
            raise VRBenchError("UPFB option " + "; ".join(problems))

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["dims"] = list(self.dims)
        return d


def temporal_weight(step_index: int, num_steps: int, gamma_w: float) -> float:
    """Share of the small model at step ``step_index`` (0 = noisiest): ``0.5 * (1 + cos(pi * p**gamma_w))``.

    ``p = i / (T - 1)``, so ``w_0 = 1`` and ``w_{T-1} = 0``, decreasing in between.
    """
    if num_steps < 2:
        raise ValueError(f"UPFB needs num_steps >= 2, got {num_steps}")
    if not 0 <= step_index < num_steps:
        raise ValueError(f"step_index {step_index} outside 0..{num_steps - 1}")
    if step_index == num_steps - 1:
        return 0.0  # exact, whatever rounding cos(pi) would do
    p = step_index / (num_steps - 1)
    return 0.5 * (1.0 + math.cos(math.pi * p**gamma_w))


def bandwidth(w: float, config: UPFBConfig) -> float:
    """``sigma_i = sigma_min + (sigma_max - sigma_min) * w_i``: wide early, narrow late (UPFB.md step 4)."""
    return config.sigma_min + (config.sigma_max - config.sigma_min) * w


def _normalise_dims(dims: tuple[int, ...], ndim: int) -> tuple[int, ...]:
    out = tuple(sorted(d % ndim for d in dims))
    if len(set(out)) != len(out):
        raise ValueError(f"repeated dims {dims}")
    return out


@lru_cache(maxsize=64)
def _lowpass_mask(sizes: tuple[int, ...], sigma: float, device: str):
    """Real Gaussian ``exp(-|f|^2 / (2 sigma^2))`` on the rfftn grid of ``sizes`` (last size halved).

    ``f_d = 2 * fftfreq(N_d)`` in [-1, 1); the mask depends on ``f**2`` only, so rfftfreq's ``+1`` at
    Nyquist equals fftfreq's ``-1``. A dim of size 1 has only DC and contributes 0.
    """
    import torch

    grids = []
    for k, n in enumerate(sizes):
        if k == len(sizes) - 1:
            f = 2.0 * torch.fft.rfftfreq(n, dtype=torch.float64)
        else:
            f = 2.0 * torch.fft.fftfreq(n, dtype=torch.float64)
        grids.append(f)
    f2 = sum(g.view([-1 if j == k else 1 for j in range(len(sizes))]) ** 2 for k, g in enumerate(grids))
    return torch.exp(-f2 / (2.0 * sigma**2)).to(device=device, dtype=torch.float32)


def gaussian_lowpass(v: Tensor, sigma: float, dims: tuple[int, ...] = ALL_DIMS) -> Tensor:
    """Low frequencies of ``v``: ``real(ifftn(fftn(v) * M))`` over ``dims``, M a Gaussian of width ``sigma``.

    Computed in float32 (returned in float32). The mask is 1 at DC, so the mean over ``dims`` is kept
    exactly; as ``sigma`` grows M -> 1 and this tends to the identity. The mask is real and even, so
    the real FFT gives the same result at half the cost.
    """
    import torch

    if not sigma > 0:
        raise ValueError(f"sigma must be > 0, got {sigma}")
    x = v.to(torch.float32)
    axes = _normalise_dims(dims, x.ndim)
    sizes = tuple(x.shape[d] for d in axes)
    mask = _lowpass_mask(sizes, float(sigma), str(x.device))
    mask = mask.view([mask.shape[axes.index(d)] if d in axes else 1 for d in range(x.ndim)])
    spectrum = torch.fft.rfftn(x, dim=axes)
    return torch.fft.irfftn(spectrum * mask, s=sizes, dim=axes)


def rms(x: Tensor) -> Tensor:
    """Per-sample root mean square over every dim but the batch, in float32, shaped to broadcast."""
    import torch

    x = x.to(torch.float32)
    r = x.pow(2).flatten(1).mean(dim=1).sqrt()
    return r.view([-1] + [1] * (x.ndim - 1))


def fuse_velocities(
    v_small: Tensor,
    v_large: Tensor | None,
    step_index: int,
    num_steps: int,
    config: UPFBConfig,
) -> Tensor:
    """Fuse two guided velocities ``[B, C, T, H, W]`` into one (UPFB.md steps 1 and 3-7).

    ``v_large`` may be ``None`` only where ``w_i == 1`` exactly (the first step): there the large model
    enters only through RMS pre-alignment, whose effect on the output is nil (its re-balancing target
    is ``RMS(v_small)`` either way), so the caller may skip the large model's forward pass.
    The result has ``v_small``'s dtype; the arithmetic is float32.
    """
    import torch

    w = temporal_weight(step_index, num_steps, config.gamma_w)
    vs = v_small.to(torch.float32)
    if v_large is None:
        if w != 1.0:
            raise ValueError(f"v_large may be omitted only where w_i == 1 (step 0), not at step {step_index} (w={w:.4g})")
        vl = None
    else:
        if v_large.shape != v_small.shape:
            raise ValueError(f"velocity shapes differ: small {tuple(v_small.shape)} vs large {tuple(v_large.shape)}")
        vl = v_large.to(torch.float32)

    if config.rms:
        r_small = rms(vs)
        if vl is not None:
            vl = vl * (r_small / (rms(vl) + EPS))  # step 3: pre-alignment

    # Step 6 splits both velocities, but the low-pass is linear and HF = v - LF, so
    #   w*LF_S + (1-w)*LF_L + w*g*HF_S + (1-w)*HF_L  =  (1-w)*v_L + w*(g*v_S + (1-g)*LF_S):
    # one FFT round-trip (of v_S) instead of two, and none where w == 0 or gamma_hf == 1.
    g = config.gamma_hf
    v = (w * g) * vs
    if w > 0 and g != 1:
        v = v + (w * (1 - g)) * gaussian_lowpass(vs, bandwidth(w, config), config.dims)
    if vl is not None:  # None only where w == 1, where its weight is 0
        v = v + (1 - w) * vl

    if config.rms:
        # step 7: the aligned v_L has RMS(v_S), so the target 0.5 * (RMS(v_S) + RMS(v_L)) is RMS(v_S)
        target = r_small if vl is None else 0.5 * (r_small + rms(vl))
        v = v * (target / (rms(v) + EPS))
    return v.to(v_small.dtype)


def direct_add(v_small: Tensor, v_large: Tensor) -> Tensor:
    """The Direct Add baseline (paper Table 7): ``0.5 * (v_S + v_L)`` at every step, nothing else."""
    return 0.5 * (v_small + v_large)
