"""`vrbench report`: the static site from run directories (structure, escaping, file names, errors)."""

from __future__ import annotations

import csv
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from vrbench.cli import main
from vrbench.files import append_jsonl, atomic_write_json
from vrbench.suite import load_suite
from vrbench.video import write_video

XSS = '<script>alert("x")</script>'


def make_run(
    root: Path, model: str, p_yes: float = 0.7, judges: tuple[str, ...] = ("judge-a",), seed: int = 0,
    video_cases: tuple[str, ...] = ("DRF-01", "ETV-01"), raw: str = "Yes.", score: bool = True,
    skip_dimensions: tuple[str, ...] = (), label: str | None = None,
) -> Path:
    """A run directory with synthetic judgments for every case (but those of ``skip_dimensions``), tiny real videos
    for a few, scored with `vrbench score` unless ``score`` is False (the report only reads scores). ``label`` goes
    into run.json (as `vrbench generate --label` puts it); without one the run is named by its folder."""
    suite = load_suite()
    manifest = {"vrbench_version": "test", "generator": {"name": model}, "suite": suite.info(), "seeds": [0]}
    if label is not None:
        manifest["label"] = label
    atomic_write_json(root / "run.json", manifest)
    rng = np.random.default_rng(seed)
    for j, judge in enumerate(judges):
        rows = []
        for case in suite.cases:
            if case.dimension in skip_dimensions:
                continue
            for q in case.questions:
                u = rng.random()
                answer = "invalid" if u > 0.98 else ("yes" if u < p_yes + 0.03 * j else "no")
                rows.append({"case": case.id, "seed": 0, "question": q.id, "answer": answer,
                             "p_yes": None if answer == "invalid" else round(float(u), 3), "raw": raw if answer == "yes" else "No.",
                             "latency": 0.1, "error": "unparseable" if answer == "invalid" else None})
        append_jsonl(root / "judgments" / f"{judge}.jsonl", rows)
    frames = np.zeros((6, 32, 32, 3), dtype=np.uint8)
    for i, case_id in enumerate(video_cases):
        frames[:, :, :, i % 3] = 200
        write_video(root / "videos" / f"{case_id}-s0.mp4", frames, fps=6)
        append_jsonl(root / "generations.jsonl", [{"case": case_id, "seed": 0, "video": f"videos/{case_id}-s0.mp4", "seconds": 1.5}])
    if score:
        for judge in judges:
            assert main(["score", str(root), "--judge", judge, "--bootstrap", "100"]) == 0
    return root


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """Two runs labelled in run.json (one with a hostile label, model name and judge text), VBench CSV, run-level human labels."""
    tmp = tmp_path_factory.mktemp("report")
    good = make_run(tmp / "runs" / "good", "good-generator", p_yes=0.8, label="good-model")
    evil = make_run(tmp / "runs" / "evil", f"evil-generator {XSS}", p_yes=0.5, seed=1, raw=f"Yes {XSS}", label=f"../evil {XSS}")
    (tmp / "vbench.csv").write_text(
        "model,subject_consistency,background_consistency,temporal_flickering,motion_smoothness,dynamic_degree,"
        "aesthetic_quality,imaging_quality,object_class,multiple_objects,human_action,color,spatial_relationship,scene,"
        "appearance_style,temporal_style,overall_consistency\n"
        "good-model,96.62,97.58,99.38,97.42,94.26,63.45,69.63,96.64,86.59,99.20,94.39,85.70,61.24,21.59,26.18,27.49\n"
    )
    with open(tmp / "human.csv", "w", newline="") as f:
        csv.writer(f).writerows([["model", "score"], ["good-model", 80], [f"../evil {XSS}", 50]])
    out = tmp / "site"
    rc = main(["report", str(good), str(evil), "--out", str(out), "--vbench", str(tmp / "vbench.csv"), "--percent",
               "--human", str(tmp / "human.csv"), "--bootstrap", "50"])
    assert rc == 0
    return out


def test_site_layout(site):
    index = (site / "index.html").read_text()
    assert (site / "static" / "report.js").is_file() and (site / "static" / "report.css").is_file()
    models = sorted(p.name for p in (site / "models").iterdir())
    assert models == ["evil_script_alert_x_script", "good-model"]  # named by label, sanitised: no '..', '/', '<' or spaces
    for slug in models:
        pages = list((site / "models" / slug).glob("*.html"))
        assert len(pages) == 208 + 1  # a drill-down per case + the model page
    # leaderboard: 8 dimensions, 3 categories, CIs, invalid rate, judge, VBench columns
    for header in ["Overall", "HL-Phys", "HL-Comm", "Emb-Phys", "DRF", "ETV", "MMC", "CAR", "CCR", "PCR", "BBR", "CAC",
                   "Invalid", "Judge", "VBench Total", "VBench Quality", "VBench Semantic"]:
        assert f">{header}</th>" in index, header
    assert leaderboard_models(site / "index.html") == ["good-model", f"../evil {XSS}".replace("<", "&lt;").replace(">", "&gt;").replace('"', "&#34;")]
    assert '<td class="model">good-generator</td>' in index  # the model name beside the label
    assert ">86.22<" in index and ">86.66<" in index and ">84.44<" in index  # Wan2.1: published 86.22, 86.67, 84.44 (rounded inputs)
    assert re.search(r'class="ci">\[\d+\.\d\d, \d+\.\d\d\]', index)
    assert index.count("<svg") == 9  # overall + 8 dimensions
    assert "Kendall" in index
    # no network: nothing is loaded from anywhere but relative paths
    for page in [site / "index.html", site / "models" / "good-model" / "DRF-01.html"]:
        html = page.read_text()
        assert not re.search(r'(src|href)="(https?:)?//', html), page


