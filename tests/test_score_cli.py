import json
import shutil
import subprocess
import sys

import pytest
from conftest import DATA

from vrbench.cli import main


@pytest.fixture
def run_dir(tmp_path):
    dst = tmp_path / "run"
    shutil.copytree(DATA / "example-run", dst, ignore=shutil.ignore_patterns("scores"))
    return dst


def judgments(run_dir):
    return run_dir / "judgments" / "example-judge.jsonl"


def test_score_writes_json_and_table(run_dir, capsys):
    assert main(["score", str(run_dir)]) == 0
    out = capsys.readouterr().out
    assert "Overall" in out and "95% CI" in out and "HL-Comm" in out
    result = json.loads((run_dir / "scores" / "example-judge.json").read_text())
    assert result["suite"]["name"] == "VR-Bench" and result["suite"]["version"] == "1.0"
    assert result["config"]["layer_weights"] == [0.2, 0.3, 0.5]
    assert set(result["dimensions"]) == {"DRF", "ETV", "MMC", "CAR", "CCR", "PCR", "BBR", "CAC"}
    assert 0 <= result["overall"]["score"] <= 100
    lo, hi = result["overall"]["ci"]
    assert lo <= result["overall"]["score"] <= hi
    n_invalid = sum(1 for line in judgments(run_dir).read_text().splitlines() if '"invalid"' in line)
    assert result["overall"]["n_invalid"] == n_invalid > 0
    assert result["overall"]["n_answers"] == 208 * 8
    # category = mean of its dimensions; overall = mean of the 8 dimensions
    dims = result["dimensions"]
    assert result["categories"]["Emb-Phys"]["score"] == pytest.approx((dims["BBR"]["score"] + dims["CAC"]["score"]) / 2, abs=1e-3)
    assert result["overall"]["score"] == pytest.approx(sum(d["score"] for d in dims.values()) / 8, abs=1e-3)


def test_score_is_reproducible(run_dir):
    main(["score", str(run_dir)])
    a = json.loads((run_dir / "scores" / "example-judge.json").read_text())
    main(["score", str(run_dir)])
    b = json.loads((run_dir / "scores" / "example-judge.json").read_text())
    a.pop("created"), b.pop("created")
    assert a == b


def test_soft_and_gating_options(run_dir):
    main(["score", str(run_dir)])
    hard = json.loads((run_dir / "scores" / "example-judge.json").read_text())
    main(["score", str(run_dir), "--soft", "--gating", "--bootstrap", "0"])
    soft = json.loads((run_dir / "scores" / "example-judge.json").read_text())
    assert soft["config"]["soft"] and soft["config"]["gating"]
    assert soft["overall"]["ci"] is None
    assert soft["overall"]["score"] != hard["overall"]["score"]


def test_missing_question_counts_as_invalid(run_dir):
    lines = judgments(run_dir).read_text().splitlines()
    dropped = json.loads(lines[0])
    judgments(run_dir).write_text("\n".join(lines[1:]) + "\n")
    main(["score", str(run_dir)])
    result = json.loads((run_dir / "scores" / "example-judge.json").read_text())
    assert result["overall"]["n_missing"] == 1
    assert result["dimensions"][dropped["case"][:3]]["n_missing"] == 1


def replace_line(run_dir, lineno, row):
    lines = judgments(run_dir).read_text().splitlines()
    lines[lineno - 1] = row if isinstance(row, str) else json.dumps(row)
    judgments(run_dir).write_text("\n".join(lines) + "\n")


@pytest.mark.parametrize(
    "row,message",
    [
        ("{oops", ":5: invalid JSON"),
        ({"case": "DRF-01", "seed": 0, "question": "Q1", "answer": "maybe"}, ":5: answer: expected one of yes, no, invalid, got 'maybe'"),
        ({"case": "DRF-01", "seed": -1, "question": "Q1", "answer": "yes"}, ":5: seed: expected a non-negative integer"),
        ({"case": "DRF-01", "seed": 0, "question": "Q1", "answer": "yes", "p_yes": 1.5}, ":5: p_yes: expected null or a probability in [0, 1]"),
        ({"case": "ZZZ-01", "seed": 0, "question": "Q1", "answer": "yes"}, ":5: case: unknown case 'ZZZ-01'"),
        ({"case": "DRF-01", "seed": 0, "question": "Q9", "answer": "yes"}, ":5: question: case DRF-01 has no question 'Q9'"),
        ({"case": "DRF-01", "seed": 0, "question": "Q1", "answer": "yes"}, ":5: duplicate row for DRF-01 seed 0 Q1 (first at line 1)"),
    ],
)
def test_malformed_rows_give_one_line_errors(run_dir, row, message):
    replace_line(run_dir, 5, row)
    proc = subprocess.run([sys.executable, "-m", "vrbench", "score", str(run_dir)], capture_output=True, text=True, cwd=run_dir)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.count("\n") == 1
    assert proc.stderr.startswith(f"vrbench: error: {judgments(run_dir)}{message}"), proc.stderr


