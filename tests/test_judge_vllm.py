"""The `qwen3-vl` judge against a real vLLM on CPU: its OpenAI-compatible server and its offline engine.

The server (tests/vllm_env.py, fixture ``vllm_server``) serves a tiny random Qwen3-VL saved to disk with
its full processor, so the answers are meaningless but every request is the real thing: vLLM parses,
processes and caches our images, videos and mp4 files, and its /metrics say how many requests it
served and how much of each prompt it found in its prefix cache. The first two tests need no vLLM:
they check the offline engine's request building and batching with stand-ins.
"""

from __future__ import annotations

import asyncio
import base64
import json
import subprocess
import time
from types import SimpleNamespace

import pytest
from judge_helpers import make_run, read_rows, run_fixtures

from vrbench.stages.judge import judge_run

pytestmark = pytest.mark.slow  # every test here takes seconds (processes, browsers, models)

CASES = ["DRF-01", "ETV-01", "MMC-01", "CAR-01", "CCR-01", "PCR-01", "BBR-01", "CAC-01"]  # 8 videos x 8 questions
SUCCESS = "vllm:request_success_total"
HITS, QUERIES = "vllm:prefix_cache_hits_total", "vllm:prefix_cache_queries_total"
PROMPT_TOKENS = "vllm:prompt_tokens_total"


cache_dir, run_template, run = run_fixtures(CASES)  # a fresh judge cache per test


def delta(before: dict, after: dict, name: str) -> float:
    return after.get(name, 0.0) - before.get(name, 0.0)


def assert_all_answered(rows: list[dict], n: int) -> None:
    assert len(rows) == len({(r["case"], r["seed"], r["question"]) for r in rows}) == n
    bad = [r for r in rows if r["answer"] not in ("yes", "no") or r["p_yes"] is None or r["error"]]
    assert not bad, bad[:2]


def counters(server) -> dict[str, float]:
    """The counters the tests read, with HTTP responses by status class."""
    got = server.metrics()
    for status in ("4xx", "5xx"):
        got[f"http {status}"] = server.metrics(status=status).get("http_requests_total", 0.0)
    return got


def judge(server, run, cases=None, **options):
    """judge_run against ``server``; (summary, the server's counter deltas). Asserts no 4xx/5xx answer."""
    server.reset_prefix_cache()
    before = counters(server)
    summary = judge_run(run.root, "qwen3-vl", judge_url=server.url, options={"model": server.model, **options},
                        cases=cases, progress=False)
    after = counters(server)
    d = {k: delta(before, after, k) for k in (SUCCESS, HITS, QUERIES, PROMPT_TOKENS, "http 4xx", "http 5xx")}
    assert d["http 4xx"] == d["http 5xx"] == 0, d
    return summary, d


# -- the offline engine without vLLM: request building and batching --------------------------------

def _offline_engine(processor=None, llm=None):
    from vrbench.judges.vllm_offline import OfflineVLLM

    engine = OfflineVLLM.__new__(OfflineVLLM)  # skip __init__: it starts vLLM
    engine.processor, engine.llm, engine._pending, engine._flush = processor, llm, [], None
    return engine


@pytest.mark.parametrize("frames_as", ["images", "video"])
def test_offline_engine_input_matches_the_server_request(tmp_path, frames_as):
    from vrbench.judge import get_judge
    from vrbench.judges._tiny_qwen import tiny_qwen3_vl
    from vrbench.video import sha256_file

    run = make_run(tmp_path / "run", ["DRF-01"])
    judge = get_judge("qwen3-vl")(num_frames=4, frames_as=frames_as)  # no url: the offline engine's settings
    path = run.video_path("DRF-01", 0)
    video = judge.prepare(path, sha256_file(path))
    request = judge.build_request(video, "Is the square red?", prompt=None, strict=False)
    engine = _offline_engine(processor=tiny_qwen3_vl()[0])
    got = engine._engine_input(request, video)
    if frames_as == "images":  # one placeholder and one decoded frame per image_url part, labels kept
        assert got["prompt"].count("<|image_pad|>") == 4 and "<|video_pad|>" not in got["prompt"]
        assert [im.size for im in got["multi_modal_data"]["image"]] == [(64, 32)] * 4
        assert got["prompt"].count(" s]") >= 4  # the per-frame timestamp labels
    else:  # the frames as one video, with the metadata that gives Qwen3-VL their timestamps
        assert got["prompt"].count("<|video_pad|>") == 1 and "<|image_pad|>" not in got["prompt"]
        frames, meta = got["multi_modal_data"]["video"][0]
        assert frames.shape == (4, 32, 64, 3) and meta["frames_indices"] == list(video.frames.indices)
    assert "Is the square red?" in got["prompt"] and got["prompt"].endswith("<|im_start|>assistant\n")