def test_case_page_shows_everything(site):
    html = (site / "models" / "good-model" / "DRF-01.html").read_text()
    case = load_suite().case("DRF-01")
    from markupsafe import escape

    assert str(escape(case.prompt)) in html and str(escape(case.intent)) in html
    for q in case.questions:
        assert str(escape(q.text)) in html
    assert html.count('class="answer ') == 8
    assert "p(yes)" in html and "No." in html
    src = re.search(r'<video controls preload="metadata" src="([^"]+)"', html).group(1)
    assert not src.startswith(("/", "file:"))  # relative link
    assert (site / "models" / "good-model" / src).resolve() == (site.parent / "runs" / "good" / "videos" / "DRF-01-s0.mp4").resolve()
    assert "seconds: 1.5" in html
    assert "run good-model · model good-generator" in html
    # a case without a video says so
    assert "No video file at" in (site / "models" / "good-model" / "MMC-01.html").read_text()


def test_html_payloads_are_escaped(site):
    for page in [site / "index.html", site / "models" / "evil_script_alert_x_script" / "index.html",
                 site / "models" / "evil_script_alert_x_script" / "DRF-01.html"]:
        html = page.read_text()
        assert "<script>alert" not in html, page
        assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html, page
        # the only scripts are the site's own
        assert re.findall(r"<script[^>]*>", html) == [f'<script src="{"" if page.name == "index.html" and page.parent == site else "../../"}static/report.js">']


def files_under(root: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(root)): (p.stat().st_mtime_ns, p.stat().st_size) for p in sorted(root.rglob("*")) if p.is_file()}


def test_report_writes_nothing_under_the_runs(tmp_path):
    run = make_run(tmp_path / "run", "m", video_cases=())
    before = files_under(run)
    assert main(["report", str(run), "--out", str(tmp_path / "site")]) == 0
    assert files_under(run) == before


def test_report_refuses_runs_without_scores(tmp_path):
    run = make_run(tmp_path / "run", "m", video_cases=(), score=False)
    before = files_under(run)
    proc = cli("report", str(run), "--out", str(tmp_path / "site"))
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert proc.stderr.startswith(f"vrbench: error: {run}: judge judge-a has judgments but no scores"), proc.stderr
    assert f"run `vrbench score {run} --judge judge-a` first" in proc.stderr
    assert files_under(run) == before and not (run / "scores").exists()  # the report never scores
    assert not (tmp_path / "site").exists()


def test_report_refuses_stale_scores(tmp_path):
    import os

    run = make_run(tmp_path / "run", "m", video_cases=())
    judgments, scores = run / "judgments" / "judge-a.jsonl", run / "scores" / "judge-a.json"
    later = scores.stat().st_mtime_ns + 10**9  # judged again after scoring
    os.utime(judgments, ns=(later, later))
    before = files_under(run)
    proc = cli("report", str(run), "--out", str(tmp_path / "site"))
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert proc.stderr.startswith(f"vrbench: error: {run}: judge judge-a: {scores} is older than {judgments}"), proc.stderr
    assert f"run `vrbench score {run} --judge judge-a` first" in proc.stderr
    assert files_under(run) == before and not (tmp_path / "site").exists()


def leaderboard_models(index: Path) -> list[str]:
    """The run labels of the leaderboard's rows, top to bottom."""
    tbody = index.read_text().split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return re.findall(r'<td class="run"><a [^>]*>([^<]*)</a>', tbody)


@pytest.mark.slow
def test_undefined_overall_sorts_last(tmp_path):
    """A run judged on part of the suite has no overall score: it goes below every scored run, not above."""
    high = make_run(tmp_path / "high", "high", p_yes=0.8, video_cases=())
    low = make_run(tmp_path / "low", "low", p_yes=0.3, seed=1, video_cases=())
    partial = make_run(tmp_path / "partial", "partial", p_yes=0.9, seed=2, video_cases=(), skip_dimensions=("DRF",))
    assert json.loads((partial / "scores" / "judge-a.json").read_text())["overall"]["score"] is None
    for order in ([partial, low, high], [low, partial, high], [high, low, partial]):
        out = tmp_path / "site"
        assert main(["report", *map(str, order), "--out", str(out)]) == 0
        assert leaderboard_models(out / "index.html") == ["high", "low", "partial"]


