"""`vrbench audit`: control clips, the flags' maths, and the command end to end against local judge servers."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from judge_helpers import blue_level, make_run, read_rows, run_fixtures, square_x
from openai_stub_server import StubServer, images_of

from vrbench.audit import (
    AUDIT_FIELDS,
    CONTROLS,
    FLAGS,
    Observation,
    Thresholds,
    flag_stat,
    parse_controls,
    shuffle_order,
    summarize,
    swap_partners,
    write_audit_page,
)
from vrbench.cli import main
from vrbench.errors import VRBenchError
from vrbench.stages.judge import judge_run
from vrbench.suite import load_suite
from vrbench.video import sample_frames, sha256_file

CASES = ["ETV-01", "CAR-01", "BBR-01", "PCR-01"]  # each has an order question in layer 2 or 3
JUDGE = "openai-compatible"
OPTIONS = {"model": "stub-vlm", "timeout": 20.0}
SUITE = load_suite()


# --- the maths (pure functions) --------------------------------------------------------------------

ANSWER = st.sampled_from(["yes", "no", "invalid"])
OBS = st.builds(
    Observation,
    case=st.sampled_from(["ETV-01", "ETV-02", "CAR-01"]), seed=st.integers(0, 2), question=st.sampled_from(["Q1", "Q4", "Q7"]),
    dimension=st.just("-"), layer=st.integers(1, 3), kind=st.sampled_from(["presence", "motion", "order", None]),
    real=st.one_of(st.none(), ANSWER), controls=st.dictionaries(st.sampled_from(CONTROLS), ANSWER),
)


def _consistent(obs: list[Observation]) -> list[Observation]:
    """As a suite has it: one dimension (from the case id), layer and kind per question; one observation per video x question."""
    meta, out = {}, {}
    for o in obs:
        layer, kind = meta.setdefault((o.case, o.question), (o.layer, o.kind))
        out[(o.case, o.seed, o.question)] = Observation(o.case, o.seed, o.question, o.case.split("-")[0], layer, kind, o.real, o.controls)
    return list(out.values())


@settings(max_examples=150, deadline=None)
@given(st.lists(OBS, max_size=30), st.floats(0, 1), st.floats(0, 1), st.floats(0, 1))
def test_summary_counts_add_up_and_flags_follow_their_rule(raw, t1, t2, t3):
    obs = _consistent(raw)
    th = Thresholds(default_yes=t1, order_blind=t2, content_blind=t3)
    s = summarize(obs, th)
    # questions, dimensions and overall count the same answers
    for part in ("real",):
        assert s["overall"][part]["n"] == sum(q[part]["n"] for q in s["questions"]) == sum(d[part]["n"] for d in s["dimensions"].values())
    for c in CONTROLS:
        for k in ("n", "yes", "pairs", "kept"):
            assert s["overall"]["controls"][c][k] == sum(q["controls"][c][k] for q in s["questions"])
    for group in [s["overall"], *s["dimensions"].values(), *s["questions"]]:
        for c in CONTROLS:
            g = group["controls"][c]
            assert 0 <= g["kept"] <= g["pairs"] <= group["real"]["yes"] and g["yes"] <= g["n"]
            for rate in (g["yes_rate"], g["kept_rate"]):
                assert rate is None or 0.0 <= rate <= 1.0
        for f in FLAGS:
            fs = group["flags"][f]
            assert fs["flagged"] == (fs["pairs"] > 0 and fs["kept"] / fs["pairs"] >= th.threshold(f))
            assert fs["control"] == {"default-yes": "static", "order-blind": "reversed", "content-blind": "swapped"}[f]
        assert group["flagged"] == [f for f in FLAGS if group["flags"][f]["flagged"]]
    # flags look only at the questions in their scope
    for q in s["questions"]:
        assert q["flags"]["default-yes"]["applies"] == (q["layer"] in (2, 3))
        assert q["flags"]["order-blind"]["applies"] == (q["kind"] == "order")
        if not q["flags"]["order-blind"]["applies"]:
            assert not q["flags"]["order-blind"]["flagged"]
    assert s["overall"]["flags"]["content-blind"]["flagged_questions"] == sum("content-blind" in q["flagged"] for q in s["questions"])
    assert [(f["case"], f["question"]) for f in s["flagged"]] == [(q["case"], q["question"]) for q in s["questions"] if q["flagged"]]


@settings(max_examples=100, deadline=None)
@given(st.lists(OBS, max_size=20), st.floats(0, 1), st.floats(0, 1))
def test_a_lower_threshold_never_clears_a_flag(raw, a, b):
    obs = _consistent(raw)
    low, high = sorted((a, b))
    for f in FLAGS:
        hi = flag_stat(obs, f, Thresholds(**{f.replace("-", "_"): high}))
        lo = flag_stat(obs, f, Thresholds(**{f.replace("-", "_"): low}))
        assert lo["flagged"] or not hi["flagged"]


def test_flags_by_hand():
    def o(seed, real, layer=2, kind="order", **controls):
        return Observation("ETV-01", seed, "Q7", "ETV", layer, kind, real, controls)

    th = Thresholds()
    # two real yes: the static clip keeps one (1/2 = the threshold: flagged); the real no does not count
    obs = [o(0, "yes", static="yes"), o(1, "yes", static="no"), o(2, "no", static="yes")]
    got = flag_stat(obs, "default-yes", th)
    assert (got["pairs"], got["kept"], got["rate"], got["flagged"], got["control"]) == (2, 1, 0.5, True, "static")
    assert not flag_stat(obs, "default-yes", Thresholds(default_yes=0.6))["flagged"]
    # invalid control answers and unjudged real clips are left out; layer-1 questions are out of default-yes
    assert flag_stat([o(0, "yes", static="invalid"), o(1, None, static="yes")], "default-yes", th)["pairs"] == 0
    assert not flag_stat([o(0, "yes", layer=1, static="yes")], "default-yes", th)["applies"]
    # order-blind only for the order kinds; content-blind for every question
    assert flag_stat([o(0, "yes", reversed="yes")], "order-blind", th)["flagged"]
    assert not flag_stat([o(0, "yes", kind="motion", reversed="yes")], "order-blind", th)["flagged"]
    assert flag_stat([o(0, "yes", kind="motion", reversed="yes")], "order-blind", Thresholds(order_kinds=("order", "motion")))["flagged"]
    assert flag_stat([o(0, "yes", layer=1, kind="presence", swapped="yes")], "content-blind", th)["flagged"]
    with pytest.raises(VRBenchError, match="default-yes-threshold"):
        Thresholds(default_yes=1.5)


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 200), st.text(min_size=1, max_size=8), st.integers(0, 5))
def test_shuffle_order_is_a_fixed_permutation_that_moves_frames(n, case, seed):
    order = shuffle_order(n, case, seed)
    assert sorted(order) == list(range(n)) and order == shuffle_order(n, case, seed)
    if n >= 2:
        assert order != list(range(n))


@settings(max_examples=100, deadline=None)
@given(st.sets(st.tuples(st.sampled_from(["A-1", "B-2", "C-3", "D-4", "E-5"]), st.integers(0, 3)), max_size=20), st.randoms())
def test_swap_partners_are_another_case_of_the_run_whatever_the_order(pairs, rnd):
    shuffled = list(pairs)
    rnd.shuffle(shuffled)
    partners = swap_partners(shuffled)
    assert partners == swap_partners(sorted(pairs))
    if len({c for c, _ in pairs}) < 2:
        assert partners == {}
        return
    assert set(partners) == pairs
    for (case, seed), (other, other_seed) in partners.items():
        assert other != case and (other, other_seed) in pairs
        assert other_seed == seed or seed not in {s for c, s in pairs if c == other}


def test_controls_are_parsed_in_one_line():
    assert parse_controls(None) == CONTROLS
    assert parse_controls("reversed,static") == ("static", "reversed")
    assert parse_controls(["swapped", "static"]) == ("static", "swapped")
    with pytest.raises(VRBenchError, match=r"unknown control 'mirrored' \(known: static, reversed, shuffled, swapped\)"):
        parse_controls("static,mirrored")


# --- end to end against local judge servers --------------------------------------------------------


cache_dir, run_template, run = run_fixtures(CASES)


def always_yes(question, body):
    return "Yes."


#: the blue level make_run gives each case's video (its index x 25), by question text
BLUE = {q.text: 25 * i for i, cid in enumerate(CASES) for q in SUITE.case(cid).questions}


def watches(question, body):
    """A judge that looks: yes only when the square moves steadily right and the clip is this case's video."""
    frames = images_of(body)
    xs = [square_x(f) for f in frames]
    forward = len(xs) > 1 and None not in xs and all(b >= a for a, b in zip(xs, xs[1:])) and xs[-1] - xs[0] > 10
    own = all(abs(blue_level(f) - BLUE[question]) < 8 for f in frames)
    return "Yes." if forward and own else "No."


