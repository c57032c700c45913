"""The SQLite side of the index: documents, chunk texts and an FTS5 keyword index (BM25).

Chinese has no spaces, so texts are segmented with jieba (search mode, which also emits the
shorter words inside long ones) and stored space-separated in an FTS5 table with the
``unicode61`` tokenizer. The same file holds the documents table, so dense hits from chroma are
resolved to passages here without another chroma round trip.
"""

from __future__ import annotations

import json
import logging
import re
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

from drafting.config import private_file
from drafting.domain import Chunk, DocumentMeta, Passage

__all__ = ["KeywordIndex", "choose_terms", "tokenize", "query_tokens", "year_of", "index_text", "embed_text"]

log = logging.getLogger(__name__)

_STOPWORDS = frozenset(
    [
        "的",
        "了",
        "和",
        "与",
        "及",
        "是",
        "在",
        "对",
        "为",
        "以",
        "把",
        "将",
        "等",
        "也",
        "都",
        "而",
        "并",
        "或",
        "其",
        "之",
        "于",
        "上",
        "中",
        "下",
        "个",
        "要",
        "我们",
        "我",
        "你",
        "他",
        "她",
        "它",
        "这",
        "那",
        "有",
        "就",
        "不",
        "又",
        "着",
        "被",
        "从",
        "到",
        "由",
        "向",
        "给",
        "让",
        "使",
        "各",
        "一",
        "二",
        "三",
        "及其",
        "以及",
        "进一步",
        "关于",
        "一个",
        "一些",
        "这个",
        "那个",
        "什么",
        "如何",
        "怎么",
        "吗",
        "呢",
        "啊",
        "吧",
    ]
)
_WORD = re.compile(r"[\w\u3400-\u9fff]", re.UNICODE)
# A query word in more than this share of all chunks is left out of the keyword query.
COMMON_SHARE = 0.2
# At most this many query words (the rarest) go into the OR query: each extra word adds a posting
# list to score, and the rare words carry nearly all of the BM25 weight.
MAX_QUERY_TERMS = 12
# Upper bound on the postings one keyword query scores (the sum of its words' chunk counts, rarest
# words first): keeps the query fast on a large archive; binds only beyond ~50k chunks.
POSTING_BUDGET = 20_000
_YEAR = re.compile(r"(1[89]\d\d|20\d\d)")

# The columns this index and the PostgreSQL one (drafting.corpus.pg_index) share; each adds its own.
DOCUMENT_COLUMNS = ",\n    ".join(
    (
        "doc_id TEXT PRIMARY KEY",
        "title TEXT NOT NULL",
        "genre TEXT NOT NULL DEFAULT ''",
        "year INTEGER",
        "issuing_body TEXT NOT NULL DEFAULT ''",
        "source TEXT NOT NULL DEFAULT ''",
        "sha256 TEXT NOT NULL DEFAULT ''",
    )
)
CHUNK_COLUMNS = ",\n    ".join(
    (
        "chunk_id TEXT NOT NULL UNIQUE",
        "vec_id TEXT NOT NULL UNIQUE",
        "doc_id TEXT NOT NULL REFERENCES {documents}(doc_id)",
        "ordinal INTEGER NOT NULL",
        "section_path TEXT NOT NULL",
        "text TEXT NOT NULL",
    )
)


def filter_conditions(where: dict[str, Any] | None, placeholder: str) -> tuple[list[str], list[Any]]:
    """The SQL conditions on the documents table (aliased ``d``) and their parameters for a search filter;
    ``placeholder`` is the driver's parameter mark."""
    conds: list[str] = []
    params: list[Any] = []
    for key, value in (where or {}).items():
        if value is None or value == "":
            continue
        if key not in ("genre", "year", "issuing_body", "doc_id"):
            raise ValueError(f"unknown filter {key}")
        conds.append(f"d.{key} = {placeholder}")
        params.append(value)
    return conds, params


