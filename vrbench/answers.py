"""The answer words, and reading a yes/no answer out of a judge's reply.

Every stage speaks these three words: a judge's reply is parsed into yes or no (``None`` when it cannot be
read), the judge stage records "invalid" for a reply that stays unreadable, and scoring counts it as 0.

The parser is strict on purpose: an answer it cannot read is ``None`` (the caller retries once with a
stricter instruction, then records "invalid"); it never guesses "no". P(yes) is read from first-token
log-probabilities only when the first generated token is itself a yes/no word.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable, Mapping

YES, NO, INVALID = "yes", "no", "invalid"
ANSWERS = (YES, NO, INVALID)

_THINK_OPEN = re.compile(r"<(?:think|thinking|reasoning)>", re.IGNORECASE)
_THINK_CLOSE = re.compile(r"</(?:think|thinking|reasoning)>", re.IGNORECASE)
_MARKDOWN = re.compile(r"[*_`#>~|]+")
_PREFIX = re.compile(r"^\s*(final\s+answer|answer|response|output|a|回答|答案|答)\s*[:：\-—]\s*", re.IGNORECASE)
_FIRST_WORD = re.compile(r"[a-z]+|[是否不]")
_STATED = re.compile(r"\b(?:the\s+)?(?:final\s+)?answer\s+is\s*[:：]?\s*[\"'“”‘’(\[]*\s*(yes|no)\b", re.IGNORECASE)
# "Yes/No", "yes or no", "(yes|no)": the model echoed the instruction instead of answering
_ECHO = re.compile(r"\b(yes|no)\s*(?:/|\||\bor\b)\s*(yes|no)\b", re.IGNORECASE)
_JSON_ANSWER = re.compile(r"\{\s*\"(?:answer|response|result)\"\s*:\s*\"?\s*(yes|no|true|false)\s*\"?\s*\}", re.IGNORECASE)

YES_WORDS = frozenset({"yes", "yeah", "yep", "true", "correct"})
NO_WORDS = frozenset({"no", "nope", "false", "incorrect"})


def final_text(text: str) -> str | None:
    """The part of a reply after its reasoning: the text after the last ``</think>``.

    Thinking models (Qwen3 ``*-Thinking``, DeepSeek-R1 style) reason first; only what follows the
    closing tag is the answer. A reply that opened a reasoning block and never closed it (cut by the
    token budget) has no answer: ``None``.
    """
    closes = list(_THINK_CLOSE.finditer(text))
    if closes:
        return text[closes[-1].end():]
    if _THINK_OPEN.search(text):
        return None
    return text


def _clean(text: str) -> str:
    text = _MARKDOWN.sub(" ", text)
    text = text.strip().strip("\"'“”‘’()[]{} \t\r\n")
    while True:  # "Answer: **Final answer:** yes"
        stripped = _PREFIX.sub("", text, count=1).strip().strip("\"'“”‘’()[]{} ")
        if stripped == text:
            return text
        text = stripped


def parse_yes_no(text: str | None) -> str | None:
    """``"yes"``, ``"no"`` or ``None`` for a judge's reply.

    Reads only the text after the last ``</think>``, NFKC-normalised. A JSON answer
    (``{"answer": "yes"}``) decides; an echo of the instruction ("Yes/No", "yes or no") is ``None``.
    Otherwise markdown and ``Answer:``-style prefixes are dropped and the first word decides (English
    yes/no and a few synonyms; Chinese 是 / 否 / 不是); failing that, an explicit "the answer is
    yes/no" anywhere decides. Anything else is ``None``, never a default "no".
    """
    text = final_text(unicodedata.normalize("NFKC", text)) if text else None
    if not text:
        return None
    json_answer = _JSON_ANSWER.search(text)
    if json_answer:
        return "yes" if json_answer.group(1).lower() in ("yes", "true") else "no"
    if _ECHO.search(re.sub(r"[*_`#>~]+", "", text)):
        return None
    unmarked = _MARKDOWN.sub(" ", text)
    cleaned = _clean(text)
    first = _FIRST_WORD.search(cleaned.lower())
    if first and first.start() == len(cleaned.lower()) - len(cleaned.lower().lstrip()):
        word = first.group(0)
        if word in YES_WORDS or word == "是":
            return "yes"
        if word in NO_WORDS or word == "否" or (word == "不" and cleaned.lstrip().startswith("不是")):
            return "no"
    stated = _STATED.findall(unmarked)
    if stated and len({s.lower() for s in stated}) == 1:  # "the answer is yes ... the answer is no" stays undecided
        return stated[0].lower()
    return None


def token_answer(token: str) -> str | None:
    """``yes``/``no`` when a single generated token is itself the answer word, else ``None``."""
    word = unicodedata.normalize("NFKC", token).strip().strip(".,!:;\"'").lower()
    if word in ("yes", "是"):
        return "yes"
    if word in ("no", "否", "不"):
        return "no"
    return None


def p_yes_from_logprobs(top_logprobs: Mapping[str, float] | Iterable[tuple[str, float]]) -> float | None:
    """P(yes) = P(yes tokens) / (P(yes tokens) + P(no tokens)) over the first generated token's top-k.

    Variants ("Yes", " yes", "YES") are summed. ``None`` when neither appears among the top-k (the
    model meant to say something else, e.g. a refusal), so a refusal never looks like a confident no.
    """
    items = top_logprobs.items() if isinstance(top_logprobs, Mapping) else top_logprobs
    mass = {"yes": 0.0, "no": 0.0}
    for token, logprob in items:
        answer = token_answer(token)
        if answer is not None and logprob is not None and math.isfinite(logprob):
            mass[answer] += math.exp(logprob)
    total = mass["yes"] + mass["no"]
    if total <= 0.0:
        return None
    return min(1.0, max(0.0, mass["yes"] / total))
