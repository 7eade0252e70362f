"""What UPFB costs: the fusion on a real 480p latent, and a bridged step against the large model alone.

1. ``fuse_velocities`` on a Wan 480p latent (1x16x21x60x104): fastest wall time in ms.
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
4. ``--real-shapes`` (a GPU): the same timing with Wan2.1-T2V-1.3B and -14B transformers at their
   published shapes, random bf16 weights, on the 480p latent. On a GPU the tiny pairs of 3. cannot keep
   it busy (kernel launches, not arithmetic, set their time), so use this there.

FLOPs are counted with torch's ``FlopCounterMode``, which does not count the CPU attention kernel
(``_scaled_dot_product_flash_attention_for_cpu``); it is mapped to the SDPA formula here, otherwise a
model's attention, the larger share of its FLOPs at 480p, would be left out.

Run: ``python benchmarks/upfb_cost.py [--steps 50] [--repeats 3]`` on a CPU, or
``python benchmarks/upfb_cost.py --device cuda --real-shapes --steps 10 --repeats 1`` on a GPU.
Numbers depend on the machine; the script prints which one it ran on.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from dataclasses import dataclass
from typing import Any

import torch
from torch.utils.flop_counter import FlopCounterMode, sdpa_flop_count

from vrbench.generators.sampling import UPFBFusion, bridged_steps, sample_steps, seeded_generator
from vrbench.generators.denoisers import WanDenoiser
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
REAL_SIZE = dict(height=480, width=832, num_frames=81)
TEXT_TOKENS = 512  # Wan's UMT5 context
#: the context each model of the Lumos-Nexus pair attends to: Omni-Video's DiT (the fine-tuned 1.3B)
#: cross-attends over its padded 2560-token context (VLM adapter output, special tokens and UMT5), the
#: 14B over Wan's 512 tokens
CONTEXT_TOKENS = {"1.3B": 2560, "14B": TEXT_TOKENS}
PROMPT = "a red ball rolls off a table"

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
    return 1000 * min(times)  # on a shared machine noise only ever adds time


def solve_ffn_dim(target: float, large_flops: int, small_config, latent_shape, text_shape) -> tuple[int, float]:
    """The small model's FFN width (a multiple of 16) whose FLOPs / ``large_flops`` is nearest ``target``.

    A forward's FLOPs are linear in the FFN width, so two counts fix the line.
    """
    lo, hi = 16, 16 * 64
    f_lo, f_hi = (forward_flops(small_config(ffn), latent_shape, text_shape) for ffn in (lo, hi))
    ffn = lo + (target * large_flops - f_lo) * (hi - lo) / (f_hi - f_lo)
    ffn = max(16, 16 * round(ffn / 16))
    return ffn, forward_flops(small_config(ffn), latent_shape, text_shape) / large_flops


@dataclass
class Pair:
    label: str
    shapes: str
    small: WanDenoiser
    flop_ratio: float  # small / large FLOPs per forward, counted
    target: float


def tiny_pairs(device: str, real_ratio: float) -> tuple[WanDenoiser, "torch.Tensor", list[Pair]]:
    """One tiny large model and two tiny small ones, at the 1.3B:14B size ratio and at ``real_ratio``."""
    from diffusers import WanPipeline

    large_parts = tiny_wan_components(seed=1, **TINY_LARGE)
    shared = {k: large_parts[k] for k in ("vae", "text_encoder", "tokenizer")}
    large = WanDenoiser(WanPipeline(**large_parts).to(device), device=device, max_sequence_length=TINY_MAX_SEQUENCE_LENGTH)
    z0 = large.prepare_latents(1, generator=seeded_generator(0), **TINY_SIZE)
    large_config = large.pipe.transformer.config
    latent_shape, text_shape = tuple(z0.shape), (1, TINY_MAX_SEQUENCE_LENGTH, large_config["text_dim"])
    large_flops = forward_flops(large_config, latent_shape, text_shape)
    head_dim = TINY_LARGE["head_dim"]

    pairs = []
    for label, target, width in (("1.3B:14B", PARAMETER_RATIO, 128), ("480p", real_ratio, 192)):
        def small_config(ffn: int, width=width):
            return dict(large_config, num_attention_heads=width // head_dim, num_layers=TINY_SMALL_LAYERS, ffn_dim=ffn)

        ffn, ratio = solve_ffn_dim(target, large_flops, small_config, latent_shape, text_shape)
        parts = tiny_wan_components(seed=0, width=width, layers=TINY_SMALL_LAYERS, head_dim=head_dim, ffn_dim=ffn, **shared)
        small = WanDenoiser(WanPipeline(**parts).to(device), device=device, max_sequence_length=TINY_MAX_SEQUENCE_LENGTH)
        shapes = (f"small width {width} ffn {ffn} x{TINY_SMALL_LAYERS} vs large width {TINY_LARGE['width']} "
                  f"ffn {2 * TINY_LARGE['width']} x{TINY_LARGE['layers']}, {latent_shape[2:]} latent")
        pairs.append(Pair(label, shapes, small, ratio, target))
    return large, z0, pairs


def real_shaped_pair(device: str, real_ratio: float) -> tuple[WanDenoiser, "torch.Tensor", list[Pair]]:
    """Wan2.1-T2V-1.3B and -14B transformers at their published shapes with random bf16 weights, on a 480p latent.

    A forward's time does not depend on the weights' values, so no download is needed; the pair takes
    about 31 GB of GPU memory. They share a tiny VAE (never used: nothing is decoded) and a one-layer
    text encoder of the real width (4096) and each model's context length (2560 tokens for the small
    model, Omni-Video's context; 512 for the 14B).
    """
    from diffusers import WanPipeline, WanTransformer3DModel

    from vrbench.generators.tiny import tiny_text_encoder, tiny_tokenizer, tiny_wan_vae, wan_scheduler

    tokenizer = tiny_tokenizer()
    text_dim = WAN21["14B"]["text_dim"]
    shared = dict(tokenizer=tokenizer, text_encoder=tiny_text_encoder(0, d_model=text_dim, vocab_size=len(tokenizer)),
                  vae=tiny_wan_vae(0))
    views = {}
    for name, config in WAN21.items():
        default_dtype = torch.get_default_dtype()
        torch.set_default_dtype(torch.bfloat16)  # initialise in bf16: the 14B in float32 would take 57 GB
        try:
            with torch.device(device):
                transformer = WanTransformer3DModel(**config).eval()
        finally:
            torch.set_default_dtype(default_dtype)
        pipe = WanPipeline(transformer=transformer, scheduler=wan_scheduler(3.0), **shared).to(device)
        views[name] = WanDenoiser(pipe, device=device, max_sequence_length=CONTEXT_TOKENS[name])
    z0 = views["14B"].prepare_latents(1, generator=seeded_generator(0), **REAL_SIZE)
    shapes = f"1.3B vs 14B transformers (random bf16 weights), {tuple(z0.shape[2:])} latent"
    return views["14B"], z0, [Pair("Wan2.1 shapes", shapes, views["1.3B"], real_ratio, real_ratio)]


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
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--repeats", type=int, default=3, help="timed full runs of each loop (averaged)")
    ap.add_argument("--real-shapes", action="store_true",
                    help="time Wan2.1 1.3B vs 14B at their real shapes on a 480p latent (a GPU with 40 GB; try --steps 10 --repeats 1)")
    args = ap.parse_args()
    device, steps = args.device, args.steps
    where = torch.cuda.get_device_name(device) if device.startswith("cuda") else f"CPU ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"
    print(f"device: {where}; torch {torch.__version__}")

    print(f"fusion on a 1x16x21x60x104 latent: {fusion_ms(device, 10):.1f} ms (fastest of 10)")

    real = {name: forward_flops(cfg, LATENT_480P, (1, CONTEXT_TOKENS[name], cfg["text_dim"])) for name, cfg in WAN21.items()}
    plain_small = forward_flops(WAN21["1.3B"], LATENT_480P, (1, TEXT_TOKENS, WAN21["1.3B"]["text_dim"]))
    real_ratio = real["1.3B"] / real["14B"]
    print(f"Wan2.1-T2V at 832x480x81, FLOPs per forward (published configs, attention counted): "
          f"1.3B {plain_small / 1e12:.0f} T with Wan's 512-token context ({plain_small / real['14B']:.3f} of the 14B), "
          f"{real['1.3B'] / 1e12:.0f} T with Omni-Video's 2560-token context; 14B {real['14B'] / 1e12:.0f} T; "
          f"Lumos-Nexus ratio {real_ratio:.3f} (by size {PARAMETER_RATIO:.3f}); an exact bridge costs >= 1 + "
          f"{real_ratio:.3f} - 1/{steps} = {1 + real_ratio - 1 / steps:.3f}x the 14B alone (paper: 40.5 / 35.1 = 1.15x)")

    if device.startswith("cuda") and not args.real_shapes:
        print("note: tiny models leave a GPU idle between kernel launches; --real-shapes times the real shapes")
    large, z0, pairs = (real_shaped_pair if args.real_shapes else tiny_pairs)(device, real_ratio)
    cond_l = large.encode(PROMPT)
    loops = {"large alone": lambda n: sample_steps(large, cond_l, z0, num_steps=n, guidance_scale=5.0)}
    for pair in pairs:
        print(f"pair {pair.label}: {pair.shapes}: FLOP ratio {pair.flop_ratio:.3f} (target {pair.target:.3f})")
        cond_s = pair.small.encode(PROMPT)
        loops[pair.label] = (lambda small, cond: lambda n: bridged_steps(
            small, large, cond, cond_l, z0, num_steps=n, guidance_small=5.0, guidance_large=5.0,
            fusion=UPFBFusion(UPFBConfig())))(pair.small, cond_s)

    lockstep(loops, device, min(3, steps))  # warm-up: allocator, kernels, cached masks
    runs = [lockstep(loops, device, steps) for _ in range(max(1, args.repeats))]
    per_step = {name: statistics.mean(run[name] for run in runs) / steps for name in loops}
    base = per_step["large alone"]
    print(f"large alone: {1000 * base:.1f} ms/step over {steps} steps (mean of {len(runs)} runs)")
    for pair in pairs:
        measured, floor = per_step[pair.label] / base, 1 + pair.flop_ratio - 1 / steps
        each = ", ".join(f"{run[pair.label] / run['large alone']:.3f}" for run in runs)
        print(f"bridged {pair.label}: {1000 * per_step[pair.label]:.1f} ms/step; bridged / large-alone = {measured:.3f}x "
              f"(runs: {each}; FLOP floor {floor:.3f}x, implementation adds {measured - floor:+.3f})")
    print("paper: 1.15x; issue target: <= 1.10x for a pair at the 1.3B:14B ratio")


if __name__ == "__main__":
    main()