def audit(run, server, *extra):
    return main(["audit", str(run.root), "--judge", JUDGE, "--judge-url", server.url, "--judge-arg", "model=stub-vlm",
                 "--judge-arg", "timeout=20", "--no-progress", *extra])


def judged(run, server):
    judge_run(run.root, JUDGE, options=OPTIONS, judge_url=server.url, progress=False)


def summary_of(run) -> dict:
    return json.loads((run.root / "audit" / f"{JUDGE}.json").read_text())


@pytest.mark.slow
def test_an_always_yes_judge_is_flagged_default_yes_order_blind_and_content_blind(run, capsys):
    with StubServer(answer=always_yes) as server:
        judged(run, server)
        before = server.chat_requests
        assert audit(run, server) == 0
        assert server.chat_requests - before == len(CASES) * len(CONTROLS) * 8  # every question of every clip, once
    out = capsys.readouterr().out
    assert "128 questions to answer, 0 in the judge cache, 128 requests" in out and "overall" in out
    rows = read_rows(run.root / "audit" / f"{JUDGE}.jsonl")
    assert len(rows) == len({(r["control"], r["case"], r["seed"], r["question"]) for r in rows}) == 128
    assert all(tuple(r) == AUDIT_FIELDS and r["answer"] == "yes" for r in rows)
    for r in rows:  # every clip lies in the run, made from a video of the run; swapped from another case's
        assert r["clip"] == f"audit/controls/{r['control']}/{r['case']}-s0.mp4" and (run.root / r["clip"]).is_file()
        assert r["source"].startswith("videos/") and (r["source"] != f"videos/{r['case']}-s0.mp4") == (r["control"] == "swapped")
        assert r["video_sha256"] == sha256_file(run.root / r["clip"])
    s = summary_of(run)
    assert s["overall"]["flagged"] == list(FLAGS)
    assert s["overall"]["real"]["yes_rate"] == 1.0 and all(s["overall"]["controls"][c]["yes_rate"] == 1.0 for c in CONTROLS)
    for q in s["questions"]:
        expect = [f for f in FLAGS if (f != "default-yes" or q["layer"] >= 2) and (f != "order-blind" or q["kind"] == "order")]
        assert q["flagged"] == expect, q
    assert s["overall"]["flags"]["order-blind"]["flagged_questions"] == sum(
        q.kind == "order" for c in CASES for q in SUITE.case(c).questions)
    assert set(s["dimensions"]) == {"ETV", "CAR", "BBR", "PCR"} and s["judge"] == JUDGE