def test_torn_last_line_is_ignored(run_dir):
    with open(judgments(run_dir), "a") as f:
        f.write('{"case": "DRF-01", "seed": 1, "quest')  # what a crash mid-append leaves
    assert main(["score", str(run_dir)]) == 0


def test_suite_mismatch_is_refused(run_dir, capsys):
    manifest = json.loads((run_dir / "run.json").read_text())
    manifest["suite"]["sha256"] = "0" * 64
    (run_dir / "run.json").write_text(json.dumps(manifest))
    assert main(["score", str(run_dir)]) == 2
    assert "pass --suite with the suite the run used" in capsys.readouterr().err


def test_missing_run_and_judge(tmp_path, run_dir, capsys):
    assert main(["score", str(tmp_path / "nope")]) == 2
    assert "no judgments" in capsys.readouterr().err
    assert main(["score", str(run_dir), "--judge", "gpt"]) == 2
    assert "no judgments for judge 'gpt' in this run (judged by: example-judge)" in capsys.readouterr().err


def test_partial_run_reports_coverage(run_dir, capsys):
    lines = [l for l in judgments(run_dir).read_text().splitlines() if '"DRF-' in l or '"ETV-01"' in l]
    judgments(run_dir).write_text("\n".join(lines) + "\n")
    assert main(["score", str(run_dir)]) == 0
    out = capsys.readouterr().out
    assert "overall is undefined: no judged case in MMC, CAR, CCR, PCR, BBR, CAC" in out
    assert "partial coverage in ETV" in out
    result = json.loads((run_dir / "scores" / "example-judge.json").read_text())
    assert result["overall"]["score"] is None and result["dimensions"]["ETV"]["n_cases"] == 1


def test_list_and_help(capsys):
    assert main(["list", "cases", "--cases", "CCR"]) == 0
    out = capsys.readouterr().out
    assert "26 of 208 cases" in out
    assert main(["list", "models"]) == 0
    assert main(["list", "judges"]) == 0
    for cmd in (["--help"], ["score", "--help"], ["suite", "lint", "--help"], ["list", "--help"]):
        with pytest.raises(SystemExit) as e:
            main(cmd)
        assert e.value.code == 0


def with_weights(suite_dir, weights):
    """The suite copy with its own layer weights; returns the suite's new sha256, recorded in the run."""
    from vrbench.suite import load_suite

    meta = json.loads((suite_dir / "suite.json").read_text())
    meta["layer_weights"] = weights
    (suite_dir / "suite.json").write_text(json.dumps(meta))
    return load_suite(suite_dir)


def case_score_by_hand(run_dir, suite, case, weights):
    """100 x the layer-weighted score of one case's seed-0 answers, from the judgments file itself."""
    layers = {q.id: q.layer for q in suite.case(case).questions}
    per_layer = {1: [], 2: [], 3: []}
    for line in judgments(run_dir).read_text().splitlines():
        r = json.loads(line)
        if r["case"] == case and r["seed"] == 0:
            per_layer[layers[r["question"]]].append(1.0 if r["answer"] == "yes" else 0.0)
    return 100 * sum(w * sum(v) / len(v) for w, v in zip(weights, per_layer.values()))


def test_suite_layer_weights_are_used_and_recorded(run_dir, suite_dir):
    suite = with_weights(suite_dir, {"1": 0.6, "2": 0.3, "3": 0.1})
    manifest = json.loads((run_dir / "run.json").read_text())
    manifest["suite"] = suite.info()  # the run was made with this suite
    (run_dir / "run.json").write_text(json.dumps(manifest))
    out = run_dir / "scores" / "example-judge.json"

    assert main(["score", str(run_dir), "--suite", str(suite_dir), "--bootstrap", "0"]) == 0
    result = json.loads(out.read_text())
    assert result["config"]["layer_weights"] == [0.6, 0.3, 0.1]
    assert result["config"]["layer_weights_source"] == "suite"
    case = next(c for c in result["cases"] if result["cases"][c]["seeds"].get("0") is not None)
    assert result["cases"][case]["seeds"]["0"] == pytest.approx(case_score_by_hand(run_dir, suite, case, (0.6, 0.3, 0.1)), abs=1e-3)

    # --layer-weights overrides the suite's, and the result says so
    assert main(["score", str(run_dir), "--suite", str(suite_dir), "--bootstrap", "0", "--layer-weights", "0.2", "0.3", "0.5"]) == 0
    result = json.loads(out.read_text())
    assert result["config"]["layer_weights"] == [0.2, 0.3, 0.5]
    assert result["config"]["layer_weights_source"] == "override"
    assert result["cases"][case]["seeds"]["0"] == pytest.approx(case_score_by_hand(run_dir, suite, case, (0.2, 0.3, 0.5)), abs=1e-3)
