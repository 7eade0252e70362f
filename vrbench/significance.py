"""Which leaderboard differences are real: a paired bootstrap over cases for runs scored alike.

Pure functions, no files. The input is what ``scores/<judge>.json`` records per video: for every run,
case -> the scores (0-100) of that case's videos, one per seed. The bootstrap is the one scoring uses
for its intervals, made *paired*:

* each resample draws, within every dimension, as many cases as the dimension has (with replacement,
  stratified like scoring's CIs); a case brings all its seeds along;
* the SAME draw is applied to every run, so two runs are compared on the same cases in every resample;
* a run's dimension score in a resample is 100 x mean over the drawn videos (as ``scoring.aggregate``),
  and its overall score the mean of its dimensions.

From the resamples:

* ``p_beats[a][b]`` = share of resamples in which a's overall score is above b's; ``p_tie[a][b]`` the
  share in which they are equal (within 1e-9), so P(a beats b) + P(b beats a) + P(tie) = 1;
* a run's rank in a resample is 1 + the number of runs strictly above it (competition ranking); its
  rank interval is the (alpha, 1 - alpha) quantiles of those ranks (lower and higher integer), widened
  to include its rank on the point estimates if a skewed bootstrap left it outside;
* two runs are **tied** when their rank intervals overlap.

A fixed seed makes the numbers a function of the inputs. Runs without a video in some dimension have
no overall score, are not ranked, and are listed in ``unranked``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

TIE_TOLERANCE = 1e-9  # overall scores closer than this count as equal (floating-point noise of a mean)


@dataclass
class Significance:
    """The paired-bootstrap results for one group of comparable runs (see the module docstring)."""

    runs: list[str]  # the ranked runs, in the order given
    estimate: dict[str, float]  # run -> overall score the ranks are based on
    rank: dict[str, int]  # run -> rank on the point estimates (1 = best; equal scores share a rank)
    rank_interval: dict[str, tuple[int, int]]  # run -> (low, high) ranks across resamples; contains rank
    tied_with: dict[str, list[str]]  # run -> runs whose rank interval overlaps its own
    p_beats: dict[str, dict[str, float]] = field(default_factory=dict)  # a -> b -> P(a's overall > b's)
    p_tie: dict[str, dict[str, float]] = field(default_factory=dict)  # a -> b -> P(equal)
    n_pairs: dict[str, dict[str, int]] = field(default_factory=dict)  # a -> b -> resamples where both were defined
    unranked: list[str] = field(default_factory=list)  # runs with no overall score (a dimension without videos)
    samples: int = 0
    seed: int = 0
    confidence: float = 0.95

    def tied(self, run: str) -> bool:
        return bool(self.tied_with.get(run))


def competition_ranks(values: np.ndarray, tolerance: float = TIE_TOLERANCE) -> np.ndarray:
    """1 + how many entries are strictly greater (by more than ``tolerance``), along the last axis.

    NaN entries get rank 0 (no rank) and push no one down.
    """
    v = np.asarray(values, dtype=np.float64)
    finite = np.isfinite(v)
    filled = np.where(finite, v, -np.inf)
    above = (filled[..., None, :] > filled[..., :, None] + tolerance).sum(axis=-1)
    return np.where(finite, 1 + above, 0)


def paired_bootstrap(
    videos: Mapping[str, Mapping[str, Sequence[float]]],
    dimension_of: Mapping[str, str],
    dimensions: Sequence[str],
    samples: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
    estimates: Mapping[str, float] | None = None,
) -> Significance:
    """P(a beats b), ranks and rank intervals for runs scored alike (same judge settings, same suite).

    ``videos[run][case]`` are the case's video scores (one per seed, 0-100); ``dimension_of[case]`` its
    dimension; ``dimensions`` fixes the order of the random stream. ``estimates`` (run -> overall), when
    given, are the published scores the point ranks use (else the means of ``videos``, which equal
    them up to the rounding of the scores file).
    """
    if samples < 0:
        raise ValueError("samples must be >= 0")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    dims = list(dimensions)
    for run, by_case in videos.items():
        for case in by_case:
            if dimension_of.get(case) not in dims:
                raise ValueError(f"run {run}: case {case} has no known dimension")

    def has_every_dimension(run: str) -> bool:
        present = {dimension_of[c] for c, vs in videos[run].items() if len(vs)}
        return bool(dims) and all(d in present for d in dims)

    ranked = [r for r in videos if has_every_dimension(r)]
    unranked = [r for r in videos if r not in ranked]
    n_runs = len(ranked)

    # per dimension: the union of the ranked runs' cases (sorted), each run's sum and count of video scores
    point_dims = np.zeros((len(dims), n_runs))
    boot_dims = np.zeros((len(dims), samples, n_runs))
    rng = np.random.default_rng(seed)
    for k, dim in enumerate(dims):
        cases = sorted({c for r in ranked for c, vs in videos[r].items() if dimension_of[c] == dim and len(vs)})
        sums = np.zeros((len(cases), n_runs))
        counts = np.zeros((len(cases), n_runs))
        for j, run in enumerate(ranked):
            for i, case in enumerate(cases):
                vs = videos[run].get(case) or ()
                sums[i, j], counts[i, j] = float(np.sum(np.asarray(vs, dtype=np.float64))), len(vs)
        point_dims[k] = sums.sum(axis=0) / counts.sum(axis=0)
        if samples and cases:
            idx = rng.integers(0, len(cases), size=(samples, len(cases)))
            draws = np.zeros((samples, len(cases)))
            np.add.at(draws, (np.arange(samples)[:, None], idx), 1.0)
            with np.errstate(invalid="ignore", divide="ignore"):
                boot_dims[k] = (draws @ sums) / (draws @ counts)  # NaN where a run has no drawn video
    point = point_dims.mean(axis=0) if dims else np.zeros(n_runs)
    if estimates is not None:
        point = np.array([float(estimates.get(r, point[j])) for j, r in enumerate(ranked)])
    boot = boot_dims.mean(axis=0)  # (samples, runs)

    point_rank = competition_ranks(point)
    result = Significance(
        runs=ranked, estimate={r: float(point[j]) for j, r in enumerate(ranked)},
        rank={r: int(point_rank[j]) for j, r in enumerate(ranked)}, rank_interval={}, tied_with={},
        unranked=unranked, samples=samples, seed=seed, confidence=confidence,
    )
    alpha = (1.0 - confidence) / 2.0
    sample_ranks = competition_ranks(boot) if samples else np.zeros((0, n_runs), dtype=int)
    for j, run in enumerate(ranked):
        mine = sample_ranks[:, j][sample_ranks[:, j] > 0]
        low = high = int(point_rank[j])
        if mine.size:
            low = min(low, int(np.quantile(mine, alpha, method="lower")))
            high = max(high, int(np.quantile(mine, 1.0 - alpha, method="higher")))
        result.rank_interval[run] = (low, high)
    for a in ranked:
        la, ha = result.rank_interval[a]
        result.tied_with[a] = [b for b in ranked if b != a and la <= result.rank_interval[b][1] and result.rank_interval[b][0] <= ha]

    if samples:
        for i, a in enumerate(ranked):
            result.p_beats[a], result.p_tie[a], result.n_pairs[a] = {}, {}, {}
            for j, b in enumerate(ranked):
                if i == j:
                    continue
                both = np.isfinite(boot[:, i]) & np.isfinite(boot[:, j])
                n = int(both.sum())
                diff = boot[both, i] - boot[both, j]
                result.n_pairs[a][b] = n
                result.p_beats[a][b] = float((diff > TIE_TOLERANCE).sum() / n) if n else math.nan
                result.p_tie[a][b] = float((np.abs(diff) <= TIE_TOLERANCE).sum() / n) if n else math.nan
    return result
