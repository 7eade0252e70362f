"""Tiny randomly initialised diffusers components, built from configs in memory (no downloads).

Tests, the UPFB sampler's tests and ``vrbench demo`` use these to run the *real* diffusers pipelines
(``WanPipeline``, ``CogVideoXPipeline``) in seconds on a CPU. The weights are random, so the videos
are noise: these exercise code paths, never quality.

Every builder takes a ``seed`` and is deterministic: the same arguments give the same weights, and the
caller's global torch RNG is left untouched. Two Wan transformers of different widths can share one
VAE and one text encoder (the transformer's ``text_dim`` and ``in_channels`` follow the shared parts)::

    small = tiny_wan_components(seed=0, width=24)
    large = tiny_wan_components(seed=1, width=48, vae=small["vae"],
                                text_encoder=small["text_encoder"], tokenizer=small["tokenizer"])
    WanPipeline(**small)(prompt="a ball rolls", height=32, width=32, num_frames=5,
                         num_inference_steps=2, max_sequence_length=TINY_MAX_SEQUENCE_LENGTH)

The registered generators ``tiny-wan`` (``layout=wan2.1 | wan2.2-a14b | wan2.2-ti2v``) and
``tiny-cogvideox`` (``layout=2b | 5b``) are the real Wan / CogVideoX adapters with these components
in place of downloaded weights.
"""

from __future__ import annotations

import string
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Literal

from vrbench.generator import register_generator

from .cogvideox import _COGVIDEOX, CogVideoXGenerator
from .diffusers_video import Dtype
from .wan import _WAN21, WanGenerator

#: Text length the tiny components are sized for; pass it as ``max_sequence_length`` to the pipelines.
TINY_MAX_SEQUENCE_LENGTH = 16
#: Width of the tiny text encoders (the transformers' ``text_dim`` / ``text_embed_dim``).
TINY_TEXT_DIM = 32
#: Head size of the tiny Wan transformer; Wan's 3-axis RoPE splits a head into t/h/w parts, so keep it a multiple of 6.
TINY_WAN_HEAD_DIM = 12


@contextmanager
def _seeded(seed: int) -> Iterator[None]:
    """Initialise modules from ``seed`` without disturbing the caller's global RNG."""
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def tiny_tokenizer():
    """A T5 (unigram) tokenizer with a character vocabulary, built in memory.

    ``T5Tokenizer(vocab_file=...)`` silently ignores the file in transformers 5, so the vocabulary is
    passed as ``(piece, score)`` pairs. Ids 0/1/2 are pad/eos/unk, as in T5 and UMT5.
    """
    from transformers import T5Tokenizer

    specials = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0)]
    chars = string.ascii_letters + string.digits + string.punctuation
    pieces = [("\u2581", -1.0)] + [(c, -2.0) for c in chars] + [("\u2581" + c, -1.5) for c in string.ascii_lowercase]
    return T5Tokenizer(vocab=specials + pieces, extra_ids=0)


def tiny_text_encoder(seed: int = 0, *, umt5: bool = True, d_model: int = TINY_TEXT_DIM, vocab_size: int | None = None):
    """A one-layer UMT5 (Wan) or T5 (CogVideoX) encoder with random weights."""
    from transformers import T5Config, T5EncoderModel, UMT5Config, UMT5EncoderModel

    vocab_size = vocab_size or len(tiny_tokenizer())
    config_cls, model_cls = (UMT5Config, UMT5EncoderModel) if umt5 else (T5Config, T5EncoderModel)
    config = config_cls(
        vocab_size=vocab_size, d_model=d_model, d_kv=8, d_ff=2 * d_model, num_layers=1, num_heads=d_model // 8,
        relative_attention_num_buckets=8, relative_attention_max_distance=TINY_MAX_SEQUENCE_LENGTH,
        decoder_start_token_id=0, pad_token_id=0, eos_token_id=1,
    )
    with _seeded(seed):
        return model_cls(config).eval()


# ---------------------------------------------------------------------------------------------- Wan


def wan_scheduler(flow_shift: float = 3.0):
    """UniPC with flow prediction, as Wan's conversion script writes it; ``flow_shift`` is always explicit
    (3.0 for Wan2.1/2.2 T2V at 480p-720p, 5.0 for Wan2.2-TI2V-5B)."""
    from diffusers import UniPCMultistepScheduler

    return UniPCMultistepScheduler(
        prediction_type="flow_prediction", use_flow_sigmas=True, num_train_timesteps=1000, flow_shift=flow_shift
    )


