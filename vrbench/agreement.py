"""Agreement between a judge and humans, and between two judges (VRBENCH.md "Human agreement").

Runs are named by their label (``vrbench.results``): several runs of one model are ranked side by side.

* Rankings: Kendall's tau-b (scipy) between two raters' run scores, with a bootstrap interval
  (fixed seed). With question-level labels the bootstrap resamples the labelled cases (what the
  scores vary over); with run-level human scores it resamples runs.
* Questions: accuracy and Cohen's kappa over the (run, case, seed, question) answers both raters
  gave. Judge answers that are invalid or missing are counted and left out of accuracy and kappa.

Human labels are a CSV with a header, either per question ``run,case,question,answer[,seed]``
(answer yes or no) or per run ``run,score`` (any scale: only the ranking is used). ``run`` is the
run's label; the column may also be called ``model`` (its older name), with the same meaning.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from itertools import combinations
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .answers import INVALID, NO, YES
from .errors import VRBenchError
from .files import csv_rows, read_user_text

if TYPE_CHECKING:
    from .results import RunResults
    from .suite import Suite

#: the column naming the run (its label); ``model`` is accepted as its older name
RUN_COLUMNS = ("run", "model")
QUESTION_COLUMNS = ("case", "question", "answer")
SCORE_COLUMNS = ("score",)


# --- pure statistics ------------------------------------------------------------------------------


def kendall_tau_b(x: Sequence[float] | np.ndarray, y: Sequence[float] | np.ndarray) -> float | None:
    """Kendall's tau-b (ties in either ranking handled); None when undefined (< 2 items or one side all tied)."""
    if len(x) != len(y):
        raise ValueError("x and y must have the same length")
    if len(x) < 2:
        return None
    from scipy.stats import kendalltau

    tau = kendalltau(x, y, variant="b").statistic
    return None if tau is None or math.isnan(tau) else float(tau)


def cohen_kappa(a: Sequence[str], b: Sequence[str]) -> float | None:
    """Cohen's kappa of two raters' labels for the same items; None when undefined (no items, or chance agreement is 1)."""
    if len(a) != len(b):
        raise ValueError("a and b must have the same length")
    n = len(a)
    if n == 0:
        return None
    observed = sum(x == y for x, y in zip(a, b)) / n
    labels = set(a) | set(b)
    expected = sum((sum(x == k for x in a) / n) * (sum(y == k for y in b) / n) for k in labels)
    if math.isclose(expected, 1.0):
        return None
    return (observed - expected) / (1.0 - expected)


def layer_weighted_score(answers: Iterable[tuple[int, float]], layer_weights: Sequence[float]) -> float:
    """Score of one video from (layer, value) answers, weights renormalised over the layers present.

    With every layer present this is exactly the VR-Bench case score; with a partly labelled video it
    is the same weighting over what was labelled, so humans and judge are compared on equal terms.
    """
    per_layer: dict[int, list[float]] = {}
    for layer, value in answers:
        per_layer.setdefault(layer, []).append(value)
    if not per_layer:
        raise ValueError("no answers")
    weight = sum(layer_weights[layer - 1] for layer in per_layer)
    if weight == 0:
        return float(np.mean([v for vs in per_layer.values() for v in vs]))
    return sum(layer_weights[layer - 1] * (sum(vs) / len(vs)) for layer, vs in per_layer.items()) / weight


def _interval(samples: list[float], confidence: float) -> list[float] | None:
    if not samples:
        return None
    alpha = (1.0 - confidence) / 2.0
    lo, hi = np.quantile(np.asarray(samples), [alpha, 1.0 - alpha])
    return [float(lo), float(hi)]


@dataclass
class RankAgreement:
    """Kendall's tau-b between two raters' scores of the same runs, with its bootstrap interval."""

    n_models: int  # runs ranked
    tau_b: float | None
    ci: list[float] | None = None
    bootstrap_unit: str = ""  # "case" or "run"
    n_bootstrap: int = 0  # resamples where tau was defined
    models: list[dict] = field(default_factory=list)  # [{"run", "a", "b"}]; the agreement functions add "model"

    def to_dict(self) -> dict:
        return asdict(self)


