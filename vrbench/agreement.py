"""Agreement between a judge and humans, and between two judges (VRBENCH.md "Human agreement").

* Rankings: Kendall's tau-b (scipy) between two raters' model scores, with a bootstrap interval
  (fixed seed). With question-level labels the bootstrap resamples the labelled cases (what the
  scores vary over); with model-level human scores it resamples models.
* Questions: accuracy and Cohen's kappa over the (model, case, seed, question) answers both raters
  gave. Judge answers that are invalid or missing are counted and left out of accuracy and kappa.

Human labels are a CSV with a header, either per question ``model,case,question,answer[,seed]``
(answer yes or no) or per model ``model,score`` (any scale: only the ranking is used).
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
    from .report import RunResults
    from .suite import Suite

QUESTION_COLUMNS = ("model", "case", "question", "answer")
MODEL_COLUMNS = ("model", "score")


# --- pure statistics ------------------------------------------------------------------------------


def kendall_tau_b(x: Sequence[float], y: Sequence[float]) -> float | None:
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
    """Kendall's tau-b between two raters' model scores, with its bootstrap interval."""

    n_models: int
    tau_b: float | None
    ci: list[float] | None = None
    bootstrap_unit: str = ""  # "case" or "model"
    n_bootstrap: int = 0  # resamples where tau was defined
    models: list[dict] = field(default_factory=list)  # [{"model", "a", "b"}]

    def to_dict(self) -> dict:
        return asdict(self)


def tau_with_case_bootstrap(
    a: Mapping[str, Mapping[str, float]],
    b: Mapping[str, Mapping[str, float]],
    samples: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
) -> RankAgreement:
    """Tau-b between model scores that are means over cases; the bootstrap resamples cases.

    ``a[model][case]`` and ``b[model][case]`` are per-case scores; a model's score is its mean over
    the cases both raters scored, in the estimate and in every resample.
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
        models=[{"model": m, "a": float(sa[0, i]), "b": float(sb[0, i]), "n_cases": int(mask[i].sum())} for i, m in enumerate(models)],
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
    """Tau-b between two raters' model scores; the bootstrap resamples models."""
    models = sorted(m for m in a if m in b)
    xa = np.array([a[m] for m in models], dtype=float)
    xb = np.array([b[m] for m in models], dtype=float)
    result = RankAgreement(
        len(models), kendall_tau_b(xa, xb), bootstrap_unit="model",
        models=[{"model": m, "a": float(a[m]), "b": float(b[m])} for m in models],
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
    """Human labels read from a CSV: per question (``answers``) or per model (``scores``)."""

    path: Path
    kind: str  # "question" or "model"
    answers: dict[tuple[str, str, int | None, str], tuple[str, int]] = field(default_factory=dict)  # -> (answer, line)
    scores: dict[str, tuple[float, int]] = field(default_factory=dict)  # model -> (score, line)

    def models(self) -> list[str]:
        keys = self.answers if self.kind == "question" else self.scores
        return sorted({k[0] if isinstance(k, tuple) else k for k in keys})


def read_human_labels(path: str | Path) -> HumanLabels:
    """Read and validate a human-label CSV; every problem is a one-line `file:line: field: ...` error."""
    path = Path(path)
    text = read_user_text(path, what="human label file", expected="UTF-8 CSV", encoding="utf-8-sig")
    reader = csv.reader(io.StringIO(text))
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        raise VRBenchError(f"{path}:1: empty file (expected a header: model,case,question,answer or model,score)") from None
    if all(c in header for c in QUESTION_COLUMNS):
        kind = "question"
    elif all(c in header for c in MODEL_COLUMNS):
        kind = "model"
    else:
        raise VRBenchError(f"{path}:1: header: expected columns model,case,question,answer[,seed] or model,score, got {','.join(header)}")
    col = {name: header.index(name) for name in header}
    labels = HumanLabels(path, kind)
    for lineno, cells in csv_rows(reader, len(header), path):
        where = f"{path}:{lineno}"
        get = lambda name, cells=cells: cells[col[name]].strip()
        model = get("model")
        if not model:
            raise VRBenchError(f"{where}: model: expected a model name")
        if kind == "model":
            try:
                score = float(get("score"))
            except ValueError:
                score = float("nan")
            if not math.isfinite(score):
                raise VRBenchError(f"{where}: score: expected a number, got {get('score')!r}")
            if model in labels.scores:
                raise VRBenchError(f"{where}: duplicate score for model {model!r} (first at line {labels.scores[model][1]})")
            labels.scores[model] = (score, lineno)
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
        key = (model, case, seed, question)
        if key in labels.answers:
            raise VRBenchError(f"{where}: duplicate label for {model} {case} {question} (first at line {labels.answers[key][1]})")
        labels.answers[key] = (answer, lineno)
    if not labels.answers and not labels.scores:
        raise VRBenchError(f"{path}: no label rows")
    return labels


# --- agreement over runs --------------------------------------------------------------------------


def _runs_by_model(runs: Sequence[RunResults], judge: str) -> dict[str, RunResults]:
    out: dict[str, RunResults] = {}
    for run in runs:
        if judge not in run.judges:
            continue
        if run.model in out:
            raise VRBenchError(f"two runs for model {run.model!r} judged by {judge} ({out[run.model].root}, {run.root}); agreement needs one run per model")
        out[run.model] = run
    return out


def _check_model(runs: Sequence[RunResults], model: str, where: str) -> None:
    known = sorted({r.model for r in runs})
    if model not in known:
        raise VRBenchError(f"{where}: model: no run for model {model!r} (runs: {', '.join(known) or 'none'})")


def judge_vs_human(
    runs: Sequence[RunResults], labels: HumanLabels, judge: str, suite: Suite,
    samples: int = 1000, seed: int = 0, confidence: float = 0.95,
) -> dict:
    """Tau-b (with CI) between the judge's and the humans' model rankings, plus question-level agreement."""
    by_model = _runs_by_model(runs, judge)
    out: dict = {"judge": judge, "human_file": str(labels.path), "kind": labels.kind}
    if labels.kind == "model":
        judge_scores, excluded = {}, []
        for model, (_, line) in labels.scores.items():
            _check_model(runs, model, f"{labels.path}:{line}")
            if model not in by_model:
                excluded.append(f"{model} (not judged by {judge})")
                continue
            overall = by_model[model].scores[judge]["overall"]
            if overall.get("score") is None:
                excluded.append(f"{model} (overall undefined: no judged case in {', '.join(overall.get('missing_dimensions') or [])})")
            else:
                judge_scores[model] = overall["score"]
        human = {m: s for m, (s, _) in labels.scores.items()}
        out["ranking"] = tau_with_model_bootstrap(judge_scores, human, samples, seed, confidence).to_dict()
        out["excluded"] = excluded
        return out

    cases = {c.id: c for c in suite.cases}
    weights = suite.layer_weights
    # (model, case, seed) -> list of (layer, human value, judge value); plus question pairs
    videos: dict[tuple[str, str, int], list[tuple[int, float, float]]] = {}
    pairs: list[tuple[str, str]] = []
    skipped: set[str] = set()
    for (model, case_id, label_seed, question), (answer, line) in sorted(labels.answers.items(), key=lambda kv: kv[1][1]):
        where = f"{labels.path}:{line}"
        _check_model(runs, model, where)
        run = by_model.get(model)
        if run is None:
            skipped.add(model)
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
        videos.setdefault((model, case_id, video_seed), []).append((layer, 1.0 if answer == YES else 0.0, 1.0 if judged == YES else 0.0))

    human_cases: dict[str, dict[str, list[float]]] = {}
    judge_cases: dict[str, dict[str, list[float]]] = {}
    for (model, case_id, _s), rows in videos.items():
        human_cases.setdefault(model, {}).setdefault(case_id, []).append(layer_weighted_score([(layer, h) for layer, h, _ in rows], weights))
        judge_cases.setdefault(model, {}).setdefault(case_id, []).append(layer_weighted_score([(layer, j) for layer, _, j in rows], weights))
    mean = lambda d: {m: {c: 100.0 * sum(v) / len(v) for c, v in cs.items()} for m, cs in d.items()}
    out["ranking"] = tau_with_case_bootstrap(mean(judge_cases), mean(human_cases), samples, seed, confidence).to_dict()
    out["questions"] = question_agreement(pairs).to_dict()
    out["excluded"] = [f"{m} (not judged by {judge})" for m in sorted(skipped)]
    return out


def judge_vs_judge(
    runs: Sequence[RunResults], judge_a: str, judge_b: str, samples: int = 1000, seed: int = 0, confidence: float = 0.95
) -> dict:
    """Tau-b (with case-bootstrap CI) between two judges' model rankings on the same runs, and their question agreement."""
    a_runs, b_runs = _runs_by_model(runs, judge_a), _runs_by_model(runs, judge_b)
    models = sorted(set(a_runs) & set(b_runs))
    case_scores = lambda run, judge: {c: row["score"] for c, row in run.scores[judge]["cases"].items()}
    ranking = tau_with_case_bootstrap(
        {m: case_scores(a_runs[m], judge_a) for m in models},
        {m: case_scores(b_runs[m], judge_b) for m in models},
        samples, seed, confidence,
    )
    pairs = []
    for m in models:
        ja, jb = a_runs[m].judgments[judge_a], b_runs[m].judgments[judge_b]
        pairs += [(ja[k]["answer"], jb[k]["answer"]) for k in sorted(set(ja) & set(jb))]
    return {"judges": [judge_a, judge_b], "ranking": ranking.to_dict(), "questions": question_agreement(pairs).to_dict()}


def all_agreements(
    runs: Sequence[RunResults], suite: Suite, labels: HumanLabels | None = None,
    samples: int = 1000, seed: int = 0, confidence: float = 0.95,
) -> dict:
    """Every judge against the humans (when labels are given) and every pair of judges that share models."""
    judges = sorted({j for r in runs for j in r.judges})
    human = [judge_vs_human(runs, labels, j, suite, samples, seed, confidence) for j in judges] if labels else []
    pairs = []
    for a, b in combinations(judges, 2):
        if set(_runs_by_model(runs, a)) & set(_runs_by_model(runs, b)):
            pairs.append(judge_vs_judge(runs, a, b, samples, seed, confidence))
    return {"human": human, "judges": pairs}
