"""Chinese word segmentation for the catalog search: one jieba dictionary for index and query.

The tokenizer is a private ``jieba.Tokenizer`` (not jieba's global one), initialised once,
lazily and quietly, with jieba's dictionary plus the domain dictionary in
``data/jieba_domain.txt`` (without it jieba splits 古树名木 and 船舶检验 wrongly, LIMITS.md).
HMM new-word discovery is off for both indexing and queries, so the same text always yields
the same words wherever it appears (a decision: consistency over guessing unknown names).

Documents are cut in search mode (``cut_for_search``: whole words plus their dictionary
sub-words, so 古树 finds 古树名木); queries are cut in precise mode and all words must match.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import jieba

DOMAIN_DICTIONARY = Path(__file__).resolve().parent / "data" / "jieba_domain.txt"
MAX_QUERY_TERMS = 8

_lock = threading.Lock()
_tokenizer: jieba.Tokenizer | None = None


def tokenizer() -> jieba.Tokenizer:
    global _tokenizer
    if _tokenizer is None:
        with _lock:
            if _tokenizer is None:
                jieba.setLogLevel(logging.WARNING)
                candidate = jieba.Tokenizer()
                candidate.initialize()
                candidate.load_userdict(str(DOMAIN_DICTIONARY))
                _tokenizer = candidate
    return _tokenizer


def _keep(word: str) -> str | None:
    word = word.strip().lower()
    if not word or not any(c.isalnum() for c in word):
        return None
    # Keep letters, digits and CJK only: the words go into FTS5 strings and tsquery lexemes.
    cleaned = "".join(c for c in word if c.isalnum())
    return cleaned or None


def index_words(text: str) -> list[str]:
    """Words of a document field (search mode, duplicates kept for term frequency)."""
    if not text:
        return []
    words = (_keep(w) for w in tokenizer().cut_for_search(text, HMM=False))
    return [w for w in words if w]


def index_text(text: str) -> str:
    return " ".join(index_words(text))


def query_words(query: str) -> list[str]:
    """The distinct words of a query, in order (precise mode), at most ``MAX_QUERY_TERMS``."""
    seen: list[str] = []
    for part in (query or "").split():
        for raw in tokenizer().cut(part, HMM=False):
            word = _keep(raw)
            if word and word not in seen:
                seen.append(word)
    return seen[:MAX_QUERY_TERMS]
