"""Agreement: Kendall's tau-b, Cohen's kappa, bootstrap CIs, human label files, `vrbench agreement`."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from itertools import combinations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_report import make_run

from vrbench.agreement import (
    cohen_kappa,
    kendall_tau_b,
    layer_weighted_score,
    question_agreement,
    tau_with_case_bootstrap,
    tau_with_model_bootstrap,
)
from vrbench.cli import main
from vrbench.scoring import Answer, case_score


def brute_tau_b(x, y):
    """Kendall's tau-b from its definition (concordant/discordant pairs, tie corrections)."""
    c = d = tx = ty = 0
    for i, j in combinations(range(len(x)), 2):
        sx, sy = (x[i] > x[j]) - (x[i] < x[j]), (y[i] > y[j]) - (y[i] < y[j])
        if sx and sy:
            c, d = c + (sx == sy), d + (sx != sy)
        elif sx:
            ty += 1
        elif sy:
            tx += 1
    n0 = c + d
    denom = ((n0 + tx) * (n0 + ty)) ** 0.5
    return None if denom == 0 else (c - d) / denom


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 4), st.integers(0, 4)), min_size=2, max_size=12))
@pytest.mark.slow
def test_tau_b_matches_its_definition(pairs):
    x, y = [p[0] for p in pairs], [p[1] for p in pairs]
    expected = brute_tau_b(x, y)
    got = kendall_tau_b(x, y)
    assert (got is None) == (expected is None)
    if got is not None:
        assert got == pytest.approx(expected, abs=1e-9)


def test_kappa_known_values():
    # 10 items: both yes 4, both no 3, a-yes/b-no 2, a-no/b-yes 1 -> po 0.7, pe 0.6*0.5 + 0.4*0.5 = 0.5, kappa 0.4
    a = ["yes"] * 4 + ["no"] * 3 + ["yes"] * 2 + ["no"]
    b = ["yes"] * 4 + ["no"] * 3 + ["no"] * 2 + ["yes"]
    assert cohen_kappa(a, b) == pytest.approx(0.4)
    assert cohen_kappa(a, a) == pytest.approx(1.0)
    assert cohen_kappa(["yes", "no"], ["no", "yes"]) == pytest.approx(-1.0)
    assert cohen_kappa(["yes"] * 3, ["yes"] * 3) is None  # chance agreement 1: undefined, not 1 or 0
    assert cohen_kappa([], []) is None


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["yes", "no"]), st.sampled_from(["yes", "no"])), min_size=1, max_size=30))
def test_kappa_properties(pairs):
    a, b = [p[0] for p in pairs], [p[1] for p in pairs]
    k = cohen_kappa(a, b)
    assert k == cohen_kappa(b, a)
    if k is not None:
        assert -1.0 - 1e-9 <= k <= 1.0 + 1e-9
        if a == b:
            assert k == pytest.approx(1.0)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(["yes", "no", "invalid"]), min_size=8, max_size=8))
def test_layer_weighted_score_is_the_case_score_on_complete_videos(answers):
    layers = (1, 1, 2, 2, 2, 3, 3, 3)
    expected = case_score([Answer(l, a) for l, a in zip(layers, answers)])
    assert layer_weighted_score([(l, float(a == "yes")) for l, a in zip(layers, answers)], (0.2, 0.3, 0.5)) == pytest.approx(expected)


def test_case_bootstrap_is_reproducible_and_brackets_the_estimate():
    a = {m: {f"C{i}": float(k * 10 + (i % 5)) for i in range(30)} for k, m in enumerate("pqrs")}
    b = {m: {c: v + (3 if c == "C1" else 0) for c, v in cases.items()} for m, cases in a.items()}
    r1 = tau_with_case_bootstrap(a, b, samples=200, seed=7)
    r2 = tau_with_case_bootstrap(a, b, samples=200, seed=7)
    assert r1 == r2 and r1.tau_b == pytest.approx(1.0) and r1.n_models == 4
    assert r1.ci[0] <= r1.tau_b <= r1.ci[1] and r1.n_bootstrap == 200
    assert tau_with_case_bootstrap(a, b, samples=200, seed=8).ci is not None


