import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vrbench.answers import p_yes_from_logprobs, parse_yes_no
from vrbench.judges.openai_judges import backoff_delay, parse_retry_after


@pytest.mark.parametrize("text,expected", [
    ("Yes", "yes"), ("yes.", "yes"), ("No", "no"), ("no, the ball stops", "no"),
    ("**Yes**, it does.", "yes"), ("Answer: No", "no"), ("Final answer: \"yes\"", "yes"), ("> `No`", "no"),
    ("<think>The ball... no wait</think>\nYes", "yes"), ("<think>unfinished reasoning", None),
    ("ｙｅｓ", "yes"), ("ＮＯ。", "no"), ("是", "yes"), ("是的。", "yes"), ("否", "no"), ("不是", "no"),
    ("答案：是", "yes"), ("The answer is yes.", "yes"), ("I believe the answer is: no", "no"),
    ("The answer is yes, or maybe the answer is no", None),
    ("", None), (None, None), ("Maybe", None), ("I cannot tell from these frames.", None), ("Nothing moves", None),
    ("Not sure", None), ("Yesterday it rained", None), ("N/A", None), ("Noah's ark", None), ("不确定", None),
    # the reasoning of thinking models is never read: only the text after the last </think>
    ("The ball falls.</think>\n\nNo", "no"), ("<think>yes? no.</think><think>hmm</think> yes", "yes"),
    ("<think>Yes, it falls, so the answer is yes", None),
    ("The answer is **Yes**", "yes"), ("The answer is: __No__.", "no"),
    # echoes of the instruction are not answers
    ("Yes/No", None), ("yes or no", None), ("**Yes** / **No**", None), ("YES|NO", None),
    # JSON answers
    ('{"answer": "yes"}', "yes"), ('```json\n{"answer": "No"}\n```', "no"), ('{"answer": true}', "yes"),
    ("Yes, no doubt about it.", "yes"),
])
def test_parse_yes_no(text, expected):
    assert parse_yes_no(text) == expected


@given(st.text(alphabet=st.characters(blacklist_characters="nNoOfF否不ｎＮｏＯｆＦ"), max_size=60))  # no "no", "false", 否, 不是
def test_never_no_without_a_no_word(text):
    assert parse_yes_no(text) != "no"


@given(st.sampled_from(["Yes", "yes", "YES", "**Yes**", "Answer: yes", "是"]), st.text(max_size=40))
def test_a_leading_yes_decides(lead, tail):
    assert parse_yes_no(lead + ". " + tail) == "yes"


@given(st.lists(st.tuples(st.sampled_from(["Yes", " yes", "no", "No", "I", "The", "是", "否"]),
                          st.floats(min_value=-30, max_value=0)), max_size=8))
def test_p_yes_is_a_probability_or_none(top):
    p = p_yes_from_logprobs(top)
    has_answer = any(t.strip().lower() in ("yes", "no", "是", "否") for t, _ in top)
    assert (p is None) == (not has_answer)
    assert p is None or 0.0 <= p <= 1.0


def test_p_yes_sums_variants_and_ignores_refusals():
    assert p_yes_from_logprobs({"Yes": math.log(0.3), " yes": math.log(0.3), "No": math.log(0.2), "I": math.log(0.2)}) == pytest.approx(0.75)
    assert p_yes_from_logprobs({"I": -0.1, "Sorry": -3.0}) is None


@settings(max_examples=200)
@given(st.integers(0, 20), st.one_of(st.none(), st.floats(0, 500)), st.floats(0, 1))
def test_backoff_is_bounded_and_honours_retry_after(attempt, retry_after, u):
    delay = backoff_delay(attempt, retry_after, base=0.5, cap=30.0, rng=lambda: u)
    assert 0.0 <= delay <= max(30.0, min(retry_after or 0.0, 120.0))
    if retry_after:
        assert delay >= min(retry_after, 120.0)
    else:
        assert delay <= min(30.0, 0.5 * 2 ** attempt)


def test_retry_after_headers():
    assert parse_retry_after({"retry-after": "2"}) == 2.0
    assert parse_retry_after({"retry-after-ms": "250", "retry-after": "9"}) == 0.25
    assert parse_retry_after({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0.0  # a date in the past
    assert parse_retry_after({"retry-after": "soon"}) is None
    assert parse_retry_after({}) is None


def test_token_answer_is_only_a_whole_answer_token():
    from vrbench.answers import token_answer

    assert token_answer(" Yes") == "yes" and token_answer("No") == "no" and token_answer("否") == "no"
    assert token_answer("The") is None and token_answer("<think>") is None and token_answer("Yesterday") is None
