import json
import subprocess
import sys

import pytest

from vrbench.cli import main
from vrbench.errors import SuiteError, VRBenchError
from vrbench.suite import lint_suite, load_suite

GOOD = {
    "id": "ETV-99",
    "dimension": "ETV",
    "prompt": "a bowling ball rolls down a wooden lane toward ten pins",
    "intent": "The ball strikes the pins and they scatter forward.",
    "tags": {"mechanism": "collision"},
    "questions": [
        {"id": "Q1", "layer": 1, "text": "Is there a bowling ball?"},
        {"id": "Q2", "layer": 1, "text": "Are there pins at the end of the lane?"},
        {"id": "Q3", "layer": 2, "text": "Does the ball touch the front pin?"},
        {"id": "Q4", "layer": 2, "text": "Do struck pins tip away from the ball?"},
        {"id": "Q5", "layer": 2, "text": "Does the ball keep rolling after contact?"},
        {"id": "Q6", "layer": 3, "text": "Do pins knock over neighbouring pins in a chain?"},
        {"id": "Q7", "layer": 3, "text": "Does the ball slow down after the impact?"},
        {"id": "Q8", "layer": 3, "text": "Do the fallen pins come to rest within a second or two?"},
    ],
}


def write_case(suite_dir, case, name="extra.jsonl"):
    path = suite_dir / "cases" / name
    with open(path, "a", encoding="utf-8") as f:
        f.write((case if isinstance(case, str) else json.dumps(case)) + "\n")
    return path


def relax_counts(suite_dir):
    meta = json.loads((suite_dir / "suite.json").read_text())
    meta["cases_per_dimension"] = None
    (suite_dir / "suite.json").write_text(json.dumps(meta))


def test_bundled_suite_is_valid():
    suite = load_suite()
    assert suite.version == "1.0"
    assert [d.code for d in suite.dimensions] == ["DRF", "ETV", "MMC", "CAR", "CCR", "PCR", "BBR", "CAC"]
    assert suite.layer_weights == (0.2, 0.3, 0.5)
    by_dim = suite.cases_by_dimension()
    assert all(len(cases) >= 1 for cases in by_dim.values())
    for c in suite.cases:
        assert [q.layer for q in c.questions] == [1, 1, 2, 2, 2, 3, 3, 3]
    assert len(suite.sha256) == 64


def test_good_case_passes(suite_dir):
    relax_counts(suite_dir)
    write_case(suite_dir, GOOD)
    suite = load_suite(suite_dir)
    assert suite.case("ETV-99").category == "HL-Phys"


def mutate(**changes):
    case = json.loads(json.dumps(GOOD))
    for key, value in changes.items():
        if value is KeyError:
            del case[key]
        else:
            case[key] = value
    return case


def q(i, **changes):
    case = json.loads(json.dumps(GOOD))
    case["questions"][i].update(changes)
    return case


BAD = [
    (mutate(questions=GOOD["questions"][:7]), "questions", "expected 8 questions, got 7"),
    (q(2, layer=1), "questions[2].layer", "expected layer 2"),
    (mutate(dimension="XYZ", id="XYZ-01"), "dimension", "unknown dimension 'XYZ'"),
    (mutate(prompt="  "), "prompt", "expected non-empty text"),
    (q(4, text=""), "questions[4].text", "expected non-empty text"),
    (q(3, text="Do the pins not move?"), "questions[3].text", "negation 'not'"),
    (q(3, text="Does the ball fail to stop?"), "questions[3].text", "negation 'fail'"),
    (q(3, text="Doesn't the ball stop?"), "questions[3].text", "negation \"n't\""),
    (q(3, text="Does the ball stop"), "questions[3].text", "ending with '?'"),
    (q(1, id="Q7"), "questions[1].id", "expected Q2"),
    (q(1, text="Is there a bowling ball?"), "questions[1].text", "same thing as Q1"),
    (mutate(id="ETV-7"), "id", "expected an id like ETV-07"),
    (mutate(id="DRF-99"), "id", "does not start with its dimension"),
    (mutate(colour="red"), "colour", "unknown field"),
    (mutate(intent=KeyError), "intent", "missing"),
    (mutate(tags={"mechanism": 3}), "tags", "expected an object of non-empty strings"),
    (
        mutate(prompt="a bowling ball hits pins which knock over neighbouring pins in a chain"),
        "questions[5].text",
        "prompt already states this layer-3 answer",
    ),
]


