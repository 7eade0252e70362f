"""Registered Lumos-Nexus generators: UPFB-bridged pairs and the Direct Add baseline (Omni-Video alone is in
``omnivideo.py``, beside its loader).

- ``lumos-nexus``: Omni-Video (small, understanding-conditioned) + Wan2.1-T2V-14B (large).
- ``lumos-nexus-wan2.2``: Lumos-Nexus*, large = Wan2.2-T2V-A14B with its two experts.
- ``cogvideox-bridge``: CogVideoX-2B -> 5B (the paper's CogVideoX* row), converting latent scaling and
  noise schedule explicitly (``parameterisation.Reparameterised``).
- ``direct-add``: paper Table 7's baseline, Omni-Video + Wan2.1-14B averaged at every step.

Every option is a constructor field (``--gen-arg gamma_w=0.2``) and every one that changes pixels is
in ``signature()``. Defaults are the paper's (UPFB.md): 50 steps, CFG 5, gamma_w 0.3, sigma 0.35-0.70,
gamma_hf 0.7, RMS on, 480x832, 81 frames at 16 fps. The large models load through the Wan/CogVideoX
adapters (``wan.py``, ``cogvideox.py``), so their weights, VAE precision and scheduler settings are
the same as when they run alone.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from vrbench.generator import GeneratedVideo, GenerationRequest, Generator, register_generator

from .cogvideox import CogVideoX2B, CogVideoX5B
from .diffusers_video import SEED_POLICY, Dtype, check_video_options, resolve_device, resolve_dtype
from .omnivideo import OmniVideoOptions
from .upfb import ALL_DIMS, UPFBConfig
from .wan import Wan21T2V14B, Wan22T2VA14B

if TYPE_CHECKING:
    from .denoisers import Denoiser

log = logging.getLogger(__name__)


# -------------------------------------------------------------------------------------- bridged pairs


@dataclass
class BridgedGenerator(Generator):
    """Two generators sharing one latent space, fused every step (base of the registered pairs)."""

    requires = ("torch", "diffusers", "transformers")

    steps: int = 50
    guidance: float = 5.0  # the large model's CFG, standard form u + g (k - u)
    guidance_small: float | None = None  # the small model's CFG; None = guidance
    gamma_w: float = 0.3
    sigma_min: float = 0.35
    sigma_max: float = 0.70
    gamma_hf: float = 0.7
    rms: bool = True
    dims: tuple[int, ...] = ALL_DIMS  # low-pass over (T, H, W); "-2,-1" for (H, W) only
    height: int = 480
    width: int = 832
    frames: int = 81
    fps: float = 16.0
    negative_prompt: str | None = None  # the large model's; None = its adapter's default
    large_model_path: str | None = None  # local diffusers folder or Hub id; None = the large model's default
    large_revision: str | None = None
    allow_heterogeneous: bool = False  # bridge even when the latent spaces differ (experiments only)
    batch_cfg: bool = True  # cond and uncond in one forward pass
    dtype: Dtype = "auto"
    device: str = "auto"

    fusion_name: ClassVar[str] = "upfb"
    #: the large model's adapter class (loads its pipeline exactly as when it runs alone)
    large_adapter: ClassVar[Any] = type(None)  # the large model's adapter class (wan.py, cogvideox.py)

    def __post_init__(self) -> None:
        self.upfb = UPFBConfig(self.gamma_w, self.sigma_min, self.sigma_max, self.gamma_hf, self.rms, tuple(self.dims))
        check_video_options(self.registry_name or type(self).__name__, self.steps, self.height, self.width, self.frames,
                             self.fps, min_steps=2)
        self._small: Denoiser | None = None
        self._large: Denoiser | None = None
        self.latent_differences: list[str] = []

    # --- what a pair provides ----------------------------------------------------------------------

    def build_denoisers(self, device: str, torch_dtype) -> tuple[Any, Any, frozenset[str]]:
        """``(small, large, convertible_keys)`` views with weights loaded."""
        raise NotImplementedError

    def small_prompt(self, prompt: str) -> str:
        return prompt

    def small_signature(self) -> dict[str, Any]:
        raise NotImplementedError

    def _large_adapter_instance(self):
        return self.large_adapter(model_path=self.large_model_path, revision=self.large_revision, dtype=self.dtype, device=self.device)

    def small_dtype(self) -> str:
        """The dtype the small model loads in (the large one loads in its adapter's own)."""
        return resolve_dtype(self.dtype, resolve_device(self.device), "bfloat16")

    # --- Generator interface -----------------------------------------------------------------------

    def fusion(self):
        from .sampling import DirectAddFusion, UPFBFusion

        return DirectAddFusion() if self.fusion_name == "direct-add" else UPFBFusion(self.upfb)

    def with_denoisers(self, small, large, convertible: frozenset[str] = frozenset()) -> BridgedGenerator:
        """Use these denoiser views (``load()`` builds them from weights; tests pass tiny ones)."""
        from .denoisers import check_homogeneous

        self.latent_differences = check_homogeneous(small.latent_space(), large.latent_space(), convertible=convertible,
                                                    allow=self.allow_heterogeneous)
        self._small, self._large = small, large
        return self

    def load(self) -> None:
        import torch

        if self._large is not None:
            return
        device = resolve_device(self.device)
        small, large, convertible = self.build_denoisers(device, getattr(torch, self.small_dtype()))
        self.with_denoisers(small, large, convertible)

    def _negative_prompt(self) -> str:
        if self.negative_prompt is not None:
            return self.negative_prompt
        return self.large_adapter.defaults.get("negative_prompt") or ""

    def generate(self, requests: Sequence[GenerationRequest]) -> list[GeneratedVideo]:
        from .sampling import bridged_sample, frames_uint8, seeded_generator

        self.prepare(requests)
        self.load()
        small, large = self._small, self._large
        assert small is not None and large is not None  # load() set them
        negative = self._negative_prompt()
        g_small = self.guidance if self.guidance_small is None else self.guidance_small
        out = []
        for r in requests:
            start = time.perf_counter()
            generator = seeded_generator(r.seed)
            cond_small = small.encode(self.small_prompt(r.prompt), negative)
            cond_large = large.encode(r.prompt, negative)
            latents = large.prepare_latents(1, self.height, self.width, self.frames, generator)
            latents = bridged_sample(small, large, cond_small, cond_large, latents, num_steps=self.steps,
                                     guidance_small=g_small, guidance_large=self.guidance, fusion=self.fusion(),
                                     generator=generator)
            frames = frames_uint8(large.decode(latents))[0]
            out.append(GeneratedVideo(frames, float(self.fps), info={"seconds": round(time.perf_counter() - start, 3)}))
        return out

    def signature(self) -> dict[str, Any]:
        # each model's own dtype: a pair may load in two (CogVideoX-2B float16, 5B bfloat16)
        sig = {
            "small": {**self.small_signature(), "dtype": self.small_dtype()},
            "large": {"model": self.large_model_path or self.large_adapter.default_model, "revision": self.large_revision,
                      "dtype": self._large_adapter_instance().dtype},
            "fusion": self.fusion_name,
            "steps": self.steps,
            "guidance": self.guidance,
            "guidance_small": self.guidance if self.guidance_small is None else self.guidance_small,
            "height": self.height, "width": self.width, "frames": self.frames, "fps": self.fps,
            "negative_prompt": self._negative_prompt(),
            "allow_heterogeneous": self.allow_heterogeneous,
            "batch_cfg": self.batch_cfg,
            "batch_size": 1,  # one video per loop
            "seed_policy": SEED_POLICY,
        }
        if self.fusion_name == "upfb":
            sig["upfb"] = self.upfb.as_dict()
        return sig

    def close(self) -> None:
        self._small = None
        self._large = None


@dataclass
class _OmniWanBridge(OmniVideoOptions, BridgedGenerator):
    """Omni-Video small + a Wan large model (base of lumos-nexus, lumos-nexus-wan2.2, direct-add)."""

    flow_shift: float | None = None  # the large model's UniPC shift; None = its adapter's default

    def small_prompt(self, prompt: str) -> str:
        return self._omni_prompt(prompt)

    def small_signature(self):
        return self._omni_signature()

    def _large_adapter_instance(self):
        # the bridge's size, so the adapter's default shift is the one for this resolution (Wan2.1: 5.0 from 720p)
        return self.large_adapter(model_path=self.large_model_path, revision=self.large_revision, flow_shift=self.flow_shift,
                                  height=self.height, width=self.width, dtype=self.dtype, device=self.device)

    def _large_denoiser(self, pipe, device):
        from .denoisers import WanDenoiser

        return WanDenoiser(pipe, device=device, batch_cfg=self.batch_cfg)

    def build_denoisers(self, device, torch_dtype):
        from .omnivideo import omnivideo_denoiser

        # the small model first: it is quick to load and its settings are the likelier to be wrong. Its own
        # scheduler is never stepped (the large one is); its config enters the homogeneity check
        pipe = self._omni_pipeline(torch_dtype, flow_shift=5.0).to(device)
        small = omnivideo_denoiser(pipe, self._store(), device=device, batch_cfg=self.batch_cfg)
        adapter = self._large_adapter_instance()
        adapter.load()
        return small, self._large_denoiser(adapter.pipe, device), frozenset()

    def signature(self):
        sig = super().signature()
        sig["large"]["flow_shift"] = self._large_adapter_instance().settings["flow_shift"]
        return sig


@register_generator("lumos-nexus")
@dataclass
class LumosNexus(_OmniWanBridge):
    """Lumos-Nexus: Omni-Video + Wan2.1-T2V-14B bridged by UPFB (paper defaults)."""

    large_adapter = Wan21T2V14B


@register_generator("direct-add")
@dataclass
class DirectAdd(_OmniWanBridge):
    """Direct Add baseline (paper Table 7): Omni-Video + Wan2.1-T2V-14B averaged at every step."""

    large_adapter = Wan21T2V14B
    fusion_name = "direct-add"


@register_generator("lumos-nexus-wan2.2")
@dataclass
class LumosNexusWan22(_OmniWanBridge):
    """Lumos-Nexus*: Omni-Video + Wan2.2-T2V-A14B (two experts switched at its boundary) bridged by UPFB.

    The paper does not give this variant's sampling settings. The large model keeps Wan2.2-A14B's own (40
    steps, CFG 4.0 for the high-noise expert and 3.0 for the low-noise one, shift 12), as when it runs alone,
    so a comparison with ``wan2.2-t2v-a14b`` changes only the bridge; the small model keeps the paper's 5.0.
    """

    large_adapter = Wan22T2VA14B
    steps: int = 40
    guidance: float = 4.0  # the high-noise expert's CFG
    guidance_small: float | None = 5.0
    guidance_2: float | None = 3.0  # the low-noise expert's CFG; None = guidance

    def _large_denoiser(self, pipe, device):
        from .denoisers import WanDenoiser

        return WanDenoiser(pipe, device=device, batch_cfg=self.batch_cfg, guidance_scale_2=self.guidance_2)

    def signature(self):
        sig = super().signature()
        sig["guidance_2"] = self.guidance if self.guidance_2 is None else self.guidance_2
        return sig


@register_generator("cogvideox-bridge")
@dataclass
class CogVideoXBridge(BridgedGenerator):
    """CogVideoX*: CogVideoX-2B -> 5B bridged by UPFB, with latent scaling and noise schedule converted explicitly."""

    height: int = 480
    width: int = 720
    frames: int = 49
    fps: float = 8.0
    guidance: float = 6.0
    small_model_path: str | None = None
    small_revision: str | None = None
    use_dynamic_cfg: bool = False  # CogVideoXPipeline's dynamic CFG, with the DPM scheduler it brings (cogvideox.py)

    large_adapter = CogVideoX5B

    # both adapters get the option, so each pipeline has the scheduler it has when it runs alone
    def _small_adapter_instance(self):
        return CogVideoX2B(model_path=self.small_model_path, revision=self.small_revision, use_dynamic_cfg=self.use_dynamic_cfg,
                           dtype=self.dtype, device=self.device)

    def _large_adapter_instance(self):
        return self.large_adapter(model_path=self.large_model_path, revision=self.large_revision,
                                  use_dynamic_cfg=self.use_dynamic_cfg, dtype=self.dtype, device=self.device)

    def small_dtype(self):
        return self._small_adapter_instance().dtype  # float16 on a GPU under dtype=auto, as 2B alone

    def build_denoisers(self, device, torch_dtype):
        from .denoisers import VP_CONVERTIBLE, CogVideoXDenoiser

        small_adapter, large_adapter = self._small_adapter_instance(), self._large_adapter_instance()
        small_adapter.load()
        large_adapter.load()
        options = dict(device=device, batch_cfg=self.batch_cfg, dynamic_cfg=self.use_dynamic_cfg)
        small = CogVideoXDenoiser(small_adapter.pipe, **options)
        large = CogVideoXDenoiser(large_adapter.pipe, **options)
        return self.reparameterise(small, large), large, VP_CONVERTIBLE

    @staticmethod
    def reparameterise(small, large):
        """The small view as seen in the large model's parameterisation (identity when they agree)."""
        from .parameterisation import Reparameterised, VPParameterisation

        return Reparameterised(small, VPParameterisation.of(small.pipe), VPParameterisation.of(large.pipe))

    def small_signature(self):
        return {"model": self.small_model_path or CogVideoX2B.default_model, "revision": self.small_revision}

    def signature(self):
        sig = super().signature()
        sig["use_dynamic_cfg"] = self.use_dynamic_cfg
        # the loop steps the large model's scheduler; named as the 5B adapter alone names it
        sig["large"]["scheduler"] = self._large_adapter_instance().signature()["scheduler"]
        return sig
