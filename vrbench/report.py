"""The static report site: leaderboard, per-dimension charts, a page per run, a drill-down per case.

Reads runs through ``vrbench.results`` (only what the earlier stages wrote: run.json, videos/,
generations.jsonl, judgments/, scores/) plus optional VBench results and human labels, and renders the
jinja2 templates in ``reports/`` (autoescaped, so labels, model names, prompts and judge text can never
inject markup). A run is shown by its label (several runs of one model coexist) beside its model name.
The site opens from file:// with no network: no CDN, charts are inline SVG, videos are relative links
to the run directories (or copies, with ``copy_videos``).
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
from collections.abc import Mapping, Sequence
from importlib import resources
from pathlib import Path
from urllib.parse import quote

from .errors import VRBenchError
from .files import atomic_write_bytes, read_user_text
from .results import RunResults, suite_of
from .runstore import run_file, safe_name, video_name
from .significance import Significance, paired_bootstrap
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


def _match_vbench(vbench: Sequence, runs: Sequence[RunResults], vbench_runs: Sequence = ()) -> tuple[dict[str, dict], list[str]]:
    """VBench totals per run label: a VBench row's model name matches a run label exactly, else
    case-insensitively when that names one run; a VBench run (``vbench_eval.VBenchRun``) goes to the run
    ``vbench_eval.match_vbench_run`` names (its label, else the one run of the same generator and settings).
    Returns them and the VBench names that match no run; one run given VBench results twice is refused."""
    from .vbench import VBENCH, VBENCH2
    from .vbench_eval import match_vbench_run

    labels = {r.label for r in runs}
    lower: dict[str, list[str]] = {}
    for known in sorted(labels):
        lower.setdefault(known.lower(), []).append(known)
    by_label: dict[str, dict] = {}
    unmatched: list[str] = []
    given: dict[tuple[str, str], str] = {}  # (label, benchmark) -> where its VBench results came from
    matched = []
    for vb in vbench_runs:
        target = match_vbench_run(vb, runs)
        if target is None:
            unmatched.append(vb.label)
            continue
        for res in vb.results:
            if (target, res.benchmark) in given:
                raise VRBenchError(f"run {target} matches two VBench runs ({given[(target, res.benchmark)]}, {vb.root}); "
                                   "give each the label of its row (`vrbench generate --prompts vbench --label LABEL`)")
            given[(target, res.benchmark)] = str(vb.root)
            matched.append((target, res))
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
        if (found[0], res.benchmark) in given:
            raise VRBenchError(f"run {found[0]} has VBench results from both --vbench ({res.model}) and the VBench run "
                               f"{given[(found[0], res.benchmark)]}; give one of them")
        matched.append((found[0], res))
    for label, res in matched:
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


# --- the leaderboard: groups of comparable rows, ranks, significance -------------------------------

SIGNIFICANCE_PAGE = "significance.html"


def run_slugs(runs: Sequence[RunResults]) -> list[str]:
    """One folder name per run, from its label; labels that sanitise alike (or differ only in case) get -2, -3..."""
    slugs: list[str] = []
    for run in runs:
        base = safe_name(run.label)
        slug, n = base, 1
        while slug.lower() in (s.lower() for s in slugs):
            n += 1
            slug = f"{base}-{n}"
        slugs.append(slug)
    return slugs


def _canonical(obj) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)


def _suite_key(suite: Suite) -> dict:
    return {"name": suite.name, "version": suite.version, "sha256": suite.sha256}


def distinct_suites(suites: Sequence[Suite]) -> list[Suite]:
    """The suites, one per sha256, in order of first appearance."""
    out: dict[str, Suite] = {}
    for s in suites:
        out.setdefault(s.sha256, s)
    return list(out.values())


def _judge_signature(run: RunResults, judge: str) -> dict | None:
    """The judge's signature as run.json records it (None when the run has none for this judge)."""
    judges = run.manifest.get("judges")
    sig = judges.get(judge) if isinstance(judges, dict) else None
    return sig if isinstance(sig, dict) else None


