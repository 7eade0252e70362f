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
from vrbench.suite import Suite, find_bundled_suite, load_suite
from vrbench.video import write_video

XSS = '<script>alert("x")</script>'


def make_run(
    root: Path, model: str, p_yes: float = 0.7, judges: tuple[str, ...] = ("judge-a",), seed: int = 0,
    video_cases: tuple[str, ...] = ("DRF-01", "ETV-01"), raw: str = "Yes.", score: bool = True,
    skip_dimensions: tuple[str, ...] = (), label: str | None = None, suite: Suite | None = None,
) -> Path:
    """A run directory with synthetic judgments for every case (but those of ``skip_dimensions``), tiny real videos
    for a few, scored with `vrbench score` unless ``score`` is False (the report only reads scores). ``label`` goes
    into run.json (as `vrbench generate --label` puts it); without one the run is named by its folder. ``suite``: the
    suite the run is made with (default: the bundled one), recorded in run.json as `vrbench generate` does."""
    suite = suite or load_suite()
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


# --- groups, ranks, significance and tables for papers ---------------------------------------------


def set_judge_signature(run: Path, judge: str, signature: dict) -> None:
    """Record a judge signature in run.json, as `vrbench judge` does."""
    manifest = json.loads((run / "run.json").read_text())
    manifest.setdefault("judges", {})[judge] = signature
    atomic_write_json(run / "run.json", manifest)


@pytest.fixture(scope="module")
def grouped(tmp_path_factory):
    """Four runs: two alike under one judge setting (tied), one judged with other judge settings, one scored soft."""
    tmp = tmp_path_factory.mktemp("groups")
    sig16 = {"name": "judge-a", "model": "m", "num_frames": 16}
    twin_a = make_run(tmp / "twin-a", "gen-a", p_yes=0.6, seed=11, video_cases=())
    twin_b = make_run(tmp / "twin-b", "gen-b", p_yes=0.6, seed=12, video_cases=())
    eight = make_run(tmp / "eight", "gen-c", p_yes=0.7, seed=13, video_cases=())
    soft = make_run(tmp / "soft", "gen-d", p_yes=0.7, seed=14, video_cases=())
    for run in (twin_a, twin_b, soft):
        set_judge_signature(run, "judge-a", sig16)
    set_judge_signature(eight, "judge-a", {**sig16, "num_frames": 8})
    assert main(["score", str(soft), "--judge", "judge-a", "--soft", "--bootstrap", "100"]) == 0
    runs = [twin_a, eight, soft, twin_b]
    out = tmp / "site"
    assert main(["report", *map(str, runs), "--out", str(out), "--bootstrap", "500"]) == 0
    return tmp, runs, out


def tables(index: Path) -> dict[str, list[str]]:
    """Leaderboard table id -> the run labels of its rows, top to bottom."""
    html = index.read_text()
    found = {}
    for table_id, body in re.findall(r'<table id="([^"]+)" class="sortable leaderboard">.*?<tbody>(.*?)</tbody>', html, re.S):
        found[table_id] = re.findall(r'<td class="run"><a [^>]*>([^<]*)</a>', body)
    return found


def test_runs_scored_differently_are_ranked_in_separate_groups(grouped):
    _, _, out = grouped
    html = (out / "index.html").read_text()
    groups = tables(out / "index.html")
    assert sorted(map(sorted, groups.values())) == [["eight"], ["soft"], ["twin-a", "twin-b"]]
    assert list(groups) == ["leaderboard", "leaderboard-2", "leaderboard-3"]
    notes = re.findall(r'<p class="group-note">([^<]*)</p>', html)
    assert len(notes) == 3 and all(n.count("\n") == 0 for n in notes)
    by_run = {tuple(groups[t]): notes[i] for i, t in enumerate(groups)}
    assert "with num_frames=8" in by_run[("eight",)] and "other judge settings" in by_run[("eight",)]
    assert "scored soft" in by_run[("soft",)] and "other scoring options" in by_run[("soft",)]
    assert "with num_frames=16" in by_run[next(k for k in by_run if "twin-a" in k)]
    # the overall chart of each group ranks only its own runs
    assert html.count("<svg") == 3 * 9


