"""Small, dependency-free text helpers shared by the suite linter and the diversity checks."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

# Function words, question openers and words every video question uses; they say nothing about
# what a prompt or question is *about*.
STOP_WORDS = frozenset(
    ["a", "an", "the", "and", "or", "but", "if", "then", "than", "so", "as", "of", "at", "by", "for", "from", "in", "into", "on", "onto", "to", "up", "down", "over", "under", "with", "within", "about", "across", "after", "before", "behind", "between", "during", "through", "toward", "towards", "around", "along", "against", "upon", "off", "out", "its", "it", "it's", "this", "that", "these", "those", "there", "here", "his", "her", "their", "them", "they", "he", "she", "him", "we", "you", "your", "our", "i", "me", "my", "is", "are", "was", "were", "be", "been", "being", "am", "do", "does", "did", "doing", "done", "has", "have", "had", "having", "can", "could", "will", "would", "should", "may", "might", "must", "shall", "what", "which", "who", "whom", "whose", "when", "where", "why", "how", "while", "whether", "each", "every", "any", "some", "all", "both", "other", "another", "such", "own", "same", "very", "just", "also", "only", "too", "more", "most", "much", "many", "few", "several", "clip", "video", "scene", "frame", "frames", "shown", "show", "shows", "visible", "visibly", "clearly", "clear", "appear", "appears", "one", "two", "three", "first", "second", "still", "even"]
)

_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")


def normalize(text: str) -> str:
    """NFKC-normalise, lower-case and unify apostrophes."""
    return unicodedata.normalize("NFKC", text).replace("\u2019", "'").replace("\u2018", "'").lower()


@lru_cache(maxsize=1 << 16)
def stem(word: str) -> str:
    """A crude suffix stripper: enough to match 'rolls', 'rolled', 'rolling' to 'roll'."""
    for suffix in ("ing", "ed", "es", "s"):
        if len(word) > len(suffix) + 2 and word.endswith(suffix):
            word = word[: -len(suffix)]
            break
    if len(word) > 3 and word[-1] == word[-2]:  # rolled -> roll, stopped -> stopp -> stop
        word = word[:-1]
    return word


def words(text: str) -> list[str]:
    return _WORD.findall(normalize(text))


@lru_cache(maxsize=1 << 14)  # the linter asks for the same texts many times
def content_words(text: str) -> frozenset[str]:
    """Stemmed words of ``text`` that carry meaning (stop words removed)."""
    return frozenset(stem(w) for w in words(text) if w not in STOP_WORDS and not w.isdigit())


def jaccard(a: frozenset[str] | set[str], b: frozenset[str] | set[str]) -> float:
    if not a and not b:
        return 0.0
    return len(a & b) / len(a | b)


def tfidf_cosine_pairs(texts: list[str], threshold: float) -> list[tuple[float, int, int]]:
    """Pairs (similarity, i, j) of ``texts`` whose TF-IDF cosine over content words is >= threshold.

    Binary term frequency and idf = log(N / df): words shared by many prompts ("person", "table")
    weigh little, so two prompts score high only when they share their distinctive words.
    """
    import math
    from collections import Counter

    docs = [content_words(t) for t in texts]
    df = Counter(w for d in docs for w in d)
    n = len(docs)
    vectors = []
    for d in docs:
        v = {w: math.log(n / df[w]) for w in d}
        norm = math.sqrt(sum(x * x for x in v.values())) or 1.0
        vectors.append({w: x / norm for w, x in v.items()})
    # dot products through an inverted index: only pairs that share a word are ever touched
    postings: dict[str, list[tuple[int, float]]] = {}
    for i, v in enumerate(vectors):
        for w, x in v.items():
            postings.setdefault(w, []).append((i, x))
    dots: dict[tuple[int, int], float] = {}
    for docs_with_word in postings.values():
        for a, (i, x) in enumerate(docs_with_word):
            for j, y in docs_with_word[a + 1:]:
                dots[(i, j)] = dots.get((i, j), 0.0) + x * y
    return sorted(((sim, i, j) for (i, j), sim in dots.items() if sim >= threshold), reverse=True)
