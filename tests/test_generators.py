"""Generator adapters on CPU: every family through tiny random components (2 steps, a few frames)."""

from __future__ import annotations

import numpy as np
import pytest

from vrbench.errors import VRBenchError
from vrbench.generator import GENERATORS, CaseFailed, GenerationRequest, get_generator
from vrbench.options import parse_options
from vrbench.video import write_video

pytest.importorskip("diffusers")

REAL_MODELS = ["wan2.1-t2v-1.3b", "wan2.1-t2v-14b", "wan2.2-t2v-a14b", "wan2.2-ti2v-5b", "cogvideox-2b", "cogvideox-5b"]
REQUESTS = [GenerationRequest("ETV-01", "A ball rolls down a ramp and hits a cup.", 0),
            GenerationRequest("CCR-02", "A family lights candles at dinner.", 1)]


def test_registry_names_and_unknown_name():
    names = GENERATORS.names()
    for name in REAL_MODELS + ["videos", "tiny-wan", "tiny-cogvideox"]:
        assert name in names
    assert GENERATORS.group == "vrbench.generators"
    with pytest.raises(VRBenchError, match=r"unknown generator 'wan3'.*known: .*wan2.1-t2v-14b"):
        get_generator("wan3")


def test_signatures_hold_every_pixel_setting():
    for name in REAL_MODELS:
        sig = get_generator(name)().signature()
        for key in ("model", "revision", "steps", "guidance", "height", "width", "frames", "fps", "dtype", "seed_policy"):
            assert key in sig, (name, key)
        assert sig["model"].count("/") == 1  # a Hub id by default
    assert get_generator("wan2.2-t2v-a14b")().signature()["guidance_2"] == 3.0
    assert get_generator("wan2.2-ti2v-5b")().signature()["flow_shift"] == 5.0
    assert get_generator("wan2.1-t2v-14b")(steps=4).signature()["steps"] == 4


def test_wan21_flow_shift_follows_the_resolution():
    """Wan2.1's model cards: shift 3.0 at 480p, 5.0 at 720p; an explicit shift always wins."""
    wan = get_generator("wan2.1-t2v-14b")
    assert wan().signature()["flow_shift"] == 3.0
    assert wan(height=720, width=1280).signature()["flow_shift"] == 5.0
    assert wan(height=720, width=1280, flow_shift=4.0).signature()["flow_shift"] == 4.0
    assert get_generator("wan2.2-t2v-a14b")(height=720, width=1280).signature()["flow_shift"] == 12.0


@pytest.mark.slow
def test_cogvideox_5b_static_guidance_by_default_and_dpm_with_dynamic_cfg(saved_pipelines, monkeypatch):
    """Dynamic CFG is made for the DPM scheduler: off by default (the model card's static 6); on, it brings DPM."""
    from vrbench.generators.tiny import TINY_MAX_SEQUENCE_LENGTH

    cls = get_generator("cogvideox-5b")
    sig = cls().signature()
    assert sig["use_dynamic_cfg"] is False and sig["guidance"] == 6.0 and sig["scheduler"] == "the checkpoint's"
    monkeypatch.setattr(cls, "max_sequence_length", TINY_MAX_SEQUENCE_LENGTH)
    static = cls(model_path=str(saved_pipelines / "cog"), steps=2, height=32, width=32, frames=9, device="cpu")
    static.load()
    assert type(static.pipe.scheduler).__name__ == "CogVideoXDDIMScheduler"  # the checkpoint's own
    dynamic = cls(model_path=str(saved_pipelines / "cog"), steps=2, height=32, width=32, frames=9, device="cpu",
                  use_dynamic_cfg=True)
    assert dynamic.signature()["scheduler"] == "CogVideoXDPMScheduler (trailing)"
    dynamic.load()
    assert type(dynamic.pipe.scheduler).__name__ == "CogVideoXDPMScheduler"
    assert dynamic.pipe.scheduler.config.timestep_spacing == "trailing"
    (video,) = dynamic.generate(REQUESTS[:1])
    assert video.frames.shape == (9, 32, 32, 3)