def _scoring_key(run: RunResults, judge: str, suite: Suite) -> dict:
    """The scoring options that change the numbers (not the bootstrap's, which change only intervals)."""
    config = run.scores[judge].get("config") or {}
    weights = config.get("layer_weights") or list(suite.layer_weights)
    return {"soft": bool(config.get("soft")), "gating": bool(config.get("gating")), "layer_weights": [round(float(w), 6) for w in weights]}


def _mode(scoring: dict) -> str:
    return ("soft" if scoring["soft"] else "hard") + (" · gating" if scoring["gating"] else "")


def _short(value, limit: int = 40) -> str:
    text = value if isinstance(value, str) else _canonical(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _suite_text(suite: dict, keys: Sequence[tuple]) -> str:
    """``VR-Bench 1.0``; with its sha256 when another group's suite has the same name and version."""
    text = f"{suite['name']} {suite['version']}"
    if any(k[3]["sha256"] != suite["sha256"] and (k[3]["name"], k[3]["version"]) == (suite["name"], suite["version"]) for k in keys):
        text += f" (sha256 {suite['sha256'][:12]})"
    return text


_REASONS = ("another suite version", "another judge", "other judge settings", "other scoring options")


def _group_notes(keys: list[tuple[str, dict | None, dict, dict]]) -> list[str]:
    """One line per group saying what it is and why its rows are not ranked with the other groups'.

    A key is (judge, judge signature, scoring options, suite name/version/sha256)."""
    if len(keys) < 2:
        return [""] * len(keys)
    notes = []
    suites_differ = len({k[3]["sha256"] for k in keys}) > 1
    for i, (judge, sig, scoring, suite) in enumerate(keys):
        others = [k for j, k in enumerate(keys) if j != i]
        differs: list[str] = []
        for o_judge, o_sig, _, o_suite in others:
            kind = ("another suite version" if o_suite["sha256"] != suite["sha256"] else "another judge" if o_judge != judge
                    else "other judge settings" if _canonical(o_sig) != _canonical(sig) else "other scoring options")
            if kind not in differs:
                differs.append(kind)
        differs.sort(key=_REASONS.index)
        what = f"Judge {judge}"
        same_judge = [k for k in others if k[0] == judge and _canonical(k[1]) != _canonical(sig)]
        if same_judge:
            if sig is None:
                what += " (settings not recorded in run.json)"
            else:
                keys_differing = sorted({k for o in same_judge for k in set(sig) | set(o[1] or {}) if sig.get(k) != (o[1] or {}).get(k)})
                what += " with " + ", ".join(f"{k}={_short(sig.get(k))}" for k in keys_differing)
        if suites_differ:
            what += f" on suite {_suite_text(suite, keys)}"
        what += f", scored {_mode(scoring)}"
        if len({_canonical(k[2]["layer_weights"]) for k in keys}) > 1:
            what += " with layer weights " + "/".join(f"{w:g}" for w in scoring["layer_weights"])
        notes.append(f"{what}: ranked apart, since the other tables' runs had {' or '.join(differs)}, so their scores are not comparable.")
    return notes


def video_scores(run: RunResults, judge: str, suite: Suite) -> dict[str, list[float]]:
    """case -> its videos' scores (0-100, a score per seed) from scores/<judge>.json, as ``results.case_scores``
    reads them (a scores file without per-seed scores gives the case's score as one video)."""
    known = {c.id for c in suite.cases}
    out: dict[str, list[float]] = {}
    for case_id, entry in (run.scores[judge].get("cases") or {}).items():
        if case_id not in known or not isinstance(entry, dict):
            continue
        seeds = entry.get("seeds")
        values = list(seeds.values()) if isinstance(seeds, dict) and seeds else [entry.get("score")]
        numbers = [float(v) for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
        if numbers:
            out[case_id] = numbers
    return out


def _rank_view(sig: Significance, label: str) -> dict:
    if label not in sig.rank:
        return {"rank": None, "low": None, "high": None, "tied": False, "tied_with": [], "text": "—", "interval_text": ""}
    low, high = sig.rank_interval[label]
    return {"rank": sig.rank[label], "low": low, "high": high, "tied": sig.tied(label), "tied_with": sig.tied_with[label],
            "text": str(sig.rank[label]), "interval_text": f"[{low}, {high}]" if sig.samples else ""}


def leaderboard(
    runs: Sequence[RunResults], suite: Suite | None = None, slugs: Sequence[str] | None = None, vbench: Mapping[str, dict] | None = None,
    samples: int = 1000, seed: int = 0,
) -> list[dict]:
    """The leaderboard as the site shows it, and as ``render_table`` writes it: groups of rows.

    A row is a run as scored by one judge. Rows are ranked together only when their judge, its
    settings (the signature in run.json), the scoring options (soft, gating, layer weights) and the
    suite the run was made with (name, version, sha256) are the same; each such group is a table of its
    own with a one-line note saying why (when there are several), and its own suite's categories and
    dimensions (``group["suite"]``, ``["cats"]``, ``["dims"]``). A run's suite is ``RunResults.suite``
    (``suite`` is the default for a run loaded without one). Within a group rows go best overall
    first, a run with no overall score last; each
    ranked row has its rank, rank interval and tied mark from the paired bootstrap of
    ``vrbench.significance`` over the group's runs.
    """
    slugs = list(slugs) if slugs is not None else run_slugs(runs)
    vbench = vbench or {}
    by_key: dict[tuple[str, str, str, str], list[dict]] = {}
    key_parts: dict[tuple[str, str, str, str], tuple[str, dict | None, dict, dict]] = {}
    group_suite: dict[tuple[str, str, str, str], Suite] = {}
    for run, slug in zip(runs, slugs):
        rsuite = suite_of(run, suite)
        dims, cats = list(rsuite.dimensions), list(rsuite.categories)
        for judge in run.judges:
            s = run.scores[judge]
            overall = s["overall"]
            n_answers = overall.get("n_answers") or 0
            sig, scoring = _judge_signature(run, judge), _scoring_key(run, judge, rsuite)
            key = (judge, _canonical(sig), _canonical(scoring), _canonical([rsuite.name, rsuite.version, rsuite.sha256]))
            key_parts[key] = (judge, sig, scoring, _suite_key(rsuite))
            group_suite[key] = rsuite
            by_key.setdefault(key, []).append({
                "run": run.label, "model": run.model, "slug": slug, "judge": judge, "mode": _mode(scoring),
                "overall": _estimate(overall),
                "categories": [_estimate(s["categories"].get(c.code)) for c in cats],
                "dimensions": [_estimate(s["dimensions"].get(d.code)) for d in dims],
                "invalid_rate": (overall.get("n_invalid", 0) / n_answers) if n_answers else None,
                "n_invalid": overall.get("n_invalid", 0), "n_answers": n_answers,
                "coverage": f"{overall.get('n_cases', 0)}/{overall.get('n_expected_cases') or len(rsuite.cases)}",
                "missing_dimensions": overall.get("missing_dimensions") or [],
                "vbench": vbench.get(run.label, {}),
                "videos": video_scores(run, judge, rsuite),
            })
    keys = sorted(by_key)
    notes = _group_notes([key_parts[k] for k in keys])
    groups = []
    for n, (key, note) in enumerate(zip(keys, notes), start=1):
        rows = by_key[key]
        gsuite = group_suite[key]
        dims = list(gsuite.dimensions)
        dimension_of = {c.id: c.dimension for c in gsuite.cases}
        # best overall first; a run with no overall score (a dimension missing) goes last, as the page's click-sort does
        rows.sort(key=lambda r: (r["overall"]["score"] is None, -(r["overall"]["score"] or 0.0)))
        stats = paired_bootstrap({r["run"]: r.pop("videos") for r in rows}, dimension_of, [d.code for d in dims], samples=samples, seed=seed,
                               estimates={r["run"]: r["overall"]["score"] for r in rows if r["overall"]["score"] is not None})
        for r in rows:
            r["rank"] = _rank_view(stats, r["run"])
        ranked = [r["run"] for r in rows if r["run"] in stats.rank]
        matrix = [{"run": a, "cells": [None if a == b or not stats.p_beats else
                                       {"p": stats.p_beats[a][b], "tie": stats.p_tie[a][b], "n": stats.n_pairs[a][b],
                                        "text": "—" if math.isnan(stats.p_beats[a][b]) else f"{stats.p_beats[a][b]:.2f}"} for b in ranked]}
                  for a in ranked]
        groups.append({"n": n, "id": "leaderboard" if n == 1 else f"leaderboard-{n}", "judge": key_parts[key][0], "note": note,
                       "suite": gsuite, "dims": dims, "cats": list(gsuite.categories),
                       "rows": rows, "ranked": ranked, "matrix": matrix, "unranked": stats.unranked})
    return groups


# --- tables for papers: the leaderboard as LaTeX, Markdown or CSV ---------------------------------

TABLE_FORMATS = ("latex", "markdown", "csv")


def _latex(text: str) -> str:
    out = []
    for ch in text:
        if ch == "\\":
            out.append(r"\textbackslash{}")
        elif ch in "&%$#_{}":
            out.append("\\" + ch)
        elif ch == "~":
            out.append(r"\textasciitilde{}")
        elif ch == "^":
            out.append(r"\textasciicircum{}")
        else:
            out.append(ch)
    return "".join(out)


def _markdown(text: str) -> str:
    return "".join("\\" + ch if ch in "\\`*_|[]<>" else ch for ch in text).replace("\n", " ")


def table_columns(suite: Suite) -> list[str]:
    return ["Overall", *[c.code for c in suite.categories], *[d.code for d in suite.dimensions]]


def _group_columns(g: dict, suite: Suite | None) -> list[str]:
    """A group's score columns: those of its own suite (``suite``: for a group made without one)."""
    gsuite = g.get("suite") or suite
    if gsuite is None:
        raise VRBenchError("render_table: a group without its suite, and no suite given")
    return table_columns(gsuite)


def render_table(groups: Sequence[dict], suite: Suite | None, fmt: str, ci: bool = False) -> str:
    """The leaderboard of ``leaderboard()`` (same groups, rows and order) as a LaTeX tabular, Markdown
    tables or CSV: rank, run, model, judge, overall, categories, dimensions. ``ci`` adds the 95%
    intervals (and rank intervals). The best score of each column in each group is bold (LaTeX, Markdown).

    Each group's columns are its own suite's categories and dimensions (``suite`` serves a group that
    names none). Where groups' columns differ, CSV has the union of them (empty where a group has no such
    column) and LaTeX repeats the header above each group."""
    if fmt not in TABLE_FORMATS:
        raise VRBenchError(f"--format {fmt}: expected one of html, {', '.join(TABLE_FORMATS)}")
    columns = [_group_columns(g, suite) for g in groups]
    all_names: list[str] = []  # every group's columns, in order (no group: the suite's)
    for names in columns or ([table_columns(suite)] if suite is not None else []):
        all_names += [n for n in names if n not in all_names]

    def cells(r: dict) -> list[dict]:
        return [r["overall"], *r["categories"], *r["dimensions"]]

    if fmt == "csv":
        import csv
        import io

        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        header = ["group", "group_note", "rank", *(["rank_low", "rank_high"] if ci else []), "tied", "run", "model", "judge", "mode"]
        for name in all_names:
            header += [name, f"{name}_ci_low", f"{name}_ci_high"] if ci else [name]
        writer.writerow(header)
        for g, names in zip(groups, columns):
            for r in g["rows"]:
                rank = r["rank"]
                line = [g["n"], g["note"], "" if rank["rank"] is None else rank["rank"]]
                if ci:
                    line += ["" if rank["low"] is None else rank["low"], "" if rank["high"] is None else rank["high"]]
                line += ["yes" if rank["tied"] else "no", r["run"], r["model"], r["judge"], r["mode"]]
                by_name = dict(zip(names, cells(r)))
                for name in all_names:
                    e = by_name.get(name) or {"score": None, "ci": None}
                    line.append("" if e["score"] is None else f"{e['score']:.2f}")
                    if ci:
                        line += ["", ""] if not e["ci"] else [f"{e['ci'][0]:.2f}", f"{e['ci'][1]:.2f}"]
                writer.writerow(line)
        return buf.getvalue()

    esc = _latex if fmt == "latex" else _markdown
    bold = (lambda t: r"\textbf{" + t + "}") if fmt == "latex" else (lambda t: f"**{t}**")
    undefined = "--" if fmt == "latex" else "—"

    def body(g: dict, names: list[str]) -> list[list[str]]:
        best = []
        for i in range(len(names)):
            values = [round(cells(r)[i]["score"], 2) for r in g["rows"] if cells(r)[i]["score"] is not None]
            best.append(max(values) if len(values) > 1 else None)  # bold only marks a best among several
        out = []
        for r in g["rows"]:
            rank = r["rank"]
            rank_text = undefined if rank["rank"] is None else rank["text"]
            if ci and rank["interval_text"]:
                rank_text += " " + rank["interval_text"]
            if rank["tied"]:
                rank_text += " (tied)"
            line = [rank_text, esc(r["run"]), esc(r["model"]), esc(r["judge"])]
            for i, e in enumerate(cells(r)):
                if e["score"] is None:
                    line.append(undefined)
                    continue
                text = f"{e['score']:.2f}"
                if best[i] is not None and round(e["score"], 2) == best[i]:
                    text = bold(text)
                if ci and e["ci"]:
                    text += f" [{e['ci'][0]:.2f}, {e['ci'][1]:.2f}]"
                line.append(text)
            out.append(line)
        return out

    def head(names: list[str]) -> list[str]:
        return ["Rank", "Run", "Model", "Judge", *names]

    if fmt == "latex":
        same = all(names == columns[0] for names in columns)
        width = 4 + max((len(names) for names in columns), default=len(all_names))
        lines = ["% VR-Bench leaderboard, written by `vrbench report --format latex`",
                 r"\begin{tabular}{" + "rlll" + "r" * (width - 4) + "}", r"\hline"]
        if same:
            lines += [" & ".join(esc(h) for h in head(columns[0] if columns else all_names)) + r" \\", r"\hline"]
        for g, names in zip(groups, columns):
            if g["note"]:
                lines.append(r"\multicolumn{" + str(width) + "}{l}{" + r"\emph{" + esc(g["note"]) + "}}" + r" \\")
                lines.append(r"\hline")
            if not same:
                pad = [""] * (width - 4 - len(names))
                lines += [" & ".join([*(esc(h) for h in head(names)), *pad]) + r" \\", r"\hline"]
            lines += [" & ".join([*line, *[""] * (width - len(line))]) + r" \\" for line in body(g, names)]
            lines.append(r"\hline")
        lines.append(r"\end{tabular}")
        return "\n".join(lines) + "\n"

    parts = []
    for g, names in zip(groups, columns):
        block = []
        if g["note"]:
            block += [esc(g["note"]), ""]
        block.append("| " + " | ".join(head(names)) + " |")
        block.append("|" + "|".join([" ---: ", " --- ", " --- ", " --- "] + [" ---: "] * len(names)) + "|")
        block += ["| " + " | ".join(line) + " |" for line in body(g, names)]
        parts.append("\n".join(block))
    return "\n\n".join(parts) + "\n"


def write_table(runs: Sequence[RunResults], suite: Suite | None, out: str | Path, fmt: str, ci: bool = False, samples: int = 1000, seed: int = 0) -> Path:
    """Write the leaderboard table (``render_table``) to the file ``out`` (atomically); return its path.
    ``suite``: for runs loaded without one (each run's own ``RunResults.suite`` comes first)."""
    out = Path(out)
    if out.is_dir():
        raise VRBenchError(f"--out {out}: is a directory; --format {fmt} writes one file (e.g. --out leaderboard.{ {'latex': 'tex', 'markdown': 'md'}.get(fmt, fmt)})")
    text = render_table(leaderboard(runs, suite, samples=samples, seed=seed), suite, fmt, ci=ci)
    atomic_write_bytes(out, text.encode("utf-8"))
    return out


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
    suite: Suite | None,
    out: str | Path,
    vbench: Sequence | None = None,
    agreement: dict | None = None,
    copy_videos: bool = False,
    samples: int = 1000,
    seed: int = 0,
    vbench_runs: Sequence = (),
) -> Path:
    """Render the whole site into ``out``; return the path of its index.html.

    Each run is shown with its own suite (``RunResults.suite``; ``suite`` is the default for a run loaded
    without one), so runs made with different suite versions can share a site: they are ranked in
    groups of their own (``leaderboard``), each with its suite's columns and charts. ``samples`` and
    ``seed`` drive the paired bootstrap behind the rank intervals and the
    P(A beats B) page (``vrbench.significance``). ``vbench`` (VBench result rows, ``--vbench``) and
    ``vbench_runs`` (VBench runs' results, ``vbench_eval.load_vbench_run``) fill the VBench columns."""
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

    slugs = run_slugs(runs)

    vb_by_label, vb_unmatched = _match_vbench(vbench or [], runs, vbench_runs)
    has_v2 = any("v2_total" in v for v in vb_by_label.values())
    run_suites = [suite_of(r, suite) for r in runs]
    suites = distinct_suites(run_suites or ([suite] if suite is not None else []))
    groups = leaderboard(runs, suite, slugs=slugs, vbench=vb_by_label, samples=samples, seed=seed)

    for g in groups:
        g["charts"] = [bar_chart("Overall", [(r["run"], r["overall"]["score"], r["overall"]["ci"]) for r in g["rows"]])]
        g["charts"] += [bar_chart(f"{d.code} · {d.name}", [(r["run"], r["dimensions"][i]["score"], r["dimensions"][i]["ci"]) for r in g["rows"]])
                        for i, d in enumerate(g["dims"])]

    site.write("index.html", "index.html", suites=suites, groups=groups, dimension_lists=_dimension_lists(suites),
               has_vbench=bool(vb_by_label), has_v2=has_v2, vbench_unmatched=vb_unmatched, agreement=agreement,
               significance_page=SIGNIFICANCE_PAGE,
               vbench_missing=[(r.label, vb_by_label[r.label]["missing"]) for r in runs if vb_by_label.get(r.label, {}).get("missing")],
               runs=[{"run": r.label, "model": r.model, "slug": s, "root": str(r.root), "judges": r.judges} for r, s in zip(runs, slugs)])
    site.write(SIGNIFICANCE_PAGE, "significance.html", suites=suites, groups=groups, samples=samples, seed=seed)

    for run, slug, rsuite in tqdm(list(zip(runs, slugs, run_suites)), desc="report pages", unit="run", disable=None):
        _write_model(site, run, slug, rsuite, copy_videos)
    log.info("wrote %d pages to %s", site.n_pages, out)
    return out / "index.html"


def _dimension_lists(suites: Sequence[Suite]) -> list[dict]:
    """The dimensions to describe on the index: one list per distinct wording, with the suites that share it."""
    out: list[dict] = []
    for s in suites:
        dims = [(d.code, d.name, d.description) for d in s.dimensions]
        same = next((x for x in out if x["key"] == dims), None)
        if same is None:
            out.append({"key": dims, "suites": [s], "dims": list(s.dimensions)})
        else:
            same["suites"].append(s)
    return out


def _write_audits(site: _Site, run: RunResults, slug: str, suite: Suite) -> list[dict]:
    """The audit page of every judge whose audit (``vrbench audit``) the run holds; links for the run's page."""
    from .audit import write_audit_page

    links = []
    for judge in run.judges:
        path = run.run.audit_summary_file(judge)
        if not path.is_file():
            continue
        try:
            summary = json.loads(read_user_text(path, what="audit summary"))
        except json.JSONDecodeError as e:
            raise VRBenchError(f"{path}: not valid JSON ({e.msg}); rerun `vrbench audit {run.root} --judge {judge}`") from None
        page = write_audit_page(site.out, summary, suite, slug=slug, label=run.label)
        site.n_pages += 1
        links.append({"judge": judge, "href": page.name, "flags": len(summary.get("flagged") or [])})
    return links


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
    audits = _write_audits(site, run, slug, suite)
    site.write(f"models/{slug}/index.html", "model.html", label=run.label, model=run.model, run_root=str(run.root), judges=run.judges,
               judge_tables=judge_tables, cases=case_rows, manifest_generator=run.manifest.get("generator"), audits=audits)

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