def tiny_wan_transformer(seed: int = 0, *, width: int = 24, layers: int = 2, in_channels: int = 16,
                         text_dim: int = TINY_TEXT_DIM, head_dim: int = TINY_WAN_HEAD_DIM, ffn_dim: int | None = None):
    """A ``WanTransformer3DModel`` of hidden size ``width`` (a multiple of ``head_dim``) and ``layers`` blocks.

    ``ffn_dim`` defaults to ``2 * width``; Wan's own models range from 2.7x (14B) to 5.8x (1.3B).
    """
    from diffusers import WanTransformer3DModel

    if width % head_dim:
        raise ValueError(f"width must be a multiple of head_dim={head_dim}, got {width}")
    with _seeded(seed):
        return WanTransformer3DModel(
            patch_size=(1, 2, 2), num_attention_heads=width // head_dim, attention_head_dim=head_dim,
            in_channels=in_channels, out_channels=in_channels, text_dim=text_dim, freq_dim=32, ffn_dim=ffn_dim or 2 * width,
            num_layers=layers, cross_attn_norm=True, qk_norm="rms_norm_across_heads", rope_max_seq_len=32,
        ).eval()


def tiny_wan_vae(seed: int = 0, *, z_dim: int = 16):
    """An ``AutoencoderKLWan`` with Wan2.1's compression (4x in time, 8x in space) and very few channels."""
    from diffusers import AutoencoderKLWan

    with _seeded(seed):
        return AutoencoderKLWan(
            base_dim=3, z_dim=z_dim, dim_mult=[1, 1, 1, 1], num_res_blocks=1, temperal_downsample=[False, True, True],
            latents_mean=[0.0] * z_dim, latents_std=[1.0] * z_dim,
        ).eval()


def tiny_wan22_vae(seed: int = 0):
    """The Wan2.2-TI2V-5B VAE layout: 48 latent channels, residual blocks, 2x2 patchify, 16x in space."""
    from diffusers import AutoencoderKLWan

    with _seeded(seed):
        return AutoencoderKLWan(
            base_dim=8, decoder_base_dim=8, z_dim=48, dim_mult=[1, 1, 1, 1], num_res_blocks=1,
            temperal_downsample=[False, True, True], is_residual=True, in_channels=12, out_channels=12,
            patch_size=2, scale_factor_spatial=16, scale_factor_temporal=4,
            latents_mean=[0.0] * 48, latents_std=[1.0] * 48,
        ).eval()


def tiny_wan_components(seed: int = 0, *, width: int = 24, layers: int = 2, head_dim: int = TINY_WAN_HEAD_DIM,
                        ffn_dim: int | None = None, two_stage: bool = False,
                        ti2v: bool = False, flow_shift: float | None = None,
                        vae=None, text_encoder=None, tokenizer=None) -> dict[str, Any]:
    """Keyword arguments for ``WanPipeline(**components)``.

    ``two_stage=True`` adds ``transformer_2`` and ``boundary_ratio=0.875``, the Wan2.2-T2V-A14B layout.
    ``ti2v=True`` is the Wan2.2-TI2V-5B layout: its 48-channel VAE, ``expand_timesteps``, flow_shift 5.
    Pass ``vae`` / ``text_encoder`` / ``tokenizer`` to share them with another set of components.
    """
    if flow_shift is None:
        flow_shift = 5.0 if ti2v else 3.0
    tokenizer = tokenizer or tiny_tokenizer()
    text_encoder = text_encoder or tiny_text_encoder(seed, umt5=True, vocab_size=len(tokenizer))
    vae = vae or (tiny_wan22_vae(seed) if ti2v else tiny_wan_vae(seed))
    common = dict(width=width, layers=layers, head_dim=head_dim, ffn_dim=ffn_dim, in_channels=vae.config.z_dim, text_dim=text_encoder.config.d_model)
    components: dict[str, Any] = {
        "tokenizer": tokenizer,
        "text_encoder": text_encoder,
        "vae": vae,
        "scheduler": wan_scheduler(flow_shift),
        "transformer": tiny_wan_transformer(seed, **common),
    }
    if two_stage:
        components["transformer_2"] = tiny_wan_transformer(seed + 1, **common)
        components["boundary_ratio"] = 0.875
    if ti2v:
        components["expand_timesteps"] = True
    return components


# ---------------------------------------------------------------------------------------- CogVideoX


