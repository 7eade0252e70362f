"""Content rules of the bundled VR-Bench (v1.1) beyond what the linter checks case by case."""

import re
from collections import Counter

from vrbench.suite import DUPLICATE_PROMPT_TFIDF, load_suite
from vrbench.text import content_words, tfidf_cosine_pairs

SUITE = load_suite()
DIMS = ["DRF", "ETV", "MMC", "CAR", "CCR", "PCR", "BBR", "CAC"]


def cases(dim):
    return [c for c in SUITE.cases if c.dimension == dim]


def test_26_cases_per_dimension_with_sequential_ids():
    assert len(SUITE.cases) == 208
    for dim in DIMS:
        assert [c.id for c in cases(dim)] == [f"{dim}-{i:02d}" for i in range(1, 27)]


def test_layers_and_question_shape():
    for c in SUITE.cases:
        assert [q.layer for q in c.questions] == [1, 1, 2, 2, 2, 3, 3, 3], c.id
        assert [q.id for q in c.questions] == [f"Q{i}" for i in range(1, 9)]
        for q in c.questions:
            assert q.text[0].isupper() and q.text.endswith("?"), (c.id, q.text)
            assert len(q.text) <= 160, (c.id, q.text)


def test_prompts_are_filmable_single_shots():
    for c in SUITE.cases:
        n = len(c.prompt.split())
        assert 15 <= n <= 70, (c.id, n)
        assert c.intent and len(c.intent.split()) <= 80, c.id


def test_no_near_duplicate_scenarios():
    """Every pair of prompts stays below the TF-IDF threshold the linter uses (see its justification)."""
    prompts = [c.prompt for c in SUITE.cases]
    dupes = tfidf_cosine_pairs(prompts, DUPLICATE_PROMPT_TFIDF)
    assert not dupes, [(round(s, 2), SUITE.cases[i].id, SUITE.cases[j].id) for s, i, j in dupes]


def test_threshold_catches_a_restaged_scene():
    """Calibration: two independently written prompts of the same scene exceed the threshold."""
    waiter_a = ("In a busy restaurant, a waiter threads between crowded tables holding a round tray of four brimming "
                "glasses of red wine up on one flat palm, and with his free hand he pulls out a chair for an arriving diner.")
    waiter_b = ("In a busy restaurant, a waiter carries a round tray of four tall full water glasses on one palm; as he "
                "turns sharply between tables, the tray tilts and the glasses begin to slide toward its rim.")
    prompts = [c.prompt for c in SUITE.cases if c.id not in ("CAC-01", "PCR-14")] + [waiter_a, waiter_b]
    found = tfidf_cosine_pairs(prompts, DUPLICATE_PROMPT_TFIDF)
    assert [(i, j) for _, i, j in found] == [(len(prompts) - 2, len(prompts) - 1)]


def test_no_question_repeats_within_a_case():
    for c in SUITE.cases:
        texts = [q.text.lower() for q in c.questions]
        assert len(set(texts)) == 8, c.id


def test_ccr_covers_at_least_12_cultures():
    cultures = Counter(c.tags["culture"] for c in cases("CCR"))
    assert len(cultures) >= 12, cultures
    assert max(cultures.values()) <= 2


def test_bbr_covers_mammals_birds_fish_insects_humans():
    organisms = Counter(c.tags["organism"] for c in cases("BBR"))
    for kind in ("mammal", "bird", "fish", "insect", "human"):
        assert organisms[kind] >= 3, organisms


def test_drf_covers_vehicles_handheld_drones_rotating_platforms():
    platforms = Counter(c.tags["platform"] for c in cases("DRF"))
    assert set(platforms) == {"vehicle", "handheld", "drone", "rotating"}
    assert min(platforms.values()) >= 5, platforms


def test_pcr_cases_have_cue_action_averted_outcome():
    for c in cases("PCR"):
        for key in ("cue", "action", "averted"):
            assert c.tags.get(key, "").strip(), (c.id, key)
        # the prompt sets up the cue but never names the preventive action
        action_words = content_words(c.tags["action"]) - content_words(c.tags["cue"])
        assert len(action_words & content_words(c.prompt)) < max(2, len(action_words)), c.id


def test_content_rules_no_brands_or_violence():
    banned = re.compile(r"\b(coca-cola|pepsi|nike|adidas|samsung|iphone|gun|knife fight|blood|kill|weapon)\b", re.I)
    for c in SUITE.cases:
        assert not banned.search(c.prompt), c.id


def test_every_case_fits_the_clip_and_says_what_each_question_checks():
    assert SUITE.version == "1.1"
    for c in SUITE.cases:
        assert c.seconds is not None and 0 < c.seconds <= 4, c.id
        assert all(q.kind for q in c.questions), c.id
    # order/sequence questions are what later tools look for; each dimension has some
    for dim in DIMS:
        assert sum(q.kind == "order" for c in cases(dim) for q in c.questions) >= 5, dim


def test_ccr_has_at_most_three_drink_scenes_and_one_case_per_culture():
    drinks = [c.id for c in cases("CCR") if re.search(r"\b(tea|kava|coffee|wine|drink\w*|toast|mate|sake|beer|chai)\b",
                                                         c.tags["practice"], re.I)]
    assert len(drinks) <= 3, drinks
    assert len({c.tags["culture"] for c in cases("CCR")}) == 26


def test_the_authoring_guides_examples_quote_the_suite():
    """prompts/README.md's good examples are v1.1 questions and its bad ones v1.0 questions, word for word."""
    from pathlib import Path

    from vrbench.suite import bundled_suite_paths

    old = load_suite(bundled_suite_paths()[1])
    text = " ".join((Path(SUITE.root) / "README.md").read_text().split())
    found = re.findall(r"(Good|Bad) \((?:v1\.0 )?([A-Z]{3}-\d\d) (Q\d)[^)]*\): \"([^\"]+\?)\"", text)
    assert len(found) >= 10, found
    for kind, case_id, qid, quoted in found:
        suite = SUITE if kind == "Good" else old
        assert suite.case(case_id).question(qid).text == quoted, (kind, case_id, qid)