def test_bad_options_are_one_line_errors(tmp_path):
    cls = get_generator("wan2.1-t2v-14b")
    with pytest.raises(VRBenchError, match="has no option 'stepz'"):
        parse_options(cls, ["stepz=3"])
    with pytest.raises(VRBenchError, match="frames must be 4k\\+1"):
        cls(frames=80)
    with pytest.raises(VRBenchError, match="height must be a positive multiple of 16"):
        cls(height=100)
    with pytest.raises(VRBenchError, match="guidance_2"):
        cls(guidance_2=3.0)
    with pytest.raises(VRBenchError, match="no such directory"):
        cls(model_path=str(tmp_path / "missing"))
    with pytest.raises(VRBenchError, match="no model_index.json"):
        cls(model_path=str(tmp_path))
    with pytest.raises(VRBenchError, match="offload=model needs a CUDA device"):
        get_generator("wan2.1-t2v-1.3b")(device="cpu", offload="model").load()


def test_unloadable_weights_are_one_line_error(tmp_path):
    (tmp_path / "model_index.json").write_text('{"_class_name": "WanPipeline", "vae": ["diffusers", "AutoencoderKLWan"]}')
    gen = get_generator("wan2.1-t2v-1.3b")(model_path=str(tmp_path), device="cpu")
    with pytest.raises(VRBenchError, match=r"cannot load weights from '.*' \(.*\); pass --model-path DIR"):
        gen.load()


@pytest.mark.parametrize(
    "name, options, shape",
    [
        ("tiny-wan", {}, (9, 48, 64, 3)),
        ("tiny-wan", {"layout": "wan2.2-a14b", "guidance_2": 2.0}, (9, 48, 64, 3)),
        ("tiny-wan", {"layout": "wan2.2-ti2v"}, (9, 64, 64, 3)),
        ("tiny-cogvideox", {}, (9, 48, 64, 3)),
        ("tiny-cogvideox", {"layout": "5b"}, (9, 48, 64, 3)),
    ],
)
@pytest.mark.slow
def test_tiny_families_generate_frames(name, options, shape):
    gen = get_generator(name)(device="cpu", batch_size=2, **options)
    gen.load()
    videos = gen.generate(REQUESTS)
    assert [v.frames.shape for v in videos] == [shape, shape]
    assert all(v.frames.dtype == np.uint8 and v.fps == 8.0 for v in videos)
    again = gen.generate(REQUESTS[:1])[0].frames  # same seed, same video (up to batch-size rounding)
    assert np.abs(again.astype(int) - videos[0].frames.astype(int)).max() <= 2
    assert not np.array_equal(videos[0].frames, videos[1].frames)
    gen.close()


@pytest.fixture(scope="module")
def saved_pipelines(tmp_path_factory):
    """Tiny pipelines saved as diffusers folders, to load through the real adapters' from_pretrained path."""
    from diffusers import CogVideoXPipeline, WanPipeline

    from vrbench.generators.tiny import tiny_cogvideox_components, tiny_wan_components

    root = tmp_path_factory.mktemp("weights")
    WanPipeline(**tiny_wan_components(0)).save_pretrained(root / "wan21")
    WanPipeline(**tiny_wan_components(0, two_stage=True)).save_pretrained(root / "wan22")
    WanPipeline(**tiny_wan_components(0, ti2v=True)).save_pretrained(root / "ti2v")
    CogVideoXPipeline(**tiny_cogvideox_components(0)).save_pretrained(root / "cog")
    CogVideoXPipeline(**tiny_cogvideox_components(0, rotary=True, dpm=True)).save_pretrained(root / "cog5b")
    return root


@pytest.mark.parametrize(
    "name, folder, size",
    [("wan2.1-t2v-1.3b", "wan21", 32), ("wan2.1-t2v-14b", "wan21", 32), ("wan2.2-t2v-a14b", "wan22", 32),
     ("wan2.2-ti2v-5b", "ti2v", 64), ("cogvideox-2b", "cog", 32), ("cogvideox-5b", "cog5b", 32)],
)
def test_registered_models_load_local_weights(saved_pipelines, name, folder, size, monkeypatch):
    from vrbench.generators.tiny import TINY_MAX_SEQUENCE_LENGTH

    cls = get_generator(name)
    monkeypatch.setattr(cls, "max_sequence_length", TINY_MAX_SEQUENCE_LENGTH)  # the tiny text encoders' length
    gen = cls(model_path=str(saved_pipelines / folder), steps=2, height=size, width=size, frames=9, device="cpu")
    assert gen.signature()["model"] == str(saved_pipelines / folder)
    gen.load()
    if name.startswith("wan"):  # the flow shift is set explicitly, whatever the checkpoint says
        assert gen.pipe.scheduler.config.flow_shift == gen.settings["flow_shift"]
        assert gen.pipe.vae.dtype.__str__() == "torch.float32"
    (video,) = gen.generate(REQUESTS[:1])
    assert video.frames.shape == (9, size, size, 3) and video.frames.dtype == np.uint8


