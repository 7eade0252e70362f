"""VBench passthrough: totals exactly as VBench computes them, checked against published leaderboard rows."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import DATA
from hypothesis import given, settings
from hypothesis import strategies as st

from vrbench import vbench
from vrbench.cli import main
from vrbench.errors import VRBenchError
from vrbench.vbench import read_vbench_sources, total_scores, total_scores_v2

# Published leaderboard rows (a copy of ../shared/data/vbench-leaderboard, with its PROVENANCE.md).
LEADERBOARD = DATA / "vbench-leaderboard"
T2V_CSV = LEADERBOARD / "vbench_leaderboard_t2v_40rows.csv"
V2_CSV = LEADERBOARD / "vbench2_leaderboard_12rows.csv"
I2V_CSV = LEADERBOARD / "vbench_i2v_leaderboard_12rows.csv"


def published(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_reproduces_every_published_t2v_total():
    rows = published(T2V_CSV)
    assert len(rows) == 40
    for row in rows:
        dims = {d: float(row[d]) / 100 for d in vbench.T2V_NORMALIZATION}
        t = total_scores(dims)
        assert t["missing"] == []
        for key in ("total", "quality", "semantic"):
            # inputs are published rounded to 2 decimals, so recomputed totals can differ by rounding only
            assert 100 * t[key] == pytest.approx(float(row[f"{key}_score"]), abs=0.01), (row["model"], key)


def test_dynamic_degree_weight_matters():
    """The data discriminates: weighting dynamic_degree 1 instead of 0.5 misses the published totals."""
    row = published(T2V_CSV)[0]
    dims = {d: float(row[d]) / 100 for d in vbench.T2V_NORMALIZATION}
    norm = dict(vbench.T2V_NORMALIZATION)
    try:
        vbench.T2V_NORMALIZATION["dynamic_degree"] = (0.0, 1.0, 1.0)
        wrong = total_scores(dims)["total"]
    finally:
        vbench.T2V_NORMALIZATION.update(norm)
    assert abs(100 * wrong - float(row["total_score"])) > 0.5


def test_reproduces_every_published_vbench2_total():
    rows = published(V2_CSV)
    assert len(rows) == 12
    for row in rows:
        dims = {vbench.canonical_dimension(k): float(v) / 100 for k, v in row.items() if vbench.canonical_dimension(k) in vbench.V2_DIMENSIONS}
        t = total_scores_v2(dims)
        assert 100 * t["total"] == pytest.approx(float(row["total_score"]), abs=0.01), row["model"]
        for cat, value in t["categories"].items():
            assert 100 * value == pytest.approx(float(row[f"{cat}_score"]), abs=0.01), (row["model"], cat)


def test_every_published_i2v_total_is_reproduced():
    rows = published(I2V_CSV)
    assert len(rows) == 12
    results = {r.model: r for r in read_vbench_sources([str(I2V_CSV)], percent=True)}
    for row in rows:
        t = results[row["model"]].totals()
        for key, column in (("total", "total_score"), ("i2v", "i2v_score"), ("quality", "quality_score")):
            if row[column]:
                assert 100 * t[key] == pytest.approx(float(row[column]), abs=0.01), (row["model"], key)
            else:  # the published row has no camera_motion, so no I2V or total score: none is invented
                assert t[key] is None and "camera_motion" in t["missing"], row["model"]


def test_i2v_camera_motion_weight_matters():
    row = published(I2V_CSV)[0]
    dims = {vbench.canonical_dimension(k): float(v) / 100 for k, v in row.items() if vbench.canonical_dimension(k) in vbench.I2V_NORMALIZATION}
    lo, hi, _ = vbench.I2V_NORMALIZATION["camera_motion"]
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(vbench.I2V_NORMALIZATION, "camera_motion", (lo, hi, 1.0))
        wrong = vbench.total_scores_i2v(dims)["total"]
    assert abs(100 * wrong - float(row["total_score"])) > 0.5


def test_i2v_mixed_with_t2v_only_dimensions_is_refused(tmp_path):
    path = tmp_path / "mixed.csv"
    path.write_text("model,i2v_subject,temporal_flickering\nm,0.9,0.9\n")
    with pytest.raises(VRBenchError, match="mixes VBench-I2V dimensions with 'temporal_flickering'"):
        read_vbench_sources([str(path)])


def test_import_cli_prints_leaderboard_totals(capsys, tmp_path):
    assert main(["vbench", "import", str(T2V_CSV), str(V2_CSV), "--percent", "--json", str(tmp_path / "out.json")]) == 0
    t2v_out, v2_out = capsys.readouterr().out.split("VBench-2.0 (percent)")
    for out, rows in ((t2v_out, published(T2V_CSV)), (v2_out, published(V2_CSV))):
        for row in rows:
            line = next(l for l in out.splitlines() if l.startswith(row["model"] + "  "))
            total = float(line[len(row["model"]):].split()[0])
            assert total == pytest.approx(float(row["total_score"]), abs=0.0101), line
    saved = json.loads((tmp_path / "out.json").read_text())
    assert len(saved) == 52 and {s["benchmark"] for s in saved} == {"vbench", "vbench2"}


def eval_results(path: Path, dims: dict[str, float]) -> Path:
    """A file shaped like VBench's <name>_eval_results.json."""
    path.write_text(json.dumps({d: [v, [{"video_path": f"/v/{d}-0.mp4", "video_results": v}]] for d, v in dims.items()}, indent=4))
    return path