def tau_with_case_bootstrap(
    a: Mapping[str, Mapping[str, float]],
    b: Mapping[str, Mapping[str, float]],
    samples: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
) -> RankAgreement:
    """Tau-b between run scores that are means over cases; the bootstrap resamples cases.

    ``a[run][case]`` and ``b[run][case]`` are per-case scores (a run is a model's run, by its label);
    a run's score is its mean over the cases both raters scored, in the estimate and in every resample.
    """
    models = sorted(m for m in a if m in b and set(a[m]) & set(b[m]))
    cases = sorted({c for m in models for c in a[m] if c in b[m]})
    if not models:
        return RankAgreement(0, None, bootstrap_unit="case")
    col = {c: j for j, c in enumerate(cases)}
    va = np.zeros((len(models), len(cases)))
    vb = np.zeros_like(va)
    mask = np.zeros_like(va)
    for i, m in enumerate(models):
        for c in set(a[m]) & set(b[m]):
            va[i, col[c]], vb[i, col[c]], mask[i, col[c]] = a[m][c], b[m][c], 1.0

    def scores(weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        # weights: (S, n_cases) draw counts -> (S, n_models) means over drawn cases
        den = weights @ mask.T
        with np.errstate(invalid="ignore", divide="ignore"):
            return (weights @ (va * mask).T) / den, (weights @ (vb * mask).T) / den

    sa, sb = scores(np.ones((1, len(cases))))
    result = RankAgreement(
        len(models), kendall_tau_b(sa[0], sb[0]), bootstrap_unit="case",
        models=[{"run": m, "a": float(sa[0, i]), "b": float(sb[0, i]), "n_cases": int(mask[i].sum())} for i, m in enumerate(models)],
    )
    if samples and len(models) >= 2:
        rng = np.random.default_rng(seed)
        idx = rng.integers(0, len(cases), size=(samples, len(cases)))
        counts = np.zeros((samples, len(cases)))
        np.add.at(counts, (np.arange(samples)[:, None], idx), 1.0)
        ba, bb = scores(counts)
        taus = []
        for ra, rb in zip(ba, bb):
            ok = ~(np.isnan(ra) | np.isnan(rb))
            tau = kendall_tau_b(ra[ok], rb[ok]) if ok.sum() >= 2 else None
            if tau is not None:
                taus.append(tau)
        result.ci, result.n_bootstrap = _interval(taus, confidence), len(taus)
    return result


def tau_with_model_bootstrap(
    a: Mapping[str, float], b: Mapping[str, float], samples: int = 1000, seed: int = 0, confidence: float = 0.95
) -> RankAgreement:
    """Tau-b between two raters' scores of the same runs (or models); the bootstrap resamples them."""
    models = sorted(m for m in a if m in b)
    xa = np.array([a[m] for m in models], dtype=float)
    xb = np.array([b[m] for m in models], dtype=float)
    result = RankAgreement(
        len(models), kendall_tau_b(xa, xb), bootstrap_unit="run",
        models=[{"run": m, "a": float(a[m]), "b": float(b[m])} for m in models],
    )
    if samples and len(models) >= 2:
        rng = np.random.default_rng(seed)
        taus = []
        for idx in rng.integers(0, len(models), size=(samples, len(models))):
            tau = kendall_tau_b(xa[idx], xb[idx])
            if tau is not None:
                taus.append(tau)
        result.ci, result.n_bootstrap = _interval(taus, confidence), len(taus)
    return result


@dataclass
class QuestionAgreement:
    """Question-level agreement; ``n`` pairs where both raters gave yes/no."""

    n: int
    accuracy: float | None
    kappa: float | None
    n_invalid: int = 0  # pairs left out because a judge answer was invalid or missing

    def to_dict(self) -> dict:
        return asdict(self)


def question_agreement(pairs: Sequence[tuple[str, str]]) -> QuestionAgreement:
    """Accuracy and kappa over (a, b) answers; pairs where either side is not yes/no are counted apart."""
    valid = [(x, y) for x, y in pairs if x in (YES, NO) and y in (YES, NO)]
    a, b = [x for x, _ in valid], [y for _, y in valid]
    accuracy = sum(x == y for x, y in valid) / len(valid) if valid else None
    return QuestionAgreement(len(valid), accuracy, cohen_kappa(a, b), len(pairs) - len(valid))


# --- human labels ---------------------------------------------------------------------------------


@dataclass
class HumanLabels:
    """Human labels read from a CSV: per question (``answers``) or per run (``scores``), keyed by run label."""

    path: Path
    kind: str  # "question" or "run" (a score per run)
    answers: dict[tuple[str, str, int | None, str], tuple[str, int]] = field(default_factory=dict)  # (run, case, seed, Q) -> (answer, line)
    scores: dict[str, tuple[float, int]] = field(default_factory=dict)  # run -> (score, line)
    column: str = "run"  # the header's name for the run column: run, or model (its older name)

    def runs(self) -> list[str]:
        keys = self.answers if self.kind == "question" else self.scores
        return sorted({k[0] if isinstance(k, tuple) else k for k in keys})

    models = runs  # the older name


def read_human_labels(path: str | Path) -> HumanLabels:
    """Read and validate a human-label CSV; every problem is a one-line `file:line: field: ...` error."""
    path = Path(path)
    text = read_user_text(path, what="human label file", expected="UTF-8 CSV", encoding="utf-8-sig")
    reader = csv.reader(io.StringIO(text))
    expected = "run,case,question,answer[,seed] or run,score (the run's label; `model` may stand for `run`)"
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        raise VRBenchError(f"{path}:1: empty file (expected a header: {expected})") from None
    name_col = next((c for c in RUN_COLUMNS if c in header), None)
    if name_col is not None and all(c in header for c in QUESTION_COLUMNS):
        kind = "question"
    elif name_col is not None and all(c in header for c in SCORE_COLUMNS):
        kind = "run"
    else:
        raise VRBenchError(f"{path}:1: header: expected columns {expected}, got {','.join(header)}")
    col = {name: header.index(name) for name in header}
    labels = HumanLabels(path, kind, column=name_col)
    for lineno, cells in csv_rows(reader, len(header), path):
        where = f"{path}:{lineno}"
        get = lambda name, cells=cells: cells[col[name]].strip()
        run = get(name_col)
        if not run:
            raise VRBenchError(f"{where}: {name_col}: expected the label of a run")
        if kind == "run":
            try:
                score = float(get("score"))
            except ValueError:
                score = float("nan")
            if not math.isfinite(score):
                raise VRBenchError(f"{where}: score: expected a number, got {get('score')!r}")
            if run in labels.scores:
                raise VRBenchError(f"{where}: duplicate score for run {run!r} (first at line {labels.scores[run][1]})")
            labels.scores[run] = (score, lineno)
            continue
        case, question, answer = get("case").upper(), get("question").upper(), get("answer").lower()
        if not case:
            raise VRBenchError(f"{where}: case: expected a case id such as ETV-07")
        if not question:
            raise VRBenchError(f"{where}: question: expected a question id such as Q3")
        if answer not in (YES, NO):
            raise VRBenchError(f"{where}: answer: expected yes or no, got {get('answer')!r}")
        seed = None
        if "seed" in col and get("seed"):
            try:
                seed = int(get("seed"))
            except ValueError:
                seed = -1
            if seed < 0:
                raise VRBenchError(f"{where}: seed: expected a non-negative integer, got {get('seed')!r}")
        key = (run, case, seed, question)
        if key in labels.answers:
            raise VRBenchError(f"{where}: duplicate label for {run} {case} {question} (first at line {labels.answers[key][1]})")
        labels.answers[key] = (answer, lineno)
    if not labels.answers and not labels.scores:
        raise VRBenchError(f"{path}: no label rows")
    return labels


# --- agreement over runs --------------------------------------------------------------------------


def _runs_by_label(runs: Sequence[RunResults], judge: str) -> dict[str, RunResults]:
    """The runs judged by ``judge``, by label (labels are unique: ``vrbench.results.load_runs`` checks)."""
    out: dict[str, RunResults] = {}
    for run in runs:
        if judge not in run.judges:
            continue
        if run.label in out:
            raise VRBenchError(f"two runs are labelled {run.label!r} ({out[run.label].root}, {run.root}); "
                               "rename one folder, or give it another label with `vrbench generate ... --label NAME`")
        out[run.label] = run
    return out


def _runs_not_given(runs: Sequence[RunResults], labels: HumanLabels) -> list[str]:
    """The labelled runs that are not among ``runs`` (they are skipped, with a note); an error when none
    of the file's runs is among them, naming the first line (the file likely names other runs)."""
    known = sorted({r.label for r in runs})
    lines = {k[0]: line for k, (_, line) in labels.answers.items()} if labels.kind == "question" else \
        {run: line for run, (_, line) in labels.scores.items()}
    missing = sorted(set(lines) - set(known))
    if missing and len(missing) == len(lines):
        first = min(missing, key=lambda m: lines[m])
        raise VRBenchError(f"{labels.path}:{lines[first]}: {labels.column}: no run labelled {first!r} (runs: {', '.join(known) or 'none'}); "
                           "no run the file labels is among the runs given")
    return missing


def _not_given_note(missing: Sequence[str]) -> list[str]:
    if not missing:
        return []
    return [f"{len(missing)} labelled run{'s' if len(missing) > 1 else ''} not among the runs given, skipped: {', '.join(missing)}"]


def _name_models(ranking: dict, runs: Sequence[RunResults]) -> dict:
    """Add each ranked run's model name beside its label."""
    model = {r.label: r.model for r in runs}
    ranking["models"] = [{"run": m["run"], "model": model.get(m["run"]), **{k: v for k, v in m.items() if k != "run"}}
                         for m in ranking["models"]]
    return ranking


def judge_vs_human(
    runs: Sequence[RunResults], labels: HumanLabels, judge: str, suite: Suite,
    samples: int = 1000, seed: int = 0, confidence: float = 0.95,
) -> dict:
    """Tau-b (with CI) between the judge's and the humans' rankings of the runs, plus question-level agreement."""
    by_label = _runs_by_label(runs, judge)
    out: dict = {"judge": judge, "human_file": str(labels.path), "kind": labels.kind}
    if labels.kind == "run":
        not_given = _runs_not_given(runs, labels)
        judge_scores, excluded = {}, _not_given_note(not_given)
        for label in labels.scores:
            if label in not_given:
                continue
            if label not in by_label:
                excluded.append(f"{label} (not judged by {judge})")
                continue
            overall = by_label[label].scores[judge]["overall"]
            if overall.get("score") is None:
                excluded.append(f"{label} (overall undefined: no judged case in {', '.join(overall.get('missing_dimensions') or [])})")
            else:
                judge_scores[label] = overall["score"]
        human = {m: s for m, (s, _) in labels.scores.items() if m not in not_given}
        out["ranking"] = _name_models(tau_with_model_bootstrap(judge_scores, human, samples, seed, confidence).to_dict(), runs)
        out["excluded"] = excluded
        return out

    cases = {c.id: c for c in suite.cases}
    weights = suite.layer_weights
    # (run, case, seed) -> list of (layer, human value, judge value); plus question pairs
    videos: dict[tuple[str, str, int], list[tuple[int, float, float]]] = {}
    pairs: list[tuple[str, str]] = []
    skipped: set[str] = set()
    not_given = _runs_not_given(runs, labels)
    for (label, case_id, label_seed, question), (answer, line) in sorted(labels.answers.items(), key=lambda kv: kv[1][1]):
        where = f"{labels.path}:{line}"
        if label in not_given:
            continue
        run = by_label.get(label)
        if run is None:
            skipped.add(label)
            continue
        case = cases.get(case_id)
        if case is None:
            raise VRBenchError(f"{where}: case: unknown case {case_id!r} (not in suite {suite.name} {suite.version})")
        try:
            layer = case.question(question).layer
        except KeyError:
            raise VRBenchError(f"{where}: question: case {case_id} has no question {question!r}") from None
        answers = run.judgments[judge]
        seeds = sorted({s for (c, s, _q) in answers if c == case_id})
        if label_seed is None:
            if len(seeds) > 1:
                raise VRBenchError(f"{where}: seed: run {run.root} has seeds {', '.join(map(str, seeds))} for {case_id}; add a seed column")
            video_seed = seeds[0] if seeds else 0
        else:
            video_seed = label_seed
        row = answers.get((case_id, video_seed, question))
        judged = row["answer"] if row else INVALID
        pairs.append((judged, answer))
        videos.setdefault((label, case_id, video_seed), []).append((layer, 1.0 if answer == YES else 0.0, 1.0 if judged == YES else 0.0))

    human_cases: dict[str, dict[str, list[float]]] = {}
    judge_cases: dict[str, dict[str, list[float]]] = {}
    for (label, case_id, _s), rows in videos.items():
        human_cases.setdefault(label, {}).setdefault(case_id, []).append(layer_weighted_score([(layer, h) for layer, h, _ in rows], weights))
        judge_cases.setdefault(label, {}).setdefault(case_id, []).append(layer_weighted_score([(layer, j) for layer, _, j in rows], weights))
    mean = lambda d: {m: {c: 100.0 * sum(v) / len(v) for c, v in cs.items()} for m, cs in d.items()}
    ranking = tau_with_case_bootstrap(mean(judge_cases), mean(human_cases), samples, seed, confidence).to_dict()
    out["ranking"] = _name_models(ranking, runs)
    out["questions"] = question_agreement(pairs).to_dict()
    out["excluded"] = _not_given_note(not_given) + [f"{m} (not judged by {judge})" for m in sorted(skipped)]
    return out


def judge_vs_judge(
    runs: Sequence[RunResults], judge_a: str, judge_b: str, samples: int = 1000, seed: int = 0, confidence: float = 0.95
) -> dict:
    """Tau-b (with case-bootstrap CI) between two judges' rankings of the same runs, and their question agreement."""
    a_runs, b_runs = _runs_by_label(runs, judge_a), _runs_by_label(runs, judge_b)
    labels = sorted(set(a_runs) & set(b_runs))
    case_scores = lambda run, judge: {c: row["score"] for c, row in run.scores[judge]["cases"].items()}
    ranking = tau_with_case_bootstrap(
        {m: case_scores(a_runs[m], judge_a) for m in labels},
        {m: case_scores(b_runs[m], judge_b) for m in labels},
        samples, seed, confidence,
    )
    pairs = []
    for m in labels:
        ja, jb = a_runs[m].judgments[judge_a], b_runs[m].judgments[judge_b]
        pairs += [(ja[k]["answer"], jb[k]["answer"]) for k in sorted(set(ja) & set(jb))]
    return {"judges": [judge_a, judge_b], "ranking": _name_models(ranking.to_dict(), runs), "questions": question_agreement(pairs).to_dict()}


def all_agreements(
    runs: Sequence[RunResults], suite: Suite, labels: HumanLabels | None = None,
    samples: int = 1000, seed: int = 0, confidence: float = 0.95,
) -> dict:
    """Every judge against the humans (when labels are given) and every pair of judges that share runs."""
    judges = sorted({j for r in runs for j in r.judges})
    human = [judge_vs_human(runs, labels, j, suite, samples, seed, confidence) for j in judges] if labels else []
    pairs = []
    for a, b in combinations(judges, 2):
        if set(_runs_by_label(runs, a)) & set(_runs_by_label(runs, b)):
            pairs.append(judge_vs_judge(runs, a, b, samples, seed, confidence))
    return {"human": human, "judges": pairs}
