"""VR-Bench scoring: pure functions from judge answers to case, dimension, category and overall scores.

Exactly as VRBENCH.md fixes it:

* answer value: hard = 1 for yes, 0 for no; soft = P(yes) where the judge gave one (hard otherwise);
  an invalid or missing answer is worth 0 and is counted, never dropped;
* case score = sum over layers l of W_l * mean(answer values in layer l), W = the suite's layer weights
  (0.2, 0.3, 0.5 for VR-Bench), unless the caller overrides them;
* optional gating: when no layer-1 answer is "yes", layers 2 and 3 count 0;
* dimension = 100 * mean over its videos (cases x seeds); category = mean of its dimensions;
  overall = mean of all dimensions; 95% bootstrap intervals resample cases within each dimension.

Nothing here reads or writes files.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

from .answers import ANSWERS, INVALID, NO, YES

DEFAULT_LAYER_WEIGHTS = (0.2, 0.3, 0.5)  # VR-Bench's; used only where no suite is at hand


@dataclass(frozen=True)
class ScoringConfig:
    # None: the suite's weights (score_run fills them in); a value overrides the suite's
    layer_weights: tuple[float, float, float] | None = None
    soft: bool = False
    gating: bool = False
    bootstrap_samples: int = 1000
    confidence: float = 0.95
    seed: int = 0

    def __post_init__(self):
        w = self.layer_weights
        if w is not None and (len(w) != 3 or any(x < 0 for x in w) or not math.isclose(sum(w), 1.0)):
            raise ValueError(f"layer_weights must be 3 non-negative numbers summing to 1, got {w}")
        if not 0 < self.confidence < 1:
            raise ValueError(f"confidence must be in (0, 1), got {self.confidence}")
        if self.bootstrap_samples < 0:
            raise ValueError("bootstrap_samples must be >= 0")

    @property
    def weights(self) -> tuple[float, float, float]:
        """The layer weights to score with."""
        return self.layer_weights if self.layer_weights is not None else DEFAULT_LAYER_WEIGHTS

    def to_dict(self) -> dict:
        d = asdict(self)
        d["layer_weights"] = list(self.weights)  # the weights actually used
        return d


@dataclass(frozen=True)
class Answer:
    """One judged question of one video. ``answer`` is yes, no or invalid (missing rows are invalid)."""

    layer: int
    answer: str
    p_yes: float | None = None


def answer_value(answer: str, p_yes: float | None = None, soft: bool = False) -> float:
    if answer == INVALID:
        return 0.0
    if answer not in (YES, NO):
        raise ValueError(f"answer must be one of {ANSWERS}, got {answer!r}")
    if soft and p_yes is not None:
        return float(p_yes)
    return 1.0 if answer == YES else 0.0


def is_gated(answers: Sequence[Answer]) -> bool:
    """True when no layer-1 answer is yes: the scene is not there, so there is nothing to reason about.

    An invalid layer-1 answer gates like a "no" (both are worth 0), so turning an invalid into a "no"
    can never change a score.
    """
    return not any(a.answer == YES for a in answers if a.layer == 1)


def case_score(answers: Sequence[Answer], config: ScoringConfig = ScoringConfig()) -> float:
    """Layer-weighted score of one video's answers, in [0, 1]."""
    gated = config.gating and is_gated(answers)
    total = 0.0
    for layer, weight in zip((1, 2, 3), config.weights):
        values = [answer_value(a.answer, a.p_yes, config.soft) for a in answers if a.layer == layer]
        if not values:
            raise ValueError(f"no answers in layer {layer}")
        if gated and layer > 1:
            continue
        total += weight * (sum(values) / len(values))
    return min(1.0, max(0.0, total))


@dataclass(frozen=True)
class VideoScore:
    """The score of one generated video (case x seed) with its answer bookkeeping."""

    case: str
    dimension: str
    seed: int
    score: float  # in [0, 1]
    n_answers: int
    n_invalid: int = 0  # includes missing answers
    n_missing: int = 0
    n_without_p_yes: int = 0  # valid answers that fell back to hard values in soft mode
    gated: bool = False


def score_video(
    case: str, dimension: str, seed: int, answers: Sequence[Answer], config: ScoringConfig = ScoringConfig(), n_missing: int = 0
) -> VideoScore:
    return VideoScore(
        case=case,
        dimension=dimension,
        seed=seed,
        score=case_score(answers, config),
        n_answers=len(answers),
        n_invalid=sum(a.answer == INVALID for a in answers),
        n_missing=n_missing,
        n_without_p_yes=sum(a.answer != INVALID and a.p_yes is None for a in answers) if config.soft else 0,
        gated=config.gating and is_gated(answers),
    )