def test_rank_column_intervals_and_tied_mark(grouped):
    _, _, out = grouped
    html = (out / "index.html").read_text()
    ranks = re.findall(r'<td class="num rank" data-value="(\d*)">(\d+|—)( <span class="tied"[^>]*>tied</span>)?<span class="ci">\[(\d+), (\d+)\]</span>', html)
    assert len(ranks) == 4
    for value, rank, _tied, low, high in ranks:
        assert value == rank and int(low) <= int(rank) <= int(high)
    twins = [r for r in ranks if r[2]]  # two runs of one distribution: their rank intervals overlap
    assert len(twins) == 2 and {(r[3], r[4]) for r in twins} == {("1", "2")}
    assert 'title="rank interval overlaps with: twin-b"' in html and 'title="rank interval overlaps with: twin-a"' in html
    alone = [r for r in ranks if not r[2]]
    assert all((r[1], r[3], r[4]) == ("1", "1", "1") for r in alone)


def test_significance_page_is_linked_and_holds_the_matrix(grouped):
    _, _, out = grouped
    index = (out / "index.html").read_text()
    assert '<a href="significance.html">' in index
    page = (out / "significance.html").read_text()
    assert page.count('<table class="matrix">') == 1  # one group has two runs; the others have nothing to compare
    assert page.count("Fewer than two runs with an overall score") == 2
    cells = re.findall(r'<td class="num[^"]*" data-value="([0-9.e-]+)" title="P\(equal\) ([0-9.]+) over 500 resamples">', page)
    assert len(cells) == 2
    (p_ab, tie), (p_ba, tie2) = [(float(p), float(t)) for p, t in cells]
    assert tie == tie2 and p_ab + p_ba + tie == pytest.approx(1.0, abs=1e-3)
    assert 0.05 < p_ab < 0.95  # alike: neither clearly better
    assert re.findall(r"<script[^>]*>", page) == ['<script src="static/report.js">']


def test_a_clearly_better_run_is_not_tied(site):
    html = (site / "index.html").read_text()
    assert '<span class="tied" title=' not in html
    assert re.findall(r'<td class="num rank" data-value="(\d)">\d<span class="ci">\[(\d), (\d)\]', html) == [("1", "1", "1"), ("2", "2", "2")]
    page = (site / "significance.html").read_text()
    assert re.findall(r'data-value="([0-9.]+)" title="P', page) == ["1.0", "0.0"]


def score_file(run: Path, judge: str = "judge-a") -> dict:
    return json.loads((run / "scores" / f"{judge}.json").read_text())


def expected_rows(grouped) -> list[tuple[int, str]]:
    _, runs, out = grouped
    return [(n, label) for n, labels in enumerate(tables(out / "index.html").values(), start=1) for label in labels]


def test_csv_table_matches_the_site_and_the_scores(grouped):
    import pandas as pd

    tmp, runs, _ = grouped
    out = tmp / "board.csv"
    assert main(["report", *map(str, runs), "--format", "csv", "--ci", "--out", str(out), "--bootstrap", "500"]) == 0
    df = pd.read_csv(out, keep_default_na=False)
    assert list(zip(df["group"], df["run"])) == expected_rows(grouped)  # same groups, rows and order as the site
    suite = load_suite()
    codes = ["Overall", *[c.code for c in suite.categories], *[d.code for d in suite.dimensions]]
    assert list(df.columns[:10]) == ["group", "group_note", "rank", "rank_low", "rank_high", "tied", "run", "model", "judge", "mode"]
    for _, row in df.iterrows():
        s = score_file(tmp / row["run"])
        for code in codes:
            est = s["overall"] if code == "Overall" else s["categories"].get(code) or s["dimensions"][code]
            assert row[code] == pytest.approx(est["score"], abs=0.005)
            assert (row[f"{code}_ci_low"], row[f"{code}_ci_high"]) == pytest.approx(tuple(est["ci"]), abs=0.005)
        assert row["rank_low"] <= row["rank"] <= row["rank_high"]
    assert dict(zip(df["run"], df["tied"])) == {"twin-a": "yes", "twin-b": "yes", "eight": "no", "soft": "no"}
    assert df.loc[df["run"] == "soft", "mode"].item() == "soft"
    assert df["group_note"].str.len().min() > 0
    # without --ci: no interval columns
    assert main(["report", *map(str, runs), "--format", "csv", "--out", str(out), "--bootstrap", "500"]) == 0
    plain = pd.read_csv(out)
    assert not [c for c in plain.columns if "ci_" in c or c.startswith("rank_")] and "**" not in out.read_text()


