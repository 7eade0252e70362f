"""The paired bootstrap behind the leaderboard's ranks, rank intervals, ties and P(A beats B) (pure functions)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vrbench.significance import competition_ranks, paired_bootstrap

DIMS = ("D1", "D2", "D3")


def dimension_of(n_cases: int) -> dict[str, str]:
    return {f"{d}-{i:02d}": d for d in DIMS for i in range(n_cases)}


def videos(rng: np.random.Generator, n_cases: int, mean: float, spread: float = 20.0, seeds: int = 1) -> dict[str, list[float]]:
    """Video scores (0-100) of one run: ``seeds`` videos per case around ``mean``."""
    return {case: list(np.clip(rng.normal(mean, spread, size=seeds), 0, 100)) for case in dimension_of(n_cases)}


# hypothesis: a few runs over a small suite, video scores on the scores file's grid (0-100, several seeds)
score = st.integers(0, 20).map(lambda k: 5.0 * k)
run_strategy = st.lists(st.lists(score, min_size=1, max_size=3), min_size=3 * 4, max_size=3 * 4)


def as_videos(runs: list[list[list[float]]]) -> dict[str, dict[str, list[float]]]:
    cases = list(dimension_of(4))
    return {f"run{k}": dict(zip(cases, per_case)) for k, per_case in enumerate(runs)}


@settings(max_examples=40, deadline=None)
@given(st.lists(run_strategy, min_size=2, max_size=4), st.integers(0, 2**16))
def test_probabilities_of_a_pair_sum_to_one(runs, seed):
    sig = paired_bootstrap(as_videos(runs), dimension_of(4), DIMS, samples=200, seed=seed)
    for a in sig.runs:
        for b in sig.runs:
            if a == b:
                continue
            assert 0.0 <= sig.p_beats[a][b] <= 1.0 and 0.0 <= sig.p_tie[a][b] <= 1.0
            assert sig.p_beats[a][b] + sig.p_beats[b][a] + sig.p_tie[a][b] == pytest.approx(1.0)
            assert sig.p_tie[a][b] == sig.p_tie[b][a] and sig.n_pairs[a][b] == 200


@settings(max_examples=40, deadline=None)
@given(st.lists(run_strategy, min_size=1, max_size=5), st.integers(0, 2**16))
def test_rank_intervals_contain_the_point_rank_and_ties_are_symmetric(runs, seed):
    sig = paired_bootstrap(as_videos(runs), dimension_of(4), DIMS, samples=100, seed=seed)
    n = len(sig.runs)
    for run in sig.runs:
        low, high = sig.rank_interval[run]
        assert 1 <= low <= sig.rank[run] <= high <= n
        for other in sig.tied_with[run]:
            assert run in sig.tied_with[other]
    # the point ranks are the ranking of the overall scores (the mean of the dimension means)
    order = sorted(sig.runs, key=lambda r: -sig.estimate[r])
    assert [sig.rank[r] for r in order] == sorted(sig.rank.values())
    assert sig.rank[order[0]] == 1


@settings(max_examples=20, deadline=None)
@given(run_strategy, st.integers(0, 2**16))
def test_identical_runs_are_tied(run, seed):
    sig = paired_bootstrap(as_videos([run, run]), dimension_of(4), DIMS, samples=100, seed=seed)
    assert sig.p_tie["run0"]["run1"] == 1.0 and sig.p_beats["run0"]["run1"] == 0.0 == sig.p_beats["run1"]["run0"]
    assert sig.rank == {"run0": 1, "run1": 1} and sig.tied("run0") and sig.tied("run1")


def test_runs_alike_but_not_identical_are_a_coin_flip_and_tied():
    rng = np.random.default_rng(1)
    runs = {"a": videos(rng, 26, 60), "b": videos(rng, 26, 60)}
    sig = paired_bootstrap(runs, dimension_of(26), DIMS, samples=1000, seed=0)
    assert 0.05 < sig.p_beats["a"]["b"] < 0.95 and sig.p_tie["a"]["b"] < 0.01
    assert sig.tied_with == {"a": ["b"], "b": ["a"]}


def test_a_clearly_better_run_wins_almost_always_and_is_ranked_apart():
    rng = np.random.default_rng(2)
    runs = {"low": videos(rng, 26, 40), "high": videos(rng, 26, 80), "mid": videos(rng, 26, 60)}
    sig = paired_bootstrap(runs, dimension_of(26), DIMS, samples=1000, seed=0)
    assert sig.p_beats["high"]["mid"] > 0.99 and sig.p_beats["mid"]["low"] > 0.99 and sig.p_beats["low"]["high"] < 0.01
    assert sig.rank == {"high": 1, "mid": 2, "low": 3}
    assert sig.rank_interval == {"high": (1, 1), "mid": (2, 2), "low": (3, 3)}
    assert not any(sig.tied(r) for r in runs)


def test_pairing_detects_a_small_consistent_gain():
    """B = A + 2 on every video: unpaired intervals would overlap (cases vary far more than 2), paired resamples never flip."""
    rng = np.random.default_rng(3)
    a = videos(rng, 26, 50, spread=30)
    b = {c: [v + 2.0 for v in vs] for c, vs in a.items()}
    sig = paired_bootstrap({"a": a, "b": b}, dimension_of(26), DIMS, samples=500, seed=0)
    assert sig.p_beats["b"]["a"] == 1.0 and not sig.tied("a")


def test_seeds_of_a_case_travel_together_and_the_estimate_is_the_scoring_mean():
    rng = np.random.default_rng(4)
    runs = {"a": videos(rng, 5, 50, seeds=3), "b": videos(rng, 5, 55, seeds=2)}
    sig = paired_bootstrap(runs, dimension_of(5), DIMS, samples=50, seed=0)
    for run, vids in runs.items():
        by_dim = [np.mean([v for c, vs in vids.items() if c.startswith(d) for v in vs]) for d in DIMS]
        assert sig.estimate[run] == pytest.approx(float(np.mean(by_dim)))


def test_fixed_seed_same_numbers_and_published_estimates_rank():
    rng = np.random.default_rng(5)
    runs = {"a": videos(rng, 8, 50), "b": videos(rng, 8, 52), "c": videos(rng, 8, 51)}
    one = paired_bootstrap(runs, dimension_of(8), DIMS, samples=300, seed=7)
    two = paired_bootstrap(runs, dimension_of(8), DIMS, samples=300, seed=7)
    assert one == two
    assert paired_bootstrap(runs, dimension_of(8), DIMS, samples=300, seed=8).p_beats != one.p_beats
    pinned = paired_bootstrap(runs, dimension_of(8), DIMS, samples=300, seed=7, estimates={"a": 90.0, "b": 10.0, "c": 20.0})
    assert pinned.rank == {"a": 1, "c": 2, "b": 3} and pinned.p_beats == one.p_beats
    # resamples rank b near the top, but the interval is widened to hold its published rank
    assert all(pinned.rank_interval[r][0] <= pinned.rank[r] <= pinned.rank_interval[r][1] for r in runs)
    assert pinned.rank_interval["b"][1] == 3 and pinned.rank_interval["b"][0] < 3


def test_a_run_missing_a_dimension_is_not_ranked():
    rng = np.random.default_rng(6)
    full = videos(rng, 4, 50)
    partial = {c: v for c, v in videos(rng, 4, 90).items() if not c.startswith("D2")}
    sig = paired_bootstrap({"full": full, "partial": partial}, dimension_of(4), DIMS, samples=50, seed=0)
    assert sig.runs == ["full"] and sig.unranked == ["partial"]
    assert sig.rank == {"full": 1} and sig.rank_interval == {"full": (1, 1)} and not sig.tied("full")


def test_no_resamples_gives_point_ranks_only():
    rng = np.random.default_rng(7)
    sig = paired_bootstrap({"a": videos(rng, 4, 40), "b": videos(rng, 4, 80)}, dimension_of(4), DIMS, samples=0)
    assert sig.rank == {"b": 1, "a": 2} and sig.rank_interval == {"a": (2, 2), "b": (1, 1)} and sig.p_beats == {}


def test_competition_ranks():
    assert competition_ranks(np.array([3.0, 5.0, 3.0, 1.0])).tolist() == [2, 1, 2, 4]
    assert competition_ranks(np.array([[1.0, np.nan, 2.0]])).tolist() == [[2, 0, 1]]


def test_bad_arguments():
    with pytest.raises(ValueError, match="no known dimension"):
        paired_bootstrap({"a": {"X-01": [1.0]}}, {"X-01": "X"}, DIMS)
    with pytest.raises(ValueError, match="samples"):
        paired_bootstrap({}, {}, DIMS, samples=-1)
