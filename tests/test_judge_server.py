"""The OpenAI-protocol judges against a real HTTP server on 127.0.0.1 (tests/openai_stub_server.py)."""

import json
import subprocess
import sys

import pytest
from judge_helpers import make_run, read_rows, run_fixtures
from openai_stub_server import StubServer, last_text, question_of

from vrbench.cli import main
from vrbench.errors import VRBenchError
from vrbench.judge import Judge, Reply, get_judge
from vrbench.stages.judge import judge_run
from vrbench.stages.score import score_run

CASES = ["DRF-01", "ETV-07", "CCR-03", "BBR-02"]
FAST = {"model": "stub-vlm", "timeout": 1.0}


cache_dir, run_template, run = run_fixtures(CASES, failed=["PCR-01"])


def keys(rows):
    return [(r["case"], r["seed"], r["question"]) for r in rows]


@pytest.mark.slow
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
    assert "api_key" not in sig  # at most the NAME of the variable holding a key (api_key_env), never a key
    result = score_run(run.root, "openai-compatible", suite_path=None)
    assert result["overall"]["n_answers"] == 32


@pytest.mark.slow
def test_persistent_failures_are_recorded_then_retried(run):
    with StubServer(faults=["ok"] + ["500"] * 6) as server:  # the first answered, then 3 questions x (1 try + 1 retry)
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
    with StubServer(faults=["401"] * 50) as server, pytest.raises(VRBenchError, match="model stub-vlm: HTTP 401 invalid_api_key: Incorrect API key"):
        judge_run(run.root, "openai-compatible", options=FAST, judge_url=server.url, progress=False)
    assert not run.judgments_file("openai-compatible").exists()


def test_qwen3_vl_server_request(run):
    """The default transport is what a stock `vllm serve` takes: our frames as image parts, no per-request media kwargs."""
    with StubServer() as server:  # strict like vLLM without --trust-request-mm-kwargs
        judge_run(run.root, "qwen3-vl", judge_url=server.url, cases=["ETV-07"], progress=False)
        assert server.counts["/tokenize"] == 6 and server.counts["/version"] == 1
        body = server.bodies[0]
        parts = body["messages"][0]["content"]
        images = [p for p in parts if p["type"] == "image_url"]
        assert len(images) == 9 and images[0]["image_url"]["url"].startswith("data:image/jpeg;base64,")
        assert parts[0] == {"type": "text", "text": "[0.0 s]"}
        assert body["model"] == "Qwen/Qwen3-VL-30B-A3B-Instruct" and body["max_tokens"] == 1
        assert body["allowed_token_ids"] and body["logprobs"] is True
        assert "mm_processor_kwargs" not in body and "media_io_kwargs" not in body
    rows = read_rows(run.judgments_file("qwen3-vl"))
    assert len(rows) == 8 and all(r["answer"] in ("yes", "no") and r["p_yes"] is not None for r in rows)
    assert all(r["error"] is None and r["finish_reason"] == "length" for r in rows)  # one allowed token: "length" is fine
    manifest = json.loads(run.run_file.read_text())
    assert manifest["judge_servers"]["qwen3-vl"]["vllm_version"] == "0.32.0"
    assert manifest["judges"]["qwen3-vl"]["frames"].startswith("uniform-centre")

    run.judgments_file("qwen3-vl").unlink()  # other settings: a fresh file (mixing them is refused)
    with StubServer() as server:
        judge_run(run.root, "qwen3-vl", judge_url=server.url, cases=["DRF-01"], progress=False,
                  options={"constrain": "choice", "frames_as": "video", "num_frames": 4})
        body = server.bodies[0]
        assert body["structured_outputs"] == {"choice": ["yes", "no"]} and "allowed_token_ids" not in body
        url = body["messages"][0]["content"][0]["video_url"]["url"]
        assert url.startswith("data:video/jpeg;base64,") and url.count(",") == 4


@pytest.mark.parametrize("model", ["o4-mini", "gpt-5"])
def test_gpt_reasoning_models_send_what_the_api_takes(run, monkeypatch, model):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(VRBenchError, match="OPENAI_API_KEY"):
        judge_run(run.root, "gpt", cases=["ETV-07"], progress=False)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-secret")
    with StubServer() as server:  # rejects temperature, logprobs, top_logprobs and max_tokens for reasoning models
        judge_run(run.root, "gpt", judge_url=server.url, cases=["ETV-07"], progress=False,
                  options={"model": model, "num_frames": 3})
        body = server.bodies[0]
        images = [p for p in body["messages"][0]["content"] if p["type"] == "image_url"]
        assert len(images) == 3 and images[0]["image_url"]["detail"] == "low"
        assert "logprobs" not in body and "temperature" not in body and body["max_completion_tokens"] == 4096
    rows = read_rows(run.judgments_file("gpt"))
    assert all(r["p_yes"] is None and r["answer"] in ("yes", "no") for r in rows)  # reasoning model: hard answers
    assert all(r["usage"]["reasoning"] == 120 for r in rows)  # what the hidden reasoning cost is recorded
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