def test_model_bootstrap():
    r = tau_with_model_bootstrap({"a": 1, "b": 2, "c": 3, "d": 4}, {"a": 10, "b": 30, "c": 20, "d": 40}, samples=300, seed=0)
    assert r.tau_b == pytest.approx(brute_tau_b([1, 2, 3, 4], [10, 30, 20, 40]))
    assert r.bootstrap_unit == "run" and r.ci[0] <= r.ci[1]
    assert tau_with_model_bootstrap({"a": 1}, {"a": 2}).tau_b is None  # one model: no ranking to compare


def test_question_agreement_counts_invalid_apart():
    q = question_agreement([("yes", "yes"), ("no", "yes"), ("invalid", "no"), ("no", "no")])
    assert (q.n, q.n_invalid) == (3, 1) and q.accuracy == pytest.approx(2 / 3)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("agree")
    return [make_run(tmp / name, name, p_yes=p, judges=("judge-a", "judge-b"), seed=i, video_cases=(), score=True)
            for i, (name, p) in enumerate([("alpha", 0.85), ("beta", 0.6), ("gamma", 0.35)])]


def write_csv(path, rows):
    with open(path, "w", newline="") as f:
        csv.writer(f).writerows(rows)
    return path


def judge_rows(run, judge="judge-a"):
    return [json.loads(l) for l in (run / "judgments" / f"{judge}.jsonl").read_text().splitlines()]


def test_agreement_cli_question_level(runs, tmp_path, capsys):
    # humans agree with judge-a except on every 4th labelled question of each model
    rows, pairs = [["run", "case", "question", "answer"]], []
    for run in runs:
        labelled = [r for r in judge_rows(run) if r["case"] in ("DRF-01", "ETV-02", "CCR-03", "BBR-04", "CAC-05")]
        for i, r in enumerate(labelled):
            human = r["answer"] if r["answer"] != "invalid" else "no"
            if i % 4 == 0:
                human = "no" if human == "yes" else "yes"
            rows.append([run.name, r["case"], r["question"], human])
            pairs.append((r["answer"], human))
    human = write_csv(tmp_path / "human.csv", rows)
    assert main(["agreement", *map(str, runs), "--human", str(human), "--bootstrap", "100", "--json", str(tmp_path / "a.json")]) == 0
    out = capsys.readouterr().out
    assert "judge-a vs humans" in out and "judge-a vs judge-b" in out and "judge-b vs humans" in out
    result = json.loads((tmp_path / "a.json").read_text())
    a = next(h for h in result["human"] if h["judge"] == "judge-a")
    expected = question_agreement(pairs)
    assert a["questions"]["accuracy"] == pytest.approx(expected.accuracy) and a["questions"]["kappa"] == pytest.approx(expected.kappa)
    assert a["questions"]["n"] + a["questions"]["n_invalid"] == len(rows) - 1
    assert a["ranking"]["n_models"] == 3 and a["ranking"]["bootstrap_unit"] == "case" and a["ranking"]["ci"] is not None
    jj = result["judges"][0]
    assert jj["judges"] == ["judge-a", "judge-b"] and jj["ranking"]["tau_b"] == pytest.approx(1.0)  # p_yes far apart
    assert jj["questions"]["n"] > 3 * 208 * 8 * 0.9


def test_agreement_cli_model_level(runs, tmp_path, capsys):
    human = write_csv(tmp_path / "human.csv", [["model", "score"], ["alpha", 9], ["beta", 3], ["gamma", 5]])  # `model`: the older name of `run`
    assert main(["agreement", *map(str, runs), "--human", str(human), "--bootstrap", "100", "--json", str(tmp_path / "a.json")]) == 0
    a = json.loads((tmp_path / "a.json").read_text())["human"][0]
    assert a["kind"] == "run" and a["ranking"]["bootstrap_unit"] == "run"
    judge = {m["run"]: m["a"] for m in a["ranking"]["models"]}
    assert {m["run"]: m["model"] for m in a["ranking"]["models"]} == {"alpha": "alpha", "beta": "beta", "gamma": "gamma"}
    overall = {r.name: json.loads((r / "scores" / "judge-a.json").read_text())["overall"]["score"] for r in runs}
    assert judge == pytest.approx(overall)
    assert a["ranking"]["tau_b"] == pytest.approx(brute_tau_b([overall[m] for m in "alpha beta gamma".split()], [9, 3, 5]))


