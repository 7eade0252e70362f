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


def test_generate_exits_3_when_some_videos_failed(tmp_path, capsys):
    """Batch jobs can tell 'some (case, seed) failed' (3) from success (0) and from a usage error (2)."""
    import numpy as np

    from vrbench.video import write_video

    folder = tmp_path / "made-elsewhere"
    folder.mkdir()
    for case in ("ETV-01", "ETV-02"):
        write_video(folder / f"{case}.mp4", np.zeros((9, 64, 96, 3), dtype=np.uint8), fps=8)
    args = ["generate", "--model", "videos", "--model-path", str(folder), "--out", str(tmp_path / "run"), "--no-progress"]
    assert main([*args, "--cases", "ETV-01,ETV-02,ETV-03"]) == 3
    captured = capsys.readouterr()
    assert "2 made" in captured.out and "1 failed" in captured.out
    assert "1 video(s) failed (listed above); exit status 3" in captured.err
    assert main([*args, "--cases", "ETV-01,ETV-02"]) == 0
