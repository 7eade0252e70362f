"""Several annotators: label files with history (retract, re-answer), the human majority, and agreement between
annotators (Krippendorff's alpha, Fleiss' kappa, percent agreement), each checked against an independent computation:
published worked examples, the definitions computed pair by pair, and the `krippendorff` package when installed."""

from __future__ import annotations

import csv
import json
import math
import subprocess
import sys
from collections import Counter
from itertools import combinations, permutations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_report import make_run

from vrbench.agreement import (
    CANT_TELL,
    HumanQuestion,
    alpha_with_bootstrap,
    annotator_agreement,
    annotator_answers,
    cohen_kappa,
    final_answers,
    fleiss_kappa,
    krippendorff_alpha_nominal,
    majority_answer,
    pairwise_agreement,
    read_human_labels,
    read_label_rows,
)
from vrbench.cli import main
from vrbench.errors import VRBenchError

HEADER = ["run", "case", "seed", "question", "answer", "annotator", "time"]
T = "2026-12-01T23:00:00Z"


def write_csv(path, rows):
    with open(path, "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(rows)
    return path


# --- independent computations -----------------------------------------------------------------------


def brute_alpha(units):
    """Nominal alpha from its definition, pair by pair: 1 - D_o / D_e over the pairable values."""
    units = [list(u) for u in units if len(u) >= 2]
    n = sum(len(u) for u in units)
    if n == 0:
        return None
    d_o = sum(sum(a != b for a, b in permutations(u, 2)) / (len(u) - 1) for u in units) / n
    values = [v for u in units for v in u]
    d_e = sum(a != b for a, b in permutations(values, 2)) / (n * (n - 1))
    return None if d_e == 0 else 1.0 - d_o / d_e


def brute_pairwise(units):
    shares = [sum(a == b for a, b in combinations(u, 2)) / math.comb(len(u), 2) for u in units if len(u) >= 2]
    return sum(shares) / len(shares) if shares else None


def table_to_units(rows):
    """Category counts per subject (Fleiss' layout) -> the list of values each subject received."""
    return [[c for c, k in enumerate(row) for _ in range(k)] for row in rows]


# --- pure statistics --------------------------------------------------------------------------------

# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", section C: 4 observers, 12 units, values
# 1-5 with missing data (None); the published nominal alpha is 0.743.
KRIPPENDORFF_2011 = [
    [1, 2, 3, 3, 2, 1, 4, 1, 2, None, None, None],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, None, 3],
    [None, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, None],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, None],
]

# Fleiss (1971) layout, the worked example of Wikipedia's "Fleiss' kappa": 10 subjects, 14 raters, 5
# categories; P-bar 0.378, P_e 0.213, kappa 0.210.
FLEISS_EXAMPLE = [
    [0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1],
    [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7],
]


def test_krippendorff_published_example():
    units = [[row[j] for row in KRIPPENDORFF_2011 if row[j] is not None] for j in range(12)]
    assert krippendorff_alpha_nominal(units) == pytest.approx(0.743, abs=5e-4)
    assert krippendorff_alpha_nominal(units) == pytest.approx(brute_alpha(units), abs=1e-12)


def test_fleiss_published_example():
    units = table_to_units(FLEISS_EXAMPLE)
    assert fleiss_kappa(units) == pytest.approx(0.210, abs=5e-4)
    assert pairwise_agreement(units) == pytest.approx(0.378, abs=5e-4)  # P-bar: the mean share of agreeing pairs


def test_fleiss_undefined_and_unequal():
    assert fleiss_kappa([]) is None
    assert fleiss_kappa([["yes", "yes"], ["yes", "yes"]]) is None  # one category: chance agreement 1
    with pytest.raises(ValueError, match="same number"):
        fleiss_kappa([["yes", "no"], ["yes", "no", "no"]])
    with pytest.raises(ValueError, match="same number"):
        fleiss_kappa([["yes"], ["no"]])


@pytest.mark.parametrize("answers,expected", [
    (["yes"], "yes"), (["no"], "no"), (["yes", "no"], None), ([], None), ([CANT_TELL], None), ([CANT_TELL, CANT_TELL], None),
    (["yes", "yes", "no"], "yes"), (["no", CANT_TELL], "no"), (["yes", "no", CANT_TELL, CANT_TELL, CANT_TELL], None),
    (["no", "no", "yes", "yes", "no"], "no"),
])
def test_majority(answers, expected):
    assert majority_answer(answers) == expected


