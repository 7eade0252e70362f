import numpy as np
import pytest

from vrbench.errors import VRBenchError
from vrbench.video import sample_frames, sha256_file, uniform_indices, video_info, write_video


def moving_square(t=33, h=48, w=64):
    frames = np.zeros((t, h, w, 3), np.uint8)
    for i in range(t):
        x = int(i * (w - 12) / (t - 1))
        frames[i, 18:30, x : x + 12] = (255, 40, 40)
    return frames


def test_write_and_sample_roundtrip(tmp_path):
    path = write_video(tmp_path / "v.mp4", moving_square(), fps=16)
    info = video_info(path)
    assert info == {"frames": 33, "fps": 16.0, "width": 64, "height": 48}
    s = sample_frames(path, num_frames=4)
    assert s.images.shape == (4, 48, 64, 3) and s.images.dtype == np.uint8
    assert s.indices == uniform_indices(33, 4)
    assert s.timestamps == pytest.approx([i / 16 for i in s.indices])
    # the red square moves right: its centre of mass grows frame by frame
    xs = [np.nonzero(im[..., 0] > 128)[1].mean() for im in s.images]
    assert xs == sorted(xs)
    assert not list(tmp_path.glob(".*"))  # no temporary file left behind


def test_odd_sizes_float_frames_and_max_pixels(tmp_path):
    frames = np.random.default_rng(0).random((5, 31, 45, 3)).astype(np.float32)
    path = write_video(tmp_path / "odd.mp4", frames, fps=8)
    assert video_info(path)["width"] == 46 and video_info(path)["height"] == 32
    s = sample_frames(path, num_frames=16, max_pixels=16 * 23)
    assert len(s.indices) == 5  # never more than the video has
    assert s.images.shape[1] * s.images.shape[2] <= 16 * 23


def test_uniform_indices():
    assert uniform_indices(81, 16) == sorted(set(uniform_indices(81, 16)))
    assert uniform_indices(10, 1) == [5]
    assert uniform_indices(0, 4) == []


def test_bad_videos(tmp_path):
    with pytest.raises(VRBenchError, match="video not found"):
        sample_frames(tmp_path / "missing.mp4")
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video at all")
    with pytest.raises(VRBenchError, match="bad.mp4: cannot decode video"):
        sample_frames(bad)
    with pytest.raises(ValueError):
        write_video(tmp_path / "x.mp4", np.zeros((3, 8, 8)), fps=8)


def test_sha256(tmp_path):
    p = tmp_path / "f"
    p.write_bytes(b"abc")
    assert sha256_file(p) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


@pytest.mark.parametrize("width", [16, 48])
def test_widths_decord_cannot_read_are_decoded_with_pyav(tmp_path, width):
    """decord fails on our own H.264 files 16 or 48 pixels wide (from_size == to_size); FFmpeg reads them."""
    frames = np.stack([np.full((32, width, 3), 10 * i, dtype=np.uint8) for i in range(9)])
    path = write_video(tmp_path / "narrow.mp4", frames, fps=8)
    sampled = sample_frames(path, 3)
    assert sampled.images.shape == (3, 32, width, 3) and sampled.indices == uniform_indices(9, 3)
    assert abs(int(sampled.images[2].mean()) - 10 * sampled.indices[2]) <= 3