@dataclass
class Estimate:
    score: float | None  # 0-100, None when undefined (e.g. a dimension with no judged case)
    ci: tuple[float, float] | None = None
    n_cases: int = 0
    n_videos: int = 0
    n_answers: int = 0
    n_invalid: int = 0
    n_missing: int = 0
    n_expected_cases: int | None = None
    missing_dimensions: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["score"] = None if self.score is None else round(self.score, 4)
        d["ci"] = None if self.ci is None else [round(self.ci[0], 4), round(self.ci[1], 4)]
        return d


@dataclass
class Scores:
    overall: Estimate
    categories: dict[str, Estimate]
    dimensions: dict[str, Estimate]
    cases: dict[str, dict]
    config: ScoringConfig

    def to_dict(self) -> dict:
        return {
            "config": self.config.to_dict(),
            "overall": self.overall.to_dict(),
            "categories": {k: v.to_dict() for k, v in self.categories.items()},
            "dimensions": {k: v.to_dict() for k, v in self.dimensions.items()},
            "cases": self.cases,
        }


def aggregate(
    videos: Iterable[VideoScore],
    dimensions: Sequence[str],
    categories: Mapping[str, Sequence[str]],
    config: ScoringConfig = ScoringConfig(),
    expected_cases: Mapping[str, int] | None = None,
) -> Scores:
    """Dimension, category and overall scores with stratified bootstrap intervals over cases.

    ``dimensions`` fixes the order (and so the random stream) of the bootstrap; cases are sorted by id
    inside each dimension, so the order in which videos arrive never changes a number.
    """
    per_case: dict[str, list[VideoScore]] = {}
    for v in videos:
        if v.dimension not in dimensions:
            raise ValueError(f"video of case {v.case} has unknown dimension {v.dimension}")
        per_case.setdefault(v.case, []).append(v)

    rng = np.random.default_rng(config.seed)
    alpha = (1.0 - config.confidence) / 2.0
    boot: dict[str, np.ndarray | None] = {}
    dim_est: dict[str, Estimate] = {}
    case_rows: dict[str, dict] = {}
    for dim in dimensions:
        cases = sorted(c for c, vs in per_case.items() if vs[0].dimension == dim)
        sums = np.array([sum(v.score for v in per_case[c]) for c in cases], dtype=np.float64)
        counts = np.array([len(per_case[c]) for c in cases], dtype=np.float64)
        vids = [v for c in cases for v in per_case[c]]
        est = Estimate(
            score=None,
            n_cases=len(cases),
            n_videos=len(vids),
            n_answers=sum(v.n_answers for v in vids),
            n_invalid=sum(v.n_invalid for v in vids),
            n_missing=sum(v.n_missing for v in vids),
            n_expected_cases=None if expected_cases is None else expected_cases.get(dim),
        )
        boot[dim] = None
        if cases:
            est.score = 100.0 * sums.sum() / counts.sum()
            if config.bootstrap_samples:
                idx = rng.integers(0, len(cases), size=(config.bootstrap_samples, len(cases)))
                samples = 100.0 * sums[idx].sum(axis=1) / counts[idx].sum(axis=1)
                boot[dim] = samples
                est.ci = _interval(samples, alpha)
        dim_est[dim] = est
        for c in cases:
            vs = sorted(per_case[c], key=lambda v: v.seed)
            case_rows[c] = {
                "dimension": dim,
                "score": round(100.0 * sum(v.score for v in vs) / len(vs), 4),
                "seeds": {str(v.seed): round(100.0 * v.score, 4) for v in vs},
                "n_invalid": sum(v.n_invalid for v in vs),
                "gated": [v.seed for v in vs if v.gated],
            }

    def combine(dims: Sequence[str]) -> Estimate:
        parts = [dim_est[d] for d in dims]
        est = Estimate(
            score=None,
            n_cases=sum(p.n_cases for p in parts),
            n_videos=sum(p.n_videos for p in parts),
            n_answers=sum(p.n_answers for p in parts),
            n_invalid=sum(p.n_invalid for p in parts),
            n_missing=sum(p.n_missing for p in parts),
            n_expected_cases=None if expected_cases is None else sum(expected_cases.get(d, 0) for d in dims),
            missing_dimensions=[d for d in dims if dim_est[d].score is None],
        )
        if not est.missing_dimensions and dims:  # a mean over a subset would silently be another number
            est.score = float(np.mean([p.score for p in parts]))
            dim_samples = [boot[d] for d in dims]
            if all(b is not None for b in dim_samples):
                est.ci = _interval(np.mean(dim_samples, axis=0), alpha)  # type: ignore[arg-type]  # none is None here
        return est

    return Scores(
        overall=combine(list(dimensions)),
        categories={cat: combine(list(dims)) for cat, dims in categories.items()},
        dimensions=dim_est,
        cases=case_rows,
        config=config,
    )


def _interval(samples: np.ndarray, alpha: float) -> tuple[float, float]:
    lo, hi = np.quantile(samples, [alpha, 1.0 - alpha])
    return float(lo), float(hi)