units_strategy = st.lists(st.lists(st.sampled_from(["yes", "no"]), min_size=0, max_size=5), min_size=1, max_size=25)


@settings(max_examples=150, deadline=None)
@given(units_strategy)
def test_alpha_matches_its_definition(units):
    got, expected = krippendorff_alpha_nominal(units), brute_alpha(units)
    assert (got is None) == (expected is None)
    if got is not None:
        assert got == pytest.approx(expected, abs=1e-9)
        assert got <= 1.0 + 1e-12


@settings(max_examples=100, deadline=None)
@given(st.integers(2, 5).flatmap(lambda m: st.lists(st.lists(st.sampled_from("abc"), min_size=m, max_size=m), min_size=1, max_size=20)))
def test_fleiss_and_alpha_agree_on_complete_data(units):
    """Without missing data, alpha = 1 - (1 - P-bar) / (1 - P_e) * (n - 1) / n, n values in all (Fleiss' P-bar and P_e)."""
    m, n = len(units[0]), sum(len(u) for u in units)
    counts = Counter(v for u in units for v in u)
    p_e = sum((k / n) ** 2 for k in counts.values())
    p_bar = brute_pairwise(units)
    kappa, alpha = fleiss_kappa(units), krippendorff_alpha_nominal(units)
    if math.isclose(p_e, 1.0):
        assert kappa is None and alpha is None
        return
    assert kappa == pytest.approx((p_bar - p_e) / (1 - p_e), abs=1e-9)
    assert alpha == pytest.approx(1 - (1 - p_bar) / (1 - p_e) * (n - 1) / n, abs=1e-9)
    assert pairwise_agreement(units) == pytest.approx(p_bar)
    assert m >= 2


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.one_of(st.none(), st.sampled_from([0, 1, 2])), min_size=6, max_size=6), min_size=2, max_size=5))
def test_alpha_matches_the_krippendorff_package(data):
    krippendorff = pytest.importorskip("krippendorff")
    units = [[row[j] for row in data if row[j] is not None] for j in range(6)]
    ours = krippendorff_alpha_nominal(units)
    if ours is None:  # the package refuses data with fewer than two values in the domain
        return
    matrix = np.array([[np.nan if v is None else v for v in row] for row in data], dtype=float)
    assert ours == pytest.approx(krippendorff.alpha(reliability_data=matrix, level_of_measurement="nominal"), abs=1e-9)


def test_krippendorff_package_on_the_published_example():
    krippendorff = pytest.importorskip("krippendorff")
    matrix = np.array([[np.nan if v is None else v for v in row] for row in KRIPPENDORFF_2011], dtype=float)
    units = [[row[j] for row in KRIPPENDORFF_2011 if row[j] is not None] for j in range(12)]
    assert krippendorff_alpha_nominal(units) == pytest.approx(krippendorff.alpha(reliability_data=matrix, level_of_measurement="nominal"))


def test_alpha_bootstrap_resamples_videos():
    """The vectorised bootstrap equals a plain loop that redraws whole videos and recomputes alpha from the definition."""
    rng = np.random.default_rng(3)
    groups = [[list(rng.choice(["yes", "no"], size=int(rng.integers(0, 4)), p=[0.7, 0.3])) for _ in range(8)] for _ in range(15)]
    alpha, ci, n_boot = alpha_with_bootstrap(groups, samples=200, seed=5, confidence=0.9)
    assert alpha == pytest.approx(brute_alpha([u for g in groups for u in g]))
    draws = np.random.default_rng(5).integers(0, len(groups), size=(200, len(groups)))
    values = [a for a in (brute_alpha([u for i in idx for u in groups[i]]) for idx in draws) if a is not None]
    assert n_boot == len(values)
    assert ci == pytest.approx(list(np.quantile(values, [0.05, 0.95])))
    assert alpha_with_bootstrap(groups, samples=200, seed=5, confidence=0.9) == (alpha, ci, n_boot)  # fixed seed
    assert alpha_with_bootstrap([[["yes", "yes"]]] * 3, samples=50) == (None, None, 0)  # one category: undefined
    assert alpha_with_bootstrap([], samples=50) == (None, None, 0)


