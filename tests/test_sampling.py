"""The bridged sampling loop (generators/bridge.py) on tiny random diffusers models, on CPU."""

import math

import numpy as np
import pytest
import torch

from vrbench.errors import VRBenchError
from vrbench.generators.denoisers import VP_CONVERTIBLE, CogVideoXDenoiser, WanDenoiser, check_homogeneous, dynamic_cfg_scale
from vrbench.generators.parameterisation import Reparameterised, VPParameterisation, convert_latent, convert_prediction, map_latent
from vrbench.generators.sampling import DirectAddFusion, UPFBFusion, bridged_sample, bridged_steps, sample, sample_steps, seeded_generator
from vrbench.generators.tiny import TINY_MAX_SEQUENCE_LENGTH as SEQ
from vrbench.generators.tiny import tiny_cogvideox_2b_5b_pair, tiny_wan22_vae, tiny_wan_components
from vrbench.generators.upfb import UPFBConfig

PROMPT = "a red ball rolls off a table"
SIZE = dict(height=32, width=32, num_frames=5)


@pytest.fixture(scope="module")
def wan():
    """Two tiny Wan transformers of different widths sharing one VAE and text encoder."""
    from diffusers import WanPipeline

    small = tiny_wan_components(seed=0, width=24)
    large = tiny_wan_components(seed=1, width=48, vae=small["vae"], text_encoder=small["text_encoder"], tokenizer=small["tokenizer"])
    return WanPipeline(**small), WanPipeline(**large)


def views(pipe, **kw):
    return WanDenoiser(pipe, max_sequence_length=SEQ, **kw)


def run_bridge(small, large, seed=0, steps=3, config=UPFBConfig(), fusion=None):
    cs, cl = small.encode(PROMPT), large.encode(PROMPT)
    g = seeded_generator(seed)
    z = large.prepare_latents(1, SIZE["height"], SIZE["width"], SIZE["num_frames"], g)
    return bridged_sample(small, large, cs, cl, z, num_steps=steps, guidance_small=5.0, guidance_large=5.0,
                          fusion=fusion or UPFBFusion(config), generator=g, progress=False)


def test_bridged_loop_runs_and_is_deterministic_per_seed(wan):
    small, large = views(wan[0]), views(wan[1])
    a, b, c = run_bridge(small, large, seed=0), run_bridge(small, large, seed=0), run_bridge(small, large, seed=1)
    assert a.shape == (1, 16, 2, 4, 4) and torch.isfinite(a).all()
    assert torch.equal(a, b)
    assert not torch.allclose(a, c)
    frames = large.decode(a)
    assert frames.shape == (1, 5, 32, 32, 3) and 0 <= frames.min() and frames.max() <= 1


@pytest.mark.slow
def test_stepping_the_loops_yields_every_step_and_ends_where_the_samplers_do(wan):
    small, large = views(wan[0]), views(wan[1])
    cs, cl = small.encode(PROMPT), large.encode(PROMPT)
    z = large.prepare_latents(1, SIZE["height"], SIZE["width"], SIZE["num_frames"], seeded_generator(0))
    fusion = UPFBFusion(UPFBConfig())
    steps = list(bridged_steps(small, large, cs, cl, z, num_steps=4, guidance_small=5.0, guidance_large=5.0, fusion=fusion))
    assert len(steps) == 4 and not torch.equal(steps[0], steps[-1])
    torch.testing.assert_close(steps[-1], bridged_sample(small, large, cs, cl, z, num_steps=4, guidance_small=5.0,
                                                         guidance_large=5.0, fusion=fusion, progress=False), rtol=0, atol=0)
    alone = list(sample_steps(large, cl, z, num_steps=4, guidance_scale=5.0))
    assert len(alone) == 4
    torch.testing.assert_close(alone[-1], sample(large, cl, z, num_steps=4, guidance_scale=5.0, progress=False), rtol=0, atol=0)