def split_unescaped(line: str, sep: str) -> list[str]:
    return re.split(r"(?<!\\)" + re.escape(sep), line)


def test_markdown_table_shape_bold_best_and_values(grouped):
    tmp, runs, _ = grouped
    out = tmp / "board.md"
    assert main(["report", *map(str, runs), "--format", "markdown", "--out", str(out), "--bootstrap", "500"]) == 0
    text = out.read_text()
    blocks = [b for b in text.strip().split("\n\n") if b.startswith("|")]
    notes = [b for b in text.strip().split("\n\n") if not b.startswith("|")]
    assert len(blocks) == 3 and len(notes) == 3 and all("\n" not in n for n in notes)
    got = []
    for n, block in enumerate(blocks, start=1):
        lines = block.splitlines()
        widths = {len(split_unescaped(line, "|")) for line in lines}
        assert len(widths) == 1, block  # every line has as many cells as the header
        assert re.fullmatch(r"\|( -{3,}: \|| -{3,} \|)+", lines[1])
        header = [c.strip() for c in split_unescaped(lines[0], "|")[1:-1]]
        assert header[:5] == ["Rank", "Run", "Model", "Judge", "Overall"] and header[-1] == "CAC"
        rows = [[c.strip() for c in split_unescaped(line, "|")[1:-1]] for line in lines[2:]]
        for i in range(4, len(header)):  # the best of each column is bold, and only values equal to it (a lone row: none)
            values = [float(r[i].strip("*")) for r in rows]
            assert [r[i].startswith("**") for r in rows] == [len(rows) > 1 and v == max(values) for v in values], (header[i], rows)
        for r in rows:
            got.append((n, r[1]))
            s = score_file(tmp / r[1])
            assert float(r[4].strip("*")) == pytest.approx(s["overall"]["score"], abs=0.005)
            assert float(r[header.index("ETV")].strip("*")) == pytest.approx(s["dimensions"]["ETV"]["score"], abs=0.005)
    assert got == expected_rows(grouped)
    assert "(tied)" in text


def test_latex_table_is_well_formed(grouped):
    tmp, runs, _ = grouped
    out = tmp / "board.tex"
    assert main(["report", *map(str, runs), "--format", "latex", "--ci", "--out", str(out), "--bootstrap", "500"]) == 0
    text = out.read_text()
    body = "\n".join(line for line in text.splitlines() if not line.startswith("%"))
    depth = 0
    for ch in re.sub(r"\\[{}]", "", body):  # braces balance (escaped ones aside) and never go negative
        depth += {"{": 1, "}": -1}.get(ch, 0)
        assert depth >= 0
    assert depth == 0
    lines = body.splitlines()
    assert lines[0].startswith(r"\begin{tabular}{rlll") and lines[-1] == r"\end{tabular}"
    n_cols = len(re.match(r"\\begin\{tabular\}\{(\w+)\}", lines[0]).group(1))
    rows = [line for line in lines[1:-1] if line != r"\hline"]
    assert all(line.endswith(r" \\") for line in rows)
    notes = [line for line in rows if line.startswith(r"\multicolumn")]
    assert len(notes) == 3 and all(line.startswith(rf"\multicolumn{{{n_cols}}}{{l}}{{\emph{{") for line in notes)
    data = [line for line in rows if not line.startswith(r"\multicolumn")]
    assert all(len(split_unescaped(line, "&")) == n_cols for line in data)
    assert data[0].split(" & ")[:5] == ["Rank", "Run", "Model", "Judge", "Overall"]
    labels = [split_unescaped(line, "&")[1].strip() for line in data[1:]]
    assert labels == [label for _, label in expected_rows(grouped)]  # the site's rows, in its order
    assert r"\textbf{" in body and re.search(r"\d+\.\d\d \[\d+\.\d\d, \d+\.\d\d\]", body)
    assert re.search(r"\d \[1, 2\] \(tied\)", body)