def q(key, votes):
    return HumanQuestion(*key, votes=votes, majority=majority_answer(votes.values()), path=None, line=0)  # type: ignore[arg-type]


def test_annotator_agreement_counts_and_fleiss():
    complete = [q(("r", "DRF-01", 0, f"Q{i}"), dict(zip("abc", v)))
                for i, v in enumerate([("yes", "yes", "yes"), ("yes", "no", "yes"), ("no", "no", "no"), ("no", "yes", "yes")])]
    h = annotator_agreement(complete, samples=0)
    units = [list(x.votes.values()) for x in complete]
    assert h.fleiss_kappa == pytest.approx(fleiss_kappa(units)) and h.fleiss_note == ""
    assert h.alpha == pytest.approx(brute_alpha(units)) and h.alpha_ci is None
    assert h.percent_agreement == pytest.approx(brute_pairwise(units))
    assert (h.n_annotators, h.n_questions, h.n_videos, h.n_tied, h.n_majority) == (3, 4, 1, 0, 4)
    b = next(p for p in h.per_annotator if p["annotator"] == "b")  # vs the majority of a and c: Q1 tied, so 3 questions
    assert b["vs_others"]["n"] == 3 and b["vs_others"]["accuracy"] == pytest.approx(2 / 3)

    partial = complete + [q(("r", "ETV-01", 0, "Q1"), {"a": "yes", "b": CANT_TELL}), q(("r", "ETV-01", 0, "Q2"), {"c": CANT_TELL}),
                          q(("r", "ETV-01", 0, "Q3"), {"a": "yes", "b": "no"})]
    h = annotator_agreement(partial, samples=100)
    assert h.fleiss_kappa is None and "1 to 3 yes/no answers" in h.fleiss_note
    assert (h.n_questions, h.n_videos, h.n_tied, h.n_with_cant_tell, h.n_cant_tell) == (7, 2, 2, 2, 2)
    assert (h.n_labelled_by_2plus, h.n_pairable) == (6, 5)
    one = annotator_agreement([q(("r", "DRF-01", 0, "Q1"), {"a": "yes"})])
    assert one.alpha is None and one.alpha_note == "needs two or more annotators" and one.fleiss_kappa is None


# --- label files --------------------------------------------------------------------------------------


def test_last_row_wins_and_retract_withdraws(tmp_path):
    a = write_csv(tmp_path / "a.csv", [
        HEADER,
        ["m", "DRF-01", "0", "Q1", "yes", "ann", T],
        ["m", "DRF-01", "0", "Q1", "no", "bob", T],
        ["m", "DRF-01", "0", "Q1", "retract", "ann", T],     # ann's undo
        ["m", "DRF-01", "0", "Q2", "yes", "ann", T],
        ["m", "DRF-01", "0", "Q2", "retract", "ann", T],
        ["m", "DRF-01", "0", "Q2", "no", "ann", T],          # re-answer after the undo
        ["m", "DRF-01", "0", "Q3", "Can't-tell", "bob", T],  # spelling normalised
        ["m", "drf-01", "0", "q4", "yes", "bob", ""],        # ids upper-cased, time may be empty
    ])
    b = write_csv(tmp_path / "b.csv", [  # columns in another order; bob's Q1 again: the later file wins
        ["annotator", "answer", "question", "case", "model", "seed", "time"],
        ["bob", "yes", "Q1", "DRF-01", "m", "0", T],
        ["cy", "cant-tell", "Q2", "DRF-01", "m", "0", T],
    ])
    rows = read_label_rows([a, b])
    assert [(r.path.name, r.line) for r in rows] == [("a.csv", i) for i in range(2, 10)] + [("b.csv", 2), ("b.csv", 3)]
    final = final_answers(rows)
    assert {k: r.answer for k, r in final.items()} == {
        ("bob", "m", "DRF-01", 0, "Q1"): "yes", ("ann", "m", "DRF-01", 0, "Q2"): "no", ("bob", "m", "DRF-01", 0, "Q3"): CANT_TELL,
        ("bob", "m", "DRF-01", 0, "Q4"): "yes", ("cy", "m", "DRF-01", 0, "Q2"): CANT_TELL}
    assert read_label_rows(write_csv(tmp_path / "empty.csv", [HEADER])) == []  # a new file: nothing answered yet

    labels = read_human_labels([a, b])
    assert labels.annotators() == ["ann", "bob", "cy"] and labels.kind == "question"
    questions = {x.question: x for x in labels.questions()}
    assert {k: (x.votes, x.majority) for k, x in questions.items()} == {
        "Q1": ({"bob": "yes"}, "yes"), "Q2": ({"ann": "no", "cy": CANT_TELL}, "no"),
        "Q3": ({"bob": CANT_TELL}, None), "Q4": ({"bob": "yes"}, "yes")}
    assert (questions["Q2"].path.name, questions["Q2"].line) == ("a.csv", 7)

    old = write_csv(tmp_path / "old.csv", [["run", "case", "question", "answer"], ["m", "DRF-01", "Q1", "no"]])
    merged = read_human_labels([a, old])  # a file without an annotator column is one annotator, named by its path
    assert merged.annotators() == sorted(["ann", "bob", str(old)])