@pytest.mark.parametrize("batch_cfg", [True, False])
@pytest.mark.parametrize("rms", [True, False])
@pytest.mark.slow
def test_bridging_a_model_with_itself_equals_running_it_alone(wan, batch_cfg, rms):
    pipe = wan[1]
    alone = pipe(prompt=PROMPT, negative_prompt="", num_inference_steps=3, guidance_scale=5.0, max_sequence_length=SEQ,
                 generator=torch.Generator().manual_seed(0), output_type="latent", **SIZE).frames
    view = views(pipe, batch_cfg=batch_cfg)
    bridged = run_bridge(view, view, seed=0, config=UPFBConfig(gamma_hf=1.0, rms=rms))
    torch.testing.assert_close(bridged, alone, rtol=1e-4, atol=1e-4)


@pytest.mark.slow
def test_two_expert_view_switches_at_the_boundary():
    """Wan2.2-A14B layout: the bridge with itself still equals WanPipeline with both experts and guidance_scale_2."""
    from diffusers import WanPipeline

    pipe = WanPipeline(**tiny_wan_components(seed=3, width=24, two_stage=True))
    alone = pipe(prompt=PROMPT, negative_prompt="", num_inference_steps=4, guidance_scale=5.0, guidance_scale_2=2.0,
                 max_sequence_length=SEQ, generator=torch.Generator().manual_seed(0), output_type="latent", **SIZE).frames
    view = views(pipe, guidance_scale_2=2.0)
    t = pipe.scheduler.config.num_train_timesteps
    assert view._expert(torch.tensor(0.9 * t), 5.0) == (pipe.transformer, 5.0)
    assert view._expert(torch.tensor(0.5 * t), 5.0) == (pipe.transformer_2, 2.0)
    torch.testing.assert_close(run_bridge(view, view, steps=4, config=UPFBConfig(gamma_hf=1.0)), alone, rtol=1e-4, atol=1e-4)


def test_the_large_forward_is_skipped_only_where_it_cannot_matter(wan):
    calls = []

    class Counting(WanDenoiser):
        def guided_velocity(self, latents, t, cond, guidance_scale):
            calls.append(self.name)
            return super().guided_velocity(latents, t, cond, guidance_scale)

    small, large = Counting(wan[0], max_sequence_length=SEQ), Counting(wan[1], max_sequence_length=SEQ)
    small.name, large.name = "S", "L"
    run_bridge(small, large, steps=4, config=UPFBConfig(rms=True))
    assert calls == ["S", "S", "L", "S", "L", "S", "L"]  # step 0: w = 1, the large model has no effect
    calls.clear()
    run_bridge(small, large, steps=4, config=UPFBConfig(rms=False))
    assert calls == ["S", "S", "L", "S", "L", "L"]  # last step without RMS: w = 0, the small model has none
    calls.clear()
    run_bridge(small, large, steps=3, fusion=DirectAddFusion())
    assert calls == ["S", "L"] * 3


def test_direct_add_differs_from_upfb(wan):
    small, large = views(wan[0]), views(wan[1])
    assert not torch.allclose(run_bridge(small, large), run_bridge(small, large, fusion=DirectAddFusion()))


# --- homogeneity -----------------------------------------------------------------------------------


def test_wan_models_sharing_the_vae_are_homogeneous(wan):
    assert check_homogeneous(views(wan[0]).latent_space(), views(wan[1]).latent_space()) == []


def test_a_different_vae_is_refused_naming_the_keys(wan):
    from diffusers import WanPipeline

    other = tiny_wan_components(seed=2, width=24)
    other["vae"] = tiny_wan22_vae(seed=2)
    other["transformer"] = tiny_wan_components(seed=2, width=24, ti2v=True)["transformer"]
    heterogeneous = views(WanPipeline(**other)).latent_space()
    with pytest.raises(VRBenchError, match=r"vae\.z_dim.*allow_heterogeneous") as err:
        check_homogeneous(heterogeneous, views(wan[1]).latent_space())
    assert "\n" not in str(err.value) and "vae.spatial_compression" in str(err.value)
    assert "vae.z_dim" in check_homogeneous(heterogeneous, views(wan[1]).latent_space(), allow=True)


# --- CogVideoX: explicit re-parameterisation --------------------------------------------------------


