"""Helpers for the judge tests: a small run directory with real (tiny) videos."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from vrbench.files import append_jsonl, atomic_write_json
from vrbench.runstore import RunDir, video_name
from vrbench.suite import load_suite
from vrbench.video import sha256_file, write_video


def moving_square(t: int = 9, h: int = 32, w: int = 64, seed: int = 0) -> np.ndarray:
    frames = np.zeros((t, h, w, 3), np.uint8)
    frames[..., 2] = (25 * seed) % 256
    for i in range(t):
        x = int(i * (w - 8) / max(1, t - 1))
        frames[i, 12:20, x : x + 8] = (255, 40, 40)
    return frames


def make_run(root: Path, case_ids: list[str], seeds=(0,), failed: list[str] = (), shade: int = 0) -> RunDir:
    """A run with one tiny video per case x seed, and a generation error row for each case in ``failed``.

    Videos differ within a run; ``shade`` makes them differ from another run's too."""
    suite = load_suite()
    run = RunDir(root)
    atomic_write_json(run.run_file, {"vrbench_version": "test", "suite": suite.info(), "generator": {"name": "test-model"},
                                     "seeds": list(seeds)})
    rows = []
    for i, case in enumerate(case_ids):
        for seed in seeds:  # every video differs, so the judge cache cannot mix them up
            path = write_video(run.video_path(case, seed), moving_square(seed=shade + i + 3 * seed), fps=8)
            rows.append({"case": case, "seed": seed, "video": f"videos/{video_name(case, seed)}", "sha256": sha256_file(path)})
    for case in failed:
        rows.append({"case": case, "seed": 0, "error": "CUDA out of memory"})
    append_jsonl(run.generations_file, rows)
    return run


def read_rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def square_x(image: np.ndarray) -> float | None:
    """Where the red square of ``moving_square`` is across a frame (mean column), None when it is not there."""
    red = (image[..., 0] > 150) & (image[..., 1] < 120)
    cols = np.nonzero(red.any(axis=0))[0]
    return float(cols.mean()) if len(cols) else None


def blue_level(image: np.ndarray) -> float:
    """The background's blue level, which ``moving_square`` sets from its seed (25 per step)."""
    return float(np.median(image[..., 2]))


def run_fixtures(case_ids: list[str], failed: list[str] = ()):
    """The fixtures every judge test module shares, made for its cases: ``cache_dir`` (a fresh judge cache per
    test, autouse), ``run_template`` (one run per module) and ``run`` (a fresh copy of it per test). Use as
    ``cache_dir, run_template, run = run_fixtures(CASES)`` at a test module's top level."""

    @pytest.fixture(autouse=True)
    def cache_dir(tmp_path, monkeypatch):
        monkeypatch.setenv("VRBENCH_CACHE_DIR", str(tmp_path / "cache"))
        return tmp_path / "cache"

    @pytest.fixture(scope="module")
    def run_template(tmp_path_factory):
        return make_run(tmp_path_factory.mktemp("runs") / "template", case_ids, failed=list(failed)).root

    @pytest.fixture
    def run(tmp_path, run_template):
        shutil.copytree(run_template, tmp_path / "run")
        return RunDir(tmp_path / "run")

    return cache_dir, run_template, run