@pytest.mark.parametrize("files,message", [
    ([[HEADER, ["m", "DRF-01", "0", "Q1", "yes", "", T]]], "a.csv:2: annotator: expected the annotator's name"),
    ([[HEADER, ["m", "DRF-01", "0", "Q1", "maybe", "ann", T]]], "a.csv:2: answer: expected yes, no, cant-tell or retract, got 'maybe'"),
    ([[["run", "case", "question", "answer"], ["m", "DRF-01", "Q1", "retract"]]], "a.csv:2: answer: expected yes or no, got 'retract'"),
    ([[HEADER, ["m", "DRF-01", "x", "Q1", "yes", "ann", T]]], "a.csv:2: seed: expected a non-negative integer, got 'x'"),
    ([[HEADER, ["m", "DRF-01", "0", "Q1", "yes", "ann", T], ["m", "DRF-01", "0", "Q1", "retract", "ann", T]]],
     "a.csv:3: answer: every answer was retracted (no labels left)"),
    ([[HEADER, ["m", "DRF-01", "0", "Q1", "yes", "ann", T]], [["run", "score"], ["m", "1"]]],
     "b.csv:1: header: per-run scores (run,score) cannot be merged with other label files"),
    ([[HEADER]], "a.csv: no label rows"),
])
def test_label_file_errors(tmp_path, files, message):
    paths = [write_csv(tmp_path / name, rows) for name, rows in zip(("a.csv", "b.csv"), files)]
    with pytest.raises(VRBenchError) as e:
        read_human_labels(paths)
    assert str(e.value).startswith(f"{tmp_path}/{message}") and "\n" not in str(e.value)


# --- end to end: `vrbench agreement` and the report ---------------------------------------------------

CASES = ("DRF-01", "ETV-02", "CCR-03", "BBR-04", "CAC-05")


@pytest.fixture(scope="module")
def panel(tmp_path_factory):
    """Three runs, and three annotators' histories in two files (with undo, re-answer, can't-tell and skipped
    questions), with the final answers worked out here as the rows are written."""
    tmp = tmp_path_factory.mktemp("panel")
    runs = [make_run(tmp / name, name, p_yes=p, seed=i, video_cases=(), score=True)
            for i, (name, p) in enumerate([("alpha", 0.85), ("beta", 0.6), ("gamma", 0.35)])]
    rng = np.random.default_rng(11)
    judge, final, file_rows = {}, {}, {"one.csv": [HEADER], "two.csv": [["time", "annotator", "question", "answer", "seed", "case", "run"]]}
    for run in runs:
        for line in (run / "judgments" / "judge-a.jsonl").read_text().splitlines():
            r = json.loads(line)
            if r["case"] in CASES:
                judge[(run.name, r["case"], 0, r["question"])] = r["answer"]
    for key, judged in judge.items():
        truth = "yes" if judged == "yes" else "no"
        for annotator, file in (("ann", "one.csv"), ("bob", "one.csv"), ("cy", "two.csv")):
            u = rng.random()
            if u < 0.1:
                continue  # not labelled
            answer = CANT_TELL if u < 0.15 else ("no" if truth == "yes" else "yes") if u < 0.35 else truth
            row = lambda a, file=file, annotator=annotator, key=key: (
                [*key[:2], str(key[2]), key[3], a, annotator, T] if file == "one.csv" else [T, annotator, key[3], a, str(key[2]), key[1], key[0]])
            if rng.random() < 0.15:  # answered, then undone: sometimes re-answered, sometimes left withdrawn
                file_rows[file].append(row("yes" if answer == "no" else "no"))
                file_rows[file].append(row("retract"))
                if rng.random() < 0.5:
                    continue
            file_rows[file].append(row(answer))
            final[(annotator, key)] = answer
    paths = [write_csv(tmp / name, rows) for name, rows in file_rows.items()]
    return runs, paths, judge, final


