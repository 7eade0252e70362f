"""`vrbench demo`: the whole pipeline with tiny random models, on the CPU."""

from __future__ import annotations

import json

import pytest

from vrbench.cli import main

pytest.importorskip("diffusers")


@pytest.mark.slow
def test_demo(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--no-progress", "--bootstrap", "50"]) == 0
    text = capsys.readouterr().out
    assert "RANDOM weights" in text and "meaningless" in text
    scores = json.loads((out / "scores" / "tiny-qwen-vl.json").read_text())
    assert scores["overall"]["n_cases"] == 8  # one case per dimension: every score is defined
    assert scores["overall"]["score"] is not None
    assert (out / "report" / "index.html").is_file()
    # random weights, but not a judge that says "no" to everything: the demo shows answers and scores spread out
    rows = [json.loads(line) for line in (out / "judgments" / "tiny-qwen-vl.jsonl").read_text().splitlines()]
    answers = [r["answer"] for r in rows]
    assert len(rows) == 64 and answers.count("yes") >= 8 and answers.count("no") >= 8, answers
    assert all((r["answer"] == "yes") == (r["p_yes"] >= 0.5) for r in rows)  # the answer is the likelier one
    by_dimension = {code: d["score"] for code, d in scores["dimensions"].items()}
    assert len(by_dimension) == 8 and len(set(by_dimension.values())) > 1 and scores["overall"]["score"] > 0, by_dimension
    # the demo's report shows every feature: the leaderboard with its rank, the significance page, the judge audit
    assert "questions on control clips" in text
    site = out / "report"
    assert (site / "significance.html").is_file() and 'href="significance.html"' in (site / "index.html").read_text()
    run_page = next((site / "models").glob("*/index.html"))
    assert 'href="audit-tiny-qwen-vl.html"' in run_page.read_text()
    audit = json.loads((out / "audit" / "tiny-qwen-vl.json").read_text())
    assert set(audit["controls"]) == {"static", "reversed", "shuffled", "swapped"}
    table = (site / "leaderboard.md").read_text()  # the paper-table format of the same leaderboard
    assert table.startswith("| Rank | Run | Model | Judge | Overall |") and "| demo | tiny-wan | tiny-qwen-vl |" in table
    # the demo says how to label its videos, and what it says works: label every video, then agreement
    assert f"vrbench label {out} --annotator NAME" in text and f"vrbench agreement {out} --human labels-NAME.csv" in text
    from vrbench.label import LabelSession, load_videos, plan_videos

    videos, suite = load_videos([out])
    session = LabelSession(plan_videos(videos, suite), suite, tmp_path / "labels-me.csv", "me")
    for i in range(len(session.plan)):
        for q in session.questions(i):
            session.answer(i, q, "yes")
    assert main(["agreement", str(out), "--human", str(session.path), "--bootstrap", "20"]) == 0
    assert "tiny-qwen-vl vs humans" in capsys.readouterr().out