def test_tables_escape_labels(tmp_path):
    label = "a&b_c%d#e$f{g}h\\i~j^k|l*m"
    run = make_run(tmp_path / "run", "gen", video_cases=(), label=label)
    tex, md = tmp_path / "board.tex", tmp_path / "board.md"
    assert main(["report", str(run), "--format", "latex", "--out", str(tex), "--bootstrap", "20"]) == 0
    row = tex.read_text().splitlines()[5]
    assert split_unescaped(row, "&")[1].strip() == r"a\&b\_c\%d\#e\$f\{g\}h\textbackslash{}i\textasciitilde{}j\textasciicircum{}k|l*m"
    assert len(split_unescaped(row, "&")) == 4 + 1 + 3 + 8
    assert main(["report", str(run), "--format", "markdown", "--out", str(md), "--bootstrap", "20"]) == 0
    row = md.read_text().splitlines()[2]
    assert split_unescaped(row, "|")[2].strip() == r"a&b\_c%d#e$f{g}h\\i~j^k\|l\*m"
    assert len(split_unescaped(row, "|")) == 2 + 4 + 1 + 3 + 8


@pytest.mark.parametrize("args,message", [
    (["--format", "latex", "--copy-videos"], "--copy-videos: only for the HTML site; --format latex writes the leaderboard table"),
    (["--format", "csv", "--human", "h.csv"], "--human: only for the HTML site"),
    (["--format", "markdown", "--vbench", "v.csv", "--percent"], "--vbench, --percent: only for the HTML site"),
    (["--ci"], "--ci: only for --format latex, markdown or csv (the site always shows intervals)"),
    (["--format", "pdf"], "argument --format: invalid choice: 'pdf'"),
])
def test_bad_format_combinations_are_one_line_errors(tmp_path, args, message):
    proc = cli("report", str(tmp_path / "no-run"), "--out", str(tmp_path / "out"), *args)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert message in proc.stderr and not (tmp_path / "out").exists()


def test_table_out_must_be_a_file(tmp_path):
    run = make_run(tmp_path / "run", "m", video_cases=())
    (tmp_path / "folder").mkdir()
    proc = cli("report", str(run), "--format", "markdown", "--out", str(tmp_path / "folder"))
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1
    assert "is a directory; --format markdown writes one file (e.g. --out leaderboard.md)" in proc.stderr


# --- runs made with different suite versions -------------------------------------------------------


@pytest.fixture(scope="module")
def two_suites(tmp_path_factory):
    """A run made with the bundled v1.0 suite and one made with v1.1, one judge, scored alike."""
    tmp = tmp_path_factory.mktemp("suites")
    v10 = find_bundled_suite(version="1.0")
    assert v10 is not None and v10.sha256 != load_suite().sha256
    old = make_run(tmp / "old", "gen-old", p_yes=0.6, seed=21, video_cases=("DRF-01",), suite=v10, label="on-v1.0")
    new = make_run(tmp / "new", "gen-new", p_yes=0.7, seed=22, video_cases=("DRF-01",), label="on-v1.1")
    return tmp, v10, old, new


def test_runs_of_different_suite_versions_are_grouped_apart(two_suites):
    tmp, v10, old, new = two_suites
    out = tmp / "site"
    assert main(["report", str(old), str(new), "--out", str(out), "--bootstrap", "50"]) == 0
    html = (out / "index.html").read_text()
    groups = tables(out / "index.html")
    assert sorted(map(sorted, groups.values())) == [["on-v1.0"], ["on-v1.1"]]
    notes = re.findall(r'<p class="group-note">([^<]*)</p>', html)
    assert len(notes) == 2 and all("\n" not in n for n in notes)
    by_run = {groups[t][0]: notes[i] for i, t in enumerate(groups)}
    assert "VR-Bench 1.0" in by_run["on-v1.0"] and "VR-Bench 1.1" in by_run["on-v1.1"]
    assert all("another suite version" in n for n in notes)
    assert html.count("<svg") == 2 * 9
    # each run has its pages, and a case page shows the case as the run's own suite words it
    for slug in ("on-v1.0", "on-v1.1"):
        assert (out / "models" / slug / "index.html").is_file() and len(list((out / "models" / slug).glob("*.html"))) == 208 + 1
    from markupsafe import escape

    old_case, new_case = v10.case("DRF-01"), load_suite().case("DRF-01")
    assert old_case.prompt != new_case.prompt
    old_page = (out / "models" / "on-v1.0" / "DRF-01.html").read_text()
    new_page = (out / "models" / "on-v1.1" / "DRF-01.html").read_text()
    assert str(escape(old_case.prompt)) in old_page and str(escape(new_case.prompt)) not in old_page
    assert str(escape(new_case.prompt)) in new_page
    assert (out / "significance.html").read_text().count("VR-Bench 1.0") >= 1


