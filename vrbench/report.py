"""The static report site: leaderboard, per-dimension charts, a page per run, a drill-down per case.

Reads runs through ``vrbench.results`` (only what the earlier stages wrote: run.json, videos/,
generations.jsonl, judgments/, scores/) plus optional VBench results and human labels, and renders the
jinja2 templates in ``reports/`` (autoescaped, so labels, model names, prompts and judge text can never
inject markup). A run is shown by its label (several runs of one model coexist) beside its model name.
The site opens from file:// with no network: no CDN, charts are inline SVG, videos are relative links
to the run directories (or copies, with ``copy_videos``).
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from urllib.parse import quote

from .errors import VRBenchError
from .files import atomic_write_bytes
from .results import RunResults
from .runstore import run_file, safe_name, video_name
from .suite import Suite

log = logging.getLogger(__name__)

CHART_WIDTH, CHART_LABEL_WIDTH, CHART_BAR_HEIGHT = 560, 220, 18


# --- view models ----------------------------------------------------------------------------------


def fmt(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _rel_url(target: Path, page_dir: Path) -> str:
    """A relative, percent-encoded URL from a page to a file (works from file:// and from a web server)."""
    rel = os.path.relpath(target.resolve(), page_dir.resolve())
    return quote(Path(rel).as_posix())


def _estimate(est: dict | None) -> dict:
    est = est or {}
    ci = est.get("ci")
    return {"score": est.get("score"), "ci": ci, "text": fmt(est.get("score")), "ci_text": f"[{ci[0]:.2f}, {ci[1]:.2f}]" if ci else ""}


def bar_chart(title: str, items: Sequence[tuple[str, float | None, list | None]]) -> dict:
    """Geometry of a horizontal bar chart on a 0-100 axis (rendered as inline SVG by the templates)."""
    scale = (CHART_WIDTH - CHART_LABEL_WIDTH - 50) / 100.0
    bars = []
    for i, (label, score, ci) in enumerate(items):
        y = 24 + i * (CHART_BAR_HEIGHT + 6)
        bar = {"label": label, "y": y, "text_y": y + CHART_BAR_HEIGHT - 5, "value": fmt(score), "width": 0.0, "ci": None}
        if score is not None:
            bar["width"] = round(max(0.0, min(100.0, score)) * scale, 2)
            if ci:
                bar["ci"] = {"x1": round(CHART_LABEL_WIDTH + ci[0] * scale, 2), "x2": round(CHART_LABEL_WIDTH + ci[1] * scale, 2), "y": y + CHART_BAR_HEIGHT / 2}
        bars.append(bar)
    ticks = [{"x": round(CHART_LABEL_WIDTH + t * scale, 2), "label": str(t)} for t in range(0, 101, 25)]
    height = 24 + len(items) * (CHART_BAR_HEIGHT + 6) + 18
    return {"title": title, "bars": bars, "ticks": ticks, "width": CHART_WIDTH, "height": height,
            "label_width": CHART_LABEL_WIDTH, "bar_height": CHART_BAR_HEIGHT, "axis_y": height - 14}


def _match_vbench(vbench: Sequence, runs: Sequence[RunResults]) -> tuple[dict[str, dict], list[str]]:
    """VBench totals per run label: a VBench row's model name matches a run label exactly, else
    case-insensitively when that names one run; returns them and the VBench names that match no run."""
    from .vbench import VBENCH, VBENCH2

    labels = {r.label for r in runs}
    lower: dict[str, list[str]] = {}
    for known in sorted(labels):
        lower.setdefault(known.lower(), []).append(known)
    by_label: dict[str, dict] = {}
    unmatched: list[str] = []
    for res in vbench:
        if res.model is None:
            raise VRBenchError("a VBench JSON file does not name its model: pass it as --vbench NAME=FILE, NAME being the label of its run")
        name = res.model.strip()
        found = [name] if name in labels else lower.get(name.lower(), [])
        if len(found) > 1:
            raise VRBenchError(f"VBench results for {res.model!r} match the labels of several runs ({', '.join(found)}); "
                               "name them with the exact label")
        if not found:
            unmatched.append(res.model)
            continue
        label = found[0]
        totals = res.totals()
        row = by_label.setdefault(label, {})
        if res.benchmark == VBENCH:
            row.update({k: totals[k] for k in ("total", "quality", "semantic")})
            row["missing"] = totals["missing"]
        elif res.benchmark == VBENCH2:
            row["v2_total"] = totals["total"]
            row["v2_missing"] = totals["missing"]
        else:  # VBench-I2V measures image-to-video models; a text-to-video leaderboard has no column for it
            log.warning("VBench-I2V results for %s are not shown on a text-to-video leaderboard", res.model)
    return by_label, sorted(set(unmatched))


# --- the site -------------------------------------------------------------------------------------


def _environment():
    from jinja2 import Environment, FileSystemLoader, StrictUndefined

    templates = Path(str(resources.files("vrbench.reports"))) / "templates"
    env = Environment(loader=FileSystemLoader(str(templates)), autoescape=True, undefined=StrictUndefined,
                      trim_blocks=True, lstrip_blocks=True)
    env.filters["fmt"] = fmt
    return env


class _Site:
    def __init__(self, out: Path):
        self.out = out
        self.env = _environment()
        self.n_pages = 0

    def write(self, rel: str, template: str, **context) -> None:
        path = self.out / rel
        depth = rel.count("/")
        html = self.env.get_template(template).render(root="../" * depth, **context)
        atomic_write_bytes(path, html.encode("utf-8"))
        self.n_pages += 1


def build_site(
    runs: Sequence[RunResults],
    suite: Suite,
    out: str | Path,
    vbench: Sequence | None = None,
    agreement: dict | None = None,
    copy_videos: bool = False,
) -> Path:
    """Render the whole site into ``out``; return the path of its index.html."""
    from tqdm import tqdm

    out = Path(out)
    if out.exists() and not out.is_dir():
        raise VRBenchError(f"--out {out}: exists and is not a directory; pass a folder for the site")
    out.mkdir(parents=True, exist_ok=True)
    site = _Site(out)
    static_src = Path(str(resources.files("vrbench.reports"))) / "static"
    for f in sorted(static_src.iterdir()):
        if f.is_file():
            atomic_write_bytes(out / "static" / f.name, f.read_bytes())

    # One folder per run, named after its label; labels that sanitise alike (or differ only in case) get -2, -3...
    slugs: list[str] = []
    for run in runs:
        base = safe_name(run.label)
        slug, n = base, 1
        while slug.lower() in (s.lower() for s in slugs):
            n += 1
            slug = f"{base}-{n}"
        slugs.append(slug)

    vb_by_label, vb_unmatched = _match_vbench(vbench or [], runs)
    has_v2 = any("v2_total" in v for v in vb_by_label.values())
    dims, cats = list(suite.dimensions), list(suite.categories)

    rows = []
    for run, slug in zip(runs, slugs):
        for judge in run.judges:
            s = run.scores[judge]
            overall = s["overall"]
            n_answers = overall.get("n_answers") or 0
            rows.append({
                "run": run.label, "model": run.model, "slug": slug, "judge": judge,
                "mode": ("soft" if s.get("config", {}).get("soft") else "hard") + (" · gating" if s.get("config", {}).get("gating") else ""),
                "overall": _estimate(overall),
                "categories": [_estimate(s["categories"].get(c.code)) for c in cats],
                "dimensions": [_estimate(s["dimensions"].get(d.code)) for d in dims],
                "invalid_rate": (overall.get("n_invalid", 0) / n_answers) if n_answers else None,
                "n_invalid": overall.get("n_invalid", 0), "n_answers": n_answers,
                "coverage": f"{overall.get('n_cases', 0)}/{overall.get('n_expected_cases') or len(suite.cases)}",
                "missing_dimensions": overall.get("missing_dimensions") or [],
                "vbench": vb_by_label.get(run.label, {}),
            })
    # best overall first; a run with no overall score (a dimension missing) goes last, as the page's click-sort does
    rows.sort(key=lambda r: (r["overall"]["score"] is None, -(r["overall"]["score"] or 0.0)))

    def label(r):
        return f"{r['run']} · {r['judge']}" if len({x['judge'] for x in rows}) > 1 else r["run"]

    charts = [bar_chart("Overall", [(label(r), r["overall"]["score"], r["overall"]["ci"]) for r in rows])]
    charts += [bar_chart(f"{d.code} · {d.name}", [(label(r), r["dimensions"][i]["score"], r["dimensions"][i]["ci"]) for r in rows])
               for i, d in enumerate(dims)]

    site.write("index.html", "index.html", suite=suite, rows=rows, dims=dims, cats=cats, charts=charts,
               has_vbench=bool(vb_by_label), has_v2=has_v2, vbench_unmatched=vb_unmatched, agreement=agreement,
               runs=[{"run": r.label, "model": r.model, "slug": s, "root": str(r.root), "judges": r.judges} for r, s in zip(runs, slugs)])

    for run, slug in tqdm(list(zip(runs, slugs)), desc="report pages", unit="run", disable=None):
        _write_model(site, run, slug, suite, copy_videos)
    log.info("wrote %d pages to %s", site.n_pages, out)
    return out / "index.html"


def _write_model(site: _Site, run: RunResults, slug: str, suite: Suite, copy_videos: bool) -> None:
    page_dir = site.out / "models" / slug
    seeds_by_case: dict[str, set[int]] = {}
    for judge in run.judges:
        for case_id, seed, _q in run.judgments[judge]:
            seeds_by_case.setdefault(case_id, set()).add(seed)
    for case_id, seed in run.generations:
        seeds_by_case.setdefault(case_id, set()).add(seed)
    if run.run.videos_dir.is_dir():
        for case in suite.cases:
            for p in run.run.videos_dir.glob(f"{case.id}-s*.mp4"):
                tail = p.stem[len(case.id) + 2:]
                if tail.isdigit():
                    seeds_by_case.setdefault(case.id, set()).add(int(tail))
    cases = [c for c in suite.cases if c.id in seeds_by_case]

    judge_tables = []
    for judge in run.judges:
        s = run.scores[judge]
        judge_tables.append({
            "judge": judge,
            "overall": _estimate(s["overall"]),
            "rows": [{"code": d.code, "name": d.name, **_estimate(s["dimensions"].get(d.code)),
                      "n_cases": s["dimensions"].get(d.code, {}).get("n_cases", 0),
                      "n_invalid": s["dimensions"].get(d.code, {}).get("n_invalid", 0)} for d in suite.dimensions]
                    + [{"code": c.code, "name": c.name, **_estimate(s["categories"].get(c.code)), "n_cases": s["categories"].get(c.code, {}).get("n_cases", 0),
                        "n_invalid": s["categories"].get(c.code, {}).get("n_invalid", 0)} for c in suite.categories],
        })
    case_rows = []
    for c in cases:
        case_rows.append({
            "id": c.id, "dimension": c.dimension, "prompt": c.prompt, "href": f"{safe_name(c.id)}.html",
            "scores": [run.scores[j]["cases"].get(c.id, {}).get("score") for j in run.judges],
            "n_invalid": sum(run.scores[j]["cases"].get(c.id, {}).get("n_invalid", 0) for j in run.judges),
        })
    site.write(f"models/{slug}/index.html", "model.html", label=run.label, model=run.model, run_root=str(run.root), judges=run.judges,
               judge_tables=judge_tables, cases=case_rows, manifest_generator=run.manifest.get("generator"))

    for i, c in enumerate(cases):
        videos = []
        for seed in sorted(seeds_by_case[c.id]):
            src_path = run.run.video_path(c.id, seed)
            src = None
            try:  # a video symlinked from outside the run is never linked or copied into a published site
                run_file(run.run.root, f"videos/{video_name(c.id, seed)}", str(run.run.videos_dir))
                publish = src_path.is_file()
            except VRBenchError as e:
                log.warning("%s", e)
                publish = False
            if publish:
                if copy_videos:
                    dst = site.out / "videos" / slug / video_name(c.id, seed)
                    dst.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(src_path, dst)
                    src_path = dst
                src = _rel_url(src_path, page_dir)
            questions = []
            for q in c.questions:
                answers = []
                for j in run.judges:
                    row = run.judgments[j].get((c.id, seed, q.id))
                    answers.append(None if row is None else {
                        "answer": row["answer"], "p_yes": row.get("p_yes"), "raw": _text(row.get("raw")), "error": _text(row.get("error")),
                    })
                questions.append({"id": q.id, "layer": q.layer, "text": q.text, "answers": answers})
            gen = run.generations.get((c.id, seed)) or {}
            videos.append({
                "seed": seed, "src": src, "file": str(src_path), "questions": questions,
                "scores": [run.scores[j]["cases"].get(c.id, {}).get("seeds", {}).get(str(seed)) for j in run.judges],
                "generation": {k: _text(v) for k, v in gen.items() if k not in ("case", "seed")},
            })
        site.write(
            f"models/{slug}/{safe_name(c.id)}.html", "case.html", label=run.label, model=run.model, case=c, judges=run.judges, videos=videos,
            dimension=suite.dimension(c.dimension),
            prev=f"{safe_name(cases[i - 1].id)}.html" if i > 0 else None,
            next=f"{safe_name(cases[i + 1].id)}.html" if i + 1 < len(cases) else None,
        )


def _text(value) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else str(value)
