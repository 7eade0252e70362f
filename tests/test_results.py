"""vrbench.results: the one loader of finished runs (labels, suites, stale scores) and its pandas tables,
checked value by value against the judgments and scores files; `vrbench export`; the README's example."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from test_report import make_run

from vrbench import results
from vrbench.cli import main
from vrbench.errors import VRBenchError
from vrbench.files import append_jsonl, atomic_write_json
from vrbench.suite import load_suite

REPO = Path(__file__).resolve().parent.parent
TABLES = {"judgments": results.JUDGMENT_COLUMNS, "case_scores": results.CASE_SCORE_COLUMNS,
          "scores": results.SCORE_COLUMNS, "generations": results.GENERATION_COLUMNS}


def read_rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """Two runs of one model: "wan-a" (named by its folder; judges judge-a and judge-b, a second seed of DRF-01
    judged by judge-a with one invalid and two missing answers; judge-b scored soft with gating) and "wan-b"
    (folder "b", labelled in run.json)."""
    tmp = tmp_path_factory.mktemp("results")
    a = make_run(tmp / "wan-a", "wan2.1-t2v-14b", p_yes=0.8, judges=("judge-a", "judge-b"), video_cases=("DRF-01",), score=False)
    append_jsonl(a / "judgments" / "judge-a.jsonl", [
        {"case": "DRF-01", "seed": 1, "question": f"Q{i}", "answer": "invalid" if i == 2 else "yes",
         "p_yes": None if i == 2 else 0.9, "error": "unparseable" if i == 2 else None} for i in range(1, 7)])
    assert main(["score", str(a), "--judge", "judge-a", "--bootstrap", "50"]) == 0
    assert main(["score", str(a), "--judge", "judge-b", "--bootstrap", "50", "--soft", "--gating"]) == 0
    b = make_run(tmp / "b", "wan2.1-t2v-14b", p_yes=0.4, seed=1, video_cases=(), label="wan-b")
    return a, b


@pytest.fixture(scope="module")
def runs(built):
    return results.load_runs(built)


# --- the loader -----------------------------------------------------------------------------------


def test_labels_come_from_run_json_else_the_folder(built, runs):
    a, b = built
    assert [(r.label, r.model, r.root) for r in runs] == [("wan-a", "wan2.1-t2v-14b", a), ("wan-b", "wan2.1-t2v-14b", b)]
    assert runs[0].judges == ["judge-a", "judge-b"] and runs[1].judges == ["judge-a"]
    assert runs[0].suite.version == load_suite().version  # None: the suite the runs recorded


@pytest.mark.parametrize("label", ["", "   ", 7, ["x"]])
def test_a_bad_label_is_one_line(tmp_path, label):
    run = make_run(tmp_path / "r", "m", video_cases=(), score=False, judges=())
    manifest = json.loads((run / "run.json").read_text())
    atomic_write_json(run / "run.json", {**manifest, "label": label})
    with pytest.raises(VRBenchError, match=rf"^{re.escape(str(run / 'run.json'))}: label: expected a non-empty string naming the run, got "):
        results.load_run(run)


def test_a_run_without_a_generator_is_named_by_its_folder(tmp_path):
    run = make_run(tmp_path / "made-elsewhere", "m", video_cases=(), judges=())
    manifest = json.loads((run / "run.json").read_text())
    del manifest["generator"]
    atomic_write_json(run / "run.json", manifest)
    (loaded,) = results.load_runs([run])
    assert (loaded.label, loaded.model) == ("made-elsewhere", "made-elsewhere")


def test_two_runs_with_one_label_are_refused(tmp_path, built):
    a, b = built
    same = make_run(tmp_path / "wan-a", "other-model", video_cases=(), judges=())  # folder named like run a
    with pytest.raises(VRBenchError) as e:
        results.load_runs([a, same])
    message = str(e.value)
    assert "\n" not in message and message.startswith(f"two runs are labelled 'wan-a' ({a} and {same})")
    assert "rename one folder" in message and "`vrbench generate ... --label NAME`" in message
    labelled = make_run(tmp_path / "c", "m", video_cases=(), judges=(), label="wan-b")  # a label in run.json clashes too
    with pytest.raises(VRBenchError, match="two runs are labelled 'wan-b'"):
        results.load_runs([b, labelled])
    with pytest.raises(VRBenchError, match="two runs are labelled 'wan-a'"):  # the tables check it too
        results.judgments([*results.load_runs([a]), *results.load_runs([same])])


def test_scores_missing_or_older_than_judgments_name_the_fix(tmp_path):
    import os

    run = make_run(tmp_path / "r", "m", video_cases=(), score=False)
    fix = f"run `vrbench score {run} --judge judge-a` first"
    with pytest.raises(VRBenchError, match=re.escape(f"{run}: judge judge-a has judgments but no scores")) as e:
        results.load_runs([run])
    assert str(e.value).endswith(fix)
    assert main(["score", str(run), "--bootstrap", "10"]) == 0
    scores = run / "scores" / "judge-a.json"
    later = scores.stat().st_mtime_ns + 10**9
    os.utime(run / "judgments" / "judge-a.jsonl", ns=(later, later))
    with pytest.raises(VRBenchError, match=re.escape(f"{run}: judge judge-a: {scores} is older than")) as e:
        results.load_run(run)
    assert str(e.value).endswith(fix)


def test_runs_of_another_suite_are_refused(tmp_path, built):
    v10 = load_suite(REPO / "prompts" / "v1.0")
    old = tmp_path / "old"
    atomic_write_json(old / "run.json", {"generator": {"name": "m"}, "suite": v10.info(), "seeds": [0]})
    (loaded,) = results.load_runs([old])
    assert loaded.suite.version == "1.0" and loaded.judges == []
    with pytest.raises(VRBenchError, match="these runs were made with different suites"):
        results.load_runs([built[0], old])
    with pytest.raises(VRBenchError, match="pass --suite with the suite the run used"):
        results.load_run(old, load_suite())


def test_a_judgment_of_an_unknown_case_is_one_line(tmp_path):
    run = make_run(tmp_path / "r", "m", video_cases=())
    append_jsonl(run / "judgments" / "judge-a.jsonl", [{"case": "ZZZ-01", "seed": 0, "question": "Q1", "answer": "yes"}])
    n = len(read_rows(run / "judgments" / "judge-a.jsonl"))
    with pytest.raises(VRBenchError, match=re.escape(f"{run / 'judgments' / 'judge-a.jsonl'}:{n}: case: unknown case 'ZZZ-01'")):
        results.load_run(run)


# --- the tables -----------------------------------------------------------------------------------


def check_columns(df: pd.DataFrame, columns: dict[str, str]) -> None:
    assert list(df.columns) == list(columns)
    assert {c: str(t) for c, t in df.dtypes.items()} == {c: str(pd.Series([], dtype=t).dtype) for c, t in columns.items()}
    assert isinstance(df.index, pd.RangeIndex)


@pytest.mark.parametrize("table", sorted(TABLES))
def test_empty_input_gives_the_columns(table, tmp_path):
    df = getattr(results, table)([])
    assert len(df) == 0
    check_columns(df, TABLES[table])
    unjudged = make_run(tmp_path / "fresh", "m", video_cases=(), judges=())  # no judgments, no generations
    df = getattr(results, table)([unjudged])
    assert len(df) == 0
    check_columns(df, TABLES[table])


def test_judgments_table_is_the_judgments_files(built, runs):
    df = results.judgments(runs)
    check_columns(df, results.JUDGMENT_COLUMNS)
    suite = load_suite()
    files = [(label, judge, read_rows(root / "judgments" / f"{judge}.jsonl"))
             for root, label, judges in [(built[0], "wan-a", ("judge-a", "judge-b")), (built[1], "wan-b", ("judge-a",))] for judge in judges]
    assert len(df) == sum(len(rows) for _, _, rows in files)
    by_key = df.set_index(["run", "judge", "case", "seed", "question"])
    for label, judge, rows in files:
        for row in rows[::37] + rows[-6:]:
            got = by_key.loc[(label, judge, row["case"], row["seed"], row["question"])]
            case = suite.case(row["case"])
            assert got["model"] == "wan2.1-t2v-14b" and got["answer"] == row["answer"]
            assert (got["dimension"], got["category"], got["layer"]) == (case.dimension, case.category, case.question(row["question"]).layer)
            assert (pd.isna(got["p_yes"]) and row["p_yes"] is None) or got["p_yes"] == row["p_yes"]
            for col in ("raw", "error", "latency"):  # NA where the row has none (the appended rows have no raw or latency)
                assert (pd.isna(got[col]) and row.get(col) is None) or got[col] == row[col], (col, row)
    # stable order: runs as given, judges by name, then the suite's cases, seeds, questions
    first = df[(df.run == "wan-a") & (df.judge == "judge-a")]
    assert list(dict.fromkeys(first.case)) == [c.id for c in suite.cases]
    assert list(first.case).count("DRF-01") == 8 + 6
    drf = first[first.case == "DRF-01"]
    assert list(zip(drf.seed, drf.question)) == [(0, f"Q{i}") for i in range(1, 9)] + [(1, f"Q{i}") for i in range(1, 7)]
    assert results.judgments([str(built[1])]).equals(df[df.run == "wan-b"].reset_index(drop=True))  # paths are loaded


def test_case_scores_table_is_the_scores_files(built, runs):
    df = results.case_scores(runs)
    check_columns(df, results.CASE_SCORE_COLUMNS)
    for run in runs:
        for judge in run.judges:
            scored = json.loads((run.root / "scores" / f"{judge}.json").read_text())
            mine = df[(df.run == run.label) & (df.judge == judge)]
            assert len(mine) == sum(len(c["seeds"]) for c in scored["cases"].values())
            for case_id, c in scored["cases"].items():
                rows = mine[mine.case == case_id]
                assert {int(s): v for s, v in zip(rows.seed, rows.score)} == {int(s): v for s, v in c["seeds"].items()}
                assert rows.n_invalid.sum() == c["n_invalid"] and set(rows.dimension) == {c["dimension"]}
                assert sorted(rows.seed[rows.gated]) == sorted(c["gated"])
            for dim, est in scored["dimensions"].items():  # a dimension's score is the mean of its videos' scores
                assert mine[mine.dimension == dim].score.mean() == pytest.approx(est["score"], abs=1e-3)
    seed1 = df[(df.run == "wan-a") & (df.judge == "judge-a") & (df.case == "DRF-01") & (df.seed == 1)].iloc[0]
    assert (seed1.n_answers, seed1.n_invalid, seed1.n_missing) == (8, 3, 2)  # Q2 invalid, Q7 and Q8 missing
    assert df[(df.run == "wan-a") & (df.judge == "judge-b")].gated.any()  # scored with --gating
    assert len(results.case_scores(runs, judge="judge-b")) == 208


def test_scores_table_is_the_scores_files(built, runs):
    df = results.scores(runs)
    check_columns(df, results.SCORE_COLUMNS)
    suite = load_suite()
    assert len(df) == 3 * (1 + len(suite.categories) + len(suite.dimensions))
    for run in runs:
        for judge in run.judges:
            scored = json.loads((run.root / "scores" / f"{judge}.json").read_text())
            mine = df[(df.run == run.label) & (df.judge == judge)]
            assert list(mine.level) == ["overall"] + ["category"] * len(suite.categories) + ["dimension"] * len(suite.dimensions)
            assert list(mine.code) == ["overall"] + [c.code for c in suite.categories] + [d.code for d in suite.dimensions]
            expected = [scored["overall"]] + [scored["categories"][c.code] for c in suite.categories] + [scored["dimensions"][d.code] for d in suite.dimensions]
            for (_, got), est in zip(mine.iterrows(), expected):
                assert (got.score, got.ci_low, got.ci_high) == (est["score"], *est["ci"])
                for n in ("n_cases", "n_expected_cases", "n_videos", "n_answers", "n_invalid", "n_missing"):
                    assert got[n] == est[n], n
                assert (got.soft, got.gating) == (scored["config"]["soft"], scored["config"]["gating"])
    assert set(df[df.judge == "judge-b"].soft) == {True} and set(df[df.judge == "judge-a"].gating) == {False}
    assert df[df.code == "DRF"].name.iloc[0] == suite.dimension("DRF").name


def test_generations_table(built, runs):
    df = results.generations(runs)
    check_columns(df, results.GENERATION_COLUMNS)
    assert df[["run", "case", "seed", "video", "seconds"]].values.tolist() == [["wan-a", "DRF-01", 0, "videos/DRF-01-s0.mp4", 1.5]]
    assert df.dimension.iloc[0] == "DRF" and pd.isna(df.fps.iloc[0]) and pd.isna(df.frames.iloc[0])


def test_pandas_is_not_imported_by_the_command_line(built):
    code = ("import sys; from vrbench.cli import build_parser; build_parser(); import vrbench.results, vrbench.report, vrbench.agreement;"
            f" vrbench.results.load_runs([{str(built[0])!r}]); print(sorted(m for m in ('pandas', 'pyarrow') if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout.strip() == "[]", proc.stderr


# --- vrbench export -------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["csv", "parquet", "jsonl"])
def test_export_writes_every_table(built, runs, tmp_path, capsys, fmt):
    out = tmp_path / "tables"
    assert main(["export", *map(str, built), "--out", str(out), "--format", fmt]) == 0
    printed = capsys.readouterr().out
    assert sorted(p.name for p in out.iterdir()) == sorted(f"{t}.{fmt}" for t in TABLES)  # no temporary files left
    for table, columns in TABLES.items():
        path = out / f"{table}.{fmt}"
        expected = getattr(results, table)(runs)
        assert f"wrote {path} ({len(expected)} rows" in printed
        if fmt == "parquet":
            got = pd.read_parquet(path)
            pd.testing.assert_frame_equal(got, expected, check_dtype=False)
            check_columns(got, columns)  # the dtypes survive
            continue
        got = pd.read_csv(path) if fmt == "csv" else pd.read_json(path, lines=True, dtype=False)
        assert list(got.columns) == list(columns) and len(got) == len(expected)
        if len(got):
            pd.testing.assert_frame_equal(got.astype(columns), expected, check_dtype=False)


def test_export_of_one_judge(built, tmp_path):
    out = tmp_path / "tables"
    assert main(["export", str(built[0]), "--out", str(out), "--judge", "judge-b"]) == 0
    assert set(pd.read_csv(out / "scores.csv").judge) == {"judge-b"}
    assert set(pd.read_csv(out / "judgments.csv").judge) == {"judge-b"}


def cli(*args):
    return subprocess.run([sys.executable, "-m", "vrbench", *args], capture_output=True, text=True)


def test_export_errors_are_one_line(built, tmp_path):
    proc = cli("export", str(built[0]), "--out", str(tmp_path / "t"), "--judge", "judge-z")
    assert proc.returncode == 2 and proc.stderr == (
        "vrbench: error: --judge judge-z: no run has scored judgments by this judge (judges: judge-a, judge-b)\n")
    (tmp_path / "file").write_text("")
    proc = cli("export", str(built[0]), "--out", str(tmp_path / "file"))
    assert proc.returncode == 2 and proc.stderr.startswith("vrbench: error: --out ") and proc.stderr.count("\n") == 1
    same = make_run(tmp_path / "wan-a", "m", video_cases=(), judges=())
    proc = cli("export", str(built[0]), str(same), "--out", str(tmp_path / "t"))
    assert proc.returncode == 2 and "two runs are labelled 'wan-a'" in proc.stderr and proc.stderr.count("\n") == 1
    assert not (tmp_path / "t").exists()


def test_parquet_without_pyarrow_names_the_extra(built, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # `import pyarrow` now raises ImportError
    with pytest.raises(ImportError):
        import pyarrow  # noqa: F401
    assert main(["export", str(built[0]), "--out", str(tmp_path / "t"), "--format", "parquet"]) == 2
    assert capsys.readouterr().err == "vrbench: error: --format parquet needs pyarrow, which is not installed: pip install 'vrbench[parquet]'\n"
    assert not (tmp_path / "t").exists()


# --- the README's example -------------------------------------------------------------------------


def readme_example() -> str:
    """The first python block of README's "Results in pandas" section, as written there."""
    text = (REPO / "README.md").read_text()
    section = text.split("\n## Results in pandas\n", 1)[1].split("\n## ", 1)[0]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_readme_example_runs(tmp_path, monkeypatch, capsys):
    code = readme_example()
    assert len(code.strip().splitlines()) == 5
    monkeypatch.chdir(tmp_path)
    make_run(Path("runs/wan2.1-14b"), "wan2.1-t2v-14b", p_yes=0.8, video_cases=())
    make_run(Path("runs/lumos-nexus"), "lumos-nexus", p_yes=0.6, seed=1, video_cases=())
    capsys.readouterr()
    exec(compile(code, "README.md", "exec"), {})
    out = capsys.readouterr().out
    for r in results.load_runs(["runs/wan2.1-14b", "runs/lumos-nexus"]):
        score = re.search(rf"^\d+\s+{re.escape(r.label)}\s+{re.escape(r.model)}\s+judge-a\s+([\d.]+)\s", out, re.M)
        assert score and float(score.group(1)) == pytest.approx(r.scores["judge-a"]["overall"]["score"]), out
        rates = re.search(rf"^{re.escape(r.label)}((?:\s+[\d.]+){{3}})$", out, re.M)  # yes rate in layers 1, 2, 3
        rows = r.judgments["judge-a"].values()
        assert rates and [float(x) for x in rates.group(1).split()] == pytest.approx(
            [sum(row["answer"] == "yes" for row in rows if row["question"] in q) / (26 * 8 * len(q))
             for q in (("Q1", "Q2"), ("Q3", "Q4", "Q5"), ("Q6", "Q7", "Q8"))], abs=1e-6), out
