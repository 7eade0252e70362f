"""Agreement between a judge and humans, between annotators, and between two judges (VRBENCH.md "Human agreement").

Runs are named by their label (``vrbench.results``): several runs of one model are ranked side by side.

* Rankings: Kendall's tau-b (scipy) between two raters' run scores, with a bootstrap interval
  (fixed seed). With question-level labels the bootstrap resamples the labelled cases (what the
  scores vary over); with run-level human scores it resamples runs.
* Questions: accuracy and Cohen's kappa over the (run, case, seed, question) answers both raters
  gave. Judge answers that are invalid or missing are counted and left out of accuracy and kappa.
* Several annotators: the human answer to a question is the majority of their yes/no answers
  (can't-tell is no vote; a tie, 0-0 included, has no majority and is left out of the comparison with the
  judge). Agreement between annotators: Krippendorff's alpha (nominal; missing answers allowed) with a
  bootstrap interval over videos, Fleiss' kappa when every question has the same number of yes/no
  answers, and mean pairwise percent agreement.

Human labels are CSV files with a header, either per question ``run,case,question,answer[,seed]``
(answer yes or no; one annotator per file, named after the file) or per run ``run,score`` (any scale:
only the ranking is used). ``run`` is the run's label; the column may also be called ``model`` (its
older name), with the same meaning. A per-question file with an ``annotator`` column (what ``vrbench
label`` appends: ``run,case,seed,question,answer,annotator,time``) holds several annotators and their
history: answers yes, no, cant-tell or retract, and the last row per (annotator, run, case, seed,
question) wins (a final retract: no answer). Several files are merged in the order given, so for the
same annotator and question the later file wins.
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


# --- agreement between annotators (pure) ----------------------------------------------------------
#
# A "unit" is one question: the list of the values its annotators gave (any hashable values; missing
# answers are simply absent, so units may have any length). The statistics take units, never files.


def majority_answer(answers: Iterable[str]) -> str | None:
    """The majority of the yes/no answers (other answers, such as cant-tell, are no vote); None on a tie, 0-0 included."""
    answers = list(answers)
    yes, no = answers.count(YES), answers.count(NO)
    return YES if yes > no else NO if no > yes else None


def _categories(units: Iterable[Sequence]) -> list:
    return sorted({v for unit in units for v in unit}, key=repr)


def coincidence_matrix(units: Iterable[Sequence], categories: Sequence) -> np.ndarray:
    """Krippendorff's coincidence matrix over ``categories``: unit u adds n_uc (n_uk - [c == k]) / (m_u - 1)
    to o[c, k], where n_uc counts the value c in u and m_u is its number of values; units with fewer
    than two values are unpairable and add nothing. Values not in ``categories`` are an error."""
    index = {c: i for i, c in enumerate(categories)}
    out = np.zeros((len(categories), len(categories)))
    for unit in units:
        if len(unit) < 2:
            continue
        counts = np.zeros(len(categories))
        for v in unit:
            counts[index[v]] += 1
        out += (np.outer(counts, counts) - np.diag(counts)) / (len(unit) - 1)
    return out


def _alpha_from_coincidences(o: np.ndarray) -> np.ndarray:
    """Nominal alpha of (..., K, K) coincidence matrices: 1 - (n - 1) D_o / D_e; NaN where undefined
    (no pairable values, or a single category: no expected disagreement)."""
    n_c = o.sum(axis=-1)
    n = n_c.sum(axis=-1)
    observed = n - np.trace(o, axis1=-2, axis2=-1)  # coincidences of different values
    expected = n * n - (n_c * n_c).sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        alpha = 1.0 - (n - 1.0) * observed / expected
    return np.where(expected > 1e-12, alpha, np.nan)


def krippendorff_alpha_nominal(units: Iterable[Sequence]) -> float | None:
    """Krippendorff's alpha for nominal data; each unit lists the values it was given (missing ones left out).
    None when undefined: no unit has two values, or only one value occurs."""
    units = [list(u) for u in units]
    alpha = float(_alpha_from_coincidences(coincidence_matrix(units, _categories(units))))
    return None if math.isnan(alpha) else alpha


def alpha_with_bootstrap(
    groups: Sequence[Sequence[Sequence]], samples: int = 1000, seed: int = 0, confidence: float = 0.95,
) -> tuple[float | None, list[float] | None, int]:
    """Nominal alpha over every unit of ``groups``, with a bootstrap interval that resamples whole groups
    (videos: the questions of one video are not independent). Returns (alpha, interval, resamples where
    alpha was defined)."""
    units = [list(u) for g in groups for u in g]
    categories = _categories(units)
    per_group = np.stack([coincidence_matrix(g, categories) for g in groups]) if groups else np.zeros((0, 0, 0))
    total = _alpha_from_coincidences(per_group.sum(axis=0)) if groups else np.nan
    alpha = None if math.isnan(float(total)) else float(total)
    if alpha is None or not samples or len(groups) < 2:
        return alpha, None, 0
    rng = np.random.default_rng(seed)
    counts = np.zeros((samples, len(groups)))
    np.add.at(counts, (np.arange(samples)[:, None], rng.integers(0, len(groups), size=(samples, len(groups)))), 1.0)
    k = len(categories)
    resampled = (counts @ per_group.reshape(len(groups), k * k)).reshape(samples, k, k)
    values = [float(a) for a in _alpha_from_coincidences(resampled) if not math.isnan(a)]
    return alpha, _interval(values, confidence), len(values)


def fleiss_kappa(units: Sequence[Sequence]) -> float | None:
    """Fleiss' kappa; every unit must hold the same number (>= 2) of values (ValueError otherwise).
    None when undefined: no units, or one category only (chance agreement 1)."""
    if not units:
        return None
    sizes = {len(u) for u in units}
    if len(sizes) != 1 or min(sizes) < 2:
        raise ValueError(f"Fleiss' kappa needs the same number (>= 2) of values in every unit, got {min(sizes)} to {max(sizes)}")
    m = sizes.pop()
    categories = _categories(units)
    counts = np.array([[list(u).count(c) for c in categories] for u in units], dtype=float)
    p_j = counts.sum(axis=0) / (len(units) * m)
    p_bar = float(((counts * counts).sum(axis=1) - m).mean() / (m * (m - 1)))
    p_e = float((p_j * p_j).sum())
    if math.isclose(p_e, 1.0):
        return None
    return (p_bar - p_e) / (1.0 - p_e)


def pairwise_agreement(units: Iterable[Sequence]) -> float | None:
    """Mean over units with two or more values of the share of their pairs of values that agree; None without such units."""
    shares = []
    for unit in units:
        unit = list(unit)
        if len(unit) >= 2:
            pairs = list(combinations(unit, 2))
            shares.append(sum(a == b for a, b in pairs) / len(pairs))
    return float(np.mean(shares)) if shares else None


# --- human labels ---------------------------------------------------------------------------------

#: what an annotator may answer in a file with an annotator column (besides yes and no)
CANT_TELL, RETRACT = "cant-tell", "retract"
_CANT_TELL_SPELLINGS = ("cant-tell", "can't-tell", "can\u2019t-tell")
ANNOTATOR_COLUMN, TIME_COLUMN = "annotator", "time"
#: the header of a label file with annotators, in the order `vrbench label` writes it (readers accept any order)
LABEL_COLUMNS = ("run", "case", "seed", "question", "answer", ANNOTATOR_COLUMN, TIME_COLUMN)


@dataclass(frozen=True)
class LabelRow:
    """One row of a per-question label file, as read (answers normalised: yes, no, cant-tell or retract)."""

    run: str  # the run's label
    case: str
    seed: int | None
    question: str
    answer: str
    annotator: str  # the annotator column; for a file without one, the file's path as given
    time: str  # as written ('' without a time column): informational, file order decides what is last
    path: Path
    line: int
    column: str = "run"  # the header's name for the run column (run, or model)

    @property
    def key(self) -> tuple[str, str, int | None, str]:
        return (self.run, self.case, self.seed, self.question)


@dataclass(frozen=True)
class HumanQuestion:
    """One labelled question: every annotator's final answer and the human majority (None on a tie)."""

    run: str
    case: str
    seed: int | None
    question: str
    votes: dict[str, str]  # annotator -> yes, no or cant-tell
    majority: str | None
    path: Path  # where it was first answered, for messages
    line: int
    column: str = "run"

    @property
    def key(self) -> tuple[str, str, int | None, str]:
        return (self.run, self.case, self.seed, self.question)


