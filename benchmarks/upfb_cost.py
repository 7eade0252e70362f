"""What UPFB costs: the fusion on a real 480p latent, and a bridged step against the large model alone.

1. ``fuse_velocities`` on a Wan 480p latent (1x16x21x60x104), median wall time in ms.
2. Two tiny random Wan transformers whose FLOP ratio matches Wan2.1-1.3B : 14B (measured with
   torch's FlopCounterMode and printed), one shared tiny VAE latent; a full ``--steps`` run of the
   bridged loop vs the large model alone through the same denoiser view, in the same process:
   seconds per step and their ratio (paper: 40.5 / 35.1 = 1.15x; target <= 1.10x). The bridge
   batches cond+uncond in one forward and skips the large model's forward at w_0 = 1, where it has
   no effect on the fused velocity.

Run: ``python benchmarks/upfb_cost.py [--device cuda] [--steps 50]``. Numbers depend on the machine;
the script prints which one it ran on.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import torch

from vrbench.generators.bridge import UPFBFusion, WanDenoiser, bridged_sample, sample, seeded_generator
from vrbench.generators.tiny import TINY_MAX_SEQUENCE_LENGTH, tiny_wan_components
from vrbench.generators.upfb import UPFBConfig, fuse_velocities

PAPER_FLOP_RATIO = 1.3 / 14.0  # Wan2.1-T2V-1.3B : 14B


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def fusion_ms(device: str, repeats: int) -> float:
    g = torch.Generator().manual_seed(0)
    shape = (1, 16, 21, 60, 104)
    v_s = torch.randn(shape, generator=g).to(device, torch.bfloat16 if device.startswith("cuda") else torch.float32)
    v_l = torch.randn(shape, generator=g).to(v_s)
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


def forward_flops(pipe, latents, cond) -> int:
    from torch.utils.flop_counter import FlopCounterMode

    view = WanDenoiser(pipe, max_sequence_length=TINY_MAX_SEQUENCE_LENGTH)
    with FlopCounterMode(display=False) as counter:
        view.guided_velocity(latents, torch.tensor(500.0), cond, 5.0)
    return counter.get_total_flops()


def main() -> None:
    from diffusers import WanPipeline

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    device = args.device
    where = torch.cuda.get_device_name(device) if device.startswith("cuda") else f"CPU ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"
    print(f"device: {where}; torch {torch.__version__}")

    print(f"fusion on a 1x16x21x60x104 latent: {fusion_ms(device, args.repeats):.1f} ms (median of {args.repeats})")

    # Widths chosen so that small:large FLOPs per forward ~ 1.3B:14B. Heads of 64 channels (Wan uses 128):
    # with the test-sized 12-channel heads, per-op overhead, not arithmetic, would set both times.
    small_parts = tiny_wan_components(seed=0, width=192, layers=3, head_dim=64)
    large_parts = tiny_wan_components(seed=1, width=640, layers=3, head_dim=64, vae=small_parts["vae"],
                                      text_encoder=small_parts["text_encoder"], tokenizer=small_parts["tokenizer"])
    small_pipe, large_pipe = WanPipeline(**small_parts).to(device), WanPipeline(**large_parts).to(device)
    small, large = (WanDenoiser(p, device=device, max_sequence_length=TINY_MAX_SEQUENCE_LENGTH) for p in (small_pipe, large_pipe))
    cond_s, cond_l = small.encode("a red ball rolls off a table"), large.encode("a red ball rolls off a table")
    height, width, frames = 256, 256, 17  # latent 16x5x32x32 -> 1280 tokens
    z0 = large.prepare_latents(1, height, width, frames, seeded_generator(0))
    ratio = forward_flops(small_pipe, z0, cond_s) / forward_flops(large_pipe, z0, cond_l)
    print(f"tiny transformers: small/large FLOPs per forward = {ratio:.3f} (1.3B/14B = {PAPER_FLOP_RATIO:.3f})")

    def run_bridge():
        return bridged_sample(small, large, cond_s, cond_l, z0, num_steps=args.steps, guidance_small=5.0, guidance_large=5.0,
                              fusion=UPFBFusion(UPFBConfig()), progress=False)

    def run_large():
        return sample(large, cond_l, z0, num_steps=args.steps, guidance_scale=5.0, progress=False)

    timings: dict[str, list[float]] = {"bridged": [], "large alone": []}
    for name, fn in (("bridged", run_bridge), ("large alone", run_large)):
        fn()  # warm-up
    for _ in range(max(1, args.repeats // 2)):
        for name, fn in (("bridged", run_bridge), ("large alone", run_large)):  # interleaved: same conditions
            _sync(device)
            start = time.perf_counter()
            fn()
            _sync(device)
            timings[name].append((time.perf_counter() - start) / args.steps)
    per_step = {k: statistics.median(v) for k, v in timings.items()}
    for name, s in per_step.items():
        print(f"{name}: {1000 * s:.1f} ms/step over {args.steps} steps")
    print(f"bridged / large-alone step time: {per_step['bridged'] / per_step['large alone']:.3f}x "
          f"(paper 1.15x; target <= 1.10x; FLOP-only estimate {1 + ratio - 1 / args.steps:.3f}x)")


if __name__ == "__main__":
    main()