def document_values(meta: DocumentMeta) -> tuple[Any, ...]:
    """A document's values for the DOCUMENT_COLUMNS, in their order."""
    return (meta.doc_id, meta.title, meta.genre, year_of(meta.date), meta.issuing_body, meta.source, meta.sha256)


def chunk_values(chunk: Chunk, vec_id: str, doc_id: str) -> tuple[Any, ...]:
    """A chunk's values for the CHUNK_COLUMNS, in their order."""
    section_path = json.dumps(chunk.section_path, ensure_ascii=False)
    return (chunk.chunk_id, vec_id, doc_id, chunk.ordinal, section_path, chunk.text)


_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS documents (
    {DOCUMENT_COLUMNS},
    meta TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS documents_sha ON documents(sha256);
CREATE INDEX IF NOT EXISTS documents_source ON documents(source);
CREATE TABLE IF NOT EXISTS chunks (
    id INTEGER PRIMARY KEY,
    {CHUNK_COLUMNS.format(documents="documents")}
);
CREATE INDEX IF NOT EXISTS chunks_doc ON chunks(doc_id);
CREATE VIRTUAL TABLE IF NOT EXISTS chunk_fts USING fts5(tokens, tokenize='unicode61');
CREATE VIRTUAL TABLE IF NOT EXISTS chunk_vocab USING fts5vocab(chunk_fts, 'row');
"""


@lru_cache(maxsize=1)
def _jieba() -> Any:
    import jieba

    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()
    return jieba


def tokenize(text: str) -> list[str]:
    """Index-side tokens: jieba search-mode words, punctuation dropped."""
    return [t for t in _jieba().lcut_for_search(text) if _WORD.search(t)]


def query_tokens(query: str) -> list[str]:
    """Query-side words: jieba precise mode, de-duplicated, stopwords and punctuation dropped."""
    seen: dict[str, None] = {}
    for t in _jieba().lcut(query, cut_all=False):
        t = t.strip().lower()
        if t and _WORD.search(t) and t not in _STOPWORDS:
            seen.setdefault(t, None)
    return list(seen)


def year_of(date: str) -> int | None:
    m = _YEAR.search(date or "")
    return int(m.group(1)) if m else None


def index_text(chunk: Chunk) -> str:
    """What gets keyword-indexed: the heading path, then the whole chunk text."""
    return embed_text(chunk)


def embed_text(chunk: Chunk, max_chars: int = 0) -> str:
    """What gets embedded: the heading path, then the chunk's opening, at most ``max_chars``
    characters of it (0 = all), cut after the last full sentence that fits.

    Official prose states a section's point first, so the opening carries its meaning; the keyword
    index always covers the whole text.
    """
    text = chunk.text
    if 0 < max_chars < len(text):
        cut = text[:max_chars]
        end = max(cut.rfind(p) for p in "。！？；")
        text = cut[: end + 1] if end >= max_chars // 2 else cut
    return "\n".join([*chunk.section_path, text])


def choose_terms(terms: list[str], df: dict[str, int], total: int) -> list[str]:
    """Drop words found in more than COMMON_SHARE of the ``total`` chunks (while rarer ones remain),
    then keep the rarest, at most MAX_QUERY_TERMS of them and POSTING_BUDGET postings in all.

    Their BM25 weight is near zero anyway, and scoring every chunk that contains "发展" or
    "工作" is what makes an OR query slow on 100k chunks. Words absent from the index are
    dropped too (they cannot match). ``df`` maps a word to the number of chunks holding it.
    Shared by the local (SQLite) and the team (PostgreSQL) index, so both choose alike.
    """
    if len(terms) < 2:
        return terms
    present = [t for t in terms if df.get(t, 0) > 0]
    rare = [t for t in present if df[t] <= COMMON_SHARE * total] or present or terms
    chosen: list[str] = []
    spent = 0
    for t in sorted(rare, key=lambda t: df.get(t, 0))[:MAX_QUERY_TERMS]:
        if chosen and spent + df.get(t, 0) > POSTING_BUDGET:
            break
        chosen.append(t)
        spent += df.get(t, 0)
    return chosen


def passages_from_rows(chunk_ids: list[str], rows: dict[str, Any]) -> list[Passage]:
    """Passages in ``chunk_ids`` order from stored rows ``(chunk_id, doc_id, section_path, text, meta_json)``;
    ids without a row are skipped. Shared by the local index and the team database."""
    out: list[Passage] = []
    for cid in chunk_ids:
        if cid not in rows:
            continue
        _, doc_id, section_path, text, meta_json = rows[cid]
        meta = DocumentMeta.model_validate_json(meta_json)
        out.append(
            Passage(
                chunk_id=cid,
                doc_id=doc_id,
                title=meta.title,
                text=text,
                section_path=json.loads(section_path),
                genre=meta.genre,
                date=meta.date,
                issuing_body=meta.issuing_body,
                source=meta.source,
            )
        )
    return out


class KeywordIndex:
    """SQLite file with the documents, chunk texts and the FTS5 index. Thread-safe (one lock)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        for suffix in ("", "-wal", "-shm"):
            private_file(path.with_name(path.name + suffix))
        self.path = path
        self._lock = threading.RLock()
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self._count: tuple[tuple[int, int], int] = ((-1, -1), 0)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    # -- writes (inside transaction) --------------------------------------------------------------
    @staticmethod
    def write_document(db: sqlite3.Connection, meta: DocumentMeta, chunks: list[Chunk], vec_ids: list[str]) -> None:
        KeywordIndex.remove_document(db, meta.doc_id)
        db.execute(
            "INSERT INTO documents(doc_id, title, genre, year, issuing_body, source, sha256, meta) VALUES (?,?,?,?,?,?,?,?)",
            (*document_values(meta), meta.model_dump_json()),
        )
        for chunk, vec_id in zip(chunks, vec_ids, strict=True):
            cur = db.execute(
                "INSERT INTO chunks(chunk_id, vec_id, doc_id, ordinal, section_path, text) VALUES (?,?,?,?,?,?)",
                chunk_values(chunk, vec_id, meta.doc_id),
            )
            db.execute(
                "INSERT INTO chunk_fts(rowid, tokens) VALUES (?, ?)",
                (cur.lastrowid, " ".join(tokenize(index_text(chunk)))),
            )

    @staticmethod
    def remove_document(db: sqlite3.Connection, doc_id: str) -> None:
        db.execute("DELETE FROM chunk_fts WHERE rowid IN (SELECT id FROM chunks WHERE doc_id = ?)", (doc_id,))
        db.execute("DELETE FROM chunks WHERE doc_id = ?", (doc_id,))
        db.execute("DELETE FROM documents WHERE doc_id = ?", (doc_id,))

    # -- reads ------------------------------------------------------------------------------------
    def vec_ids(self, doc_id: str) -> list[str]:
        with self._lock:
            return [r[0] for r in self._db.execute("SELECT vec_id FROM chunks WHERE doc_id = ?", (doc_id,))]

    def search(self, query: str, k: int, where: dict[str, Any] | None = None) -> list[tuple[str, float]]:
        """BM25 over the query's words (OR), best first; score = -bm25 (higher is better)."""
        terms = self._selective(query_tokens(query))
        if not terms or k <= 0:
            return []
        match = " OR ".join('"' + t.replace('"', '""') + '"' for t in terms)
        conds, params = filter_conditions(where, "?")
        if conds:
            sql = (
                "SELECT c.chunk_id, bm25(chunk_fts) AS s FROM chunk_fts JOIN chunks c ON c.id = chunk_fts.rowid"
                " JOIN documents d ON d.doc_id = c.doc_id WHERE chunk_fts MATCH ?"
                + "".join(f" AND {c}" for c in conds)
                + " ORDER BY s LIMIT ?"
            )
        else:
            # Unfiltered: rank inside FTS5 first (ORDER BY rank lets it keep only the top k), then join.
            sql = (
                "SELECT c.chunk_id, t.s FROM (SELECT rowid, rank AS s FROM chunk_fts WHERE chunk_fts MATCH ? "
                "ORDER BY rank LIMIT ?) t JOIN chunks c ON c.id = t.rowid ORDER BY t.s"
            )
        with self._lock:
            rows = self._db.execute(sql, (match, *params, k)).fetchall()
        return [(cid, -float(s)) for cid, s in rows]

    def _selective(self, terms: list[str]) -> list[str]:
        """The query words worth scoring (see :func:`choose_terms`), by this index's chunk counts."""
        if len(terms) < 2:
            return terms
        with self._lock:
            total = self._chunk_count()
            marks = ",".join("?" * len(terms))
            df = dict(self._db.execute(f"SELECT term, doc FROM chunk_vocab WHERE term IN ({marks})", terms).fetchall())
        return choose_terms(terms, df, total)

    def _chunk_count(self) -> int:
        """COUNT(*) of the chunks, recounted only after a write (ours: total_changes; another
        process's: data_version), since counting 100k rows on every query costs milliseconds."""
        key = (self._db.execute("PRAGMA data_version").fetchone()[0], self._db.total_changes)
        if key != self._count[0]:
            self._count = (key, self._db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0])
        return self._count[1]

    def resolve_vec_ids(self, vec_ids: list[str]) -> dict[str, str]:
        """vec_id -> chunk_id for the vectors that belong to a live chunk."""
        out: dict[str, str] = {}
        with self._lock:
            for i in range(0, len(vec_ids), 500):
                part = vec_ids[i : i + 500]
                q = f"SELECT vec_id, chunk_id FROM chunks WHERE vec_id IN ({','.join('?' * len(part))})"
                out.update(dict(self._db.execute(q, part).fetchall()))
        return out

    def passages(self, chunk_ids: list[str]) -> list[Passage]:
        rows: dict[str, tuple[Any, ...]] = {}
        with self._lock:
            for i in range(0, len(chunk_ids), 500):
                part = chunk_ids[i : i + 500]
                q = (
                    "SELECT c.chunk_id, c.doc_id, c.section_path, c.text, d.meta FROM chunks c "
                    f"JOIN documents d ON d.doc_id = c.doc_id WHERE c.chunk_id IN ({','.join('?' * len(part))})"
                )
                rows.update({r[0]: r for r in self._db.execute(q, part)})
        return passages_from_rows(chunk_ids, rows)

    def document(self, doc_id: str) -> DocumentMeta | None:
        with self._lock:
            row = self._db.execute("SELECT meta FROM documents WHERE doc_id = ?", (doc_id,)).fetchone()
        return DocumentMeta.model_validate_json(row[0]) if row else None

    def documents(self) -> list[DocumentMeta]:
        with self._lock:
            rows = self._db.execute("SELECT meta FROM documents ORDER BY source, doc_id").fetchall()
        return [DocumentMeta.model_validate_json(r[0]) for r in rows]

    def known_sources(self) -> dict[str, str]:
        with self._lock:
            return dict(self._db.execute("SELECT source, sha256 FROM documents WHERE source != ''").fetchall())

    def stats(self) -> dict[str, Any]:
        with self._lock:
            docs = self._db.execute("SELECT COUNT(*) FROM documents").fetchone()[0]
            chunks = self._db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
            by_genre = dict(
                self._db.execute("SELECT genre, COUNT(*) FROM documents GROUP BY genre ORDER BY 2 DESC").fetchall()
            )
        return {"documents": docs, "chunks": chunks, "by_genre": by_genre}

    def all_vec_ids(self) -> set[str]:
        with self._lock:
            return {r[0] for r in self._db.execute("SELECT vec_id FROM chunks")}
