"""The scripts in benchmarks/ keep running and count what they claim to count.

Their timings depend on the machine and are never checked here; only that each script runs end to end
on small settings and that the FLOP counts behind ``upfb_cost.py``'s ratios are right.
"""

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

pytestmark = pytest.mark.slow  # every test here takes seconds (processes, browsers, models)

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def load(name: str):
    spec = importlib.util.spec_from_file_location(f"benchmark_{name}", BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def upfb_cost():
    return load("upfb_cost")


def test_cpu_attention_is_counted(upfb_cost):
    # torch's counter has no formula for the CPU attention kernel; without the mapping this counts 0
    q = torch.randn(2, 3, 40, 16)
    with FlopCounterMode(display=False, custom_mapping=upfb_cost.ATTENTION_FLOPS) as counter:
        torch.nn.functional.scaled_dot_product_attention(q, q, q)
    assert counter.get_total_flops() == 2 * (2 * 2 * 3 * 40 * 40 * 16)  # QK^T and AV, 2 FLOPs per MAC


def test_real_wan21_flop_ratio_at_480p(upfb_cost):
    # the README's figure: with attention, the 1.3B costs ~17% of the 14B per forward, not 1.3/14
    flops = {name: upfb_cost.forward_flops(cfg, upfb_cost.LATENT_480P, (1, 512, 4096)) for name, cfg in upfb_cost.WAN21.items()}
    assert 0.165 < flops["1.3B"] / flops["14B"] < 0.172
    assert 1.6e15 < flops["14B"] < 1.75e15
    # Omni-Video's DiT (the small model of Lumos-Nexus) cross-attends over 2560 tokens: it costs more
    assert upfb_cost.CONTEXT_TOKENS == {"1.3B": 2560, "14B": 512}
    omni = upfb_cost.forward_flops(upfb_cost.WAN21["1.3B"], upfb_cost.LATENT_480P, (1, 2560, 4096))
    assert 0.174 < omni / flops["14B"] < 0.178


def test_ffn_width_is_solved_for_a_target_ratio(upfb_cost):
    large = dict(upfb_cost.WAN21["1.3B"], num_layers=2, num_attention_heads=4, attention_head_dim=64, ffn_dim=512)
    shape, text = (1, 16, 3, 16, 16), (1, 16, 4096)
    large_flops = upfb_cost.forward_flops(large, shape, text)
    ffn, ratio = upfb_cost.solve_ffn_dim(0.3, large_flops, lambda f: dict(large, num_attention_heads=1, ffn_dim=f), shape, text)
    assert ffn % 16 == 0 and abs(ratio - 0.3) < 0.01


def test_upfb_cost_runs_end_to_end(upfb_cost, monkeypatch, capsys):
    monkeypatch.setattr(upfb_cost, "TINY_SIZE", dict(height=32, width=32, num_frames=5))
    monkeypatch.setattr(sys, "argv", ["upfb_cost.py", "--device", "cpu", "--steps", "3", "--repeats", "1"])
    upfb_cost.main()
    out = capsys.readouterr().out
    assert "fusion on a 1x16x21x60x104 latent" in out
    assert "pair 1.3B:14B" in out and "FLOP ratio 0.093 (target 0.093)" in out
    assert out.count("bridged / large-alone") == 2


def test_upfb_cost_real_shapes_path_runs_on_shrunk_configs(upfb_cost, monkeypatch, capsys):
    # the real shapes need a GPU; the same code path with one-layer configs runs here
    shrunk = {name: dict(cfg, num_layers=1, num_attention_heads=1, ffn_dim=64, text_dim=32) for name, cfg in upfb_cost.WAN21.items()}
    monkeypatch.setattr(upfb_cost, "WAN21", shrunk)
    monkeypatch.setattr(upfb_cost, "REAL_SIZE", dict(height=32, width=32, num_frames=5))
    monkeypatch.setattr(sys, "argv", ["upfb_cost.py", "--device", "cpu", "--real-shapes", "--steps", "2", "--repeats", "1"])
    upfb_cost.main()
    assert "bridged Wan2.1 shapes" in capsys.readouterr().out


def test_judge_throughput_runs_end_to_end():
    done = subprocess.run([sys.executable, str(BENCHMARKS / "judge_throughput.py"), "--latency", "0.001", "--videos", "4"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "questions/s" in done.stdout and "decode 832x480" in done.stdout
