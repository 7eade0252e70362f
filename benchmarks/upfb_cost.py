"""What UPFB costs: the fusion on a real 480p latent, and a bridged step against the large model alone.

1. ``fuse_velocities`` on a Wan 480p latent (1x16x21x60x104): median wall time in ms.
2. FLOPs of one forward of Wan2.1-T2V-1.3B and -14B at 832x480x81, counted from their published
   configs on the meta device (no weights), attention included. Their ratio sets a floor on any exact
   bridge: over T steps the bridge runs the small model T times and the large one T - 1 times (w_0 = 1
   makes the large forward at step 0 irrelevant, so it is skipped), hence >= 1 + ratio - 1/T.
3. Two pairs of tiny random Wan transformers sharing one large model and one VAE latent, the small
   model's FFN width solved so that the counted FLOP ratio hits a target:
   - ``1.3B:14B`` (0.093): the ratio of the two models' sizes;
   - ``480p`` (the ratio measured in 2.): what the real pair costs at the paper's resolution.
   For each, full ``--steps`` runs of the bridged loop and of the large model alone, through the same
   denoiser view (cond+uncond batched in one forward), interleaved step by step in one process and
   averaged over ``--repeats``: ms per step, their ratio, the FLOP floor, and what the implementation
   adds above it.

FLOPs are counted with torch's ``FlopCounterMode``, which does not count the CPU attention kernel
(``_scaled_dot_product_flash_attention_for_cpu``); it is mapped to the SDPA formula here, otherwise a
model's attention, the larger share of its FLOPs at 480p, would be left out.

Run: ``python benchmarks/upfb_cost.py [--device cuda] [--steps 50] [--repeats 2]``. Numbers depend on
the machine; the script prints which one it ran on.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from typing import Any

import torch
from torch.utils.flop_counter import FlopCounterMode, sdpa_flop_count

from vrbench.generators.bridge import UPFBFusion, WanDenoiser, bridged_steps, sample_steps, seeded_generator
from vrbench.generators.tiny import TINY_MAX_SEQUENCE_LENGTH, tiny_wan_components
from vrbench.generators.upfb import UPFBConfig, fuse_velocities

PARAMETER_RATIO = 1.3 / 14.0  # Wan2.1-T2V-1.3B : 14B by size

# Wan2.1-T2V transformer configs as published (config.json of the Diffusers repos on the Hub); shapes only.
WAN21_COMMON = dict(patch_size=(1, 2, 2), attention_head_dim=128, in_channels=16, out_channels=16, text_dim=4096,
                    freq_dim=256, cross_attn_norm=True, qk_norm="rms_norm_across_heads", eps=1e-6, rope_max_seq_len=1024)
WAN21 = {
    "1.3B": dict(WAN21_COMMON, num_attention_heads=12, ffn_dim=8960, num_layers=30),
    "14B": dict(WAN21_COMMON, num_attention_heads=40, ffn_dim=13824, num_layers=40),
}
LATENT_480P = (1, 16, 21, 60, 104)  # 832x480, 81 frames through Wan's VAE (8x space, 4x time)
TEXT_TOKENS = 512

# The tiny pair: a 1280-token latent, heads of 64 channels (Wan uses 128; with the test-sized 12-channel
# heads, per-op overhead rather than arithmetic would set both times).
TINY_SIZE = dict(height=256, width=256, num_frames=17)  # latent 16x5x32x32
TINY_LARGE = dict(width=640, layers=3, head_dim=64)
#: Small models: 3 layers, width 128 (1.3B:14B) or 192 (480p), FFN width solved; both land at an FFN
#: 3-4x their width, nearer the 1.3B's 5.8x than the 14B's 2.7x.
TINY_SMALL_LAYERS = 3


def _cpu_attention_flops(query, key, value, *args, out_shape=None, **kwargs) -> int:
    return sdpa_flop_count(query, key, value)


ATTENTION_FLOPS = {torch.ops.aten._scaled_dot_product_flash_attention_for_cpu: _cpu_attention_flops}


def forward_flops(config: dict[str, Any], latent_shape: tuple[int, ...], text_shape: tuple[int, ...]) -> int:
    """FLOPs of one ``WanTransformer3DModel`` forward, built from ``config`` on the meta device."""
    from diffusers import WanTransformer3DModel

    with torch.device("meta"):
        model = WanTransformer3DModel.from_config(config)
        inputs = dict(hidden_states=torch.empty(latent_shape), timestep=torch.tensor([500.0]),
                      encoder_hidden_states=torch.empty(text_shape), return_dict=False)
        with FlopCounterMode(display=False, custom_mapping=ATTENTION_FLOPS) as counter:
            model(**inputs)
    return counter.get_total_flops()


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def fusion_ms(device: str, repeats: int) -> float:
    g = torch.Generator().manual_seed(0)
    v_s = torch.randn(LATENT_480P, generator=g).to(device, torch.bfloat16 if device.startswith("cuda") else torch.float32)
    v_l = torch.randn(LATENT_480P, generator=g).to(v_s)
    config = UPFBConfig()
    times = []
    for k in range(repeats + 2):
        _sync(device)
        start = time.perf_counter()
        fuse_velocities(v_s, v_l, 10, 50, config)
        _sync(device)
        if k >= 2:  # the first calls build the cached masks
            times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def solve_ffn_dim(target: float, large_flops: int, small_config, latent_shape, text_shape) -> tuple[int, float]:
    """The small model's FFN width (a multiple of 16) whose FLOPs / ``large_flops`` is nearest ``target``.

    A forward's FLOPs are linear in the FFN width, so two counts fix the line.
    """
    lo, hi = 16, 16 * 64
    f_lo, f_hi = (forward_flops(small_config(ffn), latent_shape, text_shape) for ffn in (lo, hi))
    ffn = lo + (target * large_flops - f_lo) * (hi - lo) / (f_hi - f_lo)
    ffn = max(16, 16 * round(ffn / 16))
    return ffn, forward_flops(small_config(ffn), latent_shape, text_shape) / large_flops


def lockstep(loops: dict[str, Any], device: str, num_steps: int) -> dict[str, float]:
    """Run every loop to the end, one step of each in turn, and return each loop's total seconds.

    Interleaving step by step (rotating who goes first) means a change in machine load, common on a
    shared machine, hits every loop alike instead of whichever full run it happened to overlap.
    """
    iters = {name: make(num_steps) for name, make in loops.items()}
    totals = dict.fromkeys(iters, 0.0)
    names = list(iters)
    for i in range(num_steps):
        for name in names[i % len(names):] + names[: i % len(names)]:
            _sync(device)
            start = time.perf_counter()
            next(iters[name])
            _sync(device)
            totals[name] += time.perf_counter() - start
    return totals


def main() -> None:
    from diffusers import WanPipeline

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--repeats", type=int, default=3, help="timed full runs of each loop (averaged)")
    args = ap.parse_args()
    device, steps = args.device, args.steps
    where = torch.cuda.get_device_name(device) if device.startswith("cuda") else f"CPU ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"
    print(f"device: {where}; torch {torch.__version__}")

    print(f"fusion on a 1x16x21x60x104 latent: {fusion_ms(device, 3):.1f} ms (median of 3)")

    real = {name: forward_flops(cfg, LATENT_480P, (1, TEXT_TOKENS, 4096)) for name, cfg in WAN21.items()}
    real_ratio = real["1.3B"] / real["14B"]
    print(f"Wan2.1-T2V at 832x480x81, FLOPs per forward (published configs, attention counted): "
          f"1.3B {real['1.3B'] / 1e12:.0f} T, 14B {real['14B'] / 1e12:.0f} T, ratio {real_ratio:.3f} "
          f"(by size {PARAMETER_RATIO:.3f}); an exact bridge costs >= 1 + {real_ratio:.3f} - 1/{steps} = "
          f"{1 + real_ratio - 1 / steps:.3f}x the 14B alone (paper: 40.5 / 35.1 = 1.15x)")

    large_parts = tiny_wan_components(seed=1, **TINY_LARGE)
    shared = {k: large_parts[k] for k in ("vae", "text_encoder", "tokenizer")}
    large_pipe = WanPipeline(**large_parts).to(device)
    large = WanDenoiser(large_pipe, device=device, max_sequence_length=TINY_MAX_SEQUENCE_LENGTH)
    cond_l = large.encode("a red ball rolls off a table")
    z0 = large.prepare_latents(1, generator=seeded_generator(0), **TINY_SIZE)
    latent_shape, text_shape = tuple(z0.shape), tuple(cond_l.cond.shape)
    large_flops = forward_flops(large_pipe.transformer.config, latent_shape, text_shape)

    head_dim = TINY_LARGE["head_dim"]
    loops = {"large alone": lambda n: sample_steps(large, cond_l, z0, num_steps=n, guidance_scale=5.0)}
    floors = {}
    for label, target, width in (("1.3B:14B", PARAMETER_RATIO, 128), ("480p", real_ratio, 192)):
        def small_config(ffn: int, width=width):
            return dict(large_pipe.transformer.config, num_attention_heads=width // head_dim,
                        num_layers=TINY_SMALL_LAYERS, ffn_dim=ffn)

        ffn, ratio = solve_ffn_dim(target, large_flops, small_config, latent_shape, text_shape)
        small_pipe = WanPipeline(**tiny_wan_components(seed=0, width=width, layers=TINY_SMALL_LAYERS, head_dim=head_dim,
                                                       ffn_dim=ffn, **shared)).to(device)
        small = WanDenoiser(small_pipe, device=device, max_sequence_length=TINY_MAX_SEQUENCE_LENGTH)
        cond_s = small.encode("a red ball rolls off a table")
        print(f"pair {label}: small width {width} ffn {ffn} x{TINY_SMALL_LAYERS} vs large width {TINY_LARGE['width']} "
              f"ffn {2 * TINY_LARGE['width']} x{TINY_LARGE['layers']}, {latent_shape[2:]} latent: "
              f"FLOP ratio {ratio:.3f} (target {target:.3f})")
        loops[f"bridged {label}"] = (lambda s, c: lambda n: bridged_steps(
            s, large, c, cond_l, z0, num_steps=n, guidance_small=5.0, guidance_large=5.0,
            fusion=UPFBFusion(UPFBConfig())))(small, cond_s)
        floors[f"bridged {label}"] = 1 + ratio - 1 / steps

    lockstep(loops, device, 3)  # warm-up: allocator, kernels, cached masks
    runs = [lockstep(loops, device, steps) for _ in range(max(1, args.repeats))]
    per_step = {name: statistics.mean(run[name] for run in runs) / steps for name in loops}
    base = per_step["large alone"]
    print(f"large alone: {1000 * base:.1f} ms/step over {steps} steps (mean of {len(runs)} runs)")
    for name, floor in floors.items():
        measured = per_step[name] / base
        each = ", ".join(f"{run[name] / run['large alone']:.3f}" for run in runs)
        print(f"{name}: {1000 * per_step[name]:.1f} ms/step; bridged / large-alone = {measured:.3f}x (runs: {each}; "
              f"FLOP floor {floor:.3f}x, implementation adds {measured - floor:+.3f})")
    print("paper: 1.15x; issue target: <= 1.10x for a pair at the 1.3B:14B ratio")


if __name__ == "__main__":
    main()