@dataclass
class HumanLabels:
    """Human labels read from CSV files: per question (``final`` answers of each annotator) or per run (``scores``)."""

    path: Path  # the first file
    kind: str  # "question" or "run" (a score per run)
    scores: dict[str, tuple[float, int]] = field(default_factory=dict)  # run -> (score, line)
    column: str = "run"  # the first file's name for the run column: run, or model (its older name)
    paths: list[Path] = field(default_factory=list)
    final: dict[tuple[str, str, str, int | None, str], LabelRow] = field(default_factory=dict)  # see final_answers

    def questions(self) -> list[HumanQuestion]:
        """The labelled questions, in the order they were first answered (file order, then line)."""
        order = {p: i for i, p in reversed(list(enumerate(self.paths)))}
        grouped: dict[tuple, list[LabelRow]] = {}
        for row in sorted(self.final.values(), key=lambda r: (order.get(r.path, 0), r.line)):
            grouped.setdefault(row.key, []).append(row)
        out = []
        for (run, case, seed, question), rows in grouped.items():
            votes = {r.annotator: r.answer for r in rows}
            out.append(HumanQuestion(run, case, seed, question, votes, majority_answer(votes.values()),
                                     rows[0].path, rows[0].line, rows[0].column))
        return out

    def annotators(self) -> list[str]:
        return sorted({r.annotator for r in self.final.values()})

    def runs(self) -> list[str]:
        return sorted({r.run for r in self.final.values()} if self.kind == "question" else self.scores)

    models = runs  # the older name