def test_report_is_reproducible(site, tmp_path):
    out = tmp_path / "again"
    runs = site.parent / "runs"
    human = site.parent / "human.csv"
    assert main(["report", str(runs / "good"), str(runs / "evil"), "--out", str(out), "--vbench", str(site.parent / "vbench.csv"),
                 "--percent", "--human", str(human), "--bootstrap", "50"]) == 0
    assert (out / "index.html").read_text() == (site / "index.html").read_text()


def test_labels_that_differ_in_case_get_two_folders(tmp_path):
    a = make_run(tmp_path / "a", "gen", video_cases=(), label="m")
    b = make_run(tmp_path / "b", "gen", video_cases=(), seed=3, label="M")
    assert main(["report", str(a), str(b), "--out", str(tmp_path / "site")]) == 0
    assert sorted(p.name for p in (tmp_path / "site" / "models").iterdir()) == ["M-2", "m"]


def test_two_runs_of_one_model_both_appear_on_the_leaderboard(tmp_path):
    """Runs are named by label (run.json's, else the folder's): two runs of one model are two rows and two pages."""
    a = make_run(tmp_path / "wan-seed0", "wan2.1-t2v-14b", p_yes=0.8, video_cases=())
    b = make_run(tmp_path / "other", "wan2.1-t2v-14b", p_yes=0.4, seed=5, video_cases=(), label="wan-50-steps")
    out = tmp_path / "site"
    assert main(["report", str(a), str(b), "--out", str(out)]) == 0
    assert leaderboard_models(out / "index.html") == ["wan-seed0", "wan-50-steps"]
    assert (out / "index.html").read_text().count('<td class="model">wan2.1-t2v-14b</td>') == 2
    assert sorted(p.name for p in (out / "models").iterdir()) == ["wan-50-steps", "wan-seed0"]
    assert "model wan2.1-t2v-14b" in (out / "models" / "wan-50-steps" / "index.html").read_text()


def test_two_runs_with_one_label_are_refused(tmp_path):
    a = make_run(tmp_path / "x" / "run", "m", video_cases=())
    b = make_run(tmp_path / "y" / "run", "m", video_cases=(), seed=1)
    proc = cli("report", str(a), str(b), "--out", str(tmp_path / "site"))
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert proc.stderr.startswith(f"vrbench: error: two runs are labelled 'run' ({a} and {b})"), proc.stderr
    assert "rename one folder" in proc.stderr and "--label" in proc.stderr
    assert not (tmp_path / "site").exists()


def test_copy_videos_makes_a_self_contained_site(tmp_path):
    run = make_run(tmp_path / "run", "m", video_cases=("DRF-01",))
    out = tmp_path / "site"
    assert main(["report", str(run), "--out", str(out), "--copy-videos"]) == 0
    html = (out / "models" / "run" / "DRF-01.html").read_text()  # the run's label: its folder's name
    assert 'src="../../videos/run/DRF-01-s0.mp4"' in html and (out / "videos" / "run" / "DRF-01-s0.mp4").is_file()


def test_videos_linked_from_outside_the_run_are_not_published(tmp_path):
    run = make_run(tmp_path / "run", "m", video_cases=("DRF-01",))
    secret = tmp_path / "private.mp4"
    secret.write_bytes(b"not for publishing")
    (run / "videos" / "ETV-01-s0.mp4").symlink_to(secret)
    out = tmp_path / "site"
    assert main(["report", str(run), "--out", str(out), "--copy-videos"]) == 0
    assert sorted(p.name for p in (out / "videos" / "run").iterdir()) == ["DRF-01-s0.mp4"]
    assert "private.mp4" not in (out / "models" / "run" / "ETV-01.html").read_text()


def cli(*args):
    return subprocess.run([sys.executable, "-m", "vrbench", *args], capture_output=True, text=True)


@pytest.mark.slow
def test_bad_inputs_are_one_line_errors(tmp_path):
    run = make_run(tmp_path / "run", "m", video_cases=())
    bad_vb = tmp_path / "bad.csv"
    bad_vb.write_text("model,subject_consistency\nm,abc\n")
    proc = cli("report", str(run), "--out", str(tmp_path / "site"), "--vbench", str(bad_vb))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and proc.stderr.count("\n") == 1
    assert proc.stderr.startswith(f"vrbench: error: {bad_vb}:2: subject_consistency: expected a value in [0, 1]")
    assert not (tmp_path / "site").exists()  # inputs are checked before anything is written
    proc = cli("report", str(tmp_path / "nope"), "--out", str(tmp_path / "site"))
    assert proc.returncode == 2 and proc.stderr == f"vrbench: error: {tmp_path / 'nope'}: run directory not found\n"
    json_vb = tmp_path / "r_eval_results.json"
    json_vb.write_text(json.dumps({"subject_consistency": [0.9, []]}))
    proc = cli("report", str(run), "--out", str(tmp_path / "site"), "--vbench", str(json_vb))
    assert proc.returncode == 2 and "pass it as --vbench NAME=FILE, NAME being the label of its run" in proc.stderr