@pytest.mark.slow
def test_agreement_against_the_majority(panel, tmp_path, capsys):
    runs, paths, judge, final = panel
    out_json = tmp_path / "a.json"
    assert main(["agreement", *map(str, runs), "--human", *map(str, paths), "--bootstrap", "200", "--json", str(out_json)]) == 0
    printed = capsys.readouterr().out
    result = json.loads(out_json.read_text())

    # the expected majority, counted here from the final answers
    votes: dict = {}
    for (annotator, key), answer in final.items():
        votes.setdefault(key, {})[annotator] = answer
    majority = {}
    for key, v in votes.items():
        yes, no = list(v.values()).count("yes"), list(v.values()).count("no")
        majority[key] = "yes" if yes > no else "no" if no > yes else None
    pairs = [(judge[k], m) for k, m in majority.items() if m is not None]
    valid = [(j, m) for j, m in pairs if j in ("yes", "no")]

    a = result["human"][0]
    assert a["questions"]["n"] == len(valid) and a["questions"]["n_invalid"] == len(pairs) - len(valid)
    assert a["questions"]["accuracy"] == pytest.approx(sum(j == m for j, m in valid) / len(valid))
    assert a["questions"]["kappa"] == pytest.approx(cohen_kappa([j for j, _ in valid], [m for _, m in valid]))
    assert a["n_no_majority"] == sum(m is None for m in majority.values()) > 0

    # tau and its interval: the same as for one file holding the majority answers alone
    single = write_csv(tmp_path / "majority.csv", [["run", "case", "seed", "question", "answer"]] +
                       [[k[0], k[1], k[2], k[3], m] for k, m in majority.items() if m is not None])
    assert main(["agreement", *map(str, runs), "--human", str(single), "--bootstrap", "200", "--json", str(tmp_path / "m.json")]) == 0
    capsys.readouterr()
    reference = json.loads((tmp_path / "m.json").read_text())["human"][0]
    assert a["ranking"] == reference["ranking"] and a["questions"] == reference["questions"]
    assert a["ranking"]["n_models"] == 3 and a["ranking"]["ci"] is not None

    # between annotators
    h = result["annotators"]
    units = [[x for x in v.values() if x in ("yes", "no")] for v in votes.values()]
    assert h["annotators"] == ["ann", "bob", "cy"] and h["n_annotators"] == 3
    assert h["n_questions"] == len(votes) and h["n_videos"] == len({k[:3] for k in votes})
    assert h["n_labelled_by_2plus"] == sum(len(v) >= 2 for v in votes.values())
    assert h["n_pairable"] == sum(len(u) >= 2 for u in units)
    assert h["n_tied"] == a["n_no_majority"] and h["n_majority"] == len(pairs)
    assert h["n_with_cant_tell"] == sum(CANT_TELL in v.values() for v in votes.values())
    assert h["n_cant_tell"] == sum(list(v.values()).count(CANT_TELL) for v in votes.values())
    assert h["alpha"] == pytest.approx(brute_alpha(units), abs=1e-9)
    assert h["alpha_ci"][0] <= h["alpha"] <= h["alpha_ci"][1] and h["n_bootstrap"] == 200
    assert h["percent_agreement"] == pytest.approx(brute_pairwise(units))
    assert h["fleiss_kappa"] is None and "yes/no answers" in h["fleiss_note"]  # some questions were skipped
    try:
        import krippendorff
    except ImportError:
        pass
    else:
        keys = list(votes)
        matrix = np.array([[{"yes": 1.0, "no": 0.0}.get(votes[k].get(a, ""), np.nan) for k in keys] for a in ("ann", "bob", "cy")])
        assert h["alpha"] == pytest.approx(krippendorff.alpha(reliability_data=matrix, level_of_measurement="nominal"), abs=1e-9)
    cy = next(p for p in h["per_annotator"] if p["annotator"] == "cy")
    mine = [(v["cy"], majority_answer(x for b, x in v.items() if b != "cy")) for v in votes.values() if v.get("cy") in ("yes", "no")]
    mine = [(x, y) for x, y in mine if y is not None]
    assert cy["vs_others"]["n"] == len(mine) and cy["vs_others"]["accuracy"] == pytest.approx(sum(x == y for x, y in mine) / len(mine))
    assert cy["n_answers"] == sum("cy" in v for v in votes.values())

    assert f"annotators: 3 (ann, bob, cy); {len(votes)} questions labelled" in printed
    assert f"Krippendorff's alpha (nominal): {h['alpha']:.3f} [" in printed and "Fleiss' kappa: — (questions have" in printed
    assert f"{h['n_tied']} tied (no majority, left out of the judge comparison)" in printed
    assert f"note: judge-a vs humans leaves out {h['n_tied']} questions without a human majority" in printed

    site = tmp_path / "site"
    assert main(["report", *map(str, runs), "--out", str(site), "--human", *map(str, paths), "--bootstrap", "50"]) == 0
    html = (site / "index.html").read_text()
    assert "Human labels: 3 annotators" in html and "Krippendorff" in html and f"{h['n_tied']} are tied (as many yes as no" in html
    assert f"{a['n_no_majority']} tied questions left out" in html