@dataclass
class _LabelFile:
    path: Path
    kind: str
    column: str
    rows: list[LabelRow] = field(default_factory=list)
    scores: dict[str, tuple[float, int]] = field(default_factory=dict)


_EXPECTED_HEADER = ("run,case,question,answer[,seed] or run,score (the run's label; `model` may stand for `run`), "
                    "or with several annotators run,case,seed,question,answer,annotator,time")


def _read_label_file(path: Path) -> _LabelFile:
    """One label file, validated; every problem is a one-line `file:line: field: ...` error."""
    text = read_user_text(path, what="human label file", expected="UTF-8 CSV", encoding="utf-8-sig")
    reader = csv.reader(io.StringIO(text))
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        raise VRBenchError(f"{path}:1: empty file (expected a header: {_EXPECTED_HEADER})") from None
    name_col = next((c for c in RUN_COLUMNS if c in header), None)
    if name_col is not None and all(c in header for c in QUESTION_COLUMNS):
        kind = "question"
    elif name_col is not None and all(c in header for c in SCORE_COLUMNS):
        kind = "run"
    else:
        raise VRBenchError(f"{path}:1: header: expected columns {_EXPECTED_HEADER}, got {','.join(header)}")
    col = {name: header.index(name) for name in header}
    annotated = ANNOTATOR_COLUMN in col
    out = _LabelFile(path, kind, name_col)
    first: dict[tuple, int] = {}  # without an annotator column: key -> first line (duplicates are errors)
    for lineno, cells in csv_rows(reader, len(header), path):
        where = f"{path}:{lineno}"
        get = lambda name, cells=cells: cells[col[name]].strip() if name in col else ""
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
            if run in out.scores:
                raise VRBenchError(f"{where}: duplicate score for run {run!r} (first at line {out.scores[run][1]})")
            out.scores[run] = (score, lineno)
            continue
        case, question, answer = get("case").upper(), get("question").upper(), get("answer").lower()
        if not case:
            raise VRBenchError(f"{where}: case: expected a case id such as ETV-07")
        if not question:
            raise VRBenchError(f"{where}: question: expected a question id such as Q3")
        if annotated and answer in _CANT_TELL_SPELLINGS:
            answer = CANT_TELL
        if annotated and answer not in (YES, NO, CANT_TELL, RETRACT):
            raise VRBenchError(f"{where}: answer: expected yes, no, cant-tell or retract, got {get('answer')!r}")
        if not annotated and answer not in (YES, NO):
            raise VRBenchError(f"{where}: answer: expected yes or no, got {get('answer')!r}")
        seed = None
        if get("seed"):
            try:
                seed = int(get("seed"))
            except ValueError:
                seed = -1
            if seed < 0:
                raise VRBenchError(f"{where}: seed: expected a non-negative integer, got {get('seed')!r}")
        annotator = get(ANNOTATOR_COLUMN) if annotated else str(path)
        if not annotator:
            raise VRBenchError(f"{where}: {ANNOTATOR_COLUMN}: expected the annotator's name")
        row = LabelRow(run, case, seed, question, answer, annotator, get(TIME_COLUMN), path, lineno, name_col)
        if not annotated:
            if row.key in first:
                raise VRBenchError(f"{where}: duplicate label for {run} {case} {question} (first at line {first[row.key]})")
            first[row.key] = lineno
        out.rows.append(row)
    return out