@pytest.mark.slow
def test_a_judge_that_watches_the_clip_is_not_flagged(run):
    with StubServer(answer=watches) as server:
        judged(run, server)
        assert {r["answer"] for r in read_rows(run.judgments_file(JUDGE))} == {"yes"}  # the real clips move right
        assert audit(run, server) == 0
    s = summary_of(run)
    assert s["flagged"] == [] and s["overall"]["flagged"] == []
    controls = s["overall"]["controls"]
    assert controls["static"]["yes_rate"] == controls["reversed"]["yes_rate"] == controls["swapped"]["yes_rate"] == 0.0
    assert controls["shuffled"]["yes_rate"] == 0.0  # no shuffled order is steadily forward
    order = s["overall"]["flags"]["order-blind"]
    assert order["pairs"] > 0 and order["rate"] == 0.0 and not order["flagged"]


def moves(question, body):
    """A judge that sees motion but not its direction nor what moves: yes when the square moves at all."""
    xs = [square_x(f) for f in images_of(body)]
    return "Yes." if None not in xs and max(xs) - min(xs) > 10 else "No."


def test_a_judge_blind_to_direction_and_content_is_flagged_for_those_only(run, capsys):
    with StubServer(answer=moves) as server:
        judged(run, server)
        assert audit(run, server, "--yes") == 0
    s = summary_of(run)
    assert s["overall"]["flagged"] == ["order-blind", "content-blind"]  # the still clip gets its no
    assert s["overall"]["controls"]["static"]["yes_rate"] == 0.0 and s["overall"]["controls"]["reversed"]["yes_rate"] == 1.0
    assert {f for q in s["flagged"] for f in q["flags"]} == {"order-blind", "content-blind"}
    assert "order-blind 100% (5 q)" in capsys.readouterr().out