def test_tables_of_different_suite_versions_show_both_groups(two_suites):
    import pandas as pd

    tmp, _, old, new = two_suites
    md, table = tmp / "board.md", tmp / "board.csv"
    assert main(["report", str(old), str(new), "--format", "markdown", "--out", str(md), "--bootstrap", "50"]) == 0
    parts = md.read_text().strip().split("\n\n")
    blocks = [b for b in parts if b.startswith("|")]
    notes = [b for b in parts if not b.startswith("|")]
    assert len(blocks) == 2 and len(notes) == 2
    assert sorted(re.search(r"VR-Bench 1\.\d", n).group(0) for n in notes) == ["VR-Bench 1.0", "VR-Bench 1.1"]
    assert sorted(split_unescaped(b.splitlines()[2], "|")[2].strip() for b in blocks) == ["on-v1.0", "on-v1.1"]
    assert main(["report", str(old), str(new), "--format", "csv", "--out", str(table), "--bootstrap", "50"]) == 0
    df = pd.read_csv(table, keep_default_na=False)
    assert sorted(zip(df["group"], df["run"]))[0][0] != sorted(zip(df["group"], df["run"]))[1][0]
    assert sorted(df["run"]) == ["on-v1.0", "on-v1.1"]
    for _, row in df.iterrows():
        assert ("VR-Bench 1.0" if row["run"] == "on-v1.0" else "VR-Bench 1.1") in row["group_note"]
        assert row["ETV"] == pytest.approx(score_file(tmp / ("old" if row["run"] == "on-v1.0" else "new"))["dimensions"]["ETV"]["score"], abs=0.005)


def test_suite_option_still_refuses_a_run_made_with_another_suite(two_suites):
    tmp, v10, old, new = two_suites
    for fmt in ("html", "csv"):
        out = tmp / f"refused-{fmt}"
        proc = cli("report", str(old), str(new), "--out", str(out), "--format", fmt, "--suite", str(v10.root))
        assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr, proc.stderr
        assert f"{new / 'run.json'}: run was made with suite VR-Bench 1.1" in proc.stderr and "pass --suite" in proc.stderr
        assert not out.exists()
    # a run made with the suite given is reported as before
    assert main(["report", str(old), "--out", str(tmp / "only-old"), "--suite", str(v10.root), "--bootstrap", "20"]) == 0


def test_agreement_still_refuses_runs_of_different_suites(two_suites):
    tmp, _, old, new = two_suites
    proc = cli("agreement", str(old), str(new), "--human", str(tmp / "none.csv"))
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert "these runs were made with different suites" in proc.stderr


def test_report_with_human_labels_refuses_runs_of_different_suites(two_suites):
    """Human agreement ranks the runs together: with runs of two suites the report refuses --human, in one line."""
    tmp, _, old, new = two_suites
    human = tmp / "human.csv"
    human.write_text("run,score\non-v1.0,50\non-v1.1,60\n")
    proc = cli("report", str(old), str(new), "--out", str(tmp / "with-human"), "--human", str(human), "--bootstrap", "20")
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert "--human:" in proc.stderr and "different suites" in proc.stderr and "VR-Bench 1.0" in proc.stderr
    assert not (tmp / "with-human").exists()


def test_each_group_of_a_table_has_its_own_suites_columns(two_suites):
    """A group's columns come from its own suite, not from the other groups' (here: a suite with one dimension fewer)."""
    from dataclasses import replace

    from vrbench.report import leaderboard, render_table
    from vrbench.results import load_runs

    _, v10, old, new = two_suites
    (full,) = leaderboard(load_runs([new]), samples=10)
    suite = full["suite"]
    fewer = replace(suite, dimensions=suite.dimensions[:-1], sha256="0" * 64)
    short = {**full, "n": 2, "suite": fewer, "rows": [{**r, "dimensions": r["dimensions"][:-1]} for r in full["rows"]]}
    last = suite.dimensions[-1].code
    md = render_table([full, short], None, "markdown")
    headers = [line for line in md.splitlines() if line.startswith("| Rank")]
    assert len(headers) == 2 and headers[0].endswith(f"| {last} |") and f"| {last} |" not in headers[1]
    rows = list(csv.DictReader(render_table([full, short], None, "csv").splitlines()))
    assert [r[last] != "" for r in rows] == [True, False]
    tex = render_table([full, short], None, "latex")
    assert tex.count(r"Rank & Run") == 2  # the groups' columns differ: a header above each
