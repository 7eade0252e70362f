"""Omni-Video adapter: DiT conversion + cache, per-prompt contexts, and a tiny end-to-end run on CPU."""

import re

import numpy as np
import pytest
import torch

from vrbench.errors import VRBenchError
from vrbench.generator import GenerationRequest, get_generator
from vrbench.generators.omnivideo import ContextStore, build_contexts, convert_transformer_state_dict
from vrbench.generators.tiny import tiny_wan_components

# diffusers -> original Wan key names, to write a checkpoint the way Omni-Video stores its DiT
_TO_ORIGINAL = [
    ("condition_embedder.time_embedder.linear_1", "time_embedding.0"),
    ("condition_embedder.time_embedder.linear_2", "time_embedding.2"),
    ("condition_embedder.text_embedder.linear_1", "text_embedding.0"),
    ("condition_embedder.text_embedder.linear_2", "text_embedding.2"),
    ("condition_embedder.time_proj", "time_projection.1"),
    ("attn1", "self_attn"), ("attn2", "cross_attn"),
    (".to_out.0.", ".o."), (".to_q.", ".q."), (".to_k.", ".k."), (".to_v.", ".v."),
    ("ffn.net.0.proj", "ffn.0"), ("ffn.net.2", "ffn.2"), ("proj_out", "head.head"),
]


def to_original(state):
    out = {}
    for key, value in state.items():
        for new, old in _TO_ORIGINAL:
            key = key.replace(new, old)
        key = re.sub(r"^scale_shift_table$", "head.modulation", key)
        key = re.sub(r"\.scale_shift_table$", ".modulation", key)
        key = key.replace("norm2", "norm__x").replace("norm3", "norm2").replace("norm__x", "norm3")
        out[key] = value.clone()
    return out


@pytest.fixture(scope="module")
def omni(tmp_path_factory):
    """A tiny 'Wan2.1-1.3B' base folder and an Omni-Video-style checkpoint (DiT + adapter weights)."""
    root = tmp_path_factory.mktemp("omni")
    parts = tiny_wan_components(seed=5, width=24)
    base = root / "base"
    parts["vae"].save_pretrained(base / "vae")
    parts["scheduler"].save_pretrained(base / "scheduler")
    parts["transformer"].save_config(base / "transformer")
    (root / "ckpts" / "transformer").mkdir(parents=True)
    torch.save(upstream_layout(parts["transformer"].state_dict()), root / "ckpts" / "transformer" / "model.pt")
    return root, parts


def upstream_layout(dit_state):
    """A state dict laid out as upstream's model.pt: the state of its mixed-condition model, whose Wan DiT
    is ``.wan_model`` (original Wan key names) beside the adapter, the AR vision head and the visual adapter."""
    state = {f"wan_model.{k}": v for k, v in to_original(dit_state).items()}
    state["adapter.query"] = torch.zeros(4, 8)
    state["adapter.layers.0.q.weight"] = torch.zeros(8, 8)
    state["ar_vision_head.proj.weight"] = torch.zeros(8, 8)
    state["visual_context_adapter.proj.weight"] = torch.zeros(8, 8)
    return state


def test_conversion_takes_the_dit_of_upstreams_mixed_model(omni):
    _, parts = omni
    expected = parts["transformer"].state_dict()
    converted = convert_transformer_state_dict(upstream_layout(expected), expected.keys())
    assert converted.keys() == expected.keys()
    assert all(torch.equal(converted[k], expected[k]) for k in expected)


def test_conversion_uses_the_wan_table_and_drops_other_modules(omni):
    _, parts = omni
    expected = parts["transformer"].state_dict()
    converted = convert_transformer_state_dict({"module": to_original(expected), "adapter.x": torch.zeros(1)}, expected.keys())
    assert converted.keys() == expected.keys()
    assert all(torch.equal(converted[k], expected[k]) for k in expected)
    incomplete = to_original(expected)
    incomplete.pop("patch_embedding.weight")
    with pytest.raises(VRBenchError, match="lacks 1 Wan DiT weights"):
        convert_transformer_state_dict(incomplete, expected.keys())


def test_missing_upstream_is_a_clear_error(tmp_path):
    with pytest.raises(VRBenchError, match="upstream_python=.*upstream_repo=") as err:
        build_contexts(["p"], ContextStore(tmp_path, checkpoint="x"), upstream_python=None, upstream_repo=None, ckpt_dir=None)
    assert "\n" not in str(err.value)
    with pytest.raises(VRBenchError, match="not an Omni-Video1 checkout"):
        build_contexts(["p"], ContextStore(tmp_path, checkpoint="x"), upstream_python="python", upstream_repo=str(tmp_path),
                       ckpt_dir=None)


