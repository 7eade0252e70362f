import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vrbench.scoring import Answer, ScoringConfig, aggregate, answer_value, case_score, score_video

LAYERS = (1, 1, 2, 2, 2, 3, 3, 3)
DIMS = ["DRF", "ETV", "MMC", "CAR", "CCR", "PCR", "BBR", "CAC"]
CATS = {"HL-Phys": ["DRF", "ETV", "MMC"], "HL-Comm": ["CAR", "CCR", "PCR"], "Emb-Phys": ["BBR", "CAC"]}
ORDER = {"invalid": 0, "no": 1, "yes": 2}


def answers_of(values, p=None):
    return [Answer(l, v, None if p is None else p[i]) for i, (l, v) in enumerate(zip(LAYERS, values))]


def test_case_score_weights():
    assert case_score(answers_of(["yes"] * 8)) == pytest.approx(1.0)
    assert case_score(answers_of(["no"] * 8)) == 0.0
    # layer 1 all yes, rest no -> 0.2
    assert case_score(answers_of(["yes"] * 2 + ["no"] * 6)) == pytest.approx(0.2)
    # one of two layer-1, two of three layer-2, all layer-3
    vals = ["yes", "no", "yes", "yes", "no", "yes", "yes", "yes"]
    assert case_score(answers_of(vals)) == pytest.approx(0.2 * 0.5 + 0.3 * 2 / 3 + 0.5)


def test_invalid_counts_zero_and_is_counted():
    vals = ["yes"] * 7 + ["invalid"]
    v = score_video("ETV-01", "ETV", 0, answers_of(vals))
    assert v.score == pytest.approx(1 - 0.5 / 3)
    assert v.n_invalid == 1
    # invalid counts 0 even if a p_yes came along with it in soft mode
    assert answer_value("invalid", 0.9, soft=True) == 0.0


def test_soft_uses_p_yes_and_falls_back_to_hard():
    cfg = ScoringConfig(soft=True)
    ans = answers_of(["yes"] * 8, p=[0.9] * 7 + [None])
    v = score_video("ETV-01", "ETV", 0, ans, cfg)
    assert v.score == pytest.approx(0.2 * 0.9 + 0.3 * 0.9 + 0.5 * (0.9 + 0.9 + 1) / 3)
    assert v.n_without_p_yes == 1


def test_gating():
    vals = ["no", "no"] + ["yes"] * 6
    assert case_score(answers_of(vals)) == pytest.approx(0.8)
    assert case_score(answers_of(vals), ScoringConfig(gating=True)) == 0.0
    assert case_score(answers_of(["invalid", "no"] + ["yes"] * 6), ScoringConfig(gating=True)) == 0.0
    assert case_score(answers_of(["yes", "no"] + ["yes"] * 6), ScoringConfig(gating=True)) == pytest.approx(0.9)


def test_layer_weights_default_to_none_meaning_the_suites():
    """ScoringConfig() leaves the weights to the suite (score_run fills them in); an explicit value is used as is."""
    assert ScoringConfig().layer_weights is None and ScoringConfig().to_dict()["layer_weights"] == [0.2, 0.3, 0.5]
    cfg = ScoringConfig(layer_weights=(0.6, 0.3, 0.1))
    assert cfg.to_dict()["layer_weights"] == [0.6, 0.3, 0.1]
    assert case_score(answers_of(["yes"] * 2 + ["no"] * 6), cfg) == pytest.approx(0.6)


def test_bad_config():
    with pytest.raises(ValueError):
        ScoringConfig(layer_weights=(0.5, 0.5, 0.5))


def make_videos(spec):
    """spec: list of (dimension, case_index, seed, answers, p_yes list)."""
    out = []
    for dim, ci, seed, vals, ps in spec:
        out.append(score_video(f"{dim}-{ci:02d}", dim, seed, answers_of(vals, ps), CFG))
    return out


CFG = ScoringConfig(bootstrap_samples=200)

answer = st.sampled_from(["yes", "no", "invalid"])
video = st.tuples(
    st.sampled_from(DIMS),
    st.integers(1, 6),
    st.integers(0, 1),
    st.lists(answer, min_size=8, max_size=8),
    st.lists(st.floats(0, 1), min_size=8, max_size=8),
)


def dedupe(spec):
    seen = {}
    for s in spec:
        seen[(s[0], s[1], s[2])] = s
    return list(seen.values())


videos_strategy = st.lists(video, min_size=1, max_size=30).map(dedupe)


def all_scores(result):
    yield result.overall.score
    for e in result.categories.values():
        yield e.score
    for e in result.dimensions.values():
        yield e.score


@settings(max_examples=60, deadline=None)
@given(videos_strategy, st.booleans(), st.booleans())
def test_scores_in_range(spec, soft, gating):
    cfg = ScoringConfig(soft=soft, gating=gating, bootstrap_samples=50)
    vids = [score_video(f"{d}-{c:02d}", d, s, answers_of(v, p), cfg) for d, c, s, v, p in spec]
    res = aggregate(vids, DIMS, CATS, cfg)
    for s in all_scores(res):
        assert s is None or 0.0 <= s <= 100.0 + 1e-9
    for e in list(res.dimensions.values()) + [res.overall]:
        if e.ci is not None:
            assert 0.0 <= e.ci[0] <= e.ci[1] <= 100.0 + 1e-9


