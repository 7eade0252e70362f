"""Registered Lumos-Nexus generators: options from the CLI, signatures, and tiny end-to-end runs."""

import numpy as np
import pytest
import torch

from vrbench.errors import VRBenchError
from vrbench.generator import GenerationRequest, get_generator
from vrbench.generators.denoisers import CogVideoXDenoiser, WanDenoiser
from vrbench.generators.omnivideo import ContextStore, omnivideo_denoiser
from vrbench.generators.tiny import TINY_MAX_SEQUENCE_LENGTH as SEQ
from vrbench.generators.tiny import tiny_cogvideox_2b_5b_pair, tiny_wan_components
from vrbench.options import parse_options

NAMES = ["lumos-nexus", "lumos-nexus-wan2.2", "cogvideox-bridge", "direct-add"]
TINY = dict(steps=3, height=32, width=32, frames=5, fps=8.0, device="cpu", dtype="float32")


@pytest.mark.parametrize("name", NAMES)
def test_every_upfb_hyperparameter_comes_from_the_cli_and_reaches_the_signature(name):
    cls = get_generator(name)
    opts = parse_options(cls, ["gamma_w=0.2", "sigma_min=0.1", "sigma_max=0.9", "gamma_hf=0.6", "rms=false", "dims=-2,-1",
                               "steps=20", "guidance=4.5"])
    sig = cls(**opts).signature()
    assert sig["steps"] == 20 and sig["guidance"] == 4.5
    if name == "direct-add":
        assert sig["fusion"] == "direct-add" and "upfb" not in sig
    else:
        assert sig["upfb"] == {"gamma_w": 0.2, "sigma_min": 0.1, "sigma_max": 0.9, "gamma_hf": 0.6, "rms": False, "dims": [-2, -1]}


def test_defaults_are_the_papers():
    sig = get_generator("lumos-nexus")().signature()
    assert sig["upfb"] == {"gamma_w": 0.3, "sigma_min": 0.35, "sigma_max": 0.70, "gamma_hf": 0.7, "rms": True, "dims": [-3, -2, -1]}
    assert (sig["steps"], sig["guidance"], sig["height"], sig["width"], sig["frames"], sig["fps"]) == (50, 5.0, 480, 832, 81, 16.0)
    assert sig["large"]["model"] == "Wan-AI/Wan2.1-T2V-14B-Diffusers"
    star = get_generator("lumos-nexus-wan2.2")().signature()
    assert star["large"]["model"] == "Wan-AI/Wan2.2-T2V-A14B-Diffusers"
    # Lumos-Nexus*: the large model samples as Wan2.2-A14B alone does; the small model at the paper's 5.0
    alone = get_generator("wan2.2-t2v-a14b")().signature()
    assert (star["steps"], star["guidance"], star["guidance_2"], star["large"]["flow_shift"]) == (
        alone["steps"], alone["guidance"], alone["guidance_2"], alone["flow_shift"]) == (40, 4.0, 3.0, 12.0)
    assert star["guidance_small"] == 5.0
    assert get_generator("cogvideox-bridge")().signature()["small"]["model"] == "THUDM/CogVideoX-2b"
    # the large model's shift follows the bridge's resolution, as Wan2.1 alone does at that size
    assert sig["large"]["flow_shift"] == 3.0
    assert get_generator("lumos-nexus")(height=720, width=1280).signature()["large"]["flow_shift"] == 5.0
    assert get_generator("lumos-nexus")(height=720, width=1280, flow_shift=4.0).signature()["large"]["flow_shift"] == 4.0


@pytest.mark.parametrize("pair, match", [(["gamma_w=-1"], "gamma_w"), (["steps=1"], "steps"), (["rms=maybe"], "rms"),
                                         (["frames=80"], "frames"), (["nope=1"], "no option 'nope'")])
def test_bad_options_are_one_line_errors(pair, match):
    cls = get_generator("lumos-nexus")
    with pytest.raises(VRBenchError, match=match):
        cls(**parse_options(cls, pair))


@pytest.fixture(scope="module")
def tiny_pair(tmp_path_factory):
    """Tiny Omni-Video (its own context, width 24) and tiny Wan 'large' (width 48) sharing one VAE."""
    from diffusers import WanPipeline

    small = tiny_wan_components(seed=0, width=24)
    large = tiny_wan_components(seed=1, width=48, vae=small["vae"], text_encoder=small["text_encoder"], tokenizer=small["tokenizer"])
    omni_pipe = WanPipeline(tokenizer=None, text_encoder=None, vae=small["vae"], scheduler=small["scheduler"],
                            transformer=small["transformer"])
    ctx = tmp_path_factory.mktemp("ctx")
    (ctx / "omni_ckpts").mkdir()
    (ctx / "omni_ckpts" / "model.pt").write_bytes(b"stands for Omni-Video's checkpoints")
    return omni_pipe, WanPipeline(**large), ctx