def test_omni_video_end_to_end_with_tiny_components(omni, tmp_path):
    root, parts = omni
    cls = get_generator("omni-video")
    gen = cls(ckpt_dir=str(root / "ckpts"), base_model=str(root / "base"), context_dir=str(tmp_path / "ctx"),
              cache_dir=str(tmp_path / "cache"), steps=2, height=32, width=32, frames=5, fps=8.0, device="cpu", dtype="float32")
    requests = [GenerationRequest("c1", "a ball rolls", 0)]
    with pytest.raises(VRBenchError, match="no precomputed context"):
        gen.generate(requests)
    store = gen._store()  # keyed by the checkpoint's fingerprint
    g = torch.Generator().manual_seed(0)
    store.put(gen.prompt_prefix + "a ball rolls", torch.randn(12, 32, generator=g), torch.randn(12, 32, generator=g))
    videos = gen.generate(requests)
    assert videos[0].frames.shape == (5, 32, 32, 3) and videos[0].frames.dtype == np.uint8 and videos[0].fps == 8.0
    # the converted DiT is cached as safetensors and equals the checkpoint's weights
    cached = list((tmp_path / "cache").glob("transformer-*/*.safetensors"))
    assert len(cached) == 1
    dit = gen._denoiser.pipe.transformer
    assert all(torch.equal(dit.state_dict()[k], v) for k, v in parts["transformer"].state_dict().items())
    again = cls(ckpt_dir=str(root / "ckpts"), base_model=str(root / "base"), context_dir=str(tmp_path / "ctx"),
                cache_dir=str(tmp_path / "cache"), steps=2, height=32, width=32, frames=5, fps=8.0, device="cpu", dtype="float32")
    assert np.array_equal(again.generate(requests)[0].frames, videos[0].frames)  # deterministic, from the cache
    sig = gen.signature()
    assert sig["guidance"] == 6.0 and sig["flow_shift"] == 5.0 and sig["steps"] == 2
    assert sig["contexts"] == {"checkpoint": store.identity["checkpoint"], "builder": 2, "context_len": 2560,
                               "upstream_flags": "tools/inference/inference.sh (t2v)"}


def test_omni_video_needs_its_checkpoints(tmp_path):
    gen = get_generator("omni-video")(context_dir=str(tmp_path), device="cpu")
    with pytest.raises(VRBenchError, match="needs --gen-arg ckpt_dir"):
        gen.generate([GenerationRequest("c", "p", 0)])


def test_a_conversion_finished_by_another_process_is_used(omni, tmp_path, monkeypatch):
    """Under torchrun every rank may convert; the one whose rename loses takes the winner's copy, not a crash."""
    import os

    from vrbench.generators import omnivideo

    root, parts = omni
    real_replace = os.replace

    def another_rank_wins(src, dst):
        from pathlib import Path

        Path(dst).mkdir()
        (Path(dst) / "config.json").write_text((Path(src) / "config.json").read_text())
        for f in Path(src).glob("*.safetensors"):
            (Path(dst) / f.name).write_bytes(f.read_bytes())
        real_replace(src, dst)  # now fails: "Directory not empty"

    monkeypatch.setattr(omnivideo.os, "replace", another_rank_wins)
    dit = omnivideo.load_transformer(root / "ckpts", base_model=str(root / "base"), cache_dir=tmp_path / "cache")
    assert all(torch.equal(dit.state_dict()[k], v) for k, v in parts["transformer"].state_dict().items())
    assert [p.name for p in (tmp_path / "cache").iterdir() if not p.name.endswith(".lock")] == [
        next((tmp_path / "cache").glob("transformer-*")).name]  # no temporary folder left behind


def test_the_worker_module_needs_only_the_standard_library(tmp_path):
    """The context worker runs as a script in upstream's environment, where vrbench, diffusers and numpy
    are not installed: its module and its argument parsing import nothing but the standard library."""
    import subprocess
    import sys

    from vrbench.generators import omnivideo_worker

    script = f"""
import sys
allowed = set(sys.stdlib_module_names)
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] not in allowed:
            raise ImportError("blocked: " + name)
sys.meta_path.insert(0, Block())
sys.argv = ["omnivideo_worker.py", "--help"]
import runpy
runpy.run_path({str(omnivideo_worker.__file__)!r}, run_name="__main__")
"""
    done = subprocess.run([sys.executable, "-I", "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Omni-Video context builder" in done.stdout
    # upstream's environment is Python 3.10 (its environment.yml): no newer syntax
    import ast
    from pathlib import Path

    ast.parse(Path(omnivideo_worker.__file__).read_text(), feature_version=(3, 10))
