"""Property tests of the UPFB pure functions (generators/upfb.py) against shared/spec/UPFB.md."""

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from vrbench.errors import VRBenchError
from vrbench.generators.upfb import (
    UPFBConfig,
    bandwidth,
    direct_add,
    fuse_velocities,
    gaussian_lowpass,
    rms,
    temporal_weight,
)

settings.register_profile("upfb", max_examples=60, deadline=None)
settings.load_profile("upfb")

steps = st.integers(2, 80)
gammas = st.floats(0.05, 3.0)
sigmas = st.floats(0.05, 3.0)


@st.composite
def velocity(draw, scale_range=(1e-3, 1e3)):
    """A random [B, C, T, H, W] tensor (sizes 1..6 so odd, even and singleton dims all occur)."""
    shape = (draw(st.integers(1, 2)), draw(st.integers(1, 2)), *(draw(st.integers(1, 6)) for _ in range(3)))
    seed = draw(st.integers(0, 2**31 - 1))
    scale = draw(st.floats(*scale_range))
    g = torch.Generator().manual_seed(seed)
    return scale * torch.randn(shape, generator=g) + scale * torch.randn((), generator=g)


@st.composite
def velocity_pair(draw):
    a = draw(velocity())
    seed = draw(st.integers(0, 2**31 - 1))
    scale = draw(st.floats(1e-2, 1e2))
    return a, scale * torch.randn(a.shape, generator=torch.Generator().manual_seed(seed))


def configs(gamma_hf=st.floats(0.0, 1.0), rms_flag=st.booleans()):
    return st.builds(
        UPFBConfig,
        gamma_w=gammas,
        sigma_min=st.floats(0.05, 0.5),
        sigma_max=st.floats(0.5, 2.0),
        gamma_hf=gamma_hf,
        rms=rms_flag,
        dims=st.sampled_from([(-3, -2, -1), (-2, -1)]),
    )


def close(a, b, rel=2e-5):
    scale = max(b.abs().max().item(), 1e-30)
    return (a - b).abs().max().item() <= rel * scale


# --- temporal weight -------------------------------------------------------------------------------


@given(steps, gammas)
def test_weight_starts_at_one_ends_at_zero_and_decreases(num_steps, gamma_w):
    w = [temporal_weight(i, num_steps, gamma_w) for i in range(num_steps)]
    assert w[0] == 1.0 and w[-1] == 0.0
    assert all(0.0 <= x <= 1.0 for x in w)
    assert all(a >= b for a, b in zip(w, w[1:]))


@given(steps, gammas, gammas)
def test_smaller_gamma_w_hands_over_sooner(num_steps, g1, g2):
    lo, hi = sorted((g1, g2))
    for i in range(num_steps):
        assert temporal_weight(i, num_steps, lo) <= temporal_weight(i, num_steps, hi) + 1e-12


def test_weight_matches_the_spec_formula_and_rejects_bad_steps():
    assert temporal_weight(10, 50, 0.3) == pytest.approx(0.5 * (1 + math.cos(math.pi * (10 / 49) ** 0.3)))
    with pytest.raises(ValueError):
        temporal_weight(0, 1, 0.3)
    with pytest.raises(ValueError):
        temporal_weight(5, 5, 0.3)


def test_bandwidth_is_wide_early_and_narrow_late():
    c = UPFBConfig()
    assert bandwidth(1.0, c) == pytest.approx(0.70) and bandwidth(0.0, c) == pytest.approx(0.35)


# --- Gaussian low-pass -----------------------------------------------------------------------------


@given(velocity(), sigmas, st.sampled_from([(-3, -2, -1), (-2, -1), (-1,)]))
def test_lowpass_preserves_the_mean_and_splits_exactly(v, sigma, dims):
    lf = gaussian_lowpass(v, sigma, dims)
    assert lf.shape == v.shape and lf.dtype == torch.float32
    assert close(lf.mean(dim=dims), v.mean(dim=dims), rel=1e-5)
    hf = v - lf
    assert close(lf + hf, v, rel=1e-6)  # the split loses nothing (up to float32 rounding)


