"""Search the 范文库: dense, keyword (BM25) or hybrid (reciprocal rank fusion), then MMR diversity.

Dense scores of the e5 embedder bunch together (0.85-0.97), so candidates are combined by rank,
never thresholded. Diversity uses character-bigram Jaccard between candidate texts (no extra
embedding calls): near-duplicate chunks and a third, fourth... chunk of the same document are
pushed down.
"""

from __future__ import annotations

import functools
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from drafting.corpus.keyword import query_tokens
from drafting.corpus.store import Store
from drafting.domain import Passage
from drafting.errors import RetrievalError

__all__ = ["retrieve", "highlight_terms", "query_terms", "rrf", "METHODS", "RRF_K"]

log = logging.getLogger(__name__)

METHODS = ("dense", "keyword", "hybrid")
# RRF constant and weights, measured on 50 official documents (evals/bench_retrieval.py, no MMR):
# with the textbook k=60 the flat curve lets the weaker e5-small ranking (R@5 0.81 vs BM25 0.96)
# pull good keyword hits out of the top 5 (hybrid 0.93); k=5 with dense weight 0.5 reaches BM25
# (0.96) while still letting a strong dense hit in. Full-corpus figures: docs/benchmarks/retrieval.md.
RRF_K = 5
CANDIDATES_PER_K = 4
# Each chunk already chosen from the same document lowers a candidate's MMR value by this much.
SAME_DOC_PENALTY = 0.08
NEAR_DUPLICATE = 0.8
DENSE_WEIGHT = 0.5
KEYWORD_WEIGHT = 1.0


def query_terms(query: str) -> list[str]:
    """The query's words (jieba precise mode), stopwords and punctuation dropped."""
    return query_tokens(query)


def highlight_terms(query: str, text: str) -> list[tuple[int, int]]:
    """Non-overlapping (start, end) spans of ``text`` matching the query's words, longest word first."""
    terms = sorted({t for t in query_terms(query) if len(t) > 1 or not t.isascii()}, key=len, reverse=True)
    taken = [False] * len(text)
    spans: list[tuple[int, int]] = []
    lowered = text.lower()
    for term in terms:
        start = lowered.find(term)
        while start >= 0:
            end = start + len(term)
            if not any(taken[start:end]):
                spans.append((start, end))
                for i in range(start, end):
                    taken[i] = True
            start = lowered.find(term, end)
    return sorted(spans)


def rrf(rankings: list[list[str]], k: int = RRF_K, weights: list[float] | None = None) -> dict[str, float]:
    """Reciprocal rank fusion: sum of weight / (k + rank) over the lists an item appears in."""
    scores: dict[str, float] = {}
    for ranking, weight in zip(rankings, weights or [1.0] * len(rankings), strict=True):
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + weight / (k + rank)
    return scores


def _bigrams(text: str) -> frozenset[str]:
    compact = "".join(ch for ch in text if not ch.isspace())
    return frozenset(compact[i : i + 2] for i in range(len(compact) - 1))


def _jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    if not a or not b:
        return 0.0
    inter = len(a & b)
    return inter / (len(a) + len(b) - inter)


def relevance(position: int) -> float:
    """MMR relevance of the candidate at 0-based ``position``: 1 at the top, falling like RRF.

    Steep at the top, flat in the tail: a strong hit keeps its place against the diversity terms,
    while the order of weak candidates is easily changed by them.
    """
    return (RRF_K + 1) / (RRF_K + 1 + position)


def _mmr(candidates: list[Passage], k: int, mmr_lambda: float) -> list[Passage]:
    """Greedy MMR over candidates sorted best first.

    Relevance is rank-based (see :func:`relevance`), because raw scores of the different methods
    are not on one scale. A near-duplicate of a chosen chunk (Jaccard above
    ``NEAR_DUPLICATE``) is effectively dropped.
    """
    if mmr_lambda >= 1.0 or len(candidates) <= 1:
        return candidates[:k]
    rel = {p.chunk_id: relevance(i) for i, p in enumerate(candidates)}
    grams = {p.chunk_id: _bigrams(p.text) for p in candidates}
    # Highest similarity of each candidate to anything chosen so far, updated with each pick
    # (one Jaccard per candidate per pick instead of one per chosen chunk).
    sim = dict.fromkeys(rel, 0.0)
    chosen: list[Passage] = []
    per_doc: dict[str, int] = {}
    pool = list(candidates)
    while pool and len(chosen) < k:
        best_i, best_v = 0, float("-inf")
        for i, p in enumerate(pool):
            s = sim[p.chunk_id]
            value = mmr_lambda * rel[p.chunk_id] - (1 - mmr_lambda) * s - SAME_DOC_PENALTY * per_doc.get(p.doc_id, 0)
            if s >= NEAR_DUPLICATE:
                value -= 1.0
            if value > best_v:
                best_i, best_v = i, value
        picked = pool.pop(best_i)
        chosen.append(picked)
        per_doc[picked.doc_id] = per_doc.get(picked.doc_id, 0) + 1
        g = grams[picked.chunk_id]
        for p in pool:
            sim[p.chunk_id] = max(sim[p.chunk_id], _jaccard(grams[p.chunk_id], g))
    return chosen