def test_one_annotator_with_cant_tell(panel, tmp_path, capsys):
    """One annotator: no agreement between annotators, can't-tell answers are left out like ties."""
    runs, *_ = panel
    path = write_csv(tmp_path / "solo.csv", [HEADER, ["alpha", "DRF-01", "0", "Q1", "yes", "ann", T],
                                             ["alpha", "DRF-01", "0", "Q2", "cant-tell", "ann", T], ["beta", "DRF-01", "0", "Q1", "no", "ann", T]])
    assert main(["agreement", *map(str, runs), "--human", str(path), "--bootstrap", "20", "--json", str(tmp_path / "s.json")]) == 0
    result = json.loads((tmp_path / "s.json").read_text())
    h, a = result["annotators"], result["human"][0]
    assert (h["n_annotators"], h["alpha"], h["alpha_note"], h["n_tied"]) == (1, None, "needs two or more annotators", 1)
    assert a["n_no_majority"] == 1 and a["questions"]["n"] + a["questions"]["n_invalid"] == 2
    assert "Krippendorff's alpha (nominal): — (needs two or more annotators)" in capsys.readouterr().out


def test_cli_errors_name_the_file_and_line(panel, tmp_path):
    runs, *_ = panel
    good = write_csv(tmp_path / "good.csv", [HEADER, ["alpha", "DRF-01", "0", "Q1", "yes", "ann", T]])
    bad = write_csv(tmp_path / "bad.csv", [HEADER, ["alpha", "DRF-01", "0", "Q1", "yes", " ", T]])
    proc = subprocess.run([sys.executable, "-m", "vrbench", "agreement", *map(str, runs), "--human", str(good), str(bad), "--bootstrap", "10"],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
    assert proc.stderr.startswith(f"vrbench: error: {bad}:2: annotator: expected the annotator's name"), proc.stderr


def test_the_readme_example_reads_as_documented(tmp_path):
    from pathlib import Path

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    block = next(b for b in readme.split("```csv\n")[1:] if b.startswith(",".join(HEADER)))
    path = tmp_path / "labels.csv"
    path.write_text(block.split("```")[0], encoding="utf-8")
    final = final_answers(read_label_rows(path))  # ann's answer was undone; bob could not tell
    assert {k: r.answer for k, r in final.items()} == {("bob", "wan2.1-14b", "ETV-07", 0, "Q1"): CANT_TELL}


def test_annotator_answers_for_resuming(tmp_path):
    path = write_csv(tmp_path / "labels.csv", [HEADER, ["m", "DRF-01", "0", "Q1", "yes", "ann", T], ["m", "DRF-01", "0", "Q1", "no", "bob", T],
                                               ["m", "DRF-01", "0", "Q2", "no", "ann", T], ["m", "DRF-01", "0", "Q1", "retract", "ann", T]])
    got = annotator_answers(read_label_rows(path), "ann")
    assert {k: (r.answer, r.line) for k, r in got.items()} == {("m", "DRF-01", 0, "Q2"): ("no", 4)}
    assert annotator_answers(read_label_rows(path), "nobody") == {}
