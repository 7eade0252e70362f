"""One row schema for judgments/<judge>.jsonl: a fresh answer, a cached one and a failed video give the same fields."""

import socket

import pytest
from judge_helpers import make_run, read_rows
from openai_stub_server import StubServer

from vrbench.stages.judge import JUDGMENT_FIELDS, judge_run

JUDGE = "openai-compatible"
FAST = {"model": "stub-vlm", "timeout": 1.0}


@pytest.fixture(autouse=True)
def cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("VRBENCH_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture
def run(tmp_path):
    run = make_run(tmp_path / "run", ["DRF-01", "ETV-07"])
    run.video_path("ETV-07", 0).write_bytes(b"not a video")  # its questions become error rows
    return run


def _closed_port_url() -> str:
    """A server that is not there: the cached pass must not need one."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


def _judge_fresh_then_cached(run) -> tuple[list[dict], list[dict]]:
    with StubServer(latency=0.01) as server:
        judge_run(run.root, JUDGE, options=FAST, judge_url=server.url, progress=False)
    fresh = read_rows(run.judgments_file(JUDGE))
    run.judgments_file(JUDGE).unlink()
    summary = judge_run(run.root, JUDGE, options=FAST, judge_url=_closed_port_url(), progress=False)
    assert summary["cache_hits"] == 8 and summary["requests"] == 0
    return fresh, read_rows(run.judgments_file(JUDGE))


def _by_key(rows: list[dict]) -> dict:
    return {(r["case"], r["seed"], r["question"]): r for r in rows}


def test_fresh_cached_and_error_rows_have_the_same_fields_in_the_same_order(run):
    fresh, cached = _judge_fresh_then_cached(run)
    assert len(fresh) == len(cached) == 16
    for row in fresh + cached:
        assert tuple(row) == JUDGMENT_FIELDS
    answered = [r for r in fresh if r["case"] == "DRF-01"]
    from_cache = [r for r in cached if r["case"] == "DRF-01"]
    assert answered and not any(r["cached"] for r in answered) and all(r["requests"] >= 1 for r in answered)
    assert from_cache and all(r["cached"] and r["requests"] == 0 for r in from_cache)
    errors = [r for r in fresh + cached if r["case"] == "ETV-07"]
    assert all(r["error_kind"] == "video" and not r["cached"] and r["latency"] is None for r in errors)
    # a cached row carries the answer and how long the judge took to give it, not a made-up 0
    old = _by_key(answered)
    for row in from_cache:
        first = old[(row["case"], row["seed"], row["question"])]
        for field in ("answer", "p_yes", "raw", "finish_reason", "usage", "latency", "retried", "video_sha256"):
            assert row[field] == first[field], field
        assert row["latency"] > 0


def test_an_older_cache_entry_gives_null_latency_not_a_missing_key(run, cache_dir):
    from vrbench.judge_cache import JudgeCache

    with StubServer() as server:
        judge_run(run.root, JUDGE, options=FAST, judge_url=server.url, progress=False)
    cache = JudgeCache()  # entries as an older vrbench wrote them: the answer only
    for key, value in cache._db.execute("SELECT key, value FROM answers").fetchall():
        cache._db.execute("UPDATE answers SET value = ? WHERE key = ?",
                          (value.replace('"latency"', '"old_latency"').replace('"retried"', '"old_retried"'), key))
    cache.close()
    run.judgments_file(JUDGE).unlink()
    judge_run(run.root, JUDGE, options=FAST, judge_url=_closed_port_url(), progress=False)
    rows = [r for r in read_rows(run.judgments_file(JUDGE)) if r["cached"]]
    assert len(rows) == 8
    for row in rows:
        assert tuple(row) == JUDGMENT_FIELDS
        assert row["latency"] is None and row["retried"] is None  # unknown, and said so
