"""Team mode: the 范文库's documents, chunk texts and keyword index in a PostgreSQL server.

The drop-in counterpart of :class:`drafting.corpus.keyword.KeywordIndex` (same methods), selected by
``DRAFTING_TEAM_DB_URL``. Every writer's app and CLI talk to the one server, so a document one
writer ingests is found by everyone's keyword *and* dense searches (dense hits from the shared
chroma server are resolved to passages here).

Ranking is the same BM25 as SQLite FTS5's ``bm25()`` (k1 = 1.2, b = 0.75, IDF floored at 1e-6)
over the same jieba terms, computed in SQL from a postings table (term, chunk, tf, chunk length)
with a B-tree index. PostgreSQL's own ``ts_rank`` has no inverse document frequency, and BM25
carries most of the recall on official prose (docs/benchmarks/retrieval.md), so ranking is not
left to it. The query words are chosen exactly as locally (:func:`drafting.corpus.keyword.choose_terms`).

Each chroma collection name gets its own PostgreSQL schema (``fanwen`` by default), so several
libraries (or test runs) can share one database.
"""

from __future__ import annotations

import logging
import math
import re
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from drafting.corpus.keyword import (
    CHUNK_COLUMNS,
    DOCUMENT_COLUMNS,
    choose_terms,
    chunk_values,
    document_values,
    filter_conditions,
    index_text,
    passages_from_rows,
    query_tokens,
    tokenize,
)
from drafting.domain import Chunk, DocumentMeta, Passage
from drafting.errors import RetrievalError
from drafting.pgconn import PgConnection

__all__ = ["PgKeywordIndex", "pg_terms", "BM25_K1", "BM25_B"]

log = logging.getLogger(__name__)

BM25_K1 = 1.2
BM25_B = 0.75
_TOKEN = re.compile(r"[^\W_]+", re.UNICODE)

_SCHEMA = (
    """
CREATE SCHEMA IF NOT EXISTS {s};
CREATE TABLE IF NOT EXISTS {s}.documents (
    """
    + DOCUMENT_COLUMNS
    + """,
    added_by TEXT NOT NULL DEFAULT '',
    meta TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS documents_source ON {s}.documents(source);
CREATE TABLE IF NOT EXISTS {s}.chunks (
    id BIGSERIAL PRIMARY KEY,
    """
    + CHUNK_COLUMNS.format(documents="{s}.documents")
    + """,
    length INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS chunks_doc ON {s}.chunks(doc_id);
CREATE TABLE IF NOT EXISTS {s}.postings (
    term TEXT NOT NULL,
    chunk BIGINT NOT NULL REFERENCES {s}.chunks(id) ON DELETE CASCADE,
    tf INTEGER NOT NULL,
    length INTEGER NOT NULL,
    PRIMARY KEY (term, chunk)
);
CREATE INDEX IF NOT EXISTS postings_chunk ON {s}.postings(chunk);
CREATE TABLE IF NOT EXISTS {s}.totals (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    chunks BIGINT NOT NULL,
    tokens BIGINT NOT NULL
);
INSERT INTO {s}.totals VALUES (1, 0, 0) ON CONFLICT DO NOTHING;
"""
)


def pg_terms(text: str) -> list[str]:
    """Index-side terms of ``text``: the local index's jieba tokens, split and lower-cased the way
    FTS5's ``unicode61`` tokenizer splits them (letters and digits; everything else separates)."""
    return [part for token in tokenize(text) for part in _TOKEN.findall(token.lower())]


def _query_terms(query: str) -> list[str]:
    return list(dict.fromkeys(part for token in query_tokens(query) for part in _TOKEN.findall(token)))


def _schema_name(collection: str) -> str:
    name = re.sub(r"[^a-z0-9_]", "_", collection.lower())
    return name if name[:1].isalpha() else f"c_{name}"