def cli(*args):
    return subprocess.run([sys.executable, "-m", "vrbench", *args], capture_output=True, text=True)


@pytest.mark.parametrize(
    "rows,message",
    [
        ([["who", "what"], ["a", "b"]], ":1: header: expected columns run,case,question,answer[,seed] or run,score (the run's label"),
        ([["case", "question", "answer"], ["DRF-01", "Q1", "yes"]], ":1: header: expected columns run,case,question,answer[,seed]"),
        ([["run", "score"], ["alpha", "high"]], ":2: score: expected a number, got 'high'"),
        ([["run", "score"], ["alpha", "1"], ["alpha", "2"]], ":3: duplicate score for run 'alpha' (first at line 2)"),
        ([["run", "score"], ["delta", "1"]], ":2: run: no run labelled 'delta' (runs: alpha, beta, gamma)"),
        ([["model", "score"], ["delta", "1"]], ":2: model: no run labelled 'delta' (runs: alpha, beta, gamma)"),
        ([["run", "score"], ["", "1"]], ":2: run: expected the label of a run"),
        ([["model", "case", "question", "answer"], ["alpha", "DRF-01", "Q1", "maybe"]], ":2: answer: expected yes or no, got 'maybe'"),
        ([["model", "case", "question", "answer"], ["alpha", "ZZZ-01", "Q1", "yes"]], ":2: case: unknown case 'ZZZ-01'"),
        ([["model", "case", "question", "answer"], ["alpha", "DRF-01", "Q9", "yes"]], ":2: question: case DRF-01 has no question 'Q9'"),
        ([["model", "case", "question", "answer", "seed"], ["alpha", "DRF-01", "Q1", "yes", "-2"]], ":2: seed: expected a non-negative integer"),
        ([["model", "case", "question", "answer"], ["alpha", "DRF-01", "Q1", "yes"], ["alpha", "DRF-01", "Q1", "no"]], ":3: duplicate label for alpha DRF-01 Q1 (first at line 2)"),
        ([["model", "score"], ["alpha", "1", "extra"]], ":2: expected 2 columns like the header, got 3"),
    ],
)
def test_malformed_human_files_give_one_line_errors(runs, tmp_path, rows, message):
    path = write_csv(tmp_path / "human.csv", rows)
    proc = cli("agreement", *map(str, runs), "--human", str(path), "--bootstrap", "10")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and proc.stderr.count("\n") == 1, proc.stderr
    assert proc.stderr.startswith(f"vrbench: error: {path}{message}"), proc.stderr


def test_nothing_to_compare_is_an_error(tmp_path):
    run = make_run(tmp_path / "solo", "solo", video_cases=())
    proc = cli("agreement", str(run))
    assert proc.returncode == 2 and "nothing to compare: pass --human FILE" in proc.stderr


@pytest.mark.slow
def test_labels_without_seed_must_be_unambiguous(tmp_path):
    from vrbench.files import append_jsonl

    run = make_run(tmp_path / "two-seeds", "m", video_cases=())
    append_jsonl(run / "judgments" / "judge-a.jsonl", [{"case": "DRF-01", "seed": 1, "question": f"Q{i}", "answer": "yes"} for i in range(1, 9)])
    assert main(["score", str(run), "--judge", "judge-a", "--bootstrap", "10"]) == 0  # the report stage only reads scores
    path = write_csv(tmp_path / "human.csv", [["run", "case", "question", "answer"], ["two-seeds", "DRF-01", "Q1", "yes"]])
    proc = cli("agreement", str(run), "--human", str(path), "--bootstrap", "10")
    assert proc.returncode == 2 and proc.stderr.startswith(f"vrbench: error: {path}:2: seed: run {run} has seeds 0, 1 for DRF-01; add a seed column")
    with_seed = write_csv(tmp_path / "human2.csv", [["run", "case", "question", "answer", "seed"], ["two-seeds", "DRF-01", "Q1", "yes", "1"]])
    assert main(["agreement", str(run), "--human", str(with_seed), "--bootstrap", "10"]) == 0


