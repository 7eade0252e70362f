"""Judge throughput: against a local stub with a fixed latency, against a real vLLM server, and decoding cost.

    python benchmarks/judge_throughput.py [--latency 0.05] [--videos 208] [--vllm] [--vllm-videos 8]

1. Stub: questions/s of `vrbench judge` (the real stage: frame sampling, prompts, AsyncOpenAI,
   parsing, cache and row writes) at concurrency 1, 8 and 32 against tests/openai_stub_server.py
   answering after a fixed latency, as a share of the bound concurrency / latency, and the client's
   CPU milliseconds per question (process CPU time / questions): what a judge box pays per question,
   comparable across machines, where the share of the bound moves with the machine's load.
2. `--vllm`: the real CPU vLLM server of the tests (tests/vllm_env.py builds it on first use) serving
   a tiny random Qwen3-VL. For the `images` (default) and `video` transports: the judge stage's
   questions/s against a bare asyncio client posting the identical request bodies at the same
   concurrency (the ratio is the stage's overhead), the server's prefix-cache hit rate, and the prompt
   tokens the server counted (video parts merge frame pairs, so they cost fewer tokens than images).
   Each pass judges videos of its own on an emptied prefix cache, so no pass profits from another.
3. The time to decode 16 uniformly sampled frames (decord, only those frames) vs all 81 frames of an
   832x480 clip.
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

from vrbench.stages.judge import judge_run  # noqa: E402
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
    print(f"{'concurrency':>11}  {'questions/s':>11}  {'bound':>7}  {'ratio':>6}  {'CPU ms/q':>8}")
    for concurrency in (1, 8, 32):
        n = len(cases) if concurrency > 1 else max(2, len(cases) // 8)  # concurrency 1 is slow; fewer videos suffice
        import shutil

        run = tmp / f"run-c{concurrency}"
        shutil.copytree(template.root, run)
        with ServerProcess(latency) as server:
            t0, cpu0 = time.perf_counter(), time.process_time()
            summary = judge_run(run, "openai-compatible", options={"model": "stub-vlm", "num_frames": 4}, judge_url=server.url,
                                concurrency=concurrency, cases=cases[:n], progress=False, use_cache=False)
            elapsed, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        qps = summary["questions"] / elapsed
        bound = concurrency / latency
        print(f"{concurrency:>11}  {qps:>11.1f}  {bound:>7.0f}  {qps / bound:>6.1%}  {1000 * cpu / summary['questions']:>6.2f}")


async def _bare_client(url: str, videos: list[list[dict]], concurrency: int) -> int:
    """Post each video's request bodies as the stage schedules them (its first question alone, then the
    other seven together; ``concurrency`` requests in flight), with nothing else around them."""
    import asyncio

    try:  # the HTTP client the openai package itself uses (httpx2 in openai 3, httpx before)
        import httpx2 as httpx
    except ImportError:
        import httpx

    slots = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=600, headers={"Authorization": "Bearer EMPTY"},
                                 limits=httpx.Limits(max_connections=concurrency)) as client:
        async def post(body):
            async with slots:
                r = await client.post("/chat/completions", json=body)
                r.raise_for_status()

        async def video(bodies):
            await post(bodies[0])
            await asyncio.gather(*(post(b) for b in bodies[1:]))

        await asyncio.gather(*(video(v) for v in videos))
    return sum(len(v) for v in videos)


def _request_bodies(run_root: Path, cases: list[str], options: dict) -> list[list[dict]]:
    """The exact bodies the judge stage sends, per video."""
    from vrbench.judge import JUDGES
    from vrbench.judges.openai_judges import ChatClient
    from vrbench.runstore import RunDir
    from vrbench.suite import load_suite
    from vrbench.video import sha256_file

    judge = JUDGES.create("qwen3-vl", options)
    judge.load()
    suite = {c.id: c for c in load_suite().cases}
    run = RunDir(run_root)
    bodies = []
    for case in cases:
        path = run.video_path(case, 0)
        video = judge.prepare(path, sha256_file(path))
        bodies.append([ChatClient._body(judge.build_request(video, q.text, prompt=suite[case].prompt, strict=False))
                       for q in suite[case].questions])
    return bodies


def real_vllm(tmp: Path, n_videos: int, concurrency: int = 8) -> None:
    """The stage against a bare client on the tests' real CPU vLLM server (see the module docstring)."""
    import asyncio
    import shutil

    sys.path.insert(0, str(REPO / "tests"))
    from vllm_env import start_server

    print("\nreal vLLM (CPU build, tiny random Qwen3-VL): starting the server (builds its venv on first use) ...")
    server = start_server()
    try:
        print(f"server up in {server.startup_s:.0f} s; {n_videos} videos x 8 questions per pass, concurrency {concurrency}")
        print(f"{'transport':>9}  {'pass':>6}  {'questions/s':>11}  {'prefix hit':>10}  {'prompt tokens':>13}")
        all_cases = [c.id for c in load_suite().cases]
        offset = 0
        for frames_as in ("images", "video"):
            options = {"model": server.model, "url": server.url, "frames_as": frames_as}
            rates = {}
            for kind in ("bare", "stage"):
                cases = all_cases[offset: offset + n_videos]  # fresh videos: no prefix left by an earlier pass
                offset += n_videos
                run = make_run(tmp / f"vllm-{frames_as}-{kind}", cases, shade=offset)
                server.reset_prefix_cache()
                before = server.metrics()
                t0 = time.perf_counter()
                if kind == "bare":
                    bodies = _request_bodies(run.root, cases, options)
                    t0 = time.perf_counter()  # the bare client gets its bodies ready-made; only sending is timed
                    n = asyncio.run(_bare_client(server.url, bodies, concurrency))
                else:
                    summary = judge_run(run.root, "qwen3-vl", options={k: v for k, v in options.items() if k != "url"},
                                        judge_url=server.url, concurrency=concurrency, progress=False, use_cache=False)
                    n = summary["questions"]
                    assert summary["invalid"] == 0, summary
                elapsed = time.perf_counter() - t0
                after = server.metrics()
                delta = {k: after.get(k, 0.0) - before.get(k, 0.0) for k in after}
                hits, queries = delta.get("vllm:prefix_cache_hits_total", 0), delta.get("vllm:prefix_cache_queries_total", 0)
                rates[kind] = n / elapsed
                print(f"{frames_as:>9}  {kind:>6}  {rates[kind]:>11.2f}  {hits / queries if queries else float('nan'):>10.2f}  "
                      f"{delta.get('vllm:prompt_tokens_total', 0):>13.0f}")
                shutil.rmtree(run.root)
            print(f"{frames_as:>9}  stage / bare client = {rates['stage'] / rates['bare']:.2f}")
    finally:
        server.stop()


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
    p.add_argument("--vllm", action="store_true", help="also measure against the tests' real CPU vLLM server")
    p.add_argument("--vllm-videos", type=int, default=8, help="videos per pass against vLLM (default 8)")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as d:
        os.environ["VRBENCH_CACHE_DIR"] = str(Path(d) / "cache")
        throughput(Path(d), args.latency, args.videos)
        if args.vllm:
            real_vllm(Path(d), args.vllm_videos)
        decode_cost(Path(d))


if __name__ == "__main__":
    main()