def make(name, tiny_pair, **kw):
    omni_pipe, large_pipe, ctx = tiny_pair
    gen = get_generator(name)(context_dir=str(ctx), ckpt_dir=str(ctx / "omni_ckpts"), **TINY, **kw)
    store = gen._store()
    for prompt in ("a ball rolls", "a cup falls"):
        if store.missing([gen.prompt_prefix + prompt]):
            g = torch.Generator().manual_seed(len(prompt))
            store.put(gen.prompt_prefix + prompt, torch.randn(10, 32, generator=g), torch.randn(10, 32, generator=g))
    return gen.with_denoisers(omnivideo_denoiser(omni_pipe, store), WanDenoiser(large_pipe, max_sequence_length=SEQ))


def test_lumos_nexus_end_to_end_is_deterministic(tiny_pair):
    gen = make("lumos-nexus", tiny_pair)
    reqs = [GenerationRequest("c1", "a ball rolls", 0), GenerationRequest("c2", "a cup falls", 1)]
    a, b = gen.generate(reqs), gen.generate(reqs[:1])
    assert a[0].frames.shape == (5, 32, 32, 3) and a[0].frames.dtype == np.uint8 and a[0].fps == 8.0
    assert np.array_equal(a[0].frames, b[0].frames)
    assert not np.array_equal(a[0].frames, a[1].frames)


def test_ablation_switches_change_the_video(tiny_pair):
    req = [GenerationRequest("c1", "a ball rolls", 0)]
    base = make("lumos-nexus", tiny_pair).generate(req)[0].frames
    for variant in ({"rms": False}, {"gamma_w": 1.0}, {"sigma_min": 0.05, "sigma_max": 0.1}):
        assert not np.array_equal(make("lumos-nexus", tiny_pair, **variant).generate(req)[0].frames, base), variant
    assert not np.array_equal(make("direct-add", tiny_pair).generate(req)[0].frames, base)


def test_missing_omni_context_is_a_clear_error(tiny_pair, tmp_path):
    gen = make("lumos-nexus", tiny_pair)
    gen.context_dir = str(tmp_path)
    with pytest.raises(VRBenchError, match="no precomputed context"):
        gen.generate([GenerationRequest("c", "something new", 0)])


def test_a_heterogeneous_pair_is_refused_unless_allowed(tiny_pair):
    from diffusers import WanPipeline

    omni_pipe, _, ctx = tiny_pair
    parts = tiny_wan_components(seed=4, width=24, ti2v=True)
    other = WanDenoiser(WanPipeline(**{k: v for k, v in parts.items() if k != "expand_timesteps"}), max_sequence_length=SEQ)
    gen = get_generator("lumos-nexus")(context_dir=str(ctx), **TINY)
    with pytest.raises(VRBenchError, match="do not share a latent space.*vae.z_dim"):
        gen.with_denoisers(omnivideo_denoiser(omni_pipe, ContextStore(ctx, checkpoint="x")), other)
    allowed = get_generator("lumos-nexus")(context_dir=str(ctx), allow_heterogeneous=True, **TINY)
    assert "vae.z_dim" in allowed.with_denoisers(omnivideo_denoiser(omni_pipe, ContextStore(ctx, checkpoint="x")), other).latent_differences


@pytest.mark.slow
def test_cogvideox_bridge_end_to_end():
    from diffusers import CogVideoXPipeline

    c2, c5 = tiny_cogvideox_2b_5b_pair()
    cls = get_generator("cogvideox-bridge")
    small = CogVideoXDenoiser(CogVideoXPipeline(**c2), max_sequence_length=SEQ)
    large = CogVideoXDenoiser(CogVideoXPipeline(**c5), max_sequence_length=SEQ)
    gen = cls(**{**TINY, "height": 16, "width": 16})
    with pytest.raises(VRBenchError, match="snr_shift_scale"):
        gen.with_denoisers(small, large)  # without the explicit conversion the pair is refused
    from vrbench.generators.denoisers import VP_CONVERTIBLE

    gen.with_denoisers(cls.reparameterise(small, large), large, VP_CONVERTIBLE)
    frames = gen.generate([GenerationRequest("c", "a ball", 0)])[0].frames
    assert frames.dtype == np.uint8 and frames.shape[1:] == (16, 16, 3)