def _paths(paths: str | Path | Sequence[str | Path]) -> list[Path]:
    return [Path(paths)] if isinstance(paths, (str, Path)) else [Path(p) for p in paths]


def read_label_rows(paths: str | Path | Sequence[str | Path]) -> list[LabelRow]:
    """Every answer row of per-question label files, validated, in merge order (the files in the order
    given, each in file order); a file of per-run scores is an error. A file with only its header gives
    no rows. ``final_answers`` keeps what counts."""
    rows: list[LabelRow] = []
    for path in _paths(paths):
        f = _read_label_file(path)
        if f.kind != "question":
            raise VRBenchError(f"{path}:1: header: expected per-question labels (run,case,question,answer[,seed] or "
                               "run,case,seed,question,answer,annotator,time), got per-run scores (run,score)")
        rows += f.rows
    return rows


def final_answers(rows: Iterable[LabelRow]) -> dict[tuple[str, str, str, int | None, str], LabelRow]:
    """What each annotator finally answered: the last row per (annotator, run, case, seed, question), read
    in the order given; a final retract leaves no answer. Keyed by (annotator, run, case, seed, question);
    the values' answers are yes, no or cant-tell."""
    out: dict[tuple[str, str, str, int | None, str], LabelRow] = {}
    for row in rows:
        key = (row.annotator, *row.key)
        out.pop(key, None)  # a re-answer moves to the end: dict order is the order of the final answers
        if row.answer != RETRACT:
            out[key] = row
    return out


def annotator_answers(rows: Iterable[LabelRow], annotator: str) -> dict[tuple[str, str, int | None, str], LabelRow]:
    """What one annotator finally answered (``final_answers`` of that annotator), keyed by (run, case, seed, question)."""
    return {key[1:]: row for key, row in final_answers(r for r in rows if r.annotator == annotator).items()}


def read_human_labels(paths: str | Path | Sequence[str | Path]) -> HumanLabels:
    """Read, validate and merge human-label CSVs (one path or several); every problem is a one-line
    `file:line: field: ...` error. Per-run scores (run,score) come in one file alone."""
    paths = _paths(paths)
    if not paths:
        raise VRBenchError("--human: expected at least one label file")
    files = [_read_label_file(p) for p in paths]
    scored = [f for f in files if f.kind == "run"]
    if scored and len(files) > 1:
        raise VRBenchError(f"{scored[0].path}:1: header: per-run scores (run,score) cannot be merged with other label files; "
                           "give that file alone, or label per question")
    first = files[0]
    labels = HumanLabels(first.path, first.kind, scores=first.scores, column=first.column, paths=paths)
    if first.kind == "run":
        if not labels.scores:
            raise VRBenchError(f"{first.path}: no label rows")
        return labels
    rows = [r for f in files for r in f.rows]
    if not rows:
        raise VRBenchError(f"{first.path}: no label rows" if len(files) == 1 else f"{', '.join(map(str, paths))}: no label rows")
    labels.final = final_answers(rows)
    if not labels.final:
        raise VRBenchError(f"{rows[-1].path}:{rows[-1].line}: answer: every answer was retracted (no labels left)")
    return labels


