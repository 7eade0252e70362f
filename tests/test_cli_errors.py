"""Usage mistakes on the command line are one line that points at --help."""

import pytest

from vrbench.cli import main


@pytest.mark.parametrize("argv, message", [
    (["score", "run", "--layer-weights", "0.5", "0.5"], "vrbench score: error: argument --layer-weights: expected 3 arguments"),
    (["nope"], "vrbench: error: argument COMMAND: invalid choice: 'nope'"),
    (["suite", "lint", "--no-such-flag"], "vrbench: error: unrecognized arguments: --no-such-flag"),
])
def test_a_usage_mistake_is_one_line(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(message), err
    assert err.rstrip().endswith("--help`)")


@pytest.mark.slow
def test_generate_exits_3_when_some_videos_failed(tmp_path):
    """Batch jobs can tell 'some (case, seed) failed' (3) from success (0) and from a usage error (2); each
    failure is reported once (a subprocess, so the decoders' own C-level stderr lines would show too)."""
    import os
    import subprocess
    import sys

    import numpy as np

    from vrbench.video import write_video

    folder = tmp_path / "made-elsewhere"
    folder.mkdir()
    for case in ("ETV-01", "ETV-02"):
        write_video(folder / f"{case}.mp4", np.zeros((9, 64, 96, 3), dtype=np.uint8), fps=8)
    (folder / "ETV-03.mp4").write_bytes(b"\x00not an mp4" * 500)
    args = [sys.executable, "-m", "vrbench", "generate", "--model", "videos", "--model-path", str(folder),
            "--out", str(tmp_path / "run"), "--no-progress", "--cases"]
    env = dict(os.environ)
    done = subprocess.run([*args, "ETV-01,ETV-02,ETV-03,ETV-04"], capture_output=True, text=True, env=env, cwd=tmp_path,
                          timeout=300)
    assert done.returncode == 3, done.stderr
    assert "2 made" in done.stdout and "2 failed" in done.stdout
    assert done.stderr.count("\n") == 2 and "ETV-03 seed 0" in done.stderr and "ETV-04 seed 0" in done.stderr, done.stderr
    again = subprocess.run([*args, "ETV-01,ETV-02"], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert again.returncode == 0, again.stderr