def test_the_stub_is_as_strict_as_the_openai_api(run, monkeypatch):
    """A request the real API rejects (max_tokens and temperature for gpt-5) is rejected here too: the first
    request fails, so the run stops with one line and writes nothing."""
    with StubServer() as server:
        with pytest.raises(VRBenchError, match="first request failed .*HTTP 400: Unsupported parameter: 'max_tokens'"):
            judge_run(run.root, "openai-compatible", options={"model": "gpt-5"}, judge_url=server.url, progress=False)
        assert server.chat_requests == 1
    assert not run.judgments_file("openai-compatible").exists()


@pytest.mark.parametrize("fault,kind", [("length", "length"), ("content_filter", "content_filter"), ("refusal", "refusal"),
                                        ("empty", "empty")])
def test_unusable_replies_are_error_rows_never_cached(run, fault, kind):
    with StubServer(faults=["ok", fault]) as server:
        judge_run(run.root, "openai-compatible", options=FAST, judge_url=server.url, cases=["DRF-01"], concurrency=1,
                  progress=False)
        rows = read_rows(run.judgments_file("openai-compatible"))
        bad = [r for r in rows if r["error"]]
        assert len(rows) == 8 and len(bad) == 1 and bad[0]["error_kind"] == kind and bad[0]["answer"] == "invalid"
        assert bad[0]["finish_reason"] == {"length": "length", "content_filter": "content_filter"}.get(fault, "stop")
        assert not bad[0]["retried"]  # a stricter instruction cannot fix a cut, a filter or a refusal
        # not cached: a fresh file asks exactly that question again
        run.judgments_file("openai-compatible").unlink()
        before = server.chat_requests
        again = judge_run(run.root, "openai-compatible", options=FAST, judge_url=server.url, cases=["DRF-01"], progress=False)
        assert server.chat_requests == before + 1 and again["cache_hits"] == 7 and again["errors"] == 0


def test_an_old_vllm_is_refused_in_one_line(run):
    with StubServer(vllm_version="0.10.1") as server:
        with pytest.raises(VRBenchError, match="runs vLLM 0.10.1; qwen3-vl needs vLLM >= 0.12.0"):
            judge_run(run.root, "qwen3-vl", judge_url=server.url, progress=False)
        assert server.chat_requests == 0
    assert not run.judgments_file("qwen3-vl").exists()


def test_thinking_replies_are_read_after_the_reasoning(run):
    with StubServer(faults=["ok", "think"]) as server:
        judge_run(run.root, "openai-compatible", options=FAST, judge_url=server.url, cases=["DRF-01"], concurrency=1,
                  progress=False)
    rows = read_rows(run.judgments_file("openai-compatible"))
    thought = [r for r in rows if r["raw"].startswith("<think>")]
    assert len(thought) == 1 and thought[0]["answer"] in ("yes", "no") and thought[0]["error"] is None
    assert thought[0]["p_yes"] is None  # the first token was "<think>", not the answer


def test_thinking_models_get_a_budget_and_no_constraint(run):
    judge = get_judge("qwen3-vl")(model="Qwen/Qwen3-VL-8B-Thinking", url="http://x/v1")
    sig = judge.signature()
    assert judge.thinking and sig["constrain"] == "none" and sig["max_tokens"] == 4096 and sig["extra_body"] is None
    with pytest.raises(VRBenchError, match="thinks before it answers"):
        get_judge("qwen3-vl")(model="Qwen/Qwen3-VL-8B-Thinking", url="http://x/v1", constrain="tokens")


def test_p_yes_only_when_the_first_token_is_the_answer(run):
    with StubServer(answer=lambda q, body: "The answer is no.") as server:
        judge_run(run.root, "openai-compatible", options=FAST, judge_url=server.url, cases=["DRF-01"], progress=False)
    rows = read_rows(run.judgments_file("openai-compatible"))
    assert all(r["answer"] == "no" and r["p_yes"] is None for r in rows)


def _closed_port_url() -> str:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