def test_control_clips_hold_what_they_say(run):
    with StubServer(answer=always_yes) as server:
        judged(run, server)
        assert audit(run, server, "--cases", "ETV-01", "--confirm-above", "100") == 0
    real = sample_frames(run.video_path("ETV-01", 0), 1000)
    xs = [square_x(f) for f in real.images]
    clips = {k: sample_frames(run.root / "audit" / "controls" / k / "ETV-01-s0.mp4", 1000) for k in CONTROLS}
    assert all(c.total_frames == real.total_frames and c.fps == real.fps for c in clips.values())
    assert {square_x(f) for f in clips["static"].images} == {xs[0]}
    assert [square_x(f) for f in clips["reversed"].images] == xs[::-1]
    assert [square_x(f) for f in clips["shuffled"].images] == [xs[i] for i in shuffle_order(len(xs), "ETV-01", 0)]
    other, seed = swap_partners([(c, 0) for c in CASES])[("ETV-01", 0)]
    assert other != "ETV-01"
    assert sha256_file(run.root / "audit/controls/swapped/ETV-01-s0.mp4") == sha256_file(run.video_path(other, seed))


def test_a_rerun_asks_nothing_and_the_cache_rebuilds_the_answers(run, capsys):
    with StubServer(answer=always_yes) as server:
        judged(run, server)
        assert audit(run, server, "--controls", "static,swapped") == 0
        clips = {p: p.stat().st_mtime_ns for p in (run.root / "audit" / "controls").rglob("*.mp4")}
        asked = server.chat_requests
        capsys.readouterr()
        assert audit(run, server, "--controls", "static,swapped") == 0  # resume: everything answered
        assert server.chat_requests == asked and "asked 0 questions" in capsys.readouterr().out
        (run.root / "audit" / f"{JUDGE}.jsonl").unlink()  # the cache rebuilds them without a request
        assert audit(run, server, "--controls", "static,swapped") == 0
        out = capsys.readouterr().out
        assert server.chat_requests == asked and "64 in the judge cache, 0 requests" in out
        assert {p: p.stat().st_mtime_ns for p in (run.root / "audit" / "controls").rglob("*.mp4")} == clips  # not remade
        rows = read_rows(run.root / "audit" / f"{JUDGE}.jsonl")
        assert len(rows) == 64 and all(r["cached"] for r in rows)
        # adding a control asks only its questions; --limit counts videos
        assert audit(run, server, "--controls", "reversed", "--limit", "1") == 0
        assert server.chat_requests == asked + 8
    s = summary_of(run)
    assert s["controls"] == ["static", "reversed", "swapped"] and s["overall"]["controls"]["reversed"]["n"] == 8


def test_the_cache_key_holds_the_control_kind(run):
    """The swapped clip is a copy of another case's video; the static clip of a still video would be its copy:
    the same bytes in another role are never answered from the real clip's cache entry."""
    from vrbench.stages.judge import JudgeItem, count_cached, make_judge

    with StubServer(answer=always_yes) as server:
        judged(run, server)
        judge = make_judge(JUDGE, OPTIONS, server.url)
        sig = judge.signature()
        case = SUITE.case("ETV-01")
        questions = [(q.id, q.text) for q in case.questions]
        real = JudgeItem("ETV-01", 0, run.video_path("ETV-01", 0), case.prompt, questions)
        assert count_cached(judge, [real], sig) == 8
        as_control = JudgeItem("ETV-01", 0, run.video_path("ETV-01", 0), case.prompt, questions, extra={"control": "static"},
                               key_extra={"audit_control": "static"})
        assert count_cached(judge, [as_control], sig) == 0


def test_a_large_audit_asks_for_yes(run, capsys):
    with StubServer(answer=always_yes) as server:
        judged(run, server)
        before = server.chat_requests
        capsys.readouterr()
        assert audit(run, server, "--controls", "static", "--confirm-above", "31") == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and "would send 32 requests" in err and "--yes" in err
        assert server.chat_requests == before and not (run.root / "audit" / f"{JUDGE}.jsonl").exists()
        assert audit(run, server, "--controls", "static", "--confirm-above", "31", "--yes") == 0
        assert server.chat_requests == before + 32