@given(velocity())
def test_lowpass_tends_to_identity_as_sigma_grows(v):
    assert close(gaussian_lowpass(v, 1e4), v, rel=1e-5)
    # and narrower means more smoothing: the high-frequency energy shrinks
    assert rms(v - gaussian_lowpass(v, 0.2)).sum() >= rms(v - gaussian_lowpass(v, 1.0)).sum() - 1e-6


def test_lowpass_matches_a_full_complex_fft_reference():
    v = torch.randn(2, 3, 5, 6, 7, generator=torch.Generator().manual_seed(0))
    f = [2 * torch.fft.fftfreq(n, dtype=torch.float64) for n in v.shape[2:]]
    f2 = f[0].view(-1, 1, 1) ** 2 + f[1].view(1, -1, 1) ** 2 + f[2].view(1, 1, -1) ** 2
    sigma = 0.5
    ref = torch.fft.ifftn(torch.fft.fftn(v.double(), dim=(2, 3, 4)) * torch.exp(-f2 / (2 * sigma**2)), dim=(2, 3, 4)).real
    assert close(gaussian_lowpass(v, sigma), ref.float(), rel=1e-5)


def test_hw_only_filter_acts_on_each_frame_alone():
    v = torch.randn(1, 2, 4, 6, 6, generator=torch.Generator().manual_seed(1))
    lf = gaussian_lowpass(v, 0.3, dims=(-2, -1))
    for t in range(4):
        assert close(lf[:, :, t], gaussian_lowpass(v[:, :, t : t + 1], 0.3, dims=(-2, -1))[:, :, 0])


def test_lowpass_keeps_constants_and_singleton_dims():
    v = torch.full((1, 1, 1, 4, 4), 3.0)
    assert torch.allclose(gaussian_lowpass(v, 0.1), v)


# --- fusion ----------------------------------------------------------------------------------------


@given(velocity(), steps, st.data(), configs(gamma_hf=st.just(1.0)))
def test_fusing_identical_velocities_with_gamma_hf_one_returns_them(v, num_steps, data, config):
    i = data.draw(st.integers(0, num_steps - 1))
    assert close(fuse_velocities(v, v.clone(), i, num_steps, config), v)


@given(velocity(), steps, st.data(), configs(gamma_hf=st.floats(0.0, 0.99), rms_flag=st.just(False)))
@pytest.mark.slow
def test_gamma_hf_below_one_damps_only_high_frequencies(v, num_steps, data, config):
    i = data.draw(st.integers(0, num_steps - 1))
    fused = fuse_velocities(v, v.clone(), i, num_steps, config)
    w = temporal_weight(i, num_steps, config.gamma_w)
    # identical inputs: v = LF + c * HF with c = w * gamma_hf + (1 - w) <= 1, i.e. the spectrum is
    # multiplied by M + c * (1 - M): 1 at DC (mean kept), falling towards c at high frequencies
    c = w * config.gamma_hf + (1 - w)
    lf = gaussian_lowpass(v, bandwidth(w, config), config.dims)
    assert close(fused, lf + c * (v - lf), rel=1e-5)
    assert close(fused.mean(dim=config.dims), v.mean(dim=config.dims), rel=1e-4)
    assert (fused.pow(2).sum() <= v.pow(2).sum() * (1 + 1e-5)).item()


@given(velocity_pair(), steps, configs())
@pytest.mark.slow
def test_at_w_one_the_large_velocity_only_enters_through_rms(pair, num_steps, config):
    v_s, v_l = pair
    g = torch.Generator().manual_seed(3)
    v_l2 = 7.0 * torch.randn(v_s.shape, generator=g)
    a = fuse_velocities(v_s, v_l, 0, num_steps, config)
    assert close(a, fuse_velocities(v_s, v_l2, 0, num_steps, config))
    assert close(a, fuse_velocities(v_s, None, 0, num_steps, config))  # the forward pass may be skipped


@given(velocity_pair(), steps, st.data(), configs(rms_flag=st.just(True)))
def test_rms_on_gives_the_small_models_rms(pair, num_steps, data, config):
    v_s, v_l = pair
    i = data.draw(st.integers(0, num_steps - 1))
    fused = fuse_velocities(v_s, v_l, i, num_steps, config)
    assert close(rms(fused), rms(v_s), rel=1e-4)


