"""`vrbench label` without a browser: the plan (blind order, stratified sample), the session's file
(append at once, undo as a retract row, resume), two writers on one file, and the server (range
requests, blinding of every response, requests from other sites refused)."""

from __future__ import annotations

import csv
import json
import multiprocessing
import urllib.error
import urllib.request
from collections import Counter

import pytest
from test_report import make_run

from vrbench.errors import VRBenchError
from vrbench.label import LabelSession, Video, load_videos, plan_videos
from vrbench.label_server import LabelServer, byte_range
from vrbench.suite import load_suite

CASES = ("DRF-01", "ETV-01", "CAC-01")
SECRETS = ("alpha-model", "beta-model", "secret-gen-a", "secret-gen-b", "runs", "judge-a")


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("label")
    a = make_run(tmp / "runs" / "a", "secret-gen-a", p_yes=0.8, label="alpha-model", video_cases=CASES)
    b = make_run(tmp / "runs" / "b", "secret-gen-b", p_yes=0.3, seed=1, label="beta-model", video_cases=CASES)
    return [a, b]


def rows(path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


# --- the plan ------------------------------------------------------------------------------------


def fake_videos(runs=("r1", "r2", "r3"), seeds=(0, 1)) -> list[Video]:
    suite = load_suite()
    return [Video(r, c.id, s, None) for r in runs for c in suite.cases for s in seeds]  # type: ignore[arg-type]


def test_plan_is_seeded_and_interleaves_runs():
    suite, videos = load_suite(), fake_videos()
    plan = plan_videos(videos, suite, seed=1)
    assert sorted(plan, key=lambda v: (v.run, v.case, v.seed)) == sorted(videos, key=lambda v: (v.run, v.case, v.seed))
    assert plan == plan_videos(list(reversed(videos)), suite, seed=1)  # the order does not depend on the input's
    assert plan != plan_videos(videos, suite, seed=2)
    first = [v.run for v in plan[:30]]
    assert len(set(first)) == 3  # runs are mixed, not one after the other


def test_sample_is_stratified_and_the_same_for_every_run():
    suite = load_suite()
    plan = plan_videos(fake_videos(), suite, sample=16, seed=0)
    by_run = {r: sorted(v.case for v in plan if v.run == r) for r in ("r1", "r2", "r3")}
    assert by_run["r1"] == by_run["r2"] == by_run["r3"] and len(by_run["r1"]) == 16
    dims = Counter(suite.case(c).dimension for c in by_run["r1"])
    assert sorted(dims.values()) == [2] * 8  # 16 cases over 8 dimensions: two each
    assert {v.seed for v in plan} == {0}  # one video per case and run: the lowest seed every run has
    assert plan_videos(fake_videos(), suite, sample=16, seed=0) == plan
    assert {v.case for v in plan_videos(fake_videos(), suite, sample=16, seed=5)} != set(by_run["r1"])


def test_sample_takes_only_cases_every_run_has():
    suite = load_suite()
    videos = [v for v in fake_videos() if not (v.run == "r2" and v.case.startswith("ETV"))]
    plan = plan_videos(videos, suite, sample=40, seed=0)
    assert not any(v.case.startswith("ETV") for v in plan)
    with pytest.raises(VRBenchError, match="--sample 300: only 182 cases"):
        plan_videos(videos, suite, sample=300)


# --- the session and its file --------------------------------------------------------------------


def test_answers_are_appended_at_once_undo_retracts_and_a_new_session_resumes(runs, tmp_path):
    videos, suite = load_videos(runs)
    plan = plan_videos(videos, suite, seed=0)
    path = tmp_path / "labels.csv"
    s = LabelSession(plan, suite, path, "alice")
    assert s.progress() == {"done": 0, "total": 6, "answered": 0, "questions": 48, "next": 0}
    qs = s.questions(0)
    for q in qs:
        s.answer(0, q, "yes")
        assert len(rows(path)) == qs.index(q) + 1  # on disk before the call returns
    s.answer(1, qs[0], "no")
    assert s.undo() == {"index": 1, "question": qs[0]}
    assert s.undo() == {"index": 0, "question": qs[-1]}
    s.answer(0, qs[-1], "cant-tell")
    written = rows(path)
    assert [r["answer"] for r in written[-3:]] == ["retract", "retract", "cant-tell"]
    assert set(written[0]) == {"run", "case", "seed", "question", "answer", "annotator", "time"}
    assert {r["annotator"] for r in written} == {"alice"}
    assert written[0]["run"] == plan[0].run and written[0]["case"] == plan[0].case

    again = LabelSession(plan, suite, path, "alice")  # a killed server, restarted
    assert again.progress()["done"] == 1 and again.progress()["next"] == 1
    assert [q["answer"] for q in again.item(0)["questions"]] == ["yes"] * 7 + ["cant-tell"]
    assert again.undo() == {"index": 0, "question": qs[-1]}  # undo walks back what was given before the restart too
    assert LabelSession(plan, suite, path, "bob").progress()["answered"] == 0  # another annotator starts afresh


def test_a_half_written_row_is_cut_before_new_rows(runs, tmp_path):
    videos, suite = load_videos(runs)
    plan = plan_videos(videos, suite)
    path = tmp_path / "labels.csv"
    s = LabelSession(plan, suite, path, "alice")
    s.answer(0, s.questions(0)[0], "yes")
    with open(path, "a") as f:
        f.write("alpha-model,DRF-0")  # a kill mid-append
    s = LabelSession(plan, suite, path, "alice")
    s.answer(0, s.questions(0)[1], "no")
    assert [r["answer"] for r in rows(path)] == ["yes", "no"]


def _write_many(path, annotator, n, plan_args):
    videos, suite = load_videos(plan_args)
    s = LabelSession(plan_videos(videos, suite), suite, path, annotator)
    for i in range(n):
        index = i % len(s.plan)
        s.answer(index, s.questions(index)[i // len(s.plan) % 8], "yes" if i % 2 else "no")


def test_two_annotators_write_into_one_file_at_once(runs, tmp_path):
    path = tmp_path / "shared.csv"
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_write_many, args=(path, name, 48, runs)) for name in ("alice", "bob")]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    written = rows(path)
    assert Counter(r["annotator"] for r in written) == {"alice": 48, "bob": 48}  # one header, no row lost or torn
    assert path.read_text().count("run,case,seed,question") == 1


def test_bad_input_is_one_line(runs, tmp_path):
    videos, suite = load_videos(runs)
    s = LabelSession(plan_videos(videos, suite), suite, tmp_path / "l.csv", "alice")
    with pytest.raises(VRBenchError, match="answer: expected one of yes, no, cant-tell"):
        s.answer(0, s.questions(0)[0], "maybe")
    with pytest.raises(VRBenchError, match="question: expected one of Q1"):
        s.answer(0, "Q9", "yes")
    with pytest.raises(VRBenchError, match="index: expected 0..5"):
        s.item(6)
    with pytest.raises(VRBenchError, match="--annotator"):
        LabelSession([], suite, tmp_path / "l.csv", "a,b")
    old_format = tmp_path / "old.csv"
    old_format.write_text("run,case,question,answer\nalpha-model,DRF-01,Q1,yes\n")
    with pytest.raises(VRBenchError, match=r"old.csv:1: header: expected run,case,seed,question,answer,annotator,time"):
        LabelSession([], suite, old_format, "alice")
    twin = make_run(tmp_path / "twin", "m", label="alpha-model", video_cases=("DRF-01",), score=False)
    with pytest.raises(VRBenchError, match="two runs are labelled 'alpha-model'"):
        load_videos([*runs, twin])
    with pytest.raises(VRBenchError, match="no finished videos"):
        load_videos([make_run(tmp_path / "empty", "m", video_cases=(), score=False)])


# --- the server ----------------------------------------------------------------------------------


@pytest.mark.parametrize("header, expected", [
    (None, None), ("bytes=0-", (0, 99)), ("bytes=10-19", (10, 19)), ("bytes=90-200", (90, 99)),
    ("bytes=-10", (90, 99)), ("bytes=-500", (0, 99)), ("bytes=0-1,5-6", None), ("items=0-1", None),
])
def test_byte_range(header, expected):
    assert byte_range(header, 100) == expected


@pytest.mark.parametrize("header", ["bytes=100-", "bytes=50-40", "bytes=-0"])
def test_byte_range_not_satisfiable(header):
    with pytest.raises(ValueError):
        byte_range(header, 100)


@pytest.fixture
def server(runs, tmp_path):
    import threading

    videos, suite = load_videos(runs)
    srv = LabelServer(LabelSession(plan_videos(videos, suite, seed=4), suite, tmp_path / "labels.csv", "alice"))
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def fetch(url: str, data: dict | None = None, headers: dict | None = None) -> tuple[int, dict, bytes]:
    body = None if data is None else json.dumps(data).encode()
    h = {"Content-Type": "application/json"} if data is not None else {}
    req = urllib.request.Request(url, data=body, headers={**h, **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def test_server_streams_videos_with_ranges(server):
    path = server.session.video_path(0)
    data = path.read_bytes()
    status, headers, body = fetch(server.url + "video/0")
    assert status == 200 and body == data and headers["Accept-Ranges"] == "bytes"
    status, headers, body = fetch(server.url + "video/0", headers={"Range": "bytes=100-199"})
    assert status == 206 and body == data[100:200] and headers["Content-Range"] == f"bytes 100-199/{len(data)}"
    status, headers, _ = fetch(server.url + "video/0", headers={"Range": f"bytes={len(data)}-"})
    assert status == 416 and headers["Content-Range"] == f"bytes */{len(data)}"
    assert fetch(server.url + "video/99")[0] == 404


def test_nothing_served_names_a_run_or_model(server):
    served = [fetch(server.url)[2], fetch(server.url + "api/progress")[2]]
    served += [fetch(server.url + f"api/item/{i}")[2] for i in range(6)]
    s = server.session
    served.append(fetch(server.url + "api/answer", {"index": 2, "question": s.questions(2)[0], "answer": "yes"})[2])
    served.append(fetch(server.url + "api/undo", {})[2])
    text = b"\n".join(served).decode()
    for secret in SECRETS:
        assert secret not in text
    assert "Yes." not in text  # the judge's raw answers are not sent
    item = json.loads(served[2])
    assert set(item) == {"index", "total", "prompt", "video", "questions", "progress"}


def test_requests_from_other_sites_are_refused(server):
    port = server.server_address[1]
    assert fetch(server.url + "api/progress", headers={"Host": f"evil.example:{port}"})[0] == 403
    req = urllib.request.Request(server.url + "api/answer", data=b"index=0&question=Q1&answer=yes",
                                 headers={"Content-Type": "application/x-www-form-urlencoded"})
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(req, timeout=10)
    assert e.value.code == 415
    assert not (server.session.path.read_text().strip().count("\n"))  # only the header: nothing was recorded
    status, _, body = fetch(server.url + "api/answer", {"index": 0, "question": "Q1", "answer": "perhaps"})
    assert status == 400 and "answer: expected one of" in json.loads(body)["error"]