def test_offline_engine_sends_requests_queued_during_a_batch():
    """A request queued while ``generate`` runs is sent in the next batch (it used to wait for ever)."""

    class SlowLLM:
        def __init__(self):
            self.batches = []

        def generate(self, prompts, params, use_tqdm=False):
            time.sleep(0.3)
            self.batches.append(len(prompts))
            return [SimpleNamespace(prompt_token_ids=[1, 2], outputs=[SimpleNamespace(
                text=f"yes {p}", logprobs=None, token_ids=[3], finish_reason="stop")]) for p in prompts]

    engine = _offline_engine(llm=SlowLLM())
    engine._engine_input = lambda request, video: request
    engine._sampling_params = lambda request: None

    async def one_video(v, start):
        # as judging does per video: the first question alone, then the other seven together
        await asyncio.sleep(start)
        first = await engine.complete_video(f"{v}-0", None)
        rest = await asyncio.gather(*(engine.complete_video(f"{v}-{q}", None) for q in range(1, 8)))
        return [first, *rest]

    async def two_videos():
        # video b's first question arrives while video a's seven run (0.3 s to 0.6 s), and nothing after it
        return await asyncio.wait_for(asyncio.gather(one_video("a", 0), one_video("b", 0.45)), 10)

    a, b = asyncio.run(two_videos())
    texts = [response.choices[0].message.content for response, requests in a + b]
    assert texts == [f"yes a-{q}" for q in range(8)] + [f"yes b-{q}" for q in range(8)]
    assert engine.llm.batches == [1, 7, 1, 7]


# -- the real server --------------------------------------------------------------------------------

@pytest.mark.vllm
def test_default_transport_caches_and_never_asks_twice(vllm_server, run):
    server = vllm_server
    summary, d = judge(server, run)
    rows = read_rows(run.judgments_file("qwen3-vl"))
    assert_all_answered(rows, 64)
    assert summary["invalid"] == summary["errors"] == 0 and summary["requests"] == 64
    assert d[SUCCESS] == summary["requests"]  # every request the judge sent, the server answered (no 4xx/5xx)
    sig = json.loads(run.run_file.read_text())["judges"]["qwen3-vl"]
    assert sig["frames_as"] == "images"  # the default transport: one image_url per sampled frame
    # the 8 questions of a video share its frames: vLLM serves most of each prompt from its prefix cache
    hit_rate = d[HITS] / d[QUERIES]
    print(f"\n[vllm] images (default): prefix cache hit rate {hit_rate:.3f}, {d[PROMPT_TOKENS]:.0f} prompt tokens for 64 questions")
    assert hit_rate >= 0.8

    # a finished run sends nothing; a lost judgments file is rebuilt from the judge cache, still sending nothing
    before = server.metrics()[SUCCESS]
    again = judge_run(run.root, "qwen3-vl", judge_url=server.url, options={"model": server.model}, progress=False)
    assert again["questions"] == 0 and again["already_judged"] == 64 and server.metrics()[SUCCESS] == before
    run.judgments_file("qwen3-vl").unlink()
    cached = judge_run(run.root, "qwen3-vl", judge_url=server.url, options={"model": server.model}, progress=False)
    assert cached["cache_hits"] == 64 and cached["requests"] == 0 and server.metrics()[SUCCESS] == before
    answers = lambda rows: sorted((r["case"], r["question"], r["answer"], r["p_yes"]) for r in rows)  # noqa: E731
    assert answers(read_rows(run.judgments_file("qwen3-vl"))) == answers(rows)


