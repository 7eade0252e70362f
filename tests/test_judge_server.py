"""The OpenAI-protocol judges against a real HTTP server on 127.0.0.1 (tests/openai_stub_server.py)."""

import json
import subprocess
import sys

import pytest

from judge_helpers import make_run, read_rows
from openai_stub_server import StubServer
from vrbench.cli import main
from vrbench.errors import VRBenchError
from vrbench.judging import judge_run
from vrbench.stages import score_run

CASES = ["DRF-01", "ETV-07", "CCR-03", "BBR-02"]
FAST = {"model": "stub-vlm", "timeout": 1.0}


@pytest.fixture(autouse=True)
def cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("VRBENCH_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture(scope="module")
def run_template(tmp_path_factory):
    return make_run(tmp_path_factory.mktemp("runs") / "template", CASES, failed=["PCR-01"]).root


@pytest.fixture
def run(tmp_path, run_template):
    import shutil

    shutil.copytree(run_template, tmp_path / "run")
    from vrbench.runstore import RunDir

    return RunDir(tmp_path / "run")


def keys(rows):
    return [(r["case"], r["seed"], r["question"]) for r in rows]


def test_faults_lose_nothing_and_duplicate_nothing(run):
    faults = ["429", "500", "drop", "garbage", "unreadable", "stall", "503"]
    with StubServer(latency=0.01, faults=faults, retry_after="0.4", stall=3.0) as server:
        summary = judge_run(run.root, "openai-compatible", options=FAST, judge_url=server.url, concurrency=4, progress=False)
        assert all(server.counts[f"faults:{f}"] == 1 for f in faults)
        rows = read_rows(run.judgments_file("openai-compatible"))
        assert len(rows) == len(set(keys(rows))) == 4 * 8  # every question once; the failed generation is skipped
        assert {r["answer"] for r in rows} <= {"yes", "no"} and all(r["error"] is None for r in rows)
        assert all(0.0 <= r["p_yes"] <= 1.0 for r in rows)
        assert sum(r["retried"] for r in rows) == 1  # the unreadable reply got one stricter retry
        assert summary["requests"] == server.chat_requests == 32 + len(faults)
        assert summary["skipped_generation_errors"] == 1
        # the request after the 429 waited for Retry-After
        body_429 = [r for r in rows if r["requests"] > 1]
        assert body_429 and max(r["latency"] for r in body_429) >= 0.4
        # the video comes first, so all 8 questions of a video share the prefix; timestamps are in the text
        first = server.bodies[0]["messages"][0]["content"]
        assert first[0]["type"] == "text" and first[1]["image_url"]["url"].startswith("data:image/jpeg;base64,")
        assert "frames sampled uniformly" in first[-1]["text"] and first[-1]["text"].count("Question:") == 1
        assert server.bodies[0]["logprobs"] is True and server.bodies[0]["top_logprobs"] == 20

        # resume: nothing asked again; a finished run sends zero requests
        before = server.chat_requests
        again = judge_run(run.root, "openai-compatible", options=FAST, judge_url=server.url, progress=False)
        assert server.chat_requests == before and again["questions"] == 0 and again["already_judged"] == 32
        # the cache: a fresh judgments file is rebuilt without a single request
        run.judgments_file("openai-compatible").unlink()
        cached = judge_run(run.root, "openai-compatible", options=FAST, judge_url=server.url, progress=False)
        assert server.chat_requests == before and cached["cache_hits"] == 32
        assert sorted(keys(read_rows(run.judgments_file("openai-compatible")))) == sorted(keys(rows))
    manifest = json.loads(run.run_file.read_text())
    sig = manifest["judges"]["openai-compatible"]
    assert sig["model"] == "stub-vlm" and sig["num_frames"] == 16 and len(sig["template"]["sha256"]) == 64
    assert "api_key" not in json.dumps(manifest).lower() or "api_key_env" in json.dumps(manifest)
    result = score_run(run.root, "openai-compatible", suite_path=None)
    assert result["overall"]["n_answers"] == 32


def test_persistent_failures_are_recorded_then_retried(run):
    with StubServer(faults=["500"] * 6) as server:  # 3 questions x (1 try + 1 retry)
        options = {**FAST, "max_retries": 1}
        summary = judge_run(run.root, "openai-compatible", options=options, judge_url=server.url, concurrency=1,
                            cases=["DRF-01"], progress=False)
        rows = read_rows(run.judgments_file("openai-compatible"))
        failed = [r for r in rows if r["answer"] == "invalid"]
        assert len(rows) == 8 and len(failed) == summary["errors"] == 3
        assert all("HTTP 500" in r["error"] and r["error_kind"] == "request" for r in failed)
        # failed requests are not cached; --retry-errors asks exactly those again
        again = judge_run(run.root, "openai-compatible", options=options, judge_url=server.url, cases=["DRF-01"],
                          retry_errors=True, progress=False)
        assert again["retried_errors"] == 3 and again["questions"] == 3 and again["invalid"] == 0
        rows = read_rows(run.judgments_file("openai-compatible"))
        assert len(rows) == len(set(keys(rows))) == 8 and all(r["answer"] != "invalid" for r in rows)


def test_bad_key_stops_the_run_with_one_line(run):
    with StubServer(faults=["401"] * 50) as server:
        with pytest.raises(VRBenchError, match="stub-vlm: AuthenticationError"):
            judge_run(run.root, "openai-compatible", options=FAST, judge_url=server.url, progress=False)
    assert not run.judgments_file("openai-compatible").exists()


def test_qwen3_vl_server_request(run):
    with StubServer() as server:
        judge_run(run.root, "qwen3-vl", judge_url=server.url, cases=["ETV-07"], progress=False)
        assert server.counts["/tokenize"] == 6
        body = server.bodies[0]
        video = body["messages"][0]["content"][0]
        assert video["type"] == "video_url" and video["video_url"]["url"].startswith("data:video/mp4;base64,")
        assert body["model"] == "Qwen/Qwen3-VL-30B-A3B-Instruct" and body["max_tokens"] == 1
        assert body["allowed_token_ids"] and body["logprobs"] is True
        assert body["mm_processor_kwargs"] == {"num_frames": 16, "do_sample_frames": True}
    rows = read_rows(run.judgments_file("qwen3-vl"))
    assert len(rows) == 8 and all(r["answer"] in ("yes", "no") and r["p_yes"] is not None for r in rows)

    run.judgments_file("qwen3-vl").unlink()  # other settings: a fresh file (mixing them is refused)
    with StubServer() as server:
        judge_run(run.root, "qwen3-vl", judge_url=server.url, cases=["DRF-01"], progress=False,
                  options={"constrain": "choice", "frames_as": "video", "num_frames": 4})
        body = server.bodies[0]
        assert body["structured_outputs"] == {"choice": ["yes", "no"]} and "allowed_token_ids" not in body
        url = body["messages"][0]["content"][0]["video_url"]["url"]
        assert url.startswith("data:video/jpeg;base64,") and url.count(",") == 4


def test_gpt_judge(run, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(VRBenchError, match="OPENAI_API_KEY"):
        judge_run(run.root, "gpt", cases=["ETV-07"], progress=False)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-secret")
    with StubServer() as server:
        judge_run(run.root, "gpt", judge_url=server.url, cases=["ETV-07"], progress=False,
                  options={"model": "o4-mini", "num_frames": 3})
        body = server.bodies[0]
        images = [p for p in body["messages"][0]["content"] if p["type"] == "image_url"]
        assert len(images) == 3 and images[0]["image_url"]["detail"] == "low"
        assert "logprobs" not in body and "temperature" not in body and body["max_completion_tokens"] == 2048
    rows = read_rows(run.judgments_file("gpt"))
    assert all(r["p_yes"] is None and r["answer"] in ("yes", "no") for r in rows)  # reasoning model: hard answers
    assert "sk-test-secret" not in run.run_file.read_text() + run.judgments_file("gpt").read_text()


def test_changed_settings_are_refused(run):
    with StubServer() as server:
        judge_run(run.root, "openai-compatible", options=FAST, judge_url=server.url, cases=["ETV-07"], progress=False)
        with pytest.raises(VRBenchError, match="num_frames"):
            judge_run(run.root, "openai-compatible", options={**FAST, "num_frames": 4}, judge_url=server.url, progress=False)


def test_cli(run, capsys):
    with StubServer() as server:
        code = main(["judge", str(run.root), "--judge", "openai-compatible", "--judge-url", server.url,
                     "--judge-arg", "model=stub-vlm", "--judge-arg", "num_frames=2", "--concurrency", "3",
                     "--cases", "HL-Comm", "--no-progress"])
        assert code == 0
        out = capsys.readouterr().out
        assert "8 questions" in out and "wrote" in out
        assert server.max_in_flight <= 3


@pytest.mark.parametrize("args,message", [
    (["--judge", "nope"], "unknown judge 'nope' (known: gpt, openai-compatible, qwen3-vl"),
    (["--judge", "openai-compatible", "--judge-arg", "frames=3"], "judge openai-compatible has no option 'frames'"),
    (["--judge", "openai-compatible", "--judge-arg", "num_frames=many"], "option num_frames: expected int"),
    (["--judge", "tiny-qwen-vl", "--judge-url", "http://x"], "runs locally and takes no --judge-url"),
    (["--judge", "openai-compatible"], "no server URL"),
])
def test_cli_errors_are_one_line(run, args, message):
    proc = subprocess.run([sys.executable, "-m", "vrbench", "judge", str(run.root), *args], capture_output=True, text=True)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.count("\n") == 1 and message in proc.stderr, proc.stderr