def test_tiny_components_share_vae_and_text_encoder():
    from vrbench.generators.tiny import tiny_wan_components

    small = tiny_wan_components(0, width=24)
    large = tiny_wan_components(1, width=48, vae=small["vae"], text_encoder=small["text_encoder"], tokenizer=small["tokenizer"])
    assert large["vae"] is small["vae"] and large["text_encoder"] is small["text_encoder"]
    assert small["transformer"].config.num_attention_heads * 12 == 24
    assert large["transformer"].config.num_attention_heads * 12 == 48
    assert small["scheduler"].config.flow_shift == 3.0 and small["scheduler"].config.prediction_type == "flow_prediction"
    again = tiny_wan_components(0, width=24)  # deterministic weights
    a = next(small["transformer"].parameters())
    assert (a == next(again["transformer"].parameters())).all()


def test_tiny_tokenizer_is_offline_and_pads():
    from vrbench.generators.tiny import TINY_MAX_SEQUENCE_LENGTH, tiny_tokenizer

    tok = tiny_tokenizer()
    ids = tok("A ball rolls.", padding="max_length", max_length=TINY_MAX_SEQUENCE_LENGTH, truncation=True).input_ids
    assert len(ids) == TINY_MAX_SEQUENCE_LENGTH and tok.unk_token_id not in ids[:5] and ids[-1] == tok.pad_token_id


def test_video_folder(tmp_path):
    frames = np.zeros((5, 48, 64, 3), np.uint8)
    frames[:, :, :, 0] = np.arange(5)[:, None, None] * 50
    write_video(tmp_path / "ETV-01.mp4", frames, fps=12)
    write_video(tmp_path / "CCR-02-s1.mp4", frames, fps=12)
    (tmp_path / "DRF-03-s0.mp4").write_bytes(b"not a video")
    gen = get_generator("videos")(model_path=str(tmp_path))
    a, b = gen.generate(REQUESTS)
    assert a.frames.shape == (5, 48, 64, 3) and a.fps == 12.0 and b.frames.shape == (5, 48, 64, 3)
    with pytest.raises(CaseFailed, match="ETV-01-s1.mp4: not found"):
        gen.generate([GenerationRequest("ETV-01", "x", 1)])
    with pytest.raises(CaseFailed, match="DRF-03-s0.mp4: cannot decode"):
        gen.generate([GenerationRequest("DRF-03", "x", 0)])
    with pytest.raises(VRBenchError, match="--model-path"):
        get_generator("videos")()
    with pytest.raises(VRBenchError, match="no such directory"):
        get_generator("videos")(model_path=str(tmp_path / "nope"))


@pytest.mark.gpu  # needs CUDA: the same adapter code on a GPU, in the model's GPU dtype, with and without offload
@pytest.mark.parametrize("offload", ["none", "model"])
def test_registered_model_on_cuda(saved_pipelines, offload, monkeypatch):
    from vrbench.generators.tiny import TINY_MAX_SEQUENCE_LENGTH

    cls = get_generator("wan2.1-t2v-1.3b")
    monkeypatch.setattr(cls, "max_sequence_length", TINY_MAX_SEQUENCE_LENGTH)
    gen = cls(model_path=str(saved_pipelines / "wan21"), steps=2, height=32, width=32, frames=9, offload=offload)
    assert gen.device.startswith("cuda") and gen.signature()["dtype"] == "bfloat16"
    gen.load()
    (video,) = gen.generate(REQUESTS[:1])
    assert video.frames.shape == (9, 32, 32, 3)
    gen.close()