@pytest.mark.parametrize("judge", ["openai-compatible", "qwen3-vl"])
def test_unreachable_server_stops_at_once_with_one_line(run, judge):
    url = _closed_port_url()
    proc = subprocess.run([sys.executable, "-m", "vrbench", "judge", str(run.root), "--judge", judge, "--judge-url", url,
                           "--judge-arg", "model=stub-vlm", "--no-progress"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("vrbench: error:")]
    assert len(errors) == 1 and url.removesuffix("/v1") in errors[0] and "cannot be reached" in errors[0]
    assert not run.judgments_file(judge).exists()


@pytest.mark.parametrize("faults,options,message", [
    ([], {"model": "no-such-model"}, "does not serve model 'no-such-model' \\(it serves: .*stub-vlm"),
    (["400"] * 3, FAST, "first request failed \\(HTTP 400"),
    (["quota"], FAST, "HTTP 429 insufficient_quota: You exceeded your current quota"),
])
def test_a_judge_that_cannot_answer_stops_before_writing(run, faults, options, message):
    with StubServer(faults=faults) as server:
        with pytest.raises(VRBenchError, match=message):
            judge_run(run.root, "openai-compatible", options=options, judge_url=server.url, progress=False)
        assert server.chat_requests <= 1
    assert not run.judgments_file("openai-compatible").exists()


def test_many_failures_in_a_row_stop_the_run_keeping_answers(run):
    with StubServer(faults=["ok"] * 9 + ["400"] * 100) as server:
        with pytest.raises(VRBenchError, match="5 requests in a row failed \\(HTTP 400"):
            judge_run(run.root, "openai-compatible", options=FAST, judge_url=server.url, concurrency=1, max_failures=5,
                      progress=False)
        assert server.chat_requests == 9 + 5
    rows = read_rows(run.judgments_file("openai-compatible"))
    assert sum(r["error"] is None for r in rows) == 9  # the answers before the failures are kept


def test_openai_compatible_sends_no_key_unless_told(run, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-must-not-leak")
    monkeypatch.setenv("MY_SERVER_KEY", "local-key")
    with StubServer() as server:
        judge_run(run.root, "openai-compatible", options=FAST, judge_url=server.url, cases=["DRF-01"], progress=False)
        assert set(server.auth) == {"Bearer EMPTY"}
        run.judgments_file("openai-compatible").unlink()
        judge_run(run.root, "openai-compatible", options={**FAST, "api_key_env": "MY_SERVER_KEY"}, judge_url=server.url,
                  cases=["DRF-01"], progress=False, use_cache=False)
        assert "Bearer local-key" in server.auth and "Bearer sk-must-not-leak" not in server.auth
    written = run.run_file.read_text() + run.judgments_file("openai-compatible").read_text()
    assert "local-key" not in written and "sk-must-not-leak" not in written


def test_a_cached_run_needs_no_server(run):
    with StubServer() as server:
        judge_run(run.root, "openai-compatible", options=FAST, judge_url=server.url, progress=False)
    run.judgments_file("openai-compatible").unlink()
    summary = judge_run(run.root, "openai-compatible", options=FAST, judge_url=_closed_port_url(), progress=False)
    assert summary["cache_hits"] == 32 and summary["requests"] == 0 and not summary["loaded"]


@pytest.mark.slow
def test_answers_survive_kill_9(run, tmp_path):
    """Answers the server delivered are on disk at once: after kill -9 none of them is asked again."""
    import os
    import signal
    import time

    env = {**os.environ, "VRBENCH_CACHE_DIR": str(tmp_path / "cache")}
    cmd = [sys.executable, "-m", "vrbench", "judge", str(run.root), "--judge", "openai-compatible",
           "--judge-arg", "model=stub-vlm", "--concurrency", "4", "--no-progress"]
    with StubServer(hang_after=11) as server:  # answers 11 questions (a video and a bit), then hangs
        proc = subprocess.Popen([*cmd, "--judge-url", server.url], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while server.answered < 11 and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(1.5)  # the client has the answers; the hanging requests never return
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        delivered = [question_of(last_text(b)) for b in server.bodies[:11]]
    rows = read_rows(run.judgments_file("openai-compatible"))
    assert len(rows) == 11
    with StubServer() as server:
        subprocess.run([*cmd, "--judge-url", server.url], env=env, check=True, capture_output=True, timeout=120)
        asked_again = [question_of(last_text(b)) for b in server.bodies]
        assert server.chat_requests == 32 - 11 and not set(asked_again) & set(delivered)
    rows = read_rows(run.judgments_file("openai-compatible"))
    assert len(rows) == len(set(keys(rows))) == 32


@pytest.mark.parametrize("video", ["/etc/hostname", "../outside.mp4", "videos/link.mp4", "notes.txt"])
def test_a_run_cannot_make_the_judge_send_other_files(run, video):
    """Every video path resolves inside the run and must probe as a video before any byte is sent."""
    (run.root.parent / "outside.mp4").write_bytes((run.root / "videos" / "DRF-01-s0.mp4").read_bytes())
    (run.root / "videos" / "link.mp4").symlink_to(run.root.parent / "outside.mp4")
    (run.root / "notes.txt").write_text("secret text\n" * 100)
    rows = read_rows(run.generations_file)
    rows[0]["video"] = video
    run.generations_file.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with StubServer() as server:
        for frames_as in ("mp4", "images"):
            judge_run(run.root, "openai-compatible", options={**FAST, "frames_as": frames_as}, judge_url=server.url,
                      cases=[rows[0]["case"], "ETV-07"], progress=False, use_cache=False)
            bad = [r for r in read_rows(run.judgments_file("openai-compatible")) if r["case"] == rows[0]["case"]]
            assert len(bad) == 8 and all(r["error_kind"] == "video" and video.split("/")[-1] in r["error"] for r in bad)
            run.judgments_file("openai-compatible").unlink()
            (run.root / "run.json").write_text(json.dumps({k: v for k, v in json.loads(run.run_file.read_text()).items()
                                                           if k != "judges"}))
        sent = json.dumps(server.bodies)
        assert "secret" not in sent and len(server.bodies) == 2 * 8  # only ETV-07's questions went out


@pytest.mark.slow
def test_two_judges_on_one_run_write_each_row_once(run, tmp_path):
    import os

    env = {**os.environ, "VRBENCH_CACHE_DIR": str(tmp_path / "cache")}
    with StubServer(latency=0.05) as server:
        cmd = [sys.executable, "-m", "vrbench", "judge", str(run.root), "--judge", "openai-compatible",
               "--judge-url", server.url, "--judge-arg", "model=stub-vlm", "--no-progress", "--no-cache"]
        procs = [subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(2)]
        assert all(p.wait(timeout=120) == 0 for p in procs)
        assert server.chat_requests == 32
    rows = read_rows(run.judgments_file("openai-compatible"))
    assert len(rows) == len(set(keys(rows))) == 32


def test_missing_videos_are_named_and_scored_as_missing(run, caplog):
    manifest = json.loads(run.run_file.read_text())
    manifest.update(cases=sorted(CASES + ["PCR-01"]), seeds=[0, 1])
    run.run_file.write_text(json.dumps(manifest))
    with StubServer() as server:
        summary = judge_run(run.root, "openai-compatible", options=FAST, judge_url=server.url, progress=False)
    assert summary["missing_videos"] == 5 and summary["skipped_generation_errors"] == 1  # seed 1 of all 5; PCR-01 failed
    assert "5 (case, seed) pairs have no video yet" in caplog.text
    result = score_run(run.root, "openai-compatible", suite_path=None)
    assert result["videos_missing"] == 6 and result["videos_expected"] == 10


def test_older_signature_says_how_to_continue(run):
    with StubServer() as server:
        judge_run(run.root, "openai-compatible", options=FAST, judge_url=server.url, cases=["DRF-01"], progress=False)
        manifest = json.loads(run.run_file.read_text())
        del manifest["judges"]["openai-compatible"]["frames"]  # as an older vrbench recorded it
        run.run_file.write_text(json.dumps(manifest))
        with pytest.raises(VRBenchError, match="its 8 answers were given under other 'openai-compatible' settings "
                                               "\\(frames differ.*add --rejudge"):
            judge_run(run.root, "openai-compatible", options=FAST, judge_url=server.url, progress=False)
        before = server.chat_requests
        summary = judge_run(run.root, "openai-compatible", options=FAST, judge_url=server.url, progress=False, rejudge=True)
        assert summary["set_aside"] == 8 and summary["questions"] == 32
        assert server.chat_requests == before + 24  # DRF-01 comes from the cache: same video, question and settings
    assert len(list((run.root / "judgments").glob("openai-compatible.jsonl.replaced-*"))) == 1


def test_the_prompt_is_part_of_the_key_when_the_judge_sees_it():
    from vrbench.judge_cache import cache_key

    sig = {"judge": "x", "show_prompt": True}
    assert cache_key("v", "q", sig, "p1") != cache_key("v", "q", sig, "p2") != cache_key("v", "q", sig)


# -- the signature: every option, unless the judge says it cannot change an answer ---------------------------

class _Says(Judge):
    """Answers whatever its option says (a stand-in for any option that changes answers)."""

    needs_frames = False
    options_not_in_signature = frozenset({"pause"})

    def __init__(self, *, answer: str = "yes", pause: float = 0.0, api_key: str | None = None, tags: tuple[str, ...] = ()):
        super().__init__()
        self.answer, self.pause = answer, pause

    async def ask(self, video, question, *, prompt=None, strict=False):
        return Reply(self.answer)


@pytest.fixture
def says(monkeypatch):
    from vrbench.judge import JUDGES

    JUDGES.names()  # the built-ins first, so none of them replaces the stand-in
    monkeypatch.setitem(JUDGES._classes, "says", _Says)
    monkeypatch.setattr(_Says, "registry_name", "says", raising=False)
    return "says"


def test_an_option_left_out_of_signature_cannot_return_stale_answers(tmp_path, says):
    """The judge above writes no signature() of its own: every option is in it all the same, so the cached
    "yes" is not the answer to a run with answer=no (it was, when options had to be listed by hand)."""
    first = make_run(tmp_path / "first", ["DRF-01"])
    judge_run(first.root, says, options={"answer": "yes"}, progress=False)
    assert {r["answer"] for r in read_rows(first.judgments_file(says))} == {"yes"}
    second = make_run(tmp_path / "second", ["DRF-01"])  # the same video bytes: only the option differs
    summary = judge_run(second.root, says, options={"answer": "no"}, progress=False)
    assert summary["cache_hits"] == 0 and {r["answer"] for r in read_rows(second.judgments_file(says))} == {"no"}
    sig = json.loads(second.run_file.read_text())["judges"][says]
    assert sig["answer"] == "no" and sig["tags"] == []


def test_options_that_change_no_answer_and_secrets_stay_out(tmp_path, says):
    first = make_run(tmp_path / "first", ["DRF-01"])
    judge_run(first.root, says, options={"pause": 0.0}, progress=False)
    second = make_run(tmp_path / "second", ["DRF-01"])
    summary = judge_run(second.root, says, options={"pause": 5.0, "api_key": "sk-in-an-option"}, progress=False)
    assert summary["cache_hits"] == 8  # a declared non-answer option (and a secret) change no key
    sig = json.loads(second.run_file.read_text())["judges"][says]
    assert "pause" not in sig and "api_key" not in sig
    assert "sk-in-an-option" not in second.run_file.read_text() + second.judgments_file(says).read_text()


def _another(value, kind):
    """A value of ``kind`` other than ``value``."""
    import typing

    args = [a for a in typing.get_args(kind) if a is not type(None)]
    if typing.get_origin(kind) is typing.Literal:
        return next(a for a in args if a != value)
    if args and typing.get_origin(args[0]) is typing.Literal:
        return next(a for a in typing.get_args(args[0]) if a != value)
    base = args[0] if args else kind
    if base is bool:
        return not value
    if base in (int, float):
        return (value or 0) + 1
    return (value or "") + "-other"


#: values that really are other settings, where the generic other value is not (gpt sends at most 20 top
#: logprobs; qwen3-vl's max_tokens defaults to 1; a dtype or device must exist)
_OTHER = {("gpt", "logprobs"): False, ("gpt", "top_logprobs"): 5, ("qwen3-vl", "frames_as"): "video",
          ("qwen3-vl", "constrain"): "choice", ("qwen3-vl", "thinking"): True, ("qwen3-vl", "max_tokens"): 16,
          ("transformers", "dtype"): "float16", ("transformers", "device"): "cuda"}


@pytest.mark.parametrize("name", ["openai-compatible", "gpt", "qwen3-vl", "transformers", "tiny-qwen-vl"])
def test_every_builtin_option_is_in_the_signature_or_declared_harmless(name, monkeypatch):
    from vrbench.options import option_defaults, option_types

    cls = get_judge(name)
    types, defaults = option_types(cls), option_defaults(cls)
    assert cls.options_not_in_signature <= set(types), "declares an option it does not have"
    base = {"model": "m", "url": "http://x/v1"} if "url" in types else {"model": "m"} if name == "transformers" else {}
    reference = cls(**base).signature()
    for option, kind in types.items():
        if option == "template":  # another template needs another file; its hash is in the signature
            continue
        value = _OTHER.get((name, option), _another(base.get(option, defaults[option]), kind))
        changed = cls(**{**base, option: value}).signature()
        if option in cls.options_not_in_signature or (name == "qwen3-vl" and option == "dtype"):
            assert changed == reference, option  # qwen3-vl's dtype: the offline engine's, not a server's
        else:
            assert changed != reference, f"{name}: {option}={value!r} leaves the signature as it was"
