"""Tokenisation shared by the lexical index and the hashing embedder (one definition of a "term")."""

from __future__ import annotations

import re
from functools import lru_cache

TOKEN = re.compile(r"[a-z0-9]+")
STOPWORDS = frozenset(
    "a an and are as at be by for from has have in is it its of on or that the this to with we our after "
    "very not no but when then than into over under only also so such can may while which".split()
)


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """A tiny suffix stripper: enough to make 'gradients'/'gradient' and 'weighting'/'weights' meet."""
    for suffix in ("ations", "ation", "ings", "ing", "ies", "es", "s"):
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def terms(text: str) -> list[str]:
    """Lower-cased, stemmed word tokens without stop words."""
    return [stem(w) for w in TOKEN.findall(text.lower()) if w not in STOPWORDS]