@pytest.mark.parametrize("case,field,message", BAD, ids=[b[1] + ":" + b[2][:20] for b in BAD])
def test_lint_reports_file_line_field(suite_dir, case, field, message):
    relax_counts(suite_dir)
    write_case(suite_dir, GOOD)
    path = write_case(suite_dir, case)
    _, problems = lint_suite(suite_dir)
    texts = [str(p) for p in problems]
    assert any(t.startswith(f"{path}:2: {field}: ") and message in t for t in texts), texts
    with pytest.raises(SuiteError):
        load_suite(suite_dir)


def test_lint_reports_bad_json_and_duplicates_and_counts(suite_dir):
    write_case(suite_dir, GOOD)
    path = write_case(suite_dir, "{not json")
    write_case(suite_dir, GOOD)
    _, problems = lint_suite(suite_dir)
    texts = [str(p) for p in problems]
    assert any(t.startswith(f"{path}:2: json: invalid JSON") for t in texts), texts
    assert any(t.startswith(f"{path}:3: id: duplicate id ETV-99 (first at {path}:1)") for t in texts), texts
    # the bundled suite declares cases_per_dimension, so an extra ETV case breaks the count
    assert any("dimension ETV has" in t for t in texts), texts


def test_bad_metadata(suite_dir):
    meta = json.loads((suite_dir / "suite.json").read_text())
    meta["layer_weights"] = {"1": 0.5, "2": 0.5, "3": 0.5}
    (suite_dir / "suite.json").write_text(json.dumps(meta))
    _, problems = lint_suite(suite_dir)
    assert any("layer_weights: weights must sum to 1" in str(p) for p in problems)
    (suite_dir / "suite.json").write_text("{")
    _, problems = lint_suite(suite_dir)
    assert str(problems[0]).endswith("json: invalid JSON: Expecting property name enclosed in double quotes")
    with pytest.raises(VRBenchError, match="not a suite directory"):
        lint_suite(suite_dir / "cases")


def test_cli_lint_ok_prints_counts(capsys):
    assert main(["suite", "lint"]) == 0
    out = capsys.readouterr().out
    for dim in ["DRF", "ETV", "MMC", "CAR", "CCR", "PCR", "BBR", "CAC"]:
        assert dim in out
    assert out.strip().endswith("ok")


def test_cli_lint_fails_with_problem_lines(suite_dir, capsys):
    relax_counts(suite_dir)
    path = write_case(suite_dir, q(3, text="Do the pins not move?"))
    assert main(["suite", "lint", str(suite_dir)]) == 1
    captured = capsys.readouterr()
    assert f"{path}:1: questions[3].text: contains the negation 'not'" in captured.out
    assert "1 problem found" in captured.err
    # --dimension filters to the named dimensions
    assert main(["suite", "lint", str(suite_dir), "--dimension", "DRF"]) == 0


def test_load_errors_are_one_line(suite_dir):
    relax_counts(suite_dir)
    write_case(suite_dir, q(3, text="Do the pins not move?"))
    proc = subprocess.run(
        [sys.executable, "-m", "vrbench", "list", "cases", "--suite", str(suite_dir)], capture_output=True, text=True, cwd=suite_dir
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.startswith("vrbench: error: ") and "negation" in proc.stderr


def test_select():
    suite = load_suite()
    etv = suite.select(["ETV"])
    assert etv and all(c.dimension == "ETV" for c in etv)
    phys = suite.select(["HL-Phys"])
    assert {c.dimension for c in phys} == {"DRF", "ETV", "MMC"}
    first = suite.cases[0].id
    assert [c.id for c in suite.select([first.lower()])] == [first]
    with pytest.raises(VRBenchError, match="not a case id, dimension or category"):
        suite.select(["nope"])
