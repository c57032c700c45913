"""The 范文库 index: chroma for vectors, SQLite (FTS5) for documents, chunk texts and keywords.

Both halves are kept in step per document. ``open_store`` picks chroma embedded
(``PersistentClient`` under ``index_dir/chroma``) or a chroma server (``HttpClient``) when
``chroma_host`` is set; everything else is the same code. The SQLite file always lives locally in
``index_dir/keyword.sqlite3``, unless ``team_db_url`` is set (team mode): then documents, chunk
texts and the keyword index live in PostgreSQL (:mod:`drafting.corpus.pg_index`), shared by every writer.

Vectors are stored under a *vec_id* (``<chunk_id>@<sha8>``) distinct from the chunk id, so a
changed document's new vectors can be written before the old ones are removed: a failure at any
step leaves the previous version of that document intact and searchable.
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from drafting.config import Settings, get_settings, private_dir
from drafting.corpus.keyword import KeywordIndex, embed_text, year_of
from drafting.domain import Chunk, DocumentMeta, Passage
from drafting.errors import IngestError, RetrievalError
from drafting.team import acting_writer

if TYPE_CHECKING:
    from langchain_core.embeddings import Embeddings

    from drafting.corpus.pg_index import PgKeywordIndex

__all__ = ["Store", "IndexStore", "open_store", "HNSW_CONFIG"]

log = logging.getLogger(__name__)

# Cosine space; ef_search trades a little latency for recall at 100k chunks (see evals/bench_retrieval.py).
HNSW_CONFIG: dict[str, Any] = {"space": "cosine", "ef_construction": 128, "ef_search": 64, "max_neighbors": 16}
_ASCII_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{1,61}[A-Za-z0-9]$")


@runtime_checkable
class Store(Protocol):
    """What the pipeline needs from the index, whichever chroma backend is behind it."""

    def add(self, meta: DocumentMeta, chunks: list[Chunk]) -> None: ...

    def delete(self, doc_id: str) -> None: ...

    def search_dense(self, query: str, k: int, where: dict[str, Any] | None = None) -> list[tuple[str, float]]: ...

    def search_keyword(self, query: str, k: int, where: dict[str, Any] | None = None) -> list[tuple[str, float]]: ...

    def get_chunks(self, ids: list[str]) -> list[Passage]: ...

    def get_document(self, doc_id: str) -> DocumentMeta | None: ...

    def documents(self) -> list[DocumentMeta]: ...

    def stats(self) -> dict[str, Any]: ...

    def known_sources(self) -> dict[str, str]: ...


def _chroma_where(where: dict[str, Any] | None) -> dict[str, Any] | None:
    clauses = [{key: {"$eq": value}} for key, value in (where or {}).items() if value is not None and value != ""]
    for clause in clauses:
        (key,) = clause
        if key not in ("genre", "year", "issuing_body", "doc_id"):
            raise RetrievalError(f"不支持的筛选条件：{key}")
    if not clauses:
        return None
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


class IndexStore:
    """Chroma collection + SQLite keyword index. Use :func:`open_store` to build one."""

    def __init__(
        self,
        collection: Any,
        keyword: KeywordIndex | PgKeywordIndex,
        embeddings: Embeddings,
        batch: int = 1000,
        embed_chars: int = 0,
        writer: str = "",
    ) -> None:
        self._col = collection
        self.keyword = keyword
        self.embeddings = embeddings
        self._batch = batch
        self.embed_chars = embed_chars
        # Team mode: the name stamped on the documents this store adds (DocumentMeta.added_by); when
        # empty, the signed-in writer of the current app run (drafting.team.acting_writer).
        self.writer = writer

    # -- writes -----------------------------------------------------------------------------------
    def add(self, meta: DocumentMeta, chunks: list[Chunk]) -> None:
        """Add or replace one document. On failure the index holds exactly what it held before."""
        self.add_many([(meta, chunks)])

    def add_many(self, docs: list[tuple[DocumentMeta, list[Chunk]]]) -> None:
        """Add or replace several documents in one embedding batch, one chroma write and one transaction.

        All or nothing: on failure none of them is changed (callers retry one by one to isolate a bad one).
        """
        texts: list[str] = []
        vec_ids: list[list[str]] = []
        metas: list[dict[str, Any]] = []
        old: list[str] = []
        writer = self.writer or acting_writer()
        if writer:
            docs = [(m if m.added_by else m.model_copy(update={"added_by": writer}), c) for m, c in docs]
        for meta, chunks in docs:
            if any(c.doc_id != meta.doc_id for c in chunks):
                raise IngestError(f"文档 {meta.title} 的分块编号与文档不一致")
            texts.extend(embed_text(c, self.embed_chars) for c in chunks)
            previous = self.keyword.vec_ids(meta.doc_id)
            old.extend(previous)
            tag = (meta.sha256 or "nohash")[:8]
            ids = [f"{c.chunk_id}@{tag}" for c in chunks]
            if set(previous) & set(ids):  # same content re-added: make the new ids unique
                ids = [f"{v}.{len(previous)}" for v in ids]
            vec_ids.append(ids)
            year = year_of(meta.date)
            row = {
                "doc_id": meta.doc_id,
                "genre": meta.genre,
                "issuing_body": meta.issuing_body,
                "year": -1 if year is None else year,
            }
            metas.extend(row for _ in chunks)
        flat = [v for ids in vec_ids for v in ids]
        title = docs[0][0].title if len(docs) == 1 else f"{len(docs)} 篇文档"
        vectors = self.embeddings.embed_documents(texts) if texts else []
        try:
            for i in range(0, len(flat), self._batch):
                sl = slice(i, i + self._batch)
                self._col.add(ids=flat[sl], embeddings=vectors[sl], metadatas=metas[sl])
        except Exception as exc:
            self._drop_vectors(flat)
            raise IngestError(f"写入向量索引失败（{title}）：{exc}") from exc
        try:
            with self.keyword.transaction() as db:
                for (meta, chunks), ids in zip(docs, vec_ids, strict=True):
                    self.keyword.write_document(db, meta, chunks, ids)
        except Exception as exc:
            self._drop_vectors(flat)
            raise IngestError(f"写入关键词索引失败（{title}）：{exc}") from exc
        self._drop_vectors(old)

    def delete(self, doc_id: str) -> None:
        old = self.keyword.vec_ids(doc_id)
        with self.keyword.transaction() as db:
            self.keyword.remove_document(db, doc_id)
        self._drop_vectors(old)

    def _drop_vectors(self, vec_ids: list[str]) -> None:
        """Best effort: a vector left behind is invisible (dense hits are resolved through SQLite)."""
        try:
            for i in range(0, len(vec_ids), self._batch):
                self._col.delete(ids=vec_ids[i : i + self._batch])
        except Exception:  # noqa: BLE001 - cleanup must not mask the original error
            log.warning("could not delete %d vectors; they will be ignored", len(vec_ids), exc_info=True)

    # -- reads ------------------------------------------------------------------------------------
    def search_dense(self, query: str, k: int, where: dict[str, Any] | None = None) -> list[tuple[str, float]]:
        """(chunk_id, cosine similarity), best first."""
        if k <= 0 or not query.strip():
            return []
        vector = self.embeddings.embed_query(query)
        try:
            # No count() first (a second round trip): chroma returns fewer hits when it holds fewer.
            res = self._col.query(
                query_embeddings=[vector], n_results=k, where=_chroma_where(where), include=["distances"]
            )
        except RetrievalError:
            raise
        except Exception as exc:
            raise RetrievalError(f"向量检索失败：{exc}") from exc
        ids: list[str] = res["ids"][0] if res["ids"] else []
        dists: list[float] = res["distances"][0] if res["distances"] else []
        live = self.keyword.resolve_vec_ids(ids)
        return [(live[v], 1.0 - float(d)) for v, d in zip(ids, dists, strict=True) if v in live]

    def search_keyword(self, query: str, k: int, where: dict[str, Any] | None = None) -> list[tuple[str, float]]:
        """(chunk_id, -bm25), best first."""
        try:
            return self.keyword.search(query, k, where)
        except ValueError as exc:
            raise RetrievalError(f"不支持的筛选条件：{exc}") from exc

    def get_chunks(self, ids: list[str]) -> list[Passage]:
        return self.keyword.passages(ids)

    def get_document(self, doc_id: str) -> DocumentMeta | None:
        return self.keyword.document(doc_id)

    def documents(self) -> list[DocumentMeta]:
        return self.keyword.documents()

    def stats(self) -> dict[str, Any]:
        out = self.keyword.stats()
        out["vectors"] = self._col.count()
        return out

    def known_sources(self) -> dict[str, str]:
        return self.keyword.known_sources()

    def close(self) -> None:
        self.keyword.close()


def open_store(settings: Settings | None = None, embeddings: Embeddings | None = None, writer: str = "") -> IndexStore:
    """Open (creating if needed) the index described by ``settings``; ``writer`` (team mode) is the
    name put on the documents added through it."""
    import chromadb
    import chromadb.config

    settings = settings or get_settings()
    if not _ASCII_NAME.match(settings.collection):
        raise RetrievalError(
            f"向量库集合名只能使用英文字母、数字、点、下划线和连字符（3–63 个字符）：{settings.collection!r}"
        )
    if embeddings is None:
        from drafting.llm.client import get_embeddings

        embeddings = get_embeddings()
    chroma_settings = chromadb.config.Settings(anonymized_telemetry=False)
    private_dir(settings.data_dir)
    private_dir(settings.index_dir)
    try:
        if settings.chroma_host:
            client: Any = chromadb.HttpClient(
                host=settings.chroma_host, port=settings.chroma_port, settings=chroma_settings
            )
        else:
            client = chromadb.PersistentClient(path=str(settings.index_dir / "chroma"), settings=chroma_settings)
        # embedding_function=None: we always pass vectors, so chroma's default model never loads.
        collection = client.get_or_create_collection(
            settings.collection, embedding_function=None, configuration={"hnsw": HNSW_CONFIG}
        )
    except Exception as exc:
        where = f"{settings.chroma_host}:{settings.chroma_port}" if settings.chroma_host else str(settings.index_dir)
        raise RetrievalError(f"无法打开向量库（{where}）：{exc}") from exc
    keyword: KeywordIndex | PgKeywordIndex
    if settings.team_db_url:
        from drafting.corpus.pg_index import PgKeywordIndex

        keyword = PgKeywordIndex(settings.team_db_url, settings.collection)
    else:
        keyword = KeywordIndex(settings.index_dir / "keyword.sqlite3")
    return IndexStore(collection, keyword, embeddings, embed_chars=settings.embed_chars, writer=writer)