def cogvideox_scheduler(dpm: bool = False):
    """The CogVideoX scheduler config (v-prediction, zero-SNR, trailing); DDIM for 2B, DPM for 5B."""
    from diffusers import CogVideoXDDIMScheduler, CogVideoXDPMScheduler

    cls = CogVideoXDPMScheduler if dpm else CogVideoXDDIMScheduler
    return cls(
        beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", clip_sample=False,
        num_train_timesteps=1000, prediction_type="v_prediction", rescale_betas_zero_snr=True,
        set_alpha_to_one=True, snr_shift_scale=3.0, steps_offset=0, timestep_spacing="trailing",
    )


def tiny_cogvideox_transformer(seed: int = 0, *, width: int = 32, layers: int = 1, in_channels: int = 4,
                               text_dim: int = TINY_TEXT_DIM, rotary: bool = False):
    """A ``CogVideoXTransformer3DModel`` of hidden size ``width`` (heads of 16); ``rotary`` as in CogVideoX-5B.

    Heads of 16 because the 3D RoPE splits a head into t/h/w parts of 1/4, 3/8, 3/8 that must be even.
    """
    from diffusers import CogVideoXTransformer3DModel

    if width % 16:
        raise ValueError(f"width must be a multiple of 16, got {width}")
    with _seeded(seed):
        return CogVideoXTransformer3DModel(
            num_attention_heads=width // 16, attention_head_dim=16, in_channels=in_channels, out_channels=in_channels,
            time_embed_dim=4, text_embed_dim=text_dim, num_layers=layers, sample_width=4, sample_height=4,
            sample_frames=9, patch_size=2, temporal_compression_ratio=4, max_text_seq_length=TINY_MAX_SEQUENCE_LENGTH,
            use_rotary_positional_embeddings=rotary,
        ).eval()


def tiny_cogvideox_vae(seed: int = 0, *, latent_channels: int = 4):
    """An ``AutoencoderKLCogVideoX`` with CogVideoX's compression (4x in time, 8x in space) and 8 channels."""
    from diffusers import AutoencoderKLCogVideoX

    with _seeded(seed):
        return AutoencoderKLCogVideoX(
            in_channels=3, out_channels=3, down_block_types=("CogVideoXDownBlock3D",) * 4,
            up_block_types=("CogVideoXUpBlock3D",) * 4, block_out_channels=(8, 8, 8, 8),
            latent_channels=latent_channels, layers_per_block=1, norm_num_groups=2, temporal_compression_ratio=4,
        ).eval()


def tiny_cogvideox_components(seed: int = 0, *, width: int = 32, layers: int = 1, rotary: bool = False,
                              dpm: bool = False, vae=None, text_encoder=None, tokenizer=None) -> dict[str, Any]:
    """Keyword arguments for ``CogVideoXPipeline(**components)``; always pass
    ``max_sequence_length=TINY_MAX_SEQUENCE_LENGTH`` (the transformer is sized for it)."""
    tokenizer = tokenizer or tiny_tokenizer()
    text_encoder = text_encoder or tiny_text_encoder(seed, umt5=False, vocab_size=len(tokenizer))
    vae = vae or tiny_cogvideox_vae(seed)
    return {
        "tokenizer": tokenizer,
        "text_encoder": text_encoder,
        "vae": vae,
        "scheduler": cogvideox_scheduler(dpm),
        "transformer": tiny_cogvideox_transformer(
            seed, width=width, layers=layers, in_channels=vae.config.latent_channels,
            text_dim=text_encoder.config.d_model, rotary=rotary,
        ),
    }


def tiny_cogvideox_2b_5b_pair() -> tuple[dict[str, Any], dict[str, Any]]:
    """Components of a 2B-like and a 5B-like CogVideoX sharing VAE weights but, like the real pair,
    declaring different latent scaling (1.15 vs 0.7) and noise schedules (DDIM snr shift 3 vs DPM 1)."""
    import copy

    from diffusers import CogVideoXDPMScheduler

    c2 = tiny_cogvideox_components(seed=0, width=32)
    c5 = tiny_cogvideox_components(seed=1, width=64, rotary=True, dpm=True, vae=copy.deepcopy(c2["vae"]),
                                   text_encoder=c2["text_encoder"], tokenizer=c2["tokenizer"])
    c5["scheduler"] = CogVideoXDPMScheduler.from_config(c5["scheduler"].config, snr_shift_scale=1.0)
    c5["vae"].register_to_config(scaling_factor=0.7)
    return c2, c5


# ------------------------------------------------------------------------------- tiny generators
# Registered adapters that run the real Wan / CogVideoX adapter code on the tiny components above.