_POOL: ThreadPoolExecutor | None = None


def _keyword_pool() -> ThreadPoolExecutor:
    global _POOL
    if _POOL is None:
        _POOL = ThreadPoolExecutor(max_workers=2, thread_name_prefix="keyword-search")
    return _POOL


def retrieve(
    query: str,
    store: Store,
    k: int = 5,
    *,
    genre: str | None = None,
    year: int | None = None,
    issuing_body: str | None = None,
    method: str = "hybrid",
    mmr_lambda: float = 0.7,
) -> list[Passage]:
    """The ``k`` best passages for ``query``, optionally filtered; ``Passage.score`` is the ranking score.

    Scores: cosine similarity (dense), -BM25 (keyword), RRF sum (hybrid). ``mmr_lambda=1`` turns
    diversity off.
    """
    if method not in METHODS:
        raise RetrievalError(f"未知的检索方式：{method}（可选 dense、keyword、hybrid）")
    if not query.strip() or k <= 0:
        return []
    where: dict[str, Any] = {
        key: v for key, v in (("genre", genre), ("year", year), ("issuing_body", issuing_body)) if v
    }
    n = max(k * CANDIDATES_PER_K, 20)
    filters = where or None
    scored: list[tuple[str, float]]
    if method == "dense":
        scored = store.search_dense(query, n, filters)
    elif method == "keyword":
        scored = store.search_keyword(query, n, filters)
    else:
        # The query embedding (C code) and the FTS5 query (SQLite) both release the GIL: run them
        # side by side, so a hybrid query costs about the slower of the two, not their sum.
        pending = _keyword_pool().submit(store.search_keyword, query, n, filters)
        try:
            dense = store.search_dense(query, n, filters)
        except BaseException:
            pending.result()  # never leave the keyword search running behind a failure
            raise
        keyword = pending.result()
        fused = rrf([[cid for cid, _ in dense], [cid for cid, _ in keyword]], weights=[DENSE_WEIGHT, KEYWORD_WEIGHT])
        scored = sorted(fused.items(), key=lambda kv: kv[1], reverse=True)
    if not scored:
        return []
    by_id = {p.chunk_id: p for p in store.get_chunks([cid for cid, _ in scored])}
    candidates = [by_id[cid].model_copy(update={"score": float(s)}) for cid, s in scored if cid in by_id]
    return _mmr(candidates, k, mmr_lambda)


@functools.cache
def _generic_words() -> frozenset[str]:
    """Words every brief has that say nothing about its topic (prompts/topic_stopwords.txt)."""
    from drafting.llm.prompts import PROMPTS_DIR

    lines = (PROMPTS_DIR / "topic_stopwords.txt").read_text(encoding="utf-8").splitlines()
    return frozenset(w.strip() for w in lines if w.strip() and not w.startswith("#"))


RELEVANCE_FLOOR = 0.3  # share of the brief's topic words a 范文 passage must contain to be used for drafting


def topic_terms(query: str) -> list[str]:
    """The brief's topic words: query words minus the words every brief has, numbers and single characters."""
    return [
        t for t in dict.fromkeys(query_terms(query)) if t not in _generic_words() and len(t) > 1 and not t.isdigit()
    ]


def topic_relevance(query: str, passage: Passage) -> tuple[float, list[str]]:
    """(share of topic words found, the words found) for a passage, its title and section included."""
    terms = topic_terms(query)
    if not terms:
        return 1.0, []
    text = " ".join([passage.title, passage.section, passage.text])
    found = [t for t in terms if t in text]
    return len(found) / len(terms), found


def relevant_passages(query: str, passages: list[Passage], floor: float = RELEVANCE_FLOOR) -> list[Passage]:
    """Passages on this brief's topic, each carrying why it was chosen; the rest are not handed to the model."""
    kept = []
    for p in passages:
        share, found = topic_relevance(query, p)
        if share >= floor and (len(found) >= 2 or len(topic_terms(query)) <= 2):
            kept.append(p.model_copy(update={"why": "与任务共有的关键词：" + "、".join(found[:6])}))
        else:
            log.info("passage %s dropped: relevance %.2f below the floor", p.chunk_id, share)
    return kept