@pytest.fixture(scope="module")
def cog():
    """A 2B-like (DDIM, snr shift 3, scale 1.15) and a 5B-like (DPM, snr shift 1, scale 0.7, RoPE) pair sharing VAE weights."""
    from diffusers import CogVideoXPipeline

    c2, c5 = tiny_cogvideox_2b_5b_pair()
    return CogVideoXPipeline(**c2), CogVideoXPipeline(**c5)


def cog_view(pipe):
    return CogVideoXDenoiser(pipe, max_sequence_length=SEQ)


def test_cogvideox_2b_and_5b_are_not_homogeneous_as_is(cog):
    s, l = cog_view(cog[0]).latent_space(), cog_view(cog[1]).latent_space()
    with pytest.raises(VRBenchError, match="scheduler.snr_shift_scale.*vae.scaling_factor"):
        check_homogeneous(s, l)
    assert check_homogeneous(s, l, convertible=VP_CONVERTIBLE) == ["scheduler.snr_shift_scale", "vae.scaling_factor"]


@pytest.mark.parametrize("t", [0, 1, 250.5, 500, 998, 999])
def test_converting_to_the_other_parameterisation_and_back_is_the_identity(cog, t):
    p2, p5 = VPParameterisation.of(cog[0]), VPParameterisation.of(cog[1])
    g = torch.Generator().manual_seed(0)
    z, v = torch.randn(2, 4, 3, 4, 4, generator=g, dtype=torch.float64), torch.randn(2, 4, 3, 4, 4, generator=g, dtype=torch.float64)
    there = map_latent(t, p5, p2)
    z2, v2 = convert_latent(z, there), convert_prediction(v, z, there)
    back = there.inverse()
    assert back.t_dst == t
    if 0 < there.t_dst < 999:  # inside the 2B table, reading the tables back gives the same map
        again = map_latent(there.t_dst, p2, p5)
        assert again.t_dst == pytest.approx(t, abs=1e-6) and again.c == pytest.approx(back.c)
        assert p2.alpha_bar(there.t_dst) == pytest.approx(there.a_dst**2, abs=1e-9)  # a proper 2B state at t_dst
    torch.testing.assert_close(convert_latent(z2, back), z)
    torch.testing.assert_close(convert_prediction(v2, z2, back), v)
    assert there.a_dst**2 + there.b_dst**2 == pytest.approx(1.0)


def test_conversion_preserves_the_clean_latent_and_the_noise(cog):
    """Same x and eps read in either parameterisation: x0 / scaling_factor and eps agree."""
    p2, p5 = VPParameterisation.of(cog[0]), VPParameterisation.of(cog[1])
    g = torch.Generator().manual_seed(1)
    x, eps = torch.randn(1, 4, 2, 4, 4, generator=g, dtype=torch.float64), torch.randn(1, 4, 2, 4, 4, generator=g, dtype=torch.float64)
    t = 400
    a5, b5 = p5.alpha_bar(t) ** 0.5, (1 - p5.alpha_bar(t)) ** 0.5
    z5 = a5 * p5.scaling_factor * x + b5 * eps
    v5 = a5 * eps - b5 * p5.scaling_factor * x
    m = map_latent(t, p5, p2)
    z2, v2 = convert_latent(z5, m), convert_prediction(v5, z5, m)
    a2, b2 = m.a_dst, m.b_dst
    torch.testing.assert_close((a2 * z2 - b2 * v2) / p2.scaling_factor, x)  # x0 in 2B scaling
    torch.testing.assert_close(b2 * z2 + a2 * v2, eps)


@pytest.mark.slow
def test_cogvideox_bridged_with_itself_equals_the_pipeline_alone(cog):
    pipe = cog[1]
    alone = pipe(prompt=PROMPT, negative_prompt="", num_inference_steps=3, guidance_scale=6.0, max_sequence_length=SEQ,
                 generator=torch.Generator().manual_seed(0), output_type="latent", height=16, width=16, num_frames=5).frames
    view = cog_view(pipe)
    param = VPParameterisation.of(pipe)
    small = Reparameterised(view, param, param)
    c = view.encode(PROMPT)
    g = seeded_generator(0)
    z = view.prepare_latents(1, 16, 16, 5, g)
    out = bridged_sample(small, view, c, c, z, num_steps=3, guidance_small=6.0, guidance_large=6.0,
                         fusion=UPFBFusion(UPFBConfig(gamma_hf=1.0)), generator=g, progress=False)
    torch.testing.assert_close(out.transpose(1, 2), alone, rtol=1e-4, atol=1e-4)
    # and one model alone through the same view is the pipeline exactly
    g = seeded_generator(0)
    z = view.prepare_latents(1, 16, 16, 5, g)
    torch.testing.assert_close(sample(view, c, z, num_steps=3, guidance_scale=6.0, generator=g, progress=False).transpose(1, 2), alone)