@given(velocity_pair(), steps, st.data(), configs(rms_flag=st.just(False)))
def test_rms_off_is_the_plain_bridge(pair, num_steps, data, config):
    v_s, v_l = pair
    i = data.draw(st.integers(0, num_steps - 1))
    w = temporal_weight(i, num_steps, config.gamma_w)
    sigma = bandwidth(w, config)
    lf_s, lf_l = gaussian_lowpass(v_s, sigma, config.dims), gaussian_lowpass(v_l, sigma, config.dims)
    expected = w * lf_s + (1 - w) * lf_l + w * config.gamma_hf * (v_s - lf_s) + (1 - w) * (v_l - lf_l)
    fused = fuse_velocities(v_s, v_l, i, num_steps, config)
    assert (fused - expected).abs().max() <= 1e-5 * max(v_s.abs().max(), v_l.abs().max())


def spec_fusion(v_s, v_l, i, num_steps, config):
    """UPFB.md steps 1 and 3-7 written out literally: both velocities split, fused, re-balanced."""
    w = temporal_weight(i, num_steps, config.gamma_w)
    if config.rms:
        v_l = v_l * rms(v_s) / (rms(v_l) + 1e-12)
    sigma = config.sigma_min + (config.sigma_max - config.sigma_min) * w
    lf_s, lf_l = gaussian_lowpass(v_s, sigma, config.dims), gaussian_lowpass(v_l, sigma, config.dims)
    hf_s, hf_l = v_s - lf_s, v_l - lf_l
    v = (w * lf_s + (1 - w) * lf_l) + (w * config.gamma_hf * hf_s + (1 - w) * hf_l)
    if config.rms:
        v = v * 0.5 * (rms(v_s) + rms(v_l)) / (rms(v) + 1e-12)
    return v


@given(velocity_pair(), steps, st.data(), configs())
def test_fusion_equals_the_spec_written_out(pair, num_steps, data, config):
    # fuse_velocities low-passes only v_S (the split is linear); the literal two-split form must agree
    v_s, v_l = pair
    i = data.draw(st.integers(0, num_steps - 1))
    fused = fuse_velocities(v_s, v_l, i, num_steps, config)
    expected = spec_fusion(v_s, v_l, i, num_steps, config)
    assert (fused - expected).abs().max() <= 2e-5 * max(expected.abs().max(), 1e-30)


def test_last_step_is_the_large_model_rescaled():
    g = torch.Generator().manual_seed(0)
    v_s, v_l = torch.randn(1, 2, 3, 4, 4, generator=g), 5 * torch.randn(1, 2, 3, 4, 4, generator=g)
    assert close(fuse_velocities(v_s, v_l, 9, 10, UPFBConfig(rms=False)), v_l)
    assert close(fuse_velocities(v_s, v_l, 9, 10, UPFBConfig()), v_l * rms(v_s) / rms(v_l))


def test_fusion_keeps_the_input_dtype_and_checks_its_inputs():
    v = torch.randn(1, 2, 3, 4, 4, dtype=torch.bfloat16)
    assert fuse_velocities(v, v, 1, 4, UPFBConfig()).dtype == torch.bfloat16
    with pytest.raises(ValueError, match="only where w_i == 1"):
        fuse_velocities(v, None, 1, 4, UPFBConfig())
    with pytest.raises(ValueError, match="shapes differ"):
        fuse_velocities(v, v[:, :1], 1, 4, UPFBConfig())


def test_direct_add_is_the_plain_average():
    a, b = torch.ones(1, 1, 1, 2, 2), 3 * torch.ones(1, 1, 1, 2, 2)
    assert torch.equal(direct_add(a, b), 2 * torch.ones(1, 1, 1, 2, 2))


@pytest.mark.parametrize(
    "kwargs, field",
    [({"gamma_w": 0}, "gamma_w"), ({"sigma_min": 0.9}, "sigma_min"), ({"gamma_hf": 1.5}, "gamma_hf"), ({"dims": (0, 1)}, "dims")],
)
def test_bad_configs_are_one_line_user_errors(kwargs, field):
    with pytest.raises(VRBenchError, match=field):
        UPFBConfig(**kwargs)
