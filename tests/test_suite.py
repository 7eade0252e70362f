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
    "seconds": 2.5,
    "tags": {"mechanism": "collision"},
    "questions": [
        {"id": "Q1", "layer": 1, "kind": "presence", "text": "Is there a bowling ball?"},
        {"id": "Q2", "layer": 1, "kind": "presence", "text": "Are there pins at the end of the lane?"},
        {"id": "Q3", "layer": 2, "kind": "relation", "text": "Does the ball touch the front pin?"},
        {"id": "Q4", "layer": 2, "kind": "motion", "text": "Do struck pins tip away from the ball?"},
        {"id": "Q5", "layer": 2, "kind": "motion", "text": "Does the ball keep rolling after contact?"},
        {"id": "Q6", "layer": 3, "kind": "outcome", "text": "Do pins knock over neighbouring pins in a chain?"},
        {"id": "Q7", "layer": 3, "kind": "motion", "text": "Does the ball slow down after the impact?"},
        {"id": "Q8", "layer": 3, "kind": "order", "text": "Do the fallen pins come to rest within a second or two?"},
    ],
}
V10_SHA256 = "d21c9ce1ff01de2a73986b091bd748281dc5a89fba4eb7c6e2680b80257c424c"


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
    assert suite.version == "1.1"
    assert all(0 < c.seconds <= 4 for c in suite.cases)
    assert all(q.kind in ("presence", "form", "relation", "motion", "order", "outcome", "norm") for c in suite.cases for q in c.questions)
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
    # v1.1 rules (suite.json: max_seconds, question_kinds, strict_questions)
    (mutate(seconds=KeyError), "seconds", "missing: the real-time span"),
    (mutate(seconds=6), "seconds", "6 s is over the 4 s budget"),
    (mutate(seconds="3"), "seconds", "expected a positive number of seconds"),
    (q(3, kind="physics"), "questions[3].kind", "expected one of presence, form"),
    (q(3, kind=None), "questions[3].kind", "got None"),
    (q(3, text="Does the bowler lift his right foot?"), "questions[3].text", "which hand, foot or side of the body ('right foot')"),
    (q(3, text="Does the dog raise its left front paw?"), "questions[3].text", "('left front paw')"),
    (q(3, text="Which hand releases the ball?"), "questions[3].text", "('Which hand')"),
    (q(6, text="Does the ball slow down because of the impact?"), "questions[6].text", "motive or state of mind ('because')"),
    (q(6, text="Does the bowler notice the pins fall?"), "questions[6].text", "('notice')"),
    (q(4, text="Do the struck pins tip away from the rolling ball?"), "questions[4].text", "asks nearly the same thing as Q4"),
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


def test_v1_0_ships_unchanged_beside_v1_1():
    from vrbench.suite import bundled_suite_paths, find_bundled_suite

    paths = bundled_suite_paths()
    assert [load_suite(p).version for p in paths] == ["1.1", "1.0"]
    old = load_suite(paths[1])
    assert old.sha256 == V10_SHA256  # what runs made with v1.0 recorded
    assert old.cases[0].seconds is None and old.cases[0].questions[0].kind is None
    assert find_bundled_suite(V10_SHA256).version == "1.0"
    assert find_bundled_suite(version="1.0").sha256 == V10_SHA256 and find_bundled_suite("0" * 64) is None


def test_v1_1_rules_apply_only_to_suites_that_declare_them(suite_dir):
    """A v1.0-style suite.json (no max_seconds, kinds or strict questions) keeps v1.0's rules."""
    meta = json.loads((suite_dir / "suite.json").read_text())
    for key in ("max_seconds", "question_kinds", "strict_questions"):
        meta.pop(key)
    meta["cases_per_dimension"] = None
    (suite_dir / "suite.json").write_text(json.dumps(meta))
    old_style = {k: v for k, v in GOOD.items() if k != "seconds"}
    old_style["questions"] = [{k: v for k, v in qq.items() if k != "kind"} for qq in GOOD["questions"]]
    old_style["questions"][3]["text"] = "Does the bowler lift his right foot?"
    for path in (suite_dir / "cases").glob("*.jsonl"):
        path.unlink()
    write_case(suite_dir, old_style)
    assert load_suite(suite_dir).case("ETV-99").seconds is None
    write_case(suite_dir, {**GOOD, "id": "ETV-98"})
    _, problems = lint_suite(suite_dir)
    assert any("kind: this suite declares no question_kinds" in str(p) for p in problems)


def test_a_run_is_scored_with_the_suite_it_recorded(tmp_path):
    """Runs made with v1.0 keep v1.0 (by sha256, or by version for a run that recorded none); runs of two
    suite versions are not put in one report."""
    from vrbench.files import atomic_write_json
    from vrbench.runstore import RunDir, suite_for_run, suite_for_runs

    def run_with(suite_info, name):
        root = tmp_path / name
        root.mkdir()
        atomic_write_json(root / "run.json", {"suite": suite_info})
        return root

    old = run_with({"name": "VR-Bench", "version": "1.0", "sha256": V10_SHA256}, "old")
    legacy = run_with({"name": "VR-Bench", "version": "1.0"}, "legacy")
    new = run_with(load_suite().info(), "new")
    assert suite_for_run(RunDir(old)).version == "1.0" and suite_for_run(RunDir(legacy)).version == "1.0"
    assert suite_for_run(RunDir(new)).version == "1.1"
    assert suite_for_runs([old, legacy]).sha256 == V10_SHA256
    with pytest.raises(VRBenchError, match="different suites, whose scores are not comparable.*1.0.*1.1"):
        suite_for_runs([old, new])
    unknown = run_with({"name": "VR-Bench", "version": "0.9", "sha256": "ab" * 32}, "unknown")
    with pytest.raises(VRBenchError, match="not bundled with this vrbench; pass --suite"):
        suite_for_run(RunDir(unknown))


def test_a_suite_is_parsed_once_until_it_changes(suite_dir, monkeypatch):
    """load_suite keeps a loaded suite per process (suite_for_run calls it several times a command), but an
    edited suite is read again."""
    import vrbench.suite as suite_module

    calls = []
    real = suite_module.lint_suite
    monkeypatch.setattr(suite_module, "lint_suite", lambda path=None: calls.append(path) or real(path))
    first = load_suite(suite_dir)
    assert load_suite(suite_dir) is first and load_suite(suite_dir / "suite.json") is first
    assert len(calls) == 1

    case_file = next(iter(sorted((suite_dir / "cases").glob("*.jsonl"))))
    lines = case_file.read_text().splitlines()
    row = json.loads(lines[0])
    row["prompt"] += " at dusk"
    case_file.write_text("\n".join([json.dumps(row)] + lines[1:]) + "\n")
    edited = load_suite(suite_dir)
    assert len(calls) == 2
    assert edited.case(row["id"]).prompt == row["prompt"] and edited.sha256 != first.sha256