@pytest.mark.slow
def test_cogvideox_2b_to_5b_bridge_runs(cog):
    small_pipe, large_pipe = cog
    small = Reparameterised(cog_view(small_pipe), VPParameterisation.of(small_pipe), VPParameterisation.of(large_pipe))
    large = cog_view(large_pipe)
    g = seeded_generator(0)
    z = large.prepare_latents(1, 16, 16, 5, g)
    out = bridged_sample(small, large, small.encode(PROMPT), large.encode(PROMPT), z, num_steps=3, guidance_small=6.0,
                         guidance_large=6.0, fusion=UPFBFusion(UPFBConfig()), generator=g, progress=False)
    frames = large.decode(out)
    assert frames.shape[0] == 1 and frames.shape[2:] == (16, 16, 3) and np.isfinite(frames).all()


# -- wiring that a mutation of the loop or the generator cannot pass (issue 12) ---------------------


class _RecordingDenoiser:
    """A denoiser that records what it is asked: its conditioning is tagged with its own name, its
    stepper has its own (decoy, for the small model) timesteps, and its velocity is a fixed field."""

    def __init__(self, name: str, timesteps: list[float], log: list):
        self.name, self.log = name, log
        self.timesteps = torch.tensor(timesteps)
        self.device, self.batch_cfg, self.pipe = "cpu", True, None
        self.steppers = 0

    def encode(self, prompt, negative_prompt=""):
        from vrbench.generators.denoisers import Conditioning

        self.log.append((self.name, "encode", prompt))
        tag = torch.tensor([1.0 if self.name == "small" else 2.0])
        return Conditioning(tag, -tag)

    def guided_velocity(self, latents, t, cond, guidance_scale):
        self.log.append((self.name, "velocity", float(cond.cond[0]), float(guidance_scale), float(t)))
        return torch.full_like(latents, 0.1 if self.name == "small" else -0.1)

    def guidance_at(self, guidance_scale, t, num_steps):
        return guidance_scale

    def new_stepper(self, num_steps, generator):
        self.steppers += 1
        owner = self

        class Stepper:
            timesteps = owner.timesteps[:num_steps]

            def step(self, prediction, index, latents):
                owner.log.append((owner.name, "step", index))
                return latents + 0.01 * prediction

        return Stepper()

    def prepare_latents(self, batch, height, width, num_frames, generator):
        return torch.zeros(batch, 4, 2, height // 8, width // 8)

    def decode(self, latents):
        return np.zeros((latents.shape[0], 5, 8, 8, 3), np.float32)

    def latent_space(self):
        return {"vae.class": "same"}


def test_each_model_gets_its_own_conditioning_guidance_and_the_large_schedule():
    """Through the registered generator: the small model sees only its own prompt encoding and guidance,
    every step is the large scheduler's at the large scheduler's timesteps (the small's are a decoy)."""
    from vrbench.generator import GenerationRequest, get_generator

    log: list = []
    small = _RecordingDenoiser("small", [990.0, 660.0, 330.0], log)  # decoy schedule: never to be used
    large = _RecordingDenoiser("large", [999.0, 750.0, 500.0], log)
    gen = get_generator("cogvideox-bridge")(steps=3, height=16, width=16, frames=5, fps=8.0, guidance=6.0,
                                            guidance_small=2.5)
    gen.with_denoisers(small, large)
    gen.generate([GenerationRequest("c", "a ball rolls", 0)])
    velocities = [e for e in log if e[1] == "velocity"]
    assert {(who, tag, g) for who, _, tag, g, _ in velocities} == {("small", 1.0, 2.5), ("large", 2.0, 6.0)}
    assert sorted({t for *_, t in velocities}) == [500.0, 750.0, 999.0]
    assert [e for e in log if e[1] == "step"] == [("large", "step", i) for i in range(3)]
    assert small.steppers == 0 and large.steppers == 1


def _vp(alphas_cumprod, scaling_factor):
    return VPParameterisation(tuple(float(a) for a in alphas_cumprod), float(scaling_factor))


def test_reparameterised_small_model_sees_its_own_state_and_timestep():
    """An oracle inner model that returns the exact v-prediction for a known clean latent and noise, and
    checks that it is shown its own state: the conversion must rescale the latent, tell it its own
    timestep, and convert the prediction back exactly (CogVideoX-2B inside a 5B loop)."""
    from vrbench.generators.denoisers import Denoiser

    steps = torch.arange(1000, dtype=torch.float64)
    inner_param = _vp(torch.cos((steps / 1000 + 0.008) / 1.008 * torch.pi / 2) ** 2, 1.15258426)  # "2B"
    outer_param = _vp(torch.linspace(0.9999, 0.02, 1000), 0.7)  # "5B": another table, another latent scale
    g = torch.Generator().manual_seed(0)
    x, eps = torch.randn(1, 4, 2, 3, 3, generator=g, dtype=torch.float64), torch.randn(1, 4, 2, 3, 3, generator=g, dtype=torch.float64)

    class Oracle(Denoiser):
        seen: list = []

        def guided_velocity(self, latents, t, cond, guidance_scale):
            ab = inner_param.alpha_bar(float(t))
            a, b = ab ** 0.5, (1 - ab) ** 0.5
            expected_state = a * inner_param.scaling_factor * x + b * eps
            self.seen.append(float((latents.double() - expected_state).abs().max()))
            return a * eps - b * inner_param.scaling_factor * x

    view = Reparameterised(Oracle(None), inner_param, outer_param)
    for t_outer in (100.0, 400.0, 700.0):
        ab = outer_param.alpha_bar(t_outer)
        a, b = ab ** 0.5, (1 - ab) ** 0.5
        z = a * outer_param.scaling_factor * x + b * eps
        v = view.guided_velocity(z, torch.tensor(t_outer), None, 1.0).double()
        assert torch.allclose(v, a * eps - b * outer_param.scaling_factor * x, atol=1e-5), t_outer
    assert max(Oracle.seen) < 1e-5  # the inner model was shown exactly its own state at its own timestep


# -- CogVideoX as the large model alone: dynamic CFG, batch_cfg, per-model dtypes (issue 12) ---------


def _sample_view(view, steps, seed=0):
    g = seeded_generator(seed)
    z = view.prepare_latents(1, 16, 16, 5, g)
    return sample(view, view.encode(PROMPT), z, num_steps=steps, guidance_scale=6.0, generator=g, progress=False)


@pytest.mark.parametrize("layout", ["2b", "5b"])
def test_cogvideox_view_with_dynamic_cfg_equals_the_pipeline(layout):
    """As the adapter loads it (dynamic CFG brings DPM, trailing), the view alone and bridged with itself
    give CogVideoXPipeline(use_dynamic_cfg=True)'s latents."""
    from vrbench.generator import get_generator

    adapter = get_generator("tiny-cogvideox")(layout=layout, use_dynamic_cfg=True, device="cpu", dtype="float32")
    adapter.load()
    pipe = adapter.pipe
    assert type(pipe.scheduler).__name__ == "CogVideoXDPMScheduler"
    alone = pipe(prompt=PROMPT, negative_prompt="", num_inference_steps=4, guidance_scale=6.0, use_dynamic_cfg=True,
                 max_sequence_length=SEQ, generator=torch.Generator().manual_seed(0), output_type="latent",
                 height=16, width=16, num_frames=5).frames
    view = CogVideoXDenoiser(pipe, max_sequence_length=SEQ, dynamic_cfg=True)
    torch.testing.assert_close(_sample_view(view, 4).transpose(1, 2), alone)
    # bridged with itself: the loop asks both views for their scale, the small one through Reparameterised
    param = VPParameterisation.of(pipe)
    c = view.encode(PROMPT)
    g = seeded_generator(0)
    z = view.prepare_latents(1, 16, 16, 5, g)
    out = bridged_sample(Reparameterised(view, param, param), view, c, c, z, num_steps=4, guidance_small=6.0,
                         guidance_large=6.0, fusion=UPFBFusion(UPFBConfig(gamma_hf=1.0)), generator=g, progress=False)
    torch.testing.assert_close(out.transpose(1, 2), alone, rtol=1e-4, atol=1e-4)


def test_cogvideox_batch_cfg_off_makes_two_passes_with_the_same_result(cog):
    pipe = cog[1]
    batches: list[int] = []
    hook = pipe.transformer.register_forward_hook(
        lambda module, args, kwargs, out: batches.append(kwargs["hidden_states"].shape[0]), with_kwargs=True)
    results, calls = {}, {}
    try:
        for batch_cfg in (True, False):
            batches.clear()
            results[batch_cfg] = _sample_view(CogVideoXDenoiser(pipe, max_sequence_length=SEQ, batch_cfg=batch_cfg), 3)
            calls[batch_cfg] = list(batches)
    finally:
        hook.remove()
    assert calls == {True: [2] * 3, False: [1] * 6}  # per step: one pass of uncond+cond, or two of one each
    torch.testing.assert_close(results[False], results[True], rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("dpm, steps", [(True, 3), (True, 5), (False, 4)])
def test_dynamic_cfg_scale_is_the_pipelines_own(dpm, steps):
    """The scale CogVideoXPipeline itself sets at each of its timesteps, read back through a step callback."""
    from diffusers import CogVideoXPipeline

    from vrbench.generators.tiny import tiny_cogvideox_components

    pipe = CogVideoXPipeline(**tiny_cogvideox_components(0, dpm=dpm))
    seen = []

    def record(p, i, t, tensors):
        seen.append((t, p.guidance_scale))
        return {}

    pipe(prompt=PROMPT, num_inference_steps=steps, guidance_scale=6.0, use_dynamic_cfg=True, max_sequence_length=SEQ,
         height=16, width=16, num_frames=5, output_type="latent", callback_on_step_end=record)
    assert len(seen) == steps and len({scale for _, scale in seen}) > 1
    dynamic, static = CogVideoXDenoiser(pipe, dynamic_cfg=True), CogVideoXDenoiser(pipe)
    for t, scale in seen:
        assert dynamic_cfg_scale(6.0, t, steps) == scale
        assert dynamic.guidance_at(6.0, t, steps) == scale
        assert static.guidance_at(6.0, t, steps) == 6.0


def test_dynamic_cfg_scale_at_hand_computed_points():
    # 1 + g (1 - cos(pi ((N - t) / N)^5)) / 2, with t the timestep value
    assert dynamic_cfg_scale(6.0, 50, 50) == 1.0  # t = N: cos(0)
    assert dynamic_cfg_scale(6.0, 0, 50) == pytest.approx(7.0)  # t = 0: cos(pi), the full 1 + g
    assert dynamic_cfg_scale(6.0, 25, 50) == pytest.approx(1 + 3 * (1 - math.cos(math.pi / 32)))  # (1/2)^5 = 1/32
    assert dynamic_cfg_scale(4.0, torch.tensor(10), 20) == pytest.approx(1 + 2 * (1 - math.cos(math.pi / 32)))
    assert 1.0 <= dynamic_cfg_scale(6.0, 999, 50) <= 7.0  # a real timestep: far outside one period, yet in [1, 1 + g]


@pytest.mark.parametrize("dynamic", [False, True])
def test_cogvideox_bridge_loads_both_models_as_they_run_alone(monkeypatch, dynamic):
    """Both adapters get use_dynamic_cfg (so both pipelines get the DPM scheduler) and both views dynamic_cfg."""
    from diffusers import CogVideoXPipeline

    from vrbench.generator import GenerationRequest, get_generator
    from vrbench.generators.cogvideox import CogVideoX2B, CogVideoX5B

    c2, c5 = tiny_cogvideox_2b_5b_pair()
    monkeypatch.setattr(CogVideoX2B, "build_pipeline", lambda self, torch_dtype: CogVideoXPipeline(**c2))
    monkeypatch.setattr(CogVideoX5B, "build_pipeline", lambda self, torch_dtype: CogVideoXPipeline(**c5))
    gen = get_generator("cogvideox-bridge")(use_dynamic_cfg=dynamic, steps=3, height=16, width=16, frames=5, device="cpu")
    gen.load()
    small, large = gen._small.inner, gen._large
    assert small.dynamic_cfg is dynamic and large.dynamic_cfg is dynamic
    if dynamic:
        for view in (small, large):
            assert type(view.pipe.scheduler).__name__ == "CogVideoXDPMScheduler"
            assert view.pipe.scheduler.config.timestep_spacing == "trailing"
    else:
        assert type(small.pipe.scheduler).__name__ == "CogVideoXDDIMScheduler"  # the checkpoint's own
    sig = gen.signature()
    assert sig["use_dynamic_cfg"] is dynamic
    assert sig["large"]["scheduler"] == ("CogVideoXDPMScheduler (trailing)" if dynamic else "the checkpoint's")
    small.max_sequence_length = large.max_sequence_length = SEQ  # the tiny text length
    frames = gen.generate([GenerationRequest("c", "a ball", 0)])[0].frames
    assert frames.shape[1:] == (16, 16, 3)


def _patch_device(monkeypatch, device):
    """What device=auto resolves to, for signatures (they load no weights)."""
    from vrbench.generators import diffusers_video, lumos

    monkeypatch.setattr(diffusers_video, "resolve_device", lambda option: device)
    monkeypatch.setattr(lumos, "resolve_device", lambda option: device)


def test_cogvideox_bridge_signature_records_each_models_dtype(monkeypatch):
    from vrbench.generator import get_generator

    cls = get_generator("cogvideox-bridge")
    sig = cls(device="cpu").signature()  # dtype=auto on the CPU
    assert (sig["small"]["dtype"], sig["large"]["dtype"]) == ("float32", "float32")
    assert "dtype" not in sig and sig["batch_size"] == 1
    _patch_device(monkeypatch, "cuda:0")
    sig = cls().signature()  # dtype=auto on a GPU: each model's own, as it runs alone
    assert (sig["small"]["dtype"], sig["large"]["dtype"]) == ("float16", "bfloat16")
    sig = cls(dtype="float32").signature()
    assert (sig["small"]["dtype"], sig["large"]["dtype"]) == ("float32", "float32")


@pytest.mark.parametrize("device, expected", [("cpu", "float32"), ("cuda:0", "bfloat16")])
def test_omni_wan_bridge_signature_records_each_models_dtype(monkeypatch, device, expected):
    from vrbench.generator import get_generator

    _patch_device(monkeypatch, device)
    for name in ("lumos-nexus", "lumos-nexus-wan2.2", "direct-add"):
        sig = get_generator(name)().signature()
        assert (sig["small"]["dtype"], sig["large"]["dtype"]) == (expected, expected), name
        assert "dtype" not in sig and sig["batch_size"] == 1


def test_diffusers_signatures_record_batch_size():
    from vrbench.generator import get_generator

    for name in ("cogvideox-2b", "cogvideox-5b", "wan2.1-t2v-14b", "tiny-wan"):
        assert get_generator(name)().signature()["batch_size"] == 1, name
        assert get_generator(name)(batch_size=4).signature()["batch_size"] == 4, name


def test_cogvideox_view_keeps_the_pipelines_latent_dtype_between_steps():
    """CogVideoXPipeline casts the latents to its text embeddings' dtype after every step; in bfloat16 the
    view matches it only if it does the same."""
    from vrbench.generator import get_generator

    adapter = get_generator("tiny-cogvideox")(layout="5b", device="cpu", dtype="bfloat16")
    adapter.load()
    pipe = adapter.pipe
    alone = pipe(prompt=PROMPT, negative_prompt="", num_inference_steps=3, guidance_scale=6.0, max_sequence_length=SEQ,
                 generator=torch.Generator().manual_seed(0), output_type="latent", height=16, width=16, num_frames=5).frames
    assert alone.dtype == torch.bfloat16
    out = _sample_view(CogVideoXDenoiser(pipe, max_sequence_length=SEQ), 3).transpose(1, 2)
    assert out.dtype == torch.bfloat16
    torch.testing.assert_close(out, alone)
