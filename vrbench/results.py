"""The one loader of finished runs, and their results as tidy pandas tables.

Every stage after scoring (the report, agreement, ``vrbench export``, a notebook) reads runs through
this module. It only reads what the earlier stages wrote: ``run.json``, ``generations.jsonl``,
``judgments/<judge>.jsonl`` and ``scores/<judge>.json``. It never scores: a judge whose scores are
missing, or older than its judgments, is refused with the ``vrbench score`` command that fixes it.

A run is named downstream by its **label**: run.json's ``"label"`` (``vrbench generate --label``) if
it has one, else the run folder's name. Two runs of one model (other seeds, other settings) thus
coexist; two runs with one label are refused. ``model`` is the generator's name from run.json.

The tables (pandas is imported only when one is asked for)::

    judgments(runs)    a row per run x judge x video (case, seed) x question: the judge's answer
    case_scores(runs)  a row per run x judge x video (case, seed): its score from scores/<judge>.json
    scores(runs)       a row per run x judge x level (overall, category, dimension) x code, with CIs
    generations(runs)  a row per run x video: the latest generations.jsonl row

Each takes RunResults (from :func:`load_runs`) or run directories, and always has the same columns
in the same order with the same dtypes, even when empty (``*_COLUMNS`` below).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from .answers import INVALID
from .errors import VRBenchError
from .files import iter_jsonl
from .runstore import RunDir, parse_judgment, suite_for_run, suite_for_runs
from .suite import Suite

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "CASE_SCORE_COLUMNS",
    "GENERATION_COLUMNS",
    "JUDGMENT_COLUMNS",
    "SCORE_COLUMNS",
    "RunResults",
    "case_scores",
    "generations",
    "judgments",
    "load_run",
    "load_runs",
    "scores",
    "suite_of",
]


@dataclass
class RunResults:
    """Everything later stages need from one run directory."""

    root: Path
    model: str  # the generator's name (run.json), else the folder's name
    manifest: dict
    label: str = ""  # how the run is named downstream; "" = the folder's name
    suite: Suite | None = None  # the suite the run was made with
    judges: list[str] = field(default_factory=list)
    scores: dict[str, dict] = field(default_factory=dict)  # judge -> scores/<judge>.json
    judgments: dict[str, dict[tuple[str, int, str], dict]] = field(default_factory=dict)  # judge -> (case, seed, Q) -> row
    generations: dict[tuple[str, int], dict] = field(default_factory=dict)  # (case, seed) -> latest generations.jsonl row

    def __post_init__(self):
        self.root = Path(self.root)
        if not self.label:
            self.label = self.root.resolve().name

    @property
    def run(self) -> RunDir:
        return RunDir(self.root)


def run_label(run: RunDir, manifest: dict) -> str:
    """run.json's ``label``, else the run folder's name."""
    if "label" not in manifest or manifest["label"] is None:
        return run.root.resolve().name
    label = manifest["label"]
    if not isinstance(label, str) or not label.strip():
        raise VRBenchError(f"{run.run_file}: label: expected a non-empty string naming the run, got {label!r}")
    return label.strip()


def load_run(path: str | Path, suite: Suite | None = None) -> RunResults:
    """Read one run directory made with ``suite`` (None: the suite its run.json records).

    Only reads: a judge with judgments but no scores, or scores older than its judgments, is an error
    naming `vrbench score` (scoring is its own stage, and stale numbers must not be published). A run
    made with another suite is refused.
    """
    run = RunDir(path)
    if not run.root.is_dir():
        raise VRBenchError(f"{run.root}: run directory not found")
    if suite is None:
        suite = suite_for_run(run)
    else:
        suite_for_run(run, suite.root)  # refuses a run made with another suite
    manifest = run.read_manifest() or {}
    generator = manifest.get("generator")
    model = generator.get("name") if isinstance(generator, dict) else None
    result = RunResults(run.root, str(model) if model else run.root.resolve().name, manifest,
                        label=run_label(run, manifest), suite=suite)
    cases = {c.id: c for c in suite.cases}

    for judge in run.judges():
        path_j = run.judgments_file(judge)
        rows: dict[tuple[str, int, str], dict] = {}
        for lineno, obj in iter_jsonl(path_j):
            where = f"{path_j}:{lineno}"
            r = parse_judgment(obj, where)
            case = cases.get(r.case)
            if case is None:
                raise VRBenchError(f"{where}: case: unknown case {r.case!r} (not in suite {suite.name} {suite.version})")
            if r.question not in {q.id for q in case.questions}:
                raise VRBenchError(f"{where}: question: case {r.case} has no question {r.question!r}")
            if (r.case, r.seed, r.question) in rows:
                raise VRBenchError(f"{where}: duplicate row for {r.case} seed {r.seed} {r.question}")
            rows[(r.case, r.seed, r.question)] = {**obj, "answer": r.answer, "p_yes": r.p_yes}
        if not rows:
            continue
        scores_path = run.scores_file(judge)
        fix = f"run `vrbench score {run.root} --judge {judge}` first"
        if not scores_path.exists():
            raise VRBenchError(f"{run.root}: judge {judge} has judgments but no scores ({scores_path}): {fix}")
        if scores_path.stat().st_mtime_ns < path_j.stat().st_mtime_ns:
            raise VRBenchError(f"{run.root}: judge {judge}: {scores_path} is older than {path_j}: {fix}")
        try:
            scored = json.loads(scores_path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise VRBenchError(f"{scores_path}: not valid JSON ({e})") from None
        if not isinstance(scored, dict) or not all(isinstance(scored.get(k), dict) for k in ("overall", "categories", "dimensions", "cases")):
            raise VRBenchError(f"{scores_path}: expected a scores file with overall, categories, dimensions and cases: {fix}")
        result.judges.append(judge)
        result.judgments[judge] = rows
        result.scores[judge] = scored

    if run.generations_file.exists():
        for _, obj in iter_jsonl(run.generations_file):
            case, seed = obj.get("case"), obj.get("seed")
            if isinstance(case, str) and isinstance(seed, int) and not isinstance(seed, bool):
                result.generations[(case, seed)] = obj  # a later row (a retry) replaces an earlier one
    return result


def load_runs(paths: Sequence[str | Path], suite: Suite | None = None) -> list[RunResults]:
    """Read several runs made with one suite (None: the one suite they recorded; runs of different
    suites are refused). Two runs with one label are refused: the label names a run everywhere."""
    if isinstance(paths, (str, Path)):
        paths = [paths]
    if not paths:
        raise VRBenchError("no run directories given")
    if suite is None:
        suite = suite_for_runs(paths)
    runs = [load_run(p, suite) for p in paths]
    check_labels(runs)
    return runs


class Labelled(Protocol):
    """A run as far as its name goes: its label and its folder."""

    @property
    def label(self) -> str: ...

    @property
    def root(self) -> Path: ...


def check_labels(runs: Sequence[Labelled]) -> None:
    """One run per label, or a one-line error naming both folders and the way out."""
    seen: dict[str, Labelled] = {}
    for run in runs:
        first = seen.setdefault(run.label, run)
        if first is not run:
            raise VRBenchError(
                f"two runs are labelled {run.label!r} ({first.root} and {run.root}); a label names one run: rename one "
                "folder, or give a run its own label with `vrbench generate ... --label NAME` (stored in its run.json)"
            )


# --- tables ---------------------------------------------------------------------------------------

_TEXT, _INT, _INT_OR_NA, _FLOAT, _BOOL = "string", "int64", "Int64", "float64", "boolean"

#: column -> dtype of each table, in column order (the same for every input, empty included)
JUDGMENT_COLUMNS: dict[str, str] = {
    "run": _TEXT, "model": _TEXT, "judge": _TEXT, "case": _TEXT, "dimension": _TEXT, "category": _TEXT,
    "seed": _INT, "question": _TEXT, "layer": _INT, "answer": _TEXT, "p_yes": _FLOAT,
    "raw": _TEXT, "error": _TEXT, "error_kind": _TEXT, "latency": _FLOAT,
}
CASE_SCORE_COLUMNS: dict[str, str] = {
    "run": _TEXT, "model": _TEXT, "judge": _TEXT, "case": _TEXT, "dimension": _TEXT, "category": _TEXT,
    "seed": _INT_OR_NA, "score": _FLOAT, "n_answers": _INT_OR_NA, "n_invalid": _INT, "n_missing": _INT_OR_NA, "gated": _BOOL,
}
SCORE_COLUMNS: dict[str, str] = {
    "run": _TEXT, "model": _TEXT, "judge": _TEXT, "level": _TEXT, "code": _TEXT, "name": _TEXT,
    "score": _FLOAT, "ci_low": _FLOAT, "ci_high": _FLOAT, "n_cases": _INT, "n_expected_cases": _INT_OR_NA,
    "n_videos": _INT, "n_answers": _INT, "n_invalid": _INT, "n_missing": _INT, "soft": _BOOL, "gating": _BOOL,
}
GENERATION_COLUMNS: dict[str, str] = {
    "run": _TEXT, "model": _TEXT, "case": _TEXT, "dimension": _TEXT, "category": _TEXT, "seed": _INT,
    "video": _TEXT, "sha256": _TEXT, "fps": _FLOAT, "frames": _INT_OR_NA, "width": _INT_OR_NA, "height": _INT_OR_NA,
    "seconds": _FLOAT, "error": _TEXT, "created": _TEXT,
}

LEVELS = ("overall", "category", "dimension")


def _pandas():
    try:
        import pandas
    except ImportError:
        raise VRBenchError("results as tables need pandas: pip install 'pandas>=2.0'") from None
    return pandas


def _frame(rows: list[tuple], columns: dict[str, str]) -> pd.DataFrame:
    pd = _pandas()
    names = list(columns)
    if rows:
        df = pd.DataFrame.from_records(rows, columns=names)
    else:
        df = pd.DataFrame({name: pd.Series([], dtype=object) for name in names})
    return df.astype(columns)


def _runs(runs, suite: Suite | None) -> list[RunResults]:
    """RunResults as given; run directories (one, or a list) are loaded with :func:`load_runs`."""
    if isinstance(runs, (RunResults, str, Path)):
        runs = [runs]
    runs = list(runs)
    paths = [r for r in runs if not isinstance(r, RunResults)]
    if paths:
        loaded = iter(load_runs(paths, suite))
        runs = [r if isinstance(r, RunResults) else next(loaded) for r in runs]
    check_labels(runs)
    return runs


def suite_of(run: RunResults, default: Suite | None = None) -> Suite:
    """The suite a run was loaded with (``RunResults.suite``), else ``default``, else the one its run.json records."""
    if run.suite is None:
        run.suite = default if default is not None else suite_for_run(run.run)
    return run.suite


def _text(value) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _number(value) -> float | int | None:
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _judges(run: RunResults, judge: str | Iterable[str] | None) -> list[str]:
    if judge is None:
        return list(run.judges)
    wanted = {judge} if isinstance(judge, str) else set(judge)
    return [j for j in run.judges if j in wanted]


#: what the table functions accept: loaded runs, or run directories (loaded with :func:`load_runs`)
RunsLike = Sequence[RunResults | str | Path] | RunResults | str | Path


def _case_index(run: RunResults) -> tuple[dict[str, int], dict]:
    """The run's suite as (case id -> position, case id -> Case): rows follow the suite's case order."""
    cases = suite_of(run).cases
    return {c.id: i for i, c in enumerate(cases)}, {c.id: c for c in cases}


def judgments(runs: RunsLike, suite: Suite | None = None, judge: str | Iterable[str] | None = None) -> pd.DataFrame:
    """A row per run x judge x video x question, as the judge answered (columns: ``JUDGMENT_COLUMNS``).

    Rows follow the runs as given, judges by name, then the suite's case order, seed and question
    order. ``raw``, ``error``, ``error_kind`` and ``latency`` are missing (NA) where the row has none.
    """
    rows: list[tuple] = []
    for run in _runs(runs, suite):
        order, cases = _case_index(run)
        for j in _judges(run, judge):
            answers = run.judgments[j]
            for case_id, seed in sorted({(c, sd) for c, sd, _ in answers}, key=lambda k: (order.get(k[0], len(order)), k[0], k[1])):
                case = cases[case_id]
                for q in case.questions:
                    row = answers.get((case_id, seed, q.id))
                    if row is None:
                        continue
                    rows.append((run.label, run.model, j, case_id, case.dimension, case.category, seed, q.id, q.layer,
                                 row["answer"], row.get("p_yes"), _text(row.get("raw")), _text(row.get("error")),
                                 _text(row.get("error_kind")), _number(row.get("latency"))))
    return _frame(rows, JUDGMENT_COLUMNS)


def case_scores(runs: RunsLike, suite: Suite | None = None, judge: str | Iterable[str] | None = None) -> pd.DataFrame:
    """A row per run x judge x video (case, seed) from ``scores/<judge>.json`` (columns: ``CASE_SCORE_COLUMNS``).

    ``score`` is the video's score (0-100; a dimension's score is the mean of its videos' scores).
    ``n_answers`` (the case's questions), ``n_invalid`` and ``n_missing`` count that video's answers as
    the score stage did: a missing answer is invalid too. A scores file without per-seed scores gives
    a row per case (``seed`` NA) with the case's score and invalid count.
    """
    rows: list[tuple] = []
    for run in _runs(runs, suite):
        order, cases = _case_index(run)
        for j in _judges(run, judge):
            answers = run.judgments[j]
            scored = run.scores[j].get("cases") or {}
            for case_id in sorted(scored, key=lambda c: (order.get(c, len(order)), c)):
                entry = scored[case_id] if isinstance(scored[case_id], dict) else {}
                case = cases.get(case_id)
                dimension = case.dimension if case else entry.get("dimension")
                category = case.category if case else None
                seeds = entry.get("seeds")
                if not isinstance(seeds, dict) or not seeds:
                    rows.append((run.label, run.model, j, case_id, dimension, category, None, _number(entry.get("score")),
                                 None, int(entry.get("n_invalid") or 0), None, None))
                    continue
                gated = set(entry.get("gated") or [])
                for seed_text in sorted(seeds, key=lambda t: (not t.isdigit(), int(t) if t.isdigit() else 0, t)):
                    seed = int(seed_text) if seed_text.isdigit() else None
                    n_answers = n_invalid = n_missing = None
                    if case is not None and seed is not None:
                        got = [answers.get((case_id, seed, q.id)) for q in case.questions]
                        n_answers = len(got)
                        n_missing = sum(a is None for a in got)
                        n_invalid = n_missing + sum(a is not None and a["answer"] == INVALID for a in got)
                    rows.append((run.label, run.model, j, case_id, dimension, category, seed, _number(seeds[seed_text]),
                                 n_answers, n_invalid or 0, n_missing, seed in gated))
    return _frame(rows, CASE_SCORE_COLUMNS)


def scores(runs: RunsLike, suite: Suite | None = None, judge: str | Iterable[str] | None = None) -> pd.DataFrame:
    """A row per run x judge x level x code from ``scores/<judge>.json`` (columns: ``SCORE_COLUMNS``).

    ``level`` is overall (code ``overall``), category or dimension, in that order and the suite's order
    within each. ``score``, ``ci_low`` and ``ci_high`` are 0-100 (NA where undefined, e.g. an overall
    score with a dimension not judged); ``soft`` and ``gating`` are the scoring options used.
    """
    rows: list[tuple] = []
    for run in _runs(runs, suite):
        s = suite_of(run)
        names = {d.code: d.name for d in s.dimensions} | {c.code: c.name for c in s.categories}
        for j in _judges(run, judge):
            scored = run.scores[j]
            config = scored.get("config") or {}
            soft, gating = bool(config.get("soft")), bool(config.get("gating"))
            entries = [("overall", "overall", scored.get("overall") or {})]
            for level, key, codes in (("category", "categories", [c.code for c in s.categories]),
                                      ("dimension", "dimensions", [d.code for d in s.dimensions])):
                table = scored.get(key) or {}
                entries += [(level, code, table[code]) for code in codes + sorted(set(table) - set(codes)) if code in table]
            for level, code, est in entries:
                est = est if isinstance(est, dict) else {}
                ci = est.get("ci")
                low, high = (ci[0], ci[1]) if isinstance(ci, list) and len(ci) == 2 else (None, None)
                rows.append((run.label, run.model, j, level, code, names.get(code, "Overall" if level == "overall" else None),
                             _number(est.get("score")), _number(low), _number(high), int(est.get("n_cases") or 0),
                             _number(est.get("n_expected_cases")), int(est.get("n_videos") or 0), int(est.get("n_answers") or 0),
                             int(est.get("n_invalid") or 0), int(est.get("n_missing") or 0), soft, gating))
    return _frame(rows, SCORE_COLUMNS)


def generations(runs: RunsLike, suite: Suite | None = None) -> pd.DataFrame:
    """A row per run x video from ``generations.jsonl`` (the latest row of each case and seed; a failed
    generation has ``error`` and no ``video``) (columns: ``GENERATION_COLUMNS``)."""
    rows: list[tuple] = []
    for run in _runs(runs, suite):
        order, cases = _case_index(run)
        for case_id, seed in sorted(run.generations, key=lambda k: (order.get(k[0], len(order)), k[0], k[1])):
            g = run.generations[(case_id, seed)]
            case = cases.get(case_id)
            ints = [v if isinstance(v, int) and not isinstance(v, bool) else None for v in (g.get("frames"), g.get("width"), g.get("height"))]
            rows.append((run.label, run.model, case_id, case.dimension if case else None, case.category if case else None, seed,
                         _text(g.get("video")), _text(g.get("sha256")), _number(g.get("fps")), *ints,
                         _number(g.get("seconds")), _text(g.get("error")), _text(g.get("created"))))
    return _frame(rows, GENERATION_COLUMNS)