@dataclass
class AnnotatorAgreement:
    """Agreement between annotators over the questions they labelled, and how the human majority came out."""

    annotators: list[str]
    n_questions: int  # questions with at least one final answer (can't-tell included)
    n_videos: int  # (run, case, seed) among them
    n_labelled_by_2plus: int  # questions answered by two or more annotators (can't-tell included)
    n_pairable: int  # questions with two or more yes/no answers: those alpha and percent agreement use
    alpha: float | None  # Krippendorff's alpha, nominal, over yes/no answers (can't-tell: missing)
    alpha_ci: list[float] | None
    n_bootstrap: int  # resamples of videos where alpha was defined
    fleiss_kappa: float | None
    fleiss_note: str  # why Fleiss' kappa is undefined, else ""
    percent_agreement: float | None  # mean over pairable questions of the share of agreeing pairs
    n_majority: int  # questions with a human majority
    n_tied: int  # questions without one (as many yes as no answers, 0-0 included): left out of judge comparisons
    n_with_cant_tell: int  # questions where someone answered can't-tell
    n_cant_tell: int  # can't-tell answers
    bootstrap_unit: str = "video"
    alpha_note: str = ""  # why alpha is undefined, else ""
    per_annotator: list[dict] = field(default_factory=list)  # {"annotator", "n_answers", "n_cant_tell", "vs_others": {n, accuracy, kappa}}

    @property
    def n_annotators(self) -> int:
        return len(self.annotators)

    def to_dict(self) -> dict:
        return {"n_annotators": self.n_annotators, **asdict(self)}


def annotator_agreement(
    questions: Sequence[HumanQuestion], samples: int = 1000, seed: int = 0, confidence: float = 0.95,
) -> AnnotatorAgreement:
    """Inter-annotator agreement over labelled questions; the alpha interval resamples videos (run, case, seed)."""
    annotators = sorted({a for q in questions for a in q.votes})
    units = [[v for v in q.votes.values() if v in (YES, NO)] for q in questions]
    videos: dict[tuple, list[list[str]]] = {}
    for q, unit in zip(questions, units):
        videos.setdefault((q.run, q.case, q.seed), []).append(unit)
    alpha, ci, n_boot = alpha_with_bootstrap(list(videos.values()), samples, seed, confidence)
    pairable = [u for u in units if len(u) >= 2]
    alpha_note = ""
    if alpha is None:
        alpha_note = ("needs two or more annotators" if len(annotators) < 2 else
                      "no question has two yes/no answers" if not pairable else "every answer is the same (no expected disagreement)")
    voted = [u for u in units if u]
    sizes = sorted({len(u) for u in voted})
    kappa, fleiss_note = None, ""
    if not voted or sizes[0] < 2 or len(sizes) > 1:
        fleiss_note = ("no yes/no answers" if not voted else
                       f"questions have {sizes[0]} to {sizes[-1]} yes/no answers; Fleiss' kappa needs the same number (2 or more) for every question"
                       if len(sizes) > 1 else "needs two or more yes/no answers per question")
    else:
        kappa = fleiss_kappa(voted)
        if kappa is None:
            fleiss_note = "every answer is the same (chance agreement 1)"
    per_annotator = []
    for a in annotators:
        pairs = []
        for q in questions:
            others = majority_answer(v for b, v in q.votes.items() if b != a)
            if q.votes.get(a) in (YES, NO) and others is not None:
                pairs.append((q.votes[a], others))
        vs = question_agreement(pairs)
        per_annotator.append({"annotator": a, "n_answers": sum(a in q.votes for q in questions),
                              "n_cant_tell": sum(q.votes.get(a) == CANT_TELL for q in questions),
                              "vs_others": {"n": vs.n, "accuracy": vs.accuracy, "kappa": vs.kappa}})
    return AnnotatorAgreement(
        annotators=annotators, n_questions=len(questions), n_videos=len(videos),
        n_labelled_by_2plus=sum(len(q.votes) >= 2 for q in questions), n_pairable=len(pairable),
        alpha=alpha, alpha_ci=ci, n_bootstrap=n_boot, fleiss_kappa=kappa, fleiss_note=fleiss_note,
        percent_agreement=pairwise_agreement(pairable),
        n_majority=sum(q.majority is not None for q in questions), n_tied=sum(q.majority is None for q in questions),
        n_with_cant_tell=sum(CANT_TELL in q.votes.values() for q in questions),
        n_cant_tell=sum(list(q.votes.values()).count(CANT_TELL) for q in questions),
        alpha_note=alpha_note, per_annotator=per_annotator,
    )


