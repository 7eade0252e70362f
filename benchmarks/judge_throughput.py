"""Judge throughput against a local OpenAI-compatible server with a fixed latency, and frame-sampling cost.

    python benchmarks/judge_throughput.py [--latency 0.05] [--videos 48]

Prints questions/s of `vrbench judge` (the real stage: frame sampling, prompts, AsyncOpenAI, parsing,
writes) at concurrency 1, 8 and 32 against tests/openai_stub_server.py answering after a fixed
latency, with the ratio to the ideal bound concurrency / latency. Then the time to decode 16
uniformly sampled frames (decord, only those frames) vs all 81 frames of an 832x480 clip.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from judge_helpers import make_run  # noqa: E402
from openai_stub_server import StubServer  # noqa: E402

from vrbench.judging import judge_run  # noqa: E402
from vrbench.suite import load_suite  # noqa: E402
from vrbench.video import sample_frames, write_video  # noqa: E402


def _serve(latency: float, conn) -> None:
    with StubServer(latency=latency) as server:
        conn.send(server.url)
        conn.recv()  # until told to stop
        conn.send(server.chat_requests)


class ServerProcess:
    """The stub server in its own process, so its threads do not share the judge's GIL."""

    def __init__(self, latency: float):
        import multiprocessing as mp

        self._conn, child = mp.Pipe()
        self._proc = mp.get_context("spawn").Process(target=_serve, args=(latency, child), daemon=True)

    def __enter__(self) -> "ServerProcess":
        self._proc.start()
        self.url = self._conn.recv()
        return self

    def __exit__(self, *exc) -> None:
        self._conn.send("stop")
        self.requests = self._conn.recv()
        self._proc.join()


def throughput(tmp: Path, latency: float, n_videos: int) -> None:
    import openai  # noqa: F401  one-off import cost (~0.3 s) is not throughput; a real run amortises it over hours

    cases = [c.id for c in load_suite().cases][:n_videos]
    template = make_run(tmp / "template", cases)
    print(f"judge throughput: {len(cases)} videos x 8 questions, server latency {latency * 1000:.0f} ms, openai-compatible judge")
    print(f"{'concurrency':>11}  {'questions/s':>11}  {'bound':>7}  {'ratio':>6}")
    for concurrency in (1, 8, 32):
        n = len(cases) if concurrency > 1 else max(2, len(cases) // 8)  # concurrency 1 is slow; fewer videos suffice
        import shutil

        run = tmp / f"run-c{concurrency}"
        shutil.copytree(template.root, run)
        with ServerProcess(latency) as server:
            t0 = time.perf_counter()
            summary = judge_run(run, "openai-compatible", options={"model": "stub-vlm", "num_frames": 4}, judge_url=server.url,
                                concurrency=concurrency, cases=cases[:n], progress=False, use_cache=False)
            elapsed = time.perf_counter() - t0
        qps = summary["questions"] / elapsed
        bound = concurrency / latency
        print(f"{concurrency:>11}  {qps:>11.1f}  {bound:>7.0f}  {qps / bound:>6.1%}")


def decode_cost(tmp: Path) -> None:
    rng = np.random.default_rng(0)
    frames = np.empty((81, 480, 832, 3), np.uint8)
    base = rng.integers(0, 255, (480, 832, 3), dtype=np.uint8)
    for i in range(81):  # a moving texture: realistic inter-frame coding, not a static image
        frames[i] = np.roll(base, 8 * i, axis=1)
    path = write_video(tmp / "clip.mp4", frames, fps=16)

    def best(fn, repeat=3):
        times = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        return min(times)

    sampled = best(lambda: sample_frames(path, num_frames=16))
    whole = best(lambda: sample_frames(path, num_frames=81))
    print(f"decode 832x480, 81 frames: 16 sampled frames {sampled * 1000:.0f} ms, whole clip {whole * 1000:.0f} ms "
          f"({whole / sampled:.1f}x)")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--latency", type=float, default=0.05, help="server latency in seconds (default 0.05)")
    p.add_argument("--videos", type=int, default=208, help="videos at concurrency 8 and 32 (default 208, the whole suite)")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as d:
        os.environ["VRBENCH_CACHE_DIR"] = str(Path(d) / "cache")
        throughput(Path(d), args.latency, args.videos)
        decode_cost(Path(d))


if __name__ == "__main__":
    main()