@settings(max_examples=30, deadline=None)
@given(videos_strategy)
def test_all_yes_is_100(spec):
    spec = [(d, c, s, ["yes"] * 8, p) for d, c, s, _, p in spec]
    for soft in (False,):
        res = aggregate(make_videos(spec), DIMS, CATS, CFG)
        for s in all_scores(res):
            assert s is None or s == pytest.approx(100.0)


def test_overall_defined_only_with_every_dimension():
    spec = [(d, 1, 0, ["yes"] * 8, [None] * 8) for d in DIMS]
    res = aggregate(make_videos(spec), DIMS, CATS, CFG)
    assert res.overall.score == pytest.approx(100.0)
    res = aggregate(make_videos(spec[:-1]), DIMS, CATS, CFG)
    assert res.overall.score is None and res.overall.missing_dimensions == ["CAC"]
    assert res.categories["HL-Phys"].score == pytest.approx(100.0)
    assert res.categories["Emb-Phys"].score is None


@settings(max_examples=40, deadline=None)
@given(videos_strategy, st.randoms(use_true_random=False))
def test_permutation_invariant(spec, rnd):
    a = aggregate(make_videos(spec), DIMS, CATS, CFG)
    shuffled = list(spec)
    rnd.shuffle(shuffled)
    b = aggregate(make_videos(shuffled), DIMS, CATS, CFG)
    assert a.to_dict() == b.to_dict()


@settings(max_examples=80, deadline=None)
@given(videos_strategy, st.data(), st.booleans(), st.booleans())
def test_raising_one_answer_never_lowers_any_score(spec, data, soft, gating):
    cfg = ScoringConfig(soft=soft, gating=gating, bootstrap_samples=0)
    i = data.draw(st.integers(0, len(spec) - 1))
    q = data.draw(st.integers(0, 7))
    d, c, s, vals, ps = spec[i]
    old = vals[q]
    better = [a for a in ("invalid", "no", "yes") if ORDER[a] > ORDER[old]]
    if not better:
        return
    new_val = data.draw(st.sampled_from(better))
    new_vals = list(vals)
    new_vals[q] = new_val
    new_ps = list(ps)
    # keep p_yes consistent with the hard answer so "raising" means raising in both modes
    if soft:
        lo = ps[q] if old != "invalid" else 0.0
        new_ps[q] = max(lo, 0.5) if new_val == "yes" else lo
        if old == "yes":
            return
    raised = list(spec)
    raised[i] = (d, c, s, new_vals, new_ps)

    def run(sp):
        vids = [score_video(f"{d}-{c:02d}", d, s, answers_of(v, p), cfg) for d, c, s, v, p in sp]
        return aggregate(vids, DIMS, CATS, cfg)

    before, after = run(spec), run(raised)
    for x, y in zip(all_scores(before), all_scores(after)):
        if x is not None:
            assert y >= x - 1e-9


@settings(max_examples=60, deadline=None)
@given(videos_strategy, st.booleans())
def test_gating_never_raises(spec, soft):
    off = ScoringConfig(soft=soft, gating=False, bootstrap_samples=0)
    on = ScoringConfig(soft=soft, gating=True, bootstrap_samples=0)

    def run(cfg):
        vids = [score_video(f"{d}-{c:02d}", d, s, answers_of(v, p), cfg) for d, c, s, v, p in spec]
        return aggregate(vids, DIMS, CATS, cfg)

    for x, y in zip(all_scores(run(off)), all_scores(run(on))):
        if x is not None:
            assert y <= x + 1e-9


def test_bootstrap_is_deterministic_and_brackets_the_score():
    rng = random.Random(1)
    spec = [(d, c, s, [rng.choice(["yes", "no"]) for _ in range(8)], [None] * 8) for d in DIMS for c in range(1, 27) for s in (0, 1)]
    a = aggregate(make_videos(spec), DIMS, CATS, ScoringConfig(bootstrap_samples=500))
    b = aggregate(make_videos(spec), DIMS, CATS, ScoringConfig(bootstrap_samples=500))
    assert a.to_dict() == b.to_dict()
    for e in [a.overall, *a.categories.values(), *a.dimensions.values()]:
        assert e.ci[0] <= e.score <= e.ci[1]
        assert e.ci[1] - e.ci[0] > 0
    # the overall interval is narrower than a single dimension's: it averages 8 independent strata
    width = lambda e: e.ci[1] - e.ci[0]
    assert width(a.overall) < min(width(e) for e in a.dimensions.values())
    c = aggregate(make_videos(spec), DIMS, CATS, ScoringConfig(bootstrap_samples=500, seed=7))
    assert c.overall.ci != a.overall.ci


def test_dimension_score_is_mean_over_videos():
    spec = [("ETV", 1, 0, ["yes"] * 8, [None] * 8), ("ETV", 1, 1, ["no"] * 8, [None] * 8), ("ETV", 2, 0, ["yes"] * 8, [None] * 8)]
    res = aggregate(make_videos(spec), DIMS, CATS, CFG)
    assert res.dimensions["ETV"].score == pytest.approx(200 / 3)
    assert res.dimensions["ETV"].n_cases == 2 and res.dimensions["ETV"].n_videos == 3
    assert res.cases["ETV-01"]["score"] == pytest.approx(50.0)
    assert math.isclose(res.cases["ETV-01"]["seeds"]["1"], 0.0)