def test_json_results_spread_over_files_are_merged(tmp_path, capsys):
    row = {d: 0.5 for d in vbench.T2V_NORMALIZATION}
    quality = {d: v for d, v in row.items() if d in vbench.QUALITY_DIMENSIONS}
    semantic = {d: v for d, v in row.items() if d not in vbench.QUALITY_DIMENSIONS}
    a = eval_results(tmp_path / "results_a_eval_results.json", quality)
    b = eval_results(tmp_path / "results_b_eval_results.json", semantic)
    (result,) = read_vbench_sources([f"my-model={a}", f"my-model={b}"])
    assert result.model == "my-model" and result.totals() == total_scores(row)
    # one file alone: its category is computed, the total is not, and the missing ones are named
    assert main(["vbench", "import", str(a)]) == 0
    out = capsys.readouterr().out
    assert "—" in out and "note: (unnamed): missing object_class, multiple_objects" in out


def test_missing_dimensions_are_named_never_invented():
    t = total_scores({"subject_consistency": 0.9, "scene": 0.5})
    assert t["total"] is None and t["quality"] is None and t["semantic"] is None
    assert "dynamic_degree" in t["missing"] and "subject_consistency" not in t["missing"] and len(t["missing"]) == 14
    v2 = total_scores_v2({"composition": 0.5, "diversity": 0.7})
    assert v2["total"] is None and v2["categories"]["creativity"] == pytest.approx(0.6) and v2["categories"]["physics"] is None


def test_bad_values_and_names_are_refused():
    with pytest.raises(VRBenchError, match="'dynamic_degree': expected a value in \\[0, 1\\], got 95.0"):
        total_scores({"dynamic_degree": 95.0})
    with pytest.raises(VRBenchError, match="'subject_consistancy': unknown"):
        total_scores({"subject_consistancy": 0.9})


@settings(max_examples=60, deadline=None)
@given(st.fixed_dictionaries({d: st.floats(0, 1) for d in vbench.T2V_NORMALIZATION}), st.sampled_from(sorted(vbench.T2V_NORMALIZATION)), st.floats(0, 1))
def test_totals_are_weighted_means_and_monotone(dims, dim, new):
    t = total_scores(dims)
    assert t["total"] == pytest.approx((4 * t["quality"] + t["semantic"]) / 5)
    # each score is a fixed affine map of the inputs: raising one dimension never lowers a total
    t2 = total_scores({**dims, dim: max(new, dims[dim])})
    for key in ("total", "quality", "semantic"):
        assert t2[key] >= t[key] - 1e-12
    # at every dimension's Min the score is 0, at its Max it is 1 (VBench does not clip)
    assert total_scores({d: lo for d, (lo, hi, w) in vbench.T2V_NORMALIZATION.items()})["total"] == pytest.approx(0.0, abs=1e-12)


def cli(*args):
    return subprocess.run([sys.executable, "-m", "vrbench", *args], capture_output=True, text=True)


@pytest.mark.parametrize(
    "name,text,message",
    [
        ("r_eval_results.json", '{\n  "subject_consistency": [0.9, []],\n  "scene": [oops]\n}', ":3: invalid JSON"),
        ("r_eval_results.json", '{\n  "subject_consistency": [0.9, []],\n  "scene": ["high", []]\n}', ":3: scene: expected [score, [per-video results]] with a numeric score"),
        ("r_eval_results.json", '{\n  "subject_consistency": [97.3, []]\n}', ":2: subject_consistency: expected an aggregate score in [0, 1], got 97.3"),
        ("r_eval_results.json", '{\n  "subject_consistancy": [0.9, []]\n}', ": unknown VBench dimension 'subject_consistancy'"),
        ("r_eval_results.json", '[1, 2]', ":1: expected a JSON object"),
        ("v.csv", "model,scene,color\nm,0.5,0.4\nn,0.5\n", ":3: expected 3 columns like the header, got 2"),
        ("v.csv", "model,scene,color\nm,0.5,40\n", ":2: color: expected a value in [0, 1] (pass --percent"),
        ("v.csv", "model,date\nm,2025\n", ":1: no VBench dimension columns"),
        ("v.csv", "dimension,value\nscene,0.5\nscenery,0.4\n", ":3: dimension: unknown VBench dimension 'scenery'"),
        ("v.csv", "model,scene,human_anatomy\nm,0.5,0.4\n", ": mixes VBench and VBench-2.0 dimensions"),
        ("v.txt", "scene 0.5\n", ": expected a VBench *_eval_results.json or a .csv"),
    ],
)
def test_malformed_files_give_one_line_errors(tmp_path, name, text, message):
    path = tmp_path / name
    path.write_text(text)
    proc = cli("vbench", "import", str(path))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and proc.stderr.count("\n") == 1, proc.stderr
    assert proc.stderr.startswith(f"vrbench: error: {path}{message}"), proc.stderr