@pytest.mark.vllm
@pytest.mark.parametrize("frames_as", ["images", "video", "mp4", "file"])
def test_every_transport_is_accepted(vllm_server, run, frames_as):
    summary, d = judge(vllm_server, run, frames_as=frames_as)
    assert_all_answered(read_rows(run.judgments_file("qwen3-vl")), 64)
    assert summary["invalid"] == summary["errors"] == 0 and d[SUCCESS] == summary["requests"] == 64
    print(f"\n[vllm] {frames_as}: prefix cache hit rate {d[HITS] / d[QUERIES]:.3f}, "
          f"{d[PROMPT_TOKENS]:.0f} prompt tokens for 64 questions")


def _mp4_request(server, run, **extra) -> dict:
    data = base64.b64encode(run.video_path(CASES[0], 0).read_bytes()).decode()
    return {"model": server.model, "max_tokens": 1, "messages": [{"role": "user", "content": [
        {"type": "video_url", "video_url": {"url": f"data:video/mp4;base64,{data}"}},
        {"type": "text", "text": "Is the square red? Answer yes or no."}]}], **extra}


@pytest.mark.vllm
def test_stock_server_refuses_per_request_mm_kwargs(vllm_server, run):
    status, body = vllm_server.post("/v1/chat/completions", _mp4_request(vllm_server, run))
    assert status == 200, body
    # per-request media settings are refused unless the server runs with --trust-request-mm-kwargs
    for extra in ({"mm_processor_kwargs": {"num_frames": 4}}, {"media_io_kwargs": {"video": {"num_frames": 4}}}):
        status, body = vllm_server.post("/v1/chat/completions", _mp4_request(vllm_server, run, **extra))
        assert status == 400 and "--trust-request-mm-kwargs" in body["error"]["message"], body


@pytest.mark.vllm
@pytest.mark.parametrize("frames_as", ["video", "mp4"])
def test_trusting_server_takes_mm_kwargs(vllm_server_trusting, run, frames_as):
    server = vllm_server_trusting
    # the knob for how many frames vLLM decodes from a file is its video loader's num_frames
    status, body = server.post("/v1/chat/completions",
                               _mp4_request(server, run, media_io_kwargs={"video": {"num_frames": 4}}))
    assert status == 200, body
    summary, d = judge(server, run, cases=CASES[:2], frames_as=frames_as, trust_request_mm_kwargs=True)
    assert_all_answered(read_rows(run.judgments_file("qwen3-vl")), 16)
    assert summary["invalid"] == summary["errors"] == 0 and d[SUCCESS] == summary["requests"] == 16


# -- the offline engine, for real -------------------------------------------------------------------

@pytest.mark.vllm
def test_offline_engine_answers_every_question(vllm_venv, run, cache_dir):
    """`vrbench judge` without --judge-url runs vLLM's offline engine (in the vLLM venv, on CPU).

    Two videos = two batches at least (the first question of a video alone, the rest while it runs):
    all 16 rows must be written (a queue that was never flushed used to hang at 8).
    """
    import vllm_env

    cmd = [str(vllm_venv.python), "-m", "vrbench", "judge", str(run.root), "--judge", "qwen3-vl",
           "--cases", *CASES[:2], "--no-progress",
           "--judge-arg", f"model={vllm_venv.model_dir}", "--judge-arg", "max_model_len=4096",
           "--judge-arg", "dtype=float32"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=420,
                          env=vllm_env.venv_env(VRBENCH_CACHE_DIR=str(cache_dir)))
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = read_rows(run.judgments_file("qwen3-vl"))
    assert_all_answered(rows, 16)
    assert all(r["usage"]["prompt"] > 100 and r["finish_reason"] in ("stop", "length") for r in rows)
    assert json.loads(run.run_file.read_text())["judges"]["qwen3-vl"]["frames_as"] == "images"  # the default