def _cast(components: dict[str, Any], torch_dtype, keys: tuple[str, ...]) -> dict[str, Any]:
    """Cast the named modules to ``torch_dtype`` (the VAE stays float32, as in the real adapters)."""
    import torch

    if torch_dtype != torch.float32:
        for key in keys:
            if key in components:
                components[key].to(torch_dtype)
    return components


_TINY: dict[str, Any] = dict(steps=2, height=48, width=64, frames=9, fps=8.0, negative_prompt="")


@register_generator("tiny-wan")
class TinyWan(WanGenerator):
    """Tiny random Wan through the real WanPipeline (seconds on CPU; videos are noise): tests and `vrbench demo`."""

    defaults = {**_WAN21, **_TINY}
    max_sequence_length = TINY_MAX_SEQUENCE_LENGTH

    def __init__(
        self,
        steps: int | None = None,
        guidance: float | None = None,
        guidance_2: float | None = None,
        flow_shift: float | None = None,
        height: int | None = None,
        width: int | None = None,
        frames: int | None = None,
        fps: float | None = None,
        negative_prompt: str | None = None,
        layout: Literal["wan2.1", "wan2.2-a14b", "wan2.2-ti2v"] = "wan2.1",
        hidden_size: int = 24,
        weights_seed: int = 0,
        dtype: Dtype = "auto",
        device: str = "auto",
        batch_size: int = 1,
    ):
        self.layout, self.hidden_size, self.weights_seed = layout, hidden_size, weights_seed
        self.two_stage = layout == "wan2.2-a14b"
        if layout == "wan2.2-ti2v":
            self.size_multiple = 32  # 16x VAE x 2x2 patches
            flow_shift = 5.0 if flow_shift is None else flow_shift
            height = 64 if height is None else height
        super().__init__(steps=steps, guidance=guidance, guidance_2=guidance_2, flow_shift=flow_shift, height=height,
                         width=width, frames=frames, fps=fps, negative_prompt=negative_prompt, dtype=dtype,
                         device=device, batch_size=batch_size)

    def model_signature(self) -> dict[str, Any]:
        return {"model": "tiny-random-wan", "layout": self.layout, "hidden_size": self.hidden_size,
                "weights_seed": self.weights_seed}

    def build_pipeline(self, torch_dtype):
        from diffusers import WanPipeline

        components = tiny_wan_components(self.weights_seed, width=self.hidden_size, two_stage=self.two_stage,
                                         ti2v=self.layout == "wan2.2-ti2v")
        return WanPipeline(**_cast(components, torch_dtype, ("text_encoder", "transformer", "transformer_2")))


@register_generator("tiny-cogvideox")
class TinyCogVideoX(CogVideoXGenerator):
    """Tiny random CogVideoX through the real CogVideoXPipeline (seconds on CPU; videos are noise): tests."""

    defaults = {**_COGVIDEOX, **_TINY}
    max_sequence_length = TINY_MAX_SEQUENCE_LENGTH

    def __init__(
        self,
        steps: int | None = None,
        guidance: float | None = None,
        use_dynamic_cfg: bool | None = None,
        height: int | None = None,
        width: int | None = None,
        frames: int | None = None,
        fps: float | None = None,
        negative_prompt: str | None = None,
        layout: Literal["2b", "5b"] = "2b",
        hidden_size: int = 32,
        weights_seed: int = 0,
        dtype: Dtype = "auto",
        device: str = "auto",
        batch_size: int = 1,
    ):
        self.layout, self.hidden_size, self.weights_seed = layout, hidden_size, weights_seed
        super().__init__(steps=steps, guidance=guidance, use_dynamic_cfg=use_dynamic_cfg, height=height, width=width,
                         frames=frames, fps=fps, negative_prompt=negative_prompt, dtype=dtype, device=device,
                         batch_size=batch_size)

    def model_signature(self) -> dict[str, Any]:
        return {"model": "tiny-random-cogvideox", "layout": self.layout, "hidden_size": self.hidden_size,
                "weights_seed": self.weights_seed}

    def build_pipeline(self, torch_dtype):
        from diffusers import CogVideoXPipeline

        five_b = self.layout == "5b"  # 5B: rotary position embeddings and the DPM scheduler
        components = tiny_cogvideox_components(self.weights_seed, width=self.hidden_size, rotary=five_b, dpm=five_b)
        return CogVideoXPipeline(**_cast(components, torch_dtype, ("text_encoder", "transformer")))