def test_conflicting_values_across_files_are_refused(tmp_path):
    a = eval_results(tmp_path / "a_eval_results.json", {"scene": 0.5})
    b = eval_results(tmp_path / "b_eval_results.json", {"scene": 0.6})
    with pytest.raises(VRBenchError, match="scene = 0.6 conflicts with 0.5"):
        read_vbench_sources([f"m={a}", f"m={b}"])


def test_long_csv_and_vbench2_json_keys(tmp_path):
    long = tmp_path / "long.csv"
    long.write_text("model,dimension,value\nm,Subject Consistency,0.9\nm,scene,0.5\n")
    (r,) = read_vbench_sources([str(long)])
    assert r.dimensions == {"subject_consistency": 0.9, "scene": 0.5}
    v2 = eval_results(tmp_path / "x_eval_results.json", {"Multi-View_Consistency": 0.4, "Human_Anatomy": 0.8})
    (r,) = read_vbench_sources([f"m={v2}"])
    assert r.benchmark == vbench.VBENCH2 and r.dimensions == {"multi_view_consistency": 0.4, "human_anatomy": 0.8}


# --- VBench rows on the leaderboard: matched to run labels ----------------------------------------

def _leaderboard_vbench_totals(index: Path) -> dict[str, str]:
    """label -> the VBench Total cell of its leaderboard row."""
    import re

    tbody = index.read_text().split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    out = {}
    for row in tbody.split("<tr>")[1:]:
        label = re.search(r'<td class="run"><a [^>]*>([^<]*)</a>', row).group(1)
        cells = re.findall(r'<td class="num" data-value="[^"]*">([^<]*)</td>', row)
        out[label] = cells[-3]  # VBench Total, Quality, Semantic close the row
    return out


def test_report_matches_vbench_rows_to_run_labels(tmp_path):
    """A VBench row's model name matches a run label exactly, else ignoring case; a model name that is no label
    matches nothing (two runs of one model would make it ambiguous) and is listed on the page."""
    from test_report import make_run

    row = published(T2V_CSV)[0]
    dims = [k for k in row if vbench.canonical_dimension(k) in vbench.T2V_NORMALIZATION]
    csv_path = tmp_path / "vb.csv"
    with open(csv_path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["model", *dims])
        for name in ("Wan-A", "WAN-B", "wan2.1-t2v-14b"):
            w.writerow([name, *(row[d] for d in dims)])
    total = f"{float(row['total_score']):.2f}"
    a = make_run(tmp_path / "Wan-A", "wan2.1-t2v-14b", video_cases=())
    b = make_run(tmp_path / "b", "wan2.1-t2v-14b", seed=1, video_cases=(), label="wan-b")
    c = make_run(tmp_path / "c", "cogvideox-5b", seed=2, video_cases=())
    out = tmp_path / "site"
    assert main(["report", str(a), str(b), str(c), "--out", str(out), "--vbench", str(csv_path), "--percent"]) == 0
    got = _leaderboard_vbench_totals(out / "index.html")
    assert sorted(got) == ["Wan-A", "c", "wan-b"] and got["c"] == "—"  # cogvideox-5b has no VBench row
    assert float(got["Wan-A"]) == pytest.approx(float(total), abs=0.011) and got["wan-b"] == got["Wan-A"]
    assert "VBench results whose name is no run's label: wan2.1-t2v-14b." in (out / "index.html").read_text()


def test_vbench_name_matching_two_labels_but_for_case_is_refused(tmp_path):
    from test_report import make_run

    a = make_run(tmp_path / "a", "gen", video_cases=(), label="ab")
    b = make_run(tmp_path / "b", "gen", seed=1, video_cases=(), label="AB")
    csv_path = tmp_path / "vb.csv"
    csv_path.write_text("model,scene\nAb,0.5\nab,0.4\n")
    proc = cli("report", str(a), str(b), "--out", str(tmp_path / "site"), "--vbench", str(csv_path))
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
    assert proc.stderr.startswith("vrbench: error: VBench results for 'Ab' match the labels of several runs (AB, ab)"), proc.stderr