@pytest.mark.parametrize("args, message", [
    (["--controls", "static,mirrored"], "--controls: unknown control 'mirrored' (known: static, reversed, shuffled, swapped)"),
    (["--limit", "0"], "--limit: expected >= 1"),
    (["--order-blind-threshold", "2"], "--order-blind-threshold: expected a share between 0 and 1"),
    (["--order-kinds", "sequence"], "--order-kinds: unknown question kind 'sequence'"),
])
def test_usage_errors_are_one_line(run, capsys, args, message):
    assert main(["audit", str(run.root), "--judge", JUDGE, "--judge-url", "http://127.0.0.1:9/v1", "--judge-arg", "model=stub-vlm",
                 *args]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err


def test_an_unjudged_run_is_refused_in_one_line(run, capsys):
    assert main(["audit", str(run.root), "--judge", JUDGE, "--judge-url", "http://127.0.0.1:9/v1", "--judge-arg", "model=stub-vlm"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and f"run `vrbench judge {run.root} --judge {JUDGE}` first" in err
    assert not (run.root / "audit").exists()


def test_other_judge_settings_are_refused_in_one_line(run, capsys):
    with StubServer(answer=always_yes) as server:
        judged(run, server)
        assert audit(run, server, "--judge-arg", "num_frames=4") == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and "num_frames differ" in err and "same --judge-arg" in err
        assert server.chat_requests == 32


def test_the_audit_page_links_flagged_questions_to_their_case_pages(run, tmp_path):
    with StubServer(answer=always_yes) as server:
        judged(run, server)
        assert audit(run, server, "--controls", "static,swapped", "--cases", "ETV-01", "--confirm-above", "100") == 0
    s = summary_of(run)
    site = tmp_path / "site"
    page = write_audit_page(site, s, SUITE, slug="test-model", label="<b>mine</b>")
    assert page == site / "models" / "test-model" / f"audit-{JUDGE}.html"
    html = page.read_text()
    assert '<a href="ETV-01.html">ETV-01</a>' in html and "&lt;b&gt;mine&lt;/b&gt;" in html and "<b>mine</b>" not in html
    assert SUITE.case("ETV-01").questions[1].text.replace("'", "&#39;") in html  # a flagged question, with its text
    assert "content-blind" in html and 'href="../../index.html"' in html


def test_the_report_publishes_the_audit_beside_the_run(run, tmp_path):
    """`vrbench report` finds RUN/audit/<judge>.json, writes its page and links it from the run's page."""
    with StubServer(answer=always_yes) as server:
        judged(run, server)
        assert audit(run, server, "--controls", "static", "--cases", "ETV-01", "--confirm-above", "100") == 0
    assert main(["score", str(run.root), "--judge", JUDGE, "--bootstrap", "0"]) == 0
    site = tmp_path / "site"
    assert main(["report", str(run.root), "--out", str(site), "--bootstrap", "0"]) == 0
    run_page = next((site / "models").glob("*/index.html"))
    assert f'href="audit-{JUDGE}.html"' in run_page.read_text()
    assert (run_page.parent / f"audit-{JUDGE}.html").is_file()


@pytest.mark.vllm
@pytest.mark.slow
def test_audit_against_a_real_vllm_server(vllm_server, tmp_path, capsys):
    """`vrbench audit` end to end on a small run, judged and audited by qwen3-vl on a real vLLM server (CPU, tiny
    random Qwen3-VL: the answers mean nothing; every request, clip and row is the real thing)."""
    run = make_run(tmp_path / "run", ["ETV-01", "CAR-01"])
    options = {"model": vllm_server.model}
    judge_run(run.root, "qwen3-vl", judge_url=vllm_server.url, options=options, progress=False)
    before = vllm_server.metrics().get("vllm:request_success_total", 0.0)
    args = ["audit", str(run.root), "--judge", "qwen3-vl", "--judge-url", vllm_server.url, "--judge-arg",
            f"model={vllm_server.model}", "--no-progress"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "64 questions to answer, 0 in the judge cache, 64 requests" in out and "overall" in out
    rows = read_rows(run.root / "audit" / "qwen3-vl.jsonl")
    assert len(rows) == len({(r["control"], r["case"], r["question"]) for r in rows}) == 2 * 4 * 8
    assert all(r["answer"] in ("yes", "no") and r["error"] is None and r["p_yes"] is not None for r in rows)
    sent = vllm_server.metrics()["vllm:request_success_total"] - before
    assert sent == sum(r["requests"] for r in rows) >= 64
    s = json.loads((run.root / "audit" / "qwen3-vl.json").read_text())
    assert s["overall"]["questions"] == 16 and set(s["overall"]["controls"]) == set(CONTROLS)
    assert main(args) == 0 and vllm_server.metrics()["vllm:request_success_total"] - before == sent  # nothing asked twice