# --- agreement over runs --------------------------------------------------------------------------


def _runs_by_label(runs: Sequence[RunResults], judge: str) -> dict[str, RunResults]:
    """The runs judged by ``judge``, by label (two runs with one label are refused)."""
    from .results import check_labels

    check_labels(runs)
    return {run.label: run for run in runs if judge in run.judges}


def _runs_not_given(runs: Sequence[RunResults], labels: HumanLabels) -> list[str]:
    """The labelled runs that are not among ``runs`` (they are skipped, with a note); an error when none
    of the files' runs is among them, naming the first line (the files likely name other runs)."""
    known = sorted({r.label for r in runs})
    where: dict[str, tuple[str, str]] = {}  # run -> (file:line, run column) where it is first labelled
    if labels.kind == "question":
        for q in labels.questions():
            where.setdefault(q.run, (f"{q.path}:{q.line}", q.column))
    else:
        for run, (_, line) in sorted(labels.scores.items(), key=lambda kv: kv[1][1]):
            where[run] = (f"{labels.path}:{line}", labels.column)
    missing = sorted(set(where) - set(known))
    if missing and len(missing) == len(where):
        first = next(run for run in where if run in missing)
        raise VRBenchError(f"{where[first][0]}: {where[first][1]}: no run labelled {first!r} (runs: {', '.join(known) or 'none'}); "
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
    out: dict = {"judge": judge, "human_file": str(labels.path), "human_files": [str(p) for p in labels.paths], "kind": labels.kind}
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
    no_majority = 0  # labelled questions without a human majority (a tie): left out
    for q in labels.questions():
        label, case_id, label_seed, question = q.key
        where = f"{q.path}:{q.line}"
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
        if q.majority is None:
            no_majority += 1
            continue
        row = answers.get((case_id, video_seed, question))
        judged = row["answer"] if row else INVALID
        pairs.append((judged, q.majority))
        videos.setdefault((label, case_id, video_seed), []).append((layer, 1.0 if q.majority == YES else 0.0, 1.0 if judged == YES else 0.0))

    human_cases: dict[str, dict[str, list[float]]] = {}
    judge_cases: dict[str, dict[str, list[float]]] = {}
    for (label, case_id, _s), rows in videos.items():
        human_cases.setdefault(label, {}).setdefault(case_id, []).append(layer_weighted_score([(layer, h) for layer, h, _ in rows], weights))
        judge_cases.setdefault(label, {}).setdefault(case_id, []).append(layer_weighted_score([(layer, j) for layer, _, j in rows], weights))
    mean = lambda d: {m: {c: 100.0 * sum(v) / len(v) for c, v in cs.items()} for m, cs in d.items()}
    ranking = tau_with_case_bootstrap(mean(judge_cases), mean(human_cases), samples, seed, confidence).to_dict()
    out["ranking"] = _name_models(ranking, runs)
    out["questions"] = question_agreement(pairs).to_dict()
    out["n_no_majority"] = no_majority
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
    """Every judge against the humans (when labels are given), every pair of judges that share runs, and
    (with per-question labels) the agreement between annotators on the labelled questions of the runs given."""
    judges = sorted({j for r in runs for j in r.judges})
    human = [judge_vs_human(runs, labels, j, suite, samples, seed, confidence) for j in judges] if labels else []
    pairs = []
    for a, b in combinations(judges, 2):
        if set(_runs_by_label(runs, a)) & set(_runs_by_label(runs, b)):
            pairs.append(judge_vs_judge(runs, a, b, samples, seed, confidence))
    out: dict = {"human": human, "judges": pairs}
    if labels is not None and labels.kind == "question":
        given = {r.label for r in runs}
        questions = [q for q in labels.questions() if q.run in given]
        out["annotators"] = annotator_agreement(questions, samples, seed, confidence).to_dict()
    return out