def test_two_runs_of_one_model_are_ranked_apart(tmp_path):
    """Runs are named by label: two runs of one model (other settings) are two entries in every ranking."""
    runs = [make_run(tmp_path / "wan-a", "wan2.1-t2v-14b", p_yes=0.85, judges=("judge-a", "judge-b"), video_cases=()),
            make_run(tmp_path / "other", "wan2.1-t2v-14b", p_yes=0.5, judges=("judge-a", "judge-b"), seed=1, video_cases=(), label="wan-b"),
            make_run(tmp_path / "cog", "cogvideox-5b", p_yes=0.2, judges=("judge-a", "judge-b"), seed=2, video_cases=())]
    human = write_csv(tmp_path / "human.csv", [["run", "score"], ["wan-a", 3], ["wan-b", 2], ["cog", 1]])
    assert main(["agreement", *map(str, runs), "--human", str(human), "--bootstrap", "20", "--json", str(tmp_path / "a.json")]) == 0
    result = json.loads((tmp_path / "a.json").read_text())
    for ranking in [h["ranking"] for h in result["human"]] + [result["judges"][0]["ranking"]]:
        assert ranking["n_models"] == 3
        assert {m["run"]: m["model"] for m in ranking["models"]} == {"wan-a": "wan2.1-t2v-14b", "wan-b": "wan2.1-t2v-14b", "cog": "cogvideox-5b"}
    assert result["human"][0]["ranking"]["tau_b"] == pytest.approx(1.0)


def test_labelled_runs_not_given_are_skipped_with_a_note(runs, tmp_path, capsys):
    """A label file may cover more runs than a report shows: those are left out, in one line per rater pair."""
    human = write_csv(tmp_path / "human.csv", [["run", "score"], ["alpha", 9], ["delta", 1], ["beta", 3], ["gamma", 5], ["omega", 2]])
    assert main(["agreement", *map(str, runs), "--human", str(human), "--bootstrap", "20", "--json", str(tmp_path / "a.json")]) == 0
    out = capsys.readouterr().out
    note = "2 labelled runs not among the runs given, skipped: delta, omega"
    assert f"note: judge-a vs humans leaves out {note}" in out.splitlines()
    a = json.loads((tmp_path / "a.json").read_text())["human"][0]
    assert a["excluded"] == [note] and a["ranking"]["n_models"] == 3
    assert a["ranking"]["tau_b"] == pytest.approx(brute_tau_b([m["a"] for m in a["ranking"]["models"]], [9, 3, 5]))

    rows = [["run", "case", "question", "answer"]] + [[name, "DRF-01", "Q1", "yes"] for name in ("alpha", "beta", "delta")]
    per_question = write_csv(tmp_path / "questions.csv", rows)
    assert main(["agreement", *map(str, runs), "--human", str(per_question), "--bootstrap", "20", "--json", str(tmp_path / "q.json")]) == 0
    q = json.loads((tmp_path / "q.json").read_text())["human"][0]
    assert q["excluded"] == ["1 labelled run not among the runs given, skipped: delta"]
    assert q["questions"]["n"] + q["questions"]["n_invalid"] == 2

    site = tmp_path / "site"
    assert main(["report", *map(str, runs[:2]), "--out", str(site), "--human", str(human), "--bootstrap", "20"]) == 0
    assert "Left out: 3 labelled runs not among the runs given, skipped: delta, gamma, omega." in (site / "index.html").read_text()


def test_a_label_file_naming_none_of_the_runs_is_an_error(runs, tmp_path):
    path = write_csv(tmp_path / "human.csv", [["run", "case", "question", "answer"], ["delta", "DRF-01", "Q1", "yes"], ["omega", "DRF-01", "Q1", "no"]])
    proc = cli("agreement", *map(str, runs), "--human", str(path), "--bootstrap", "10")
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
    assert proc.stderr.startswith(f"vrbench: error: {path}:2: run: no run labelled 'delta' (runs: alpha, beta, gamma); "
                                  "no run the file labels is among the runs given"), proc.stderr