class PgKeywordIndex:
    """Documents, chunks and BM25 postings in PostgreSQL. Thread-safe (one connection, one lock)."""

    def __init__(self, url: str, collection: str = "fanwen") -> None:
        self._pg = PgConnection(url, RetrievalError)
        self._psycopg = self._pg.psycopg
        self._sql = sql = self._pg.sql
        self.url = url
        self.schema = _schema_name(collection)
        self._lock = self._pg.lock
        self._t = {name: sql.Identifier(self.schema, name) for name in ("documents", "chunks", "postings", "totals")}
        self._pg.create(self.schema, sql.SQL(_SCHEMA).format(s=sql.Identifier(self.schema)))

    def _conn(self) -> Any:
        """The open connection, reconnecting once it was closed or broken (server restart)."""
        return self._pg.get()

    def _q(self, template: str) -> Any:
        return self._sql.SQL(template).format(**self._t)

    def _rows(self, template: str, params: Any = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            try:
                return list(self._conn().execute(self._q(template), params).fetchall())
            except self._psycopg.OperationalError as exc:
                raise RetrievalError(f"团队数据库查询失败：{exc}") from exc

    def close(self) -> None:
        self._pg.close()

    @contextmanager
    def transaction(self) -> Iterator[Any]:
        """Writes inside yield this index itself; ``write_document(db, ...)`` then runs in the transaction."""
        with self._lock:
            db = self._conn()
            with db.transaction():
                db.execute(self._q("SELECT 1 FROM {totals} WHERE id = 1 FOR UPDATE"))  # one writer at a time
                yield self

    # -- writes (inside transaction) --------------------------------------------------------------
    def write_document(self, db: Any, meta: DocumentMeta, chunks: list[Chunk], vec_ids: list[str]) -> None:
        self.remove_document(db, meta.doc_id)
        conn = self._conn()
        conn.execute(
            self._q(
                "INSERT INTO {documents} (doc_id, title, genre, year, issuing_body, source, sha256, added_by, meta)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)"
            ),
            (*document_values(meta), meta.added_by, meta.model_dump_json()),
        )
        postings: list[tuple[str, int, int, int]] = []
        tokens = 0
        for chunk, vec_id in zip(chunks, vec_ids, strict=True):
            terms = pg_terms(index_text(chunk))
            (row_id,) = conn.execute(
                self._q(
                    "INSERT INTO {chunks} (chunk_id, vec_id, doc_id, ordinal, section_path, text, length)"
                    " VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING id"
                ),
                (*chunk_values(chunk, vec_id, meta.doc_id), len(terms)),
            ).fetchone()
            postings.extend((term, row_id, tf, len(terms)) for term, tf in Counter(terms).items())
            tokens += len(terms)
        with conn.cursor() as cur, cur.copy(self._q("COPY {postings} (term, chunk, tf, length) FROM STDIN")) as copy:
            for row in postings:
                copy.write_row(row)
        conn.execute(
            self._q("UPDATE {totals} SET chunks = chunks + %s, tokens = tokens + %s WHERE id = 1"),
            (len(chunks), tokens),
        )

    def remove_document(self, db: Any, doc_id: str) -> None:
        conn = self._conn()
        gone = conn.execute(
            self._q("DELETE FROM {chunks} WHERE doc_id = %s RETURNING length"), (doc_id,)
        ).fetchall()  # postings go with their chunks (ON DELETE CASCADE)
        if gone:
            conn.execute(
                self._q("UPDATE {totals} SET chunks = chunks - %s, tokens = tokens - %s WHERE id = 1"),
                (len(gone), sum(r[0] for r in gone)),
            )
        conn.execute(self._q("DELETE FROM {documents} WHERE doc_id = %s"), (doc_id,))

    # -- reads ------------------------------------------------------------------------------------
    def vec_ids(self, doc_id: str) -> list[str]:
        return [r[0] for r in self._rows("SELECT vec_id FROM {chunks} WHERE doc_id = %s ORDER BY id", (doc_id,))]

    def search(self, query: str, k: int, where: dict[str, Any] | None = None) -> list[tuple[str, float]]:
        """BM25 over the query's words (OR), best first; score = BM25 (higher is better), as FTS5's -bm25()."""
        words = _query_terms(query)
        if not words or k <= 0:
            return []
        conds, params = filter_conditions(where, "%s")
        (n, tokens), *_ = self._rows("SELECT chunks, tokens FROM {totals} WHERE id = 1") or [(0, 0)]
        if not n:
            return []
        df = dict(self._rows("SELECT term, count(*) FROM {postings} WHERE term = ANY(%s) GROUP BY term", (words,)))
        terms = [t for t in choose_terms(words, df, n) if df.get(t)]
        if not terms:
            return []
        idf = [max(math.log((n - df[t] + 0.5) / (df[t] + 0.5)), 1e-6) for t in terms]
        avg = (tokens / n) or 1.0
        # BM25 term weight: idf * tf * (k1 + 1) / (tf + k1 * (1 - b) + k1 * b * length / avg length)
        norm = (BM25_K1 + 1, BM25_K1 * (1 - BM25_B), BM25_K1 * BM25_B / avg)
        restrict = ""
        if conds:
            restrict = (
                " WHERE p.chunk IN (SELECT c.id FROM {chunks} c JOIN {documents} d ON d.doc_id = c.doc_id WHERE "
                + " AND ".join(conds)
                + ")"
            )
        rows = self._rows(
            "WITH q(term, idf) AS (SELECT * FROM unnest(%s::text[], %s::float8[])),"
            " top AS (SELECT p.chunk,"
            " SUM(q.idf * p.tf * %s::float8 / (p.tf + %s::float8 + %s::float8 * p.length)) AS s"
            " FROM q JOIN {postings} p ON p.term = q.term"
            + restrict
            + " GROUP BY p.chunk ORDER BY s DESC, p.chunk LIMIT %s)"
            " SELECT c.chunk_id, top.s FROM top JOIN {chunks} c ON c.id = top.chunk ORDER BY top.s DESC, top.chunk",
            (terms, idf, *norm, *params, k),
        )
        return [(cid, float(s)) for cid, s in rows]

    def resolve_vec_ids(self, vec_ids: list[str]) -> dict[str, str]:
        """vec_id -> chunk_id for the vectors that belong to a live chunk."""
        if not vec_ids:
            return {}
        return dict(self._rows("SELECT vec_id, chunk_id FROM {chunks} WHERE vec_id = ANY(%s)", (vec_ids,)))

    def passages(self, chunk_ids: list[str]) -> list[Passage]:
        if not chunk_ids:
            return []
        rows = {
            r[0]: r
            for r in self._rows(
                "SELECT c.chunk_id, c.doc_id, c.section_path, c.text, d.meta FROM {chunks} c"
                " JOIN {documents} d ON d.doc_id = c.doc_id WHERE c.chunk_id = ANY(%s)",
                (chunk_ids,),
            )
        }
        return passages_from_rows(chunk_ids, rows)

    def document(self, doc_id: str) -> DocumentMeta | None:
        rows = self._rows("SELECT meta FROM {documents} WHERE doc_id = %s", (doc_id,))
        return DocumentMeta.model_validate_json(rows[0][0]) if rows else None

    def documents(self) -> list[DocumentMeta]:
        rows = self._rows("SELECT meta FROM {documents} ORDER BY source, doc_id")
        return [DocumentMeta.model_validate_json(r[0]) for r in rows]

    def known_sources(self) -> dict[str, str]:
        return {s: h for s, h in self._rows("SELECT source, sha256 FROM {documents} WHERE source <> ''")}

    def stats(self) -> dict[str, Any]:
        docs = self._rows("SELECT COUNT(*) FROM {documents}")[0][0]
        chunks = self._rows("SELECT COUNT(*) FROM {chunks}")[0][0]
        by_genre = dict(self._rows("SELECT genre, COUNT(*) FROM {documents} GROUP BY genre ORDER BY 2 DESC"))
        return {"documents": docs, "chunks": chunks, "by_genre": by_genre}

    def all_vec_ids(self) -> set[str]:
        return {r[0] for r in self._rows("SELECT vec_id FROM {chunks}")}
